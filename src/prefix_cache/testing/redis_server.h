// Tests only: a throwaway redis-server on a free 127.0.0.1 port, started and killed by the
// test (SIGKILL, to play a crash). Tests skip (GTEST_SKIP) when redis-server is not installed.
#pragma once

#include <hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

namespace parley {

class RedisServer {
 public:
  // The redis-server binary on PATH (or in /usr/bin), "" when there is none.
  static std::string Binary() {
    const char* path = std::getenv("PATH");
    std::string dirs = std::string(path != nullptr ? path : "") + ":/usr/bin:/usr/sbin";
    size_t start = 0;
    while (start <= dirs.size()) {
      const size_t end = std::min(dirs.find(':', start), dirs.size());
      const std::string candidate = dirs.substr(start, end - start) + "/redis-server";
      if (end > start && access(candidate.c_str(), X_OK) == 0) return candidate;
      start = end + 1;
    }
    return "";
  }

  // A port nothing listens on now (bound, read, closed: a tiny race with other programs).
  static int FreePort() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof(a);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      close(fd);
      return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
  }

  ~RedisServer() { Kill(); }

  // Starts redis-server (no persistence) on `port` (0: a free one) and waits (at most 5 s)
  // until it answers PING. False when it cannot.
  bool Start(int port = 0) {
    const std::string bin = Binary();
    if (bin.empty()) return false;
    port_ = port > 0 ? port : FreePort();
    if (port_ <= 0) return false;
    const std::string p = std::to_string(port_);
    pid_ = fork();
    if (pid_ == 0) {
      freopen("/dev/null", "w", stdout);
      execl(bin.c_str(), bin.c_str(), "--port", p.c_str(), "--bind", "127.0.0.1", "--save", "", "--appendonly",
            "no", "--loglevel", "warning", "--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Ping()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Kill();
    return false;
  }

  bool Ping() const {
    redisContext* c = Connect();
    if (c == nullptr) return false;
    auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
    const bool ok = r != nullptr && r->type == REDIS_REPLY_STATUS;
    if (r != nullptr) freeReplyObject(r);
    redisFree(c);
    return ok;
  }

  // A connection for the test's own commands (null when none); the caller frees it.
  redisContext* Connect() const {
    const timeval tv{1, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (c != nullptr && c->err != 0) {
      redisFree(c);
      return nullptr;
    }
    return c;
  }

  // SIGKILL, as a crash; waits for the process.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  int port_ = -1;
};

}  // namespace parley
