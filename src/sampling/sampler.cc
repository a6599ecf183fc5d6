// Sampler, SamplingParams::Validate and ComputeLogprob. Sample stays O(vocab): it copies the
// logits only when a logit bias or penalties apply, selects top-k with a small heap (or
// nth_element for a large k) and sorts the full row only as far as the top-p nucleus needs.
#include "sampling/sampler.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "base/check.h"

namespace parley {
namespace {

using Candidate = std::pair<float, int32_t>;  // (logit or weight, token)

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int32_t kMaxTopLogprobs = 20;

// Best first: the higher value, then the lower token id.
bool Better(const Candidate& a, const Candidate& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

// NaN logits rank below everything so they can never be picked.
float Key(float logit) { return std::isnan(logit) ? kNegInf : logit; }

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

// The k best entries of `row` (by Better), best first. k <= row.size().
void SelectTopK(std::span<const float> row, size_t k, std::vector<Candidate>* out) {
  out->clear();
  const size_t n = row.size();
  if (k == 0) return;
  if (k * 16 <= n) {
    // A heap of the k best so far whose front is the worst of them: one pass over the
    // row, and most entries cost a single comparison.
    out->reserve(k);
    for (size_t i = 0; i < k; ++i) out->emplace_back(Key(row[i]), static_cast<int32_t>(i));
    std::make_heap(out->begin(), out->end(), Better);
    for (size_t i = k; i < n; ++i) {
      const float v = Key(row[i]);
      // On an equal logit the later token loses, so only a strictly larger one gets in.
      if (v > out->front().first) {
        std::pop_heap(out->begin(), out->end(), Better);
        out->back() = {v, static_cast<int32_t>(i)};
        std::push_heap(out->begin(), out->end(), Better);
      }
    }
    std::sort_heap(out->begin(), out->end(), Better);
    return;
  }
  out->resize(n);
  for (size_t i = 0; i < n; ++i) (*out)[i] = {Key(row[i]), static_cast<int32_t>(i)};
  if (k < n) std::nth_element(out->begin(), out->begin() + k, out->end(), Better);
  out->resize(k);
  std::sort(out->begin(), out->end(), Better);
}

// Reorders the candidates (weights in [0, 1]) so that the top-p nucleus comes first and
// returns its size: the fewest best candidates whose weights sum to `goal`. Sorted input is
// scanned; unsorted input is bucketed by the weight's float exponent and top 3 mantissa bits
// (monotone in the weight, ~9% wide) and only the bucket that holds the boundary is sorted,
// so a wide nucleus over a 262k vocabulary costs a few linear passes.
size_t NucleusSize(std::vector<Candidate>* c, bool sorted, double goal) {
  double cum = 0.0;
  auto first = c->begin();
  auto last = c->end();
  if (!sorted) {
    constexpr int kShift = 20;
    constexpr size_t kBuckets = (std::bit_cast<uint32_t>(1.0f) >> kShift) + 1;
    auto bucket = [](const Candidate& x) { return std::bit_cast<uint32_t>(x.first) >> kShift; };
    std::array<double, kBuckets> sums{};
    for (const Candidate& x : *c) sums[bucket(x)] += x.first;
    uint32_t b = kBuckets - 1;
    for (; b > 0 && cum + sums[b] < goal; --b) cum += sums[b];
    // The buckets above b are all in; the boundary lies in bucket b.
    first = std::partition(c->begin(), c->end(), [&](const Candidate& x) { return bucket(x) > b; });
    last = std::partition(first, c->end(), [&](const Candidate& x) { return bucket(x) == b; });
    std::sort(first, last, Better);
  }
  for (auto it = first; it != last; ++it) {
    cum += it->first;
    if (cum >= goal) return static_cast<size_t>(it - c->begin()) + 1;
  }
  return static_cast<size_t>(last - c->begin());  // rounding kept the sum just under the goal
}

// penalized = logits with the repetition, presence and frequency penalties applied.
void ApplyPenalties(const SamplingParams& p, std::span<const float> logits,
                    const std::unordered_map<int32_t, bool>& seen_prompt,
                    const std::unordered_map<int32_t, int32_t>& counts,
                    std::vector<float>* penalized) {
  penalized->assign(logits.begin(), logits.end());
  const int64_t n = static_cast<int64_t>(logits.size());
  auto in_range = [n](int32_t t) { return t >= 0 && t < n; };
  if (p.repetition_penalty != 1.0f) {
    const float rp = p.repetition_penalty;
    auto penalize = [&](int32_t t) {
      float& l = (*penalized)[t];
      l = l > 0.0f ? l / rp : l * rp;
    };
    for (const auto& [t, seen] : seen_prompt) {
      if (in_range(t)) penalize(t);
    }
    for (const auto& [t, count] : counts) {
      if (in_range(t) && !seen_prompt.contains(t)) penalize(t);  // once per token
    }
  }
  if (p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f) {
    for (const auto& [t, count] : counts) {
      if (!in_range(t) || count <= 0) continue;
      (*penalized)[t] -= p.presence_penalty + p.frequency_penalty * static_cast<float>(count);
    }
  }
}

}  // namespace

Status SamplingParams::Validate() const {
  if (!(temperature >= 0.0f) || !std::isfinite(temperature)) {
    return Status::InvalidArgument("temperature must be a finite number >= 0, got " + Num(temperature));
  }
  if (top_k < 0) return Status::InvalidArgument("top_k must be >= 0, got " + std::to_string(top_k));
  if (!(top_p > 0.0f && top_p <= 1.0f)) {
    return Status::InvalidArgument("top_p must be in (0, 1], got " + Num(top_p));
  }
  if (!(min_p >= 0.0f && min_p <= 1.0f)) {
    return Status::InvalidArgument("min_p must be in [0, 1], got " + Num(min_p));
  }
  if (!(repetition_penalty > 0.0f) || !std::isfinite(repetition_penalty)) {
    return Status::InvalidArgument("repetition_penalty must be a finite number > 0, got " +
                                   Num(repetition_penalty));
  }
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f)) {
    return Status::InvalidArgument("presence_penalty must be in [-2, 2], got " + Num(presence_penalty));
  }
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f)) {
    return Status::InvalidArgument("frequency_penalty must be in [-2, 2], got " +
                                   Num(frequency_penalty));
  }
  if (logit_bias.size() > kMaxLogitBias) {
    return Status::InvalidArgument("logit_bias has " + std::to_string(logit_bias.size()) +
                                   " entries; at most " + std::to_string(kMaxLogitBias));
  }
  for (const auto& [token, bias] : logit_bias) {
    if (token < 0) return Status::InvalidArgument("logit_bias has a negative token id");
    if (!(bias >= -kMaxBias && bias <= kMaxBias)) {
      return Status::InvalidArgument("logit_bias values must be in [-100, 100], got " + Num(bias));
    }
  }
  return Status::Ok();
}

int32_t ArgMax(std::span<const float> logits) {
  PARLEY_CHECK(!logits.empty());
  // The maximum first, in 8 independent lanes the compiler turns into SIMD max (NaN never
  // wins), then the lowest index that holds it.
  const size_t n = logits.size();
  float lane[8];
  std::fill(lane, lane + 8, kNegInf);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (size_t j = 0; j < 8; ++j) lane[j] = logits[i + j] > lane[j] ? logits[i + j] : lane[j];
  }
  for (; i < n; ++i) lane[0] = logits[i] > lane[0] ? logits[i] : lane[0];
  float best = kNegInf;
  for (float v : lane) best = v > best ? v : best;
  for (i = 0; i < n; ++i) {
    if (logits[i] == best) return static_cast<int32_t>(i);
  }
  return 0;  // all NaN
}

void Sampler::AcceptPrompt(std::span<const int32_t> tokens) {
  for (int32_t t : tokens) seen_prompt_[t] = true;
}

void Sampler::Accept(int32_t token) { ++counts_[token]; }

std::span<const float> Sampler::Biased(std::span<const float> logits) {
  if (params_.logit_bias.empty()) return logits;
  biased_.assign(logits.begin(), logits.end());
  const size_t n = logits.size();
  for (const auto& [token, bias] : params_.logit_bias) {
    if (token >= 0 && static_cast<size_t>(token) < n) biased_[token] += bias;
  }
  return biased_;
}

int32_t Sampler::Sample(std::span<const float> logits) {
  PARLEY_CHECK(!logits.empty());
  std::span<const float> row = Biased(logits);
  if (params_.has_penalties()) {
    ApplyPenalties(params_, row, seen_prompt_, counts_, &penalized_);
    row = penalized_;
  }
  if (params_.temperature == 0.0f) return ArgMax(row);

  // Candidates as (logit, token): the top-k sorted best first, or the whole row unsorted.
  const size_t n = row.size();
  const bool use_top_k = params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n;
  const bool sorted = use_top_k;
  float max_logit;
  if (use_top_k) {
    SelectTopK(row, static_cast<size_t>(params_.top_k), &candidates_);
    max_logit = candidates_.front().first;
  } else {
    candidates_.resize(n);
    max_logit = kNegInf;
    for (size_t i = 0; i < n; ++i) {
      const float v = Key(row[i]);
      candidates_[i] = {v, static_cast<int32_t>(i)};
      max_logit = std::max(max_logit, v);
    }
  }
  if (!std::isfinite(max_logit)) return ArgMax(row);  // no finite logit to weigh against

  // Temperature: the weights exp((logit - max) / T) are the probabilities up to one factor,
  // and the most likely token weighs exactly 1.
  const float temperature = params_.temperature;
  double sum = 0.0;
  for (Candidate& c : candidates_) {
    c.first = std::exp((c.first - max_logit) / temperature);
    sum += c.first;
  }

  if (params_.top_p < 1.0f) {
    candidates_.resize(NucleusSize(&candidates_, sorted, static_cast<double>(params_.top_p) * sum));
  }
  if (params_.min_p > 0.0f) {
    // p >= min_p * p_max  <=>  weight >= min_p, as the best survivor weighs 1.
    const float threshold = params_.min_p;
    if (sorted) {
      auto first_below = std::find_if(candidates_.begin(), candidates_.end(),
                                      [threshold](const Candidate& c) { return c.first < threshold; });
      candidates_.erase(first_below, candidates_.end());
    } else {
      std::erase_if(candidates_, [threshold](const Candidate& c) { return c.first < threshold; });
    }
  }
  if (params_.top_p < 1.0f || params_.min_p > 0.0f) {
    sum = 0.0;
    for (const Candidate& c : candidates_) sum += c.first;
  }

  double r = std::uniform_real_distribution<double>(0.0, sum)(rng_);
  for (const Candidate& c : candidates_) {
    if (r < c.first) return c.second;
    r -= c.first;
  }
  // Rounding left r at the very top: the last candidate that has any weight.
  for (auto it = candidates_.rbegin(); it != candidates_.rend(); ++it) {
    if (it->first > 0.0f) return it->second;
  }
  return ArgMax(row);
}

TokenLogprob Sampler::Logprob(std::span<const float> logits, int32_t token, int32_t top_n) {
  return ComputeLogprob(Biased(logits), token, top_n);
}

TokenLogprob ComputeLogprob(std::span<const float> logits, int32_t token, int32_t top_n) {
  PARLEY_CHECK(!logits.empty());
  PARLEY_CHECK(token >= 0 && static_cast<size_t>(token) < logits.size())
      << "token " << token << " outside a vocabulary of " << logits.size();
  // log_softmax(x)_i = x_i - (max + log(sum(exp(x - max)))), in double.
  double max = -std::numeric_limits<double>::infinity();
  for (float l : logits) max = std::max(max, static_cast<double>(l));
  double sum = 0.0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
  const double log_z = max + std::log(sum);

  TokenLogprob out;
  out.token = token;
  out.logprob = static_cast<float>(static_cast<double>(logits[token]) - log_z);
  const size_t k = std::min<size_t>(std::clamp(top_n, 0, kMaxTopLogprobs), logits.size());
  std::vector<Candidate> top;
  SelectTopK(logits, k, &top);
  out.top.reserve(k);
  for (const Candidate& c : top) {
    out.top.emplace_back(c.second, static_cast<float>(static_cast<double>(logits[c.second]) - log_z));
  }
  return out;
}

}  // namespace parley
