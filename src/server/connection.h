// The TCP connection behind an HTTP request. cpp-httplib 0.11.4 does not give handlers
// their socket (newer versions have Request::is_connection_closed), so the server finds it
// by its endpoints among the process's descriptors, to notice a client that went away
// while a non-streaming request is still generating, and to end idle keep-alive
// connections at shutdown. Linux-only (NETLINK_SOCK_DIAG and /proc/self/fd); thread-safe:
// no descriptor but the one found is ever operated on.
#pragma once

#include <string>

namespace parley {

// The descriptor of this process's connected TCP socket whose local port is `local_port`
// and whose peer is remote_addr:remote_port (numeric host, as getnameinfo writes it), or
// -1 (also when the kernel's socket diagnostics are unavailable: the caller then cannot
// notice a vanished client). The descriptor stays valid only while the caller's
// connection is open.
int FindConnectionSocket(const std::string& remote_addr, int remote_port, int local_port);

// True when the peer of connected socket `fd` has closed its side or reset the
// connection. Never blocks; unread request bytes do not count as closed.
bool PeerClosed(int fd);

// shutdown(SHUT_RDWR) on every connected TCP socket of this process whose local port is
// `local_port` (threads blocked on them wake up and close them). Returns how many.
int ShutdownConnections(int local_port);

}  // namespace parley
