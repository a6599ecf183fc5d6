#include "server/client_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace parley {
namespace {

TEST(ClientLimiterTest, EachClientGetsItsCapAndSlotsComeBackWhenTheLastCopyGoes) {
  ClientLimiter limiter(2);
  auto a1 = limiter.TryAcquire("10.0.0.1");
  auto a2 = limiter.TryAcquire("10.0.0.1");
  ASSERT_NE(a1, nullptr);
  ASSERT_NE(a2, nullptr);
  EXPECT_EQ(limiter.TryAcquire("10.0.0.1"), nullptr);  // at its cap
  EXPECT_NE(limiter.TryAcquire("10.0.0.2"), nullptr);  // another client is not affected
  EXPECT_EQ(limiter.in_flight("10.0.0.1"), 2);
  std::shared_ptr<void> copy = a1;  // e.g. a streaming job holding the request's slot
  a1.reset();
  EXPECT_EQ(limiter.TryAcquire("10.0.0.1"), nullptr);
  copy.reset();
  EXPECT_EQ(limiter.in_flight("10.0.0.1"), 1);
  auto a3 = limiter.TryAcquire("10.0.0.1");
  EXPECT_NE(a3, nullptr);
  a2.reset();
  a3.reset();
  EXPECT_EQ(limiter.num_clients(), 0u);  // nothing kept for clients that left
}

TEST(ClientLimiterTest, ZeroMeansNoCap) {
  ClientLimiter limiter(0);
  std::vector<std::shared_ptr<void>> slots;
  for (int i = 0; i < 1000; ++i) slots.push_back(limiter.TryAcquire("c"));
  for (const auto& s : slots) EXPECT_NE(s, nullptr);
  limiter.set_max_per_client(1000);
  EXPECT_EQ(limiter.TryAcquire("c"), nullptr);
}

TEST(ClientLimiterTest, ConcurrentClientsNeverExceedTheCap) {
  ClientLimiter limiter(3);
  std::atomic<int> over{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto slot = limiter.TryAcquire("same");
        if (slot != nullptr && limiter.in_flight("same") > 3) ++over;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(over.load(), 0);
  EXPECT_EQ(limiter.in_flight("same"), 0);
}

}  // namespace
}  // namespace parley
