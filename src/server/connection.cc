// Finding a request's socket by its endpoints without touching any other thread's
// descriptor: the kernel's socket diagnostics (NETLINK_SOCK_DIAG, as `ss` uses) name the
// inodes of the TCP connections on a local port, and /proc/self/fd's links
// ("socket:[inode]") name the descriptors that hold them. Reading a link is a path
// operation, so a descriptor that another thread closes or reuses meanwhile is never
// operated on (an fstat/getsockname scan did that: ThreadSanitizer's report, and a real
// race). A connection's 4-tuple is unique and the worker thread serving the request owns
// its descriptor, so the descriptor found stays valid while that thread uses it.
#include "server/connection.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

namespace parley {
namespace {

// The states of a connection that still has a descriptor worth finding: not listening,
// not in TIME_WAIT or CLOSE (those have none).
constexpr uint32_t kConnectedStates =
    ~((1u << TCP_LISTEN) | (1u << TCP_TIME_WAIT) | (1u << TCP_CLOSE));

// Calls fn(peer ip, peer port, inode) for every TCP socket of `family` in this network
// namespace whose local port is `local_port` and that is connected. Returns false when
// the kernel could not be asked (no netlink socket diagnostics).
bool ForEachTcpConnection(int family, int local_port,
                          const std::function<void(const std::string&, int, uint64_t)>& fn) {
  const int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return false;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof(message);
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.request.sdiag_family = static_cast<uint8_t>(family);
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = kConnectedStates;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(nl, &message, sizeof(message), 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof(kernel)) != static_cast<ssize_t>(sizeof(message))) {
    close(nl);
    return false;
  }
  alignas(nlmsghdr) char buffer[32768];
  bool ok = true, done = false;
  while (!done) {
    ssize_t n = recv(nl, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, static_cast<uint32_t>(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        done = true;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        ok = false;
        done = true;
        break;
      }
      const auto* diag = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      if (ntohs(diag->id.idiag_sport) != local_port) continue;
      char ip[INET6_ADDRSTRLEN] = {};
      if (inet_ntop(diag->idiag_family, diag->id.idiag_dst, ip, sizeof(ip)) == nullptr) continue;
      fn(ip, ntohs(diag->id.idiag_dport), diag->idiag_inode);
    }
  }
  close(nl);
  return ok;
}

// Calls fn(fd) for every descriptor of this process whose link names one of `inodes`
// (a socket); stops when fn returns true.
void ForEachSocketDescriptor(const std::vector<uint64_t>& inodes,
                             const std::function<bool(int fd)>& fn) {
  if (inodes.empty()) return;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  const int dir_fd = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dir_fd) continue;
    char link[64];
    const ssize_t len = readlinkat(dir_fd, entry->d_name, link, sizeof(link) - 1);
    if (len <= 0) continue;
    link[len] = '\0';
    uint64_t inode = 0;
    if (std::sscanf(link, "socket:[%" SCNu64 "]", &inode) != 1) continue;
    if (std::find(inodes.begin(), inodes.end(), inode) == inodes.end()) continue;
    if (fn(static_cast<int>(fd))) break;
  }
  closedir(dir);
}

}  // namespace

int FindConnectionSocket(const std::string& remote_addr, int remote_port, int local_port) {
  std::vector<uint64_t> inodes;
  const int family = remote_addr.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  ForEachTcpConnection(family, local_port, [&](const std::string& ip, int port, uint64_t inode) {
    if (port == remote_port && ip == remote_addr) inodes.push_back(inode);
  });
  int found = -1;
  ForEachSocketDescriptor(inodes, [&](int fd) {
    found = fd;
    return true;
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
  std::vector<uint64_t> inodes;
  for (int family : {AF_INET, AF_INET6}) {
    ForEachTcpConnection(family, local_port,
                         [&](const std::string&, int, uint64_t inode) { inodes.push_back(inode); });
  }
  int count = 0;
  ForEachSocketDescriptor(inodes, [&](int fd) {
    if (shutdown(fd, SHUT_RDWR) == 0) ++count;
    return false;
  });
  return count;
}

}  // namespace parley
