// Finding a connection's socket by its endpoints, noticing a closed peer, and shutting
// down a port's connections, on real loopback sockets.
#include "server/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace parley {
namespace {

int Port(int fd, bool peer) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                : getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  EXPECT_EQ(rc, 0);
  return ntohs(addr.sin_port);
}

// A listening socket, a client connected to it, and the accepted server side.
struct Loopback {
  int listener = -1, client = -1, server = -1;
  Loopback() {
    listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listener, 4), 0);
    addr.sin_port = htons(static_cast<uint16_t>(Port(listener, false)));
    client = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    server = accept(listener, nullptr, nullptr);
    EXPECT_GE(server, 0);
  }
  ~Loopback() {
    for (int fd : {listener, client, server}) {
      if (fd >= 0) close(fd);
    }
  }
  int server_port() const { return Port(listener, false); }
};

TEST(ConnectionTest, FindsTheAcceptedSocketByEndpoints) {
  Loopback lo;
  const int client_port = Port(lo.client, false);
  EXPECT_EQ(FindConnectionSocket("127.0.0.1", client_port, lo.server_port()), lo.server);
  EXPECT_EQ(FindConnectionSocket("127.0.0.2", client_port, lo.server_port()), -1);
  EXPECT_EQ(FindConnectionSocket("127.0.0.1", client_port + 1, lo.server_port()), -1);
}

TEST(ConnectionTest, PeerClosedSeesCloseButNotPendingData) {
  Loopback lo;
  EXPECT_FALSE(PeerClosed(lo.server));
  ASSERT_EQ(write(lo.client, "x", 1), 1);
  EXPECT_FALSE(PeerClosed(lo.server));  // unread bytes: still open
  char c;
  ASSERT_EQ(read(lo.server, &c, 1), 1);
  close(lo.client);
  lo.client = -1;
  EXPECT_TRUE(PeerClosed(lo.server));
}

TEST(ConnectionTest, ShutdownConnectionsWakesReaders) {
  Loopback lo;
  EXPECT_EQ(ShutdownConnections(lo.server_port()), 1);  // the listener is not connected
  char c;
  EXPECT_EQ(read(lo.server, &c, 1), 0);  // EOF now, instead of blocking
  EXPECT_EQ(read(lo.client, &c, 1), 0);
}

}  // namespace
}  // namespace parley
