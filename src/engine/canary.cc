#include "engine/canary.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"
#include "sampling/sampler.h"

namespace parley {

void CanaryRecord::Record(std::span<const float> logits, int32_t token) {
  tokens.push_back(token);
  logprobs.push_back(ComputeLogprob(logits, token, /*top_n=*/0).logprob);
  argmax.push_back(ArgMax(logits));
}

StatusOr<std::unique_ptr<QualityCanary>> QualityCanary::Create(std::unique_ptr<CanaryScorer> scorer,
                                                                Metrics* metrics, const CanaryOptions& options) {
  if (!(options.rate >= 0.0 && options.rate <= 1.0)) {
    return Status::InvalidArgument("canary rate must be in [0, 1], got " + std::to_string(options.rate));
  }
  if (options.max_pending < 1 || options.slice_tokens < 1 || options.score_tokens < 1) {
    return Status::InvalidArgument("canary max_pending, slice_tokens and score_tokens must be >= 1");
  }
  PARLEY_CHECK(scorer != nullptr && metrics != nullptr);
  return std::unique_ptr<QualityCanary>(new QualityCanary(std::move(scorer), metrics, options));
}

QualityCanary::QualityCanary(std::unique_ptr<CanaryScorer> scorer, Metrics* metrics, const CanaryOptions& options)
    : scorer_(std::move(scorer)), metrics_(metrics), options_(options), stats_(options.reservoir) {
  Metrics& m = *metrics_;
  m.Declare("parley_canary_rate", "gauge", "Share of requests the quality canary re-scores with the exact path.");
  m.Declare("parley_canary_requests_total", "counter", "Requests re-scored by the exact path.");
  m.Declare("parley_canary_tokens_total", "counter", "Generated tokens (positions) re-scored by the exact path.");
  m.Declare("parley_canary_dropped_total", "counter",
            "Canary jobs dropped, by reason: queue_full (max pending reached), error (the exact path failed).");
  m.Declare("parley_canary_pending", "gauge",
            "Canary jobs waiting for idle engine steps (the one in progress included).");
  m.Declare("parley_canary_logprob_abs_delta", "histogram",
            "|fast - exact| log-probability of each generated token (log-softmax of the raw logits).",
            {1e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1, 3});
  m.Declare("parley_canary_logprob_abs_delta_mean", "gauge", "Mean |fast - exact| logprob of the chosen tokens.");
  m.Declare("parley_canary_logprob_abs_delta_p99", "gauge",
            "p99 of |fast - exact| logprob of the chosen tokens (over a uniform sample of positions).");
  m.Declare("parley_canary_top1_disagreements_total", "counter",
            "Positions where the exact path's top-1 token differs from the fast path's.");
  m.Declare("parley_canary_top1_disagreement_ratio", "gauge",
            "Share of scored positions where the exact path's top-1 token differs from the fast path's.");
  m.Declare("parley_canary_nonfinite_total", "counter",
            "Scored positions whose fast or exact logprob was not finite (left out of the other statistics).");
  m.Set("parley_canary_rate", options_.rate);
  Publish();
}

bool QualityCanary::Select() {
  const double n = static_cast<double>(num_seen_++);
  return std::floor((n + 1) * options_.rate) > std::floor(n * options_.rate);
}

void QualityCanary::Submit(std::span<const int32_t> prompt, CanaryRecord fast) {
  if (fast.tokens.empty() || prompt.empty()) return;
  PARLEY_CHECK(fast.logprobs.size() == fast.tokens.size() && fast.argmax.size() == fast.tokens.size());
  if (static_cast<int32_t>(jobs_.size()) >= options_.max_pending) {
    Drop("queue_full");
    return;
  }
  Job job;
  job.tokens.assign(prompt.begin(), prompt.end());
  job.tokens.insert(job.tokens.end(), fast.tokens.begin(), fast.tokens.end());
  job.num_prompt = static_cast<int32_t>(prompt.size());
  job.fast = std::move(fast);
  jobs_.push_back(std::move(job));
  Publish();
}

void QualityCanary::Drop(const char* reason) {
  ++dropped_;
  metrics_->Add("parley_canary_dropped_total", 1, std::string("reason=\"") + reason + "\"");
}

void QualityCanary::RunSlice() {
  PARLEY_CHECK(!jobs_.empty());
  Job& job = jobs_.front();
  // The row at position p predicts token p + 1: the generated tokens are predicted by the
  // rows [num_prompt - 1, n - 1), and the last generated token is never fed.
  const int32_t first_scored = job.num_prompt - 1;
  const int32_t end = static_cast<int32_t>(job.tokens.size()) - 1;
  if (job.next < 0) {
    if (end > scorer_->max_tokens()) {
      Drop("error");
      PopJob();
      return;
    }
    job.next = scorer_->Resume(std::span<const int32_t>(job.tokens.data(), first_scored));
    PARLEY_CHECK(job.next >= 0 && job.next <= first_scored);
  }
  const bool scoring = job.next >= first_scored;
  const int32_t stop = scoring ? end : first_scored;
  const int32_t slice = scoring ? options_.score_tokens : options_.slice_tokens;
  const int32_t count = std::min({slice, scorer_->max_chunk(), stop - job.next});
  PARLEY_CHECK(count > 0);
  Status st = scorer_->Forward(std::span<const int32_t>(job.tokens.data() + job.next, count),
                               scoring ? &logits_ : nullptr);
  if (!st.ok()) {
    Drop("error");
    PopJob();
    return;
  }
  if (scoring) Score(job, job.next, logits_);
  job.next += count;
  if (job.next == end) {
    ++requests_scored_;
    metrics_->Add("parley_canary_requests_total", 1);
    PopJob();
    return;
  }
  Publish();
}

void QualityCanary::PopJob() {
  jobs_.pop_front();
  if (jobs_.empty()) {
    // Idle until the next sampled request (at the default rate, many requests away): hold
    // no scoring memory in between.
    std::vector<float>().swap(logits_);
    scorer_->Release();
  }
  Publish();
}

void QualityCanary::Score(const Job& job, int32_t first_pos, std::span<const float> logits) {
  const int32_t vocab = scorer_->vocab_size();
  const int32_t rows = static_cast<int32_t>(logits.size() / vocab);
  int64_t disagreements = 0, nonfinite = 0;
  for (int32_t r = 0; r < rows; ++r) {
    const size_t i = static_cast<size_t>(first_pos + r - (job.num_prompt - 1));  // generated token index
    std::span<const float> row = logits.subspan(static_cast<size_t>(r) * vocab, vocab);
    const double exact = ComputeLogprob(row, job.fast.tokens[i], /*top_n=*/0).logprob;
    const double delta = std::fabs(exact - static_cast<double>(job.fast.logprobs[i]));
    if (!std::isfinite(delta)) {
      ++nonfinite;
      continue;
    }
    const bool disagrees = ArgMax(row) != job.fast.argmax[i];
    disagreements += disagrees;
    stats_.Add(delta, disagrees);
    metrics_->Observe("parley_canary_logprob_abs_delta", delta);
  }
  metrics_->Add("parley_canary_tokens_total", rows);
  metrics_->Add("parley_canary_top1_disagreements_total", static_cast<double>(disagreements));
  if (nonfinite > 0) metrics_->Add("parley_canary_nonfinite_total", static_cast<double>(nonfinite));
}

void QualityCanary::Publish() {
  metrics_->Set("parley_canary_pending", static_cast<double>(jobs_.size()));
  metrics_->Set("parley_canary_logprob_abs_delta_mean", stats_.mean_abs_delta());
  metrics_->Set("parley_canary_logprob_abs_delta_p99", stats_.Quantile(0.99));
  metrics_->Set("parley_canary_top1_disagreement_ratio", stats_.disagreement_rate());
}

}  // namespace parley
