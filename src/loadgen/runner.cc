#include "loadgen/runner.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "loadgen/random.h"

namespace parley::loadgen {
namespace {

using Clock = std::chrono::steady_clock;

class Run {
 public:
  Run(const Endpoint& endpoint, const std::vector<ConversationPlan>& plans, const RunOptions& opts)
      : endpoint_(endpoint), plans_(plans), opts_(opts), start_(Clock::now()) {
    for (const auto& p : plans) result_.turns_planned += static_cast<int64_t>(p.turns.size());
  }

  RunResult Go() {
    std::thread watcher([this] { Watch(); });
    std::vector<std::thread> workers;
    if (opts_.rate > 0) {
      Rng rng = Rng::For(opts_.seed, 0xa441u);
      double at = 0;
      for (size_t c = 0; c < plans_.size() && !stop_.load(); ++c) {
        if (c > 0) at += rng.Exponential(1.0 / opts_.rate);
        if (!SleepUntil(start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at)))) break;
        workers.emplace_back([this, c] { Play(plans_[c]); });
      }
    } else if (opts_.interleave) {
      const int32_t users = std::max(1, opts_.users);
      for (int32_t u = 0; u < users; ++u) workers.emplace_back([this, u, users] { PlayInterleaved(u, users); });
    } else {
      for (int32_t u = 0; u < std::max(1, opts_.users); ++u) {
        workers.emplace_back([this] {
          for (size_t c = next_.fetch_add(1); c < plans_.size() && !stop_.load(); c = next_.fetch_add(1)) {
            Play(plans_[c]);
          }
        });
      }
    }
    for (auto& w : workers) w.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
    }
    cv_.notify_all();
    watcher.join();
    result_.duration_s = Elapsed();
    if (opts_.progress) Progress(/*final=*/true);
    return std::move(result_);
  }

 private:
  double Elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  // Sleeps until `t`; false when the run stopped meanwhile.
  bool SleepUntil(Clock::time_point t) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, t, [&] { return stop_.load(); });
    return !stop_.load();
  }

  void Play(const ConversationPlan& plan) {
    ConversationState state(&plan);
    while (!state.done() && PlayTurn(&state)) {
    }
  }

  // User u of `users` keeps conversations u, u + users, ... open at once and sends one turn
  // of each in rotation (with each turn's think time before it).
  void PlayInterleaved(int32_t u, int32_t users) {
    std::vector<ConversationState> states;
    for (size_t c = u; c < plans_.size(); c += users) states.emplace_back(&plans_[c]);
    std::vector<bool> ended(states.size(), false);
    for (bool any = true; any && !stop_.load();) {
      any = false;
      for (size_t i = 0; i < states.size() && !stop_.load(); ++i) {
        if (ended[i] || states[i].done()) continue;
        any = true;
        if (!PlayTurn(&states[i])) ended[i] = true;
      }
    }
  }

  // Sends the conversation's next turn after its think time. False when the run stopped or
  // the turn failed (which ends the conversation).
  bool PlayTurn(ConversationState* state) {
    const ConversationPlan& plan = state->plan();
    const TurnPlan& turn = plan.turns[state->next_turn()];
    if (turn.think_time_s > 0 &&
        !SleepUntil(Clock::now() +
                    std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(turn.think_time_s)))) {
      return false;
    }
    if (stop_.load()) return false;
    if (opts_.max_requests > 0 && started_.fetch_add(1) >= opts_.max_requests) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        result_.hit_request_bound = true;
        stop_.store(true);
      }
      cv_.notify_all();
      return false;
    }
    TurnRequest req;
    req.messages = state->NextMessages();
    req.max_tokens = turn.max_tokens;
    req.temperature = opts_.temperature;
    req.seed = static_cast<int64_t>(Rng::For(opts_.seed, (uint64_t(plan.index) << 20) + state->next_turn()).Next() >> 33);
    req.session_id = plan.session_id;
    req.ignore_eos = opts_.ignore_eos;
    in_flight_.fetch_add(1);
    RequestRecord rec;
    rec.conversation = plan.index;
    rec.turn = state->next_turn();
    rec.start_s = Elapsed();
    rec.result = StreamChatTurn(endpoint_, req, opts_.request_timeout_s, &stop_);
    in_flight_.fetch_sub(1);
    const bool ok = rec.result.ok;
    std::string reply = rec.result.content;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_requests_ += 1;
      if (!ok) errors_ += 1;
      out_tokens_ += OutputTokens(rec.result);
      result_.records.push_back(std::move(rec));
    }
    if (!ok) return false;  // a failed turn ends its conversation (a chat front end would show an error)
    state->AddReply(std::move(reply));
    return true;
  }

  void Watch() {
    const bool tty = isatty(STDERR_FILENO) != 0;
    const auto period = std::chrono::milliseconds(tty ? 500 : 10000);
    const auto deadline = start_ + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(opts_.max_duration_s));
    std::unique_lock<std::mutex> lock(mu_);
    while (!finished_) {
      auto wake = std::min(Clock::now() + period, deadline);
      cv_.wait_until(lock, wake, [&] { return finished_; });
      if (finished_) break;
      if (Clock::now() >= deadline && !stop_.load()) {
        result_.hit_time_bound = true;
        stop_.store(true);
        cv_.notify_all();
      }
      if (opts_.progress) {
        lock.unlock();
        Progress(false);
        lock.lock();
      }
    }
  }

  void Progress(bool final) {
    static const bool tty = isatty(STDERR_FILENO) != 0;
    int64_t done, errors, tokens;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done = done_requests_;
      errors = errors_;
      tokens = out_tokens_;
    }
    double t = Elapsed();
    std::fprintf(stderr, "%s[%s] %6.1f s  requests %lld/%lld  errors %lld  in flight %d  output %.1f tok/s%s",
                 tty ? "\r" : "", opts_.name.c_str(), t, static_cast<long long>(done),
                 static_cast<long long>(result_.turns_planned), static_cast<long long>(errors),
                 in_flight_.load(), t > 0 ? tokens / t : 0.0, tty && !final ? "   " : "\n");
    std::fflush(stderr);
  }

  const Endpoint& endpoint_;
  const std::vector<ConversationPlan>& plans_;
  const RunOptions opts_;
  const Clock::time_point start_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> next_{0};
  std::atomic<int64_t> started_{0};
  std::atomic<int> in_flight_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;
  int64_t done_requests_ = 0, errors_ = 0, out_tokens_ = 0;
  RunResult result_;
};

}  // namespace

RunResult RunWorkload(const Endpoint& endpoint, const std::vector<ConversationPlan>& plans, const RunOptions& opts) {
  return Run(endpoint, plans, opts).Go();
}

}  // namespace parley::loadgen
