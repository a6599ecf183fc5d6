// ClientLimiter: caps the generation requests each client address has in flight
// (`parley serve --max-client-requests`), so one client cannot take every engine slot and
// HTTP worker; the request over the cap gets a 429. A slot is held by whatever serves the
// request (a streaming response holds it until its last byte) and released when the last
// copy is dropped. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace parley {

class ClientLimiter {
 public:
  // 0: no cap.
  explicit ClientLimiter(int32_t max_per_client = 0) : max_(max_per_client) {}
  ClientLimiter(const ClientLimiter&) = delete;
  ClientLimiter& operator=(const ClientLimiter&) = delete;

  void set_max_per_client(int32_t n);
  int32_t max_per_client() const;

  // One slot for a request of `client`; null when the client has max_per_client requests in
  // flight already. REQUIRES: the limiter outlives every slot.
  std::shared_ptr<void> TryAcquire(const std::string& client);
  // Requests of `client` in flight.
  int32_t in_flight(const std::string& client) const;
  // Clients with at least one request in flight.
  size_t num_clients() const;

 private:
  void Release(const std::string& client);

  mutable std::mutex mu_;
  int32_t max_;
  std::unordered_map<std::string, int32_t> in_flight_;
};

}  // namespace parley
