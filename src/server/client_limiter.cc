#include "server/client_limiter.h"

namespace parley {

void ClientLimiter::set_max_per_client(int32_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  max_ = n;
}

int32_t ClientLimiter::max_per_client() const {
  std::lock_guard<std::mutex> lock(mu_);
  return max_;
}

std::shared_ptr<void> ClientLimiter::TryAcquire(const std::string& client) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    int32_t& n = in_flight_[client];
    if (max_ > 0 && n >= max_) {
      if (n == 0) in_flight_.erase(client);
      return nullptr;
    }
    ++n;
  }
  // The deleter runs once, when the last copy goes; the pointer itself is never read.
  return std::shared_ptr<void>(this, [client](ClientLimiter* self) { self->Release(client); });
}

void ClientLimiter::Release(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = in_flight_.find(client);
  if (it != in_flight_.end() && --it->second <= 0) in_flight_.erase(it);
}

int32_t ClientLimiter::in_flight(const std::string& client) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = in_flight_.find(client);
  return it == in_flight_.end() ? 0 : it->second;
}

size_t ClientLimiter::num_clients() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_.size();
}

}  // namespace parley
