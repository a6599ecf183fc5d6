// A fixed pool of worker threads for data-parallel loops inside one forward pass.
// ParallelFor is called from one thread at a time (the engine/runner thread); the caller
// takes part in the work, so a pool of N threads starts N-1 workers. A decode step runs
// ~150 short parallel sections back to back, so workers spin briefly for the next job
// before they block, and the caller spins for the stragglers: a wake-up through a
// condition variable costs more than most of those sections.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace parley {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(begin, end) over disjoint chunks covering [0, n), each at most `grain` long
  // (grain 0: split evenly across threads). Returns when every chunk is done.
  // REQUIRES: not called concurrently, and not from inside fn.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void WorkerLoop();
  void RunChunks();

  int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::atomic<uint64_t> generation_{0};  // bumped once per job
  std::atomic<int> pending_{0};          // workers that have not finished the current job
  std::atomic<bool> stop_{false};
  // The current job (published before generation_ is bumped).
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
  std::atomic<int64_t> next_{0};
};

}  // namespace parley
