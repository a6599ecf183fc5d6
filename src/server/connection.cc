// Finding a request's socket by its endpoints: scan /proc/self/fd, keep sockets, compare
// getsockname/getpeername. A connection's 4-tuple is unique, and the worker thread serving
// the request owns the descriptor, so it cannot be closed or reused during the lookup.
#include "server/connection.h"

#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <functional>

namespace parley {
namespace {

bool IpAndPort(const sockaddr_storage& addr, socklen_t len, std::string* ip, int* port) {
  if (addr.ss_family == AF_INET) {
    *port = ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    *port = ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  } else {
    return false;
  }
  if (ip == nullptr) return true;
  char host[NI_MAXHOST] = {};
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host, sizeof(host), nullptr, 0,
                  NI_NUMERICHOST) != 0) {
    return false;
  }
  *ip = host;
  return true;
}

// Calls fn(fd) for every connected TCP socket whose local port is `local_port`; stops
// when fn returns true.
void ForEachConnection(int local_port, const std::function<bool(int fd)>& fn) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  const int dir_fd = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dir_fd) continue;
    struct stat st;
    if (fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    int port = -1;
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &len) != 0 ||
        !IpAndPort(local, len, nullptr, &port) || port != local_port) {
      continue;
    }
    sockaddr_storage peer{};
    len = sizeof(peer);
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
      continue;  // the listening socket, or not connected
    }
    if (fn(static_cast<int>(fd))) break;
  }
  closedir(dir);
}

}  // namespace

int FindConnectionSocket(const std::string& remote_addr, int remote_port, int local_port) {
  int found = -1;
  ForEachConnection(local_port, [&](int fd) {
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    std::string ip;
    int port = -1;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0 &&
        IpAndPort(peer, len, &ip, &port) && port == remote_port && ip == remote_addr) {
      found = fd;
      return true;
    }
    return false;
  });
  return found;
}

bool PeerClosed(int fd) {
  char byte;
  const ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;   // more request bytes (pipelining): still there
  if (n == 0) return true;   // orderly shutdown by the peer
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;  // reset, or worse
}

int ShutdownConnections(int local_port) {
  int count = 0;
  ForEachConnection(local_port, [&](int fd) {
    if (shutdown(fd, SHUT_RDWR) == 0) ++count;
    return false;
  });
  return count;
}

}  // namespace parley
