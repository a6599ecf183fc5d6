// OutputProcessor: what the engine does with a step's logits rows for one request, after
// the forward pass: prompt logprobs, sampling, detokenizing, stop strings and tokens,
// logprobs, the forking of a request's other choices, and the final event (finish
// reason, usage, timing) with its statistics (EngineStats). It touches the scheduler and
// the engine's table of requests only through SequenceHost. Engine thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/canary.h"
#include "engine/engine_stats.h"
#include "engine/request.h"
#include "engine/sequence.h"
#include "sampling/sampler.h"
#include "sampling/stop_strings.h"
#include "spec/drafter.h"
#include "tokenizer/tokenizer.h"

namespace parley {

// One choice of a request in flight, owned by the engine thread.
struct RequestState {
  using Clock = std::chrono::steady_clock;
  RequestState(const Tokenizer& tok, GenerationRequest r, std::shared_ptr<RequestStream> s)
      : req(std::move(r)), stream(std::move(s)), sampler(req.sampling), detok(tok), stops(req.stop) {
    if (req.score_prompt_from > 0) prompt_lp_next = req.score_prompt_from;
  }
  GenerationRequest req;
  std::shared_ptr<RequestStream> stream;
  Sequence seq;
  Sampler sampler;
  StreamingDetokenizer detok;
  StopMatcher stops;
  int32_t max_new = 0;         // tokens to generate at most (clipped to the context)
  int32_t choice = 0;          // index among the request's n choices
  // Choices 1..n-1, held by choice 0 until its prompt is computed (ForkChoices).
  std::vector<std::unique_ptr<RequestState>> forks;
  int32_t generated = 0;
  int32_t prompt_lp_next = 1;  // next prompt position whose logprob is still to collect
  std::vector<TokenLogprob> prompt_lps;
  std::vector<double> prompt_scores;  // req.score_prompt_from > 0
  bool prompt_lps_sent = false;
  std::unique_ptr<CanaryRecord> canary;  // set when the quality canary picked this request
  bool has_first = false;
  Clock::time_point first_token, last_token;
  // Speculative decoding (null: the engine does not speculate): the drafter, the source of
  // the draft in flight, and the counts for usage.
  std::unique_ptr<SequenceDrafter> drafter;
  DraftSource draft_source = DraftSource::kNone;
  Usage spec_usage;  // only draft_tokens, draft_accepted and prediction_rejected (accepted: the drafter)

  bool scores_prompt() const { return req.score_prompt_from > 0; }
  // Prompt logprobs or scores still to collect.
  bool wants_prompt_lps() const {
    return (req.prompt_logprobs || scores_prompt()) && prompt_lp_next < seq.num_prompt;
  }
};

// log_softmax(row)[token] in double, the way `parley perplexity` has always summed it:
// row[token] - max - log(sum_v exp(row[v] - max)), max taken over the floats, each
// exp and the sum in double.
double PromptTokenScore(std::span<const float> row, int32_t token);

// What output processing asks of the engine (the scheduler and the table of requests).
class SequenceHost {
 public:
  virtual ~SequenceHost() = default;
  // The sequence is done: free its pages (offering them to the prefix cache if asked).
  virtual void Release(Sequence* seq, bool cache_pages) = 0;
  // Starts `child` from `parent`'s computed K/V (Scheduler::Fork); false: no seat or page.
  virtual bool Fork(Sequence* parent, Sequence* child) = 0;
  // Queues the sequence to be computed from its prompt.
  virtual void Enqueue(Sequence* seq) = 0;
  // Takes ownership of a forked choice (it joins the requests in flight).
  virtual void Adopt(std::unique_ptr<RequestState> r) = 0;
};

struct OutputProcessorOptions {
  QualityCanary* canary = nullptr;  // finished requests it picked go to it; null: none
};

class OutputProcessor {
 public:
  // All must outlive the processor.
  OutputProcessor(const Tokenizer& tokenizer, EngineStatsRecorder* stats, SequenceHost* host,
                  const OutputProcessorOptions& options)
      : tokenizer_(tokenizer), stats_(stats), host_(host), options_(options) {}

  // The logits rows a step computed for `a`: row r (of rows.size() / vocab) is absolute
  // position first_pos + r, after the scheduler counted the chunk as computed. Collects
  // prompt logprobs, forks the other choices, samples; stops at a finish. Then ends a
  // prompt-scoring request (max_tokens == 0) whose prompt is computed.
  void Process(RequestState* a, int32_t first_pos, std::span<const float> rows, int32_t vocab);
  // The logits of position `pos` (they predict position pos + 1).
  void HandleLogits(RequestState* a, int32_t pos, std::span<const float> row);
  // A verifying decode's rows: row i predicts the token after the i-th input (the sequence's
  // last token, then `draft`). Samples from each row in turn as a plain decode would, keeping
  // a drafted token's K/V (num_computed + 1) while the sample equals it, so the output is
  // exactly the one without speculation. Returns the drafted tokens kept.
  int32_t Verify(RequestState* a, std::span<const int32_t> draft, std::span<const float> rows, int32_t vocab);
  // Frees the sequence, ends (or releases) its unforked choices, pushes the final event.
  void Finish(RequestState* a, FinishReason reason, EngineEvent event, const std::string& error = "");

 private:
  void ForkChoices(RequestState* a, std::span<const float> row);
  void EndForks(RequestState* a, FinishReason reason, const std::string& error);
  void SampleNext(RequestState* a, std::span<const float> row);
  // Adds a request's prompt tokens (by source) to the statistics.
  static void CountPrompt(const Sequence& seq, EngineStats* s);

  const Tokenizer& tokenizer_;
  EngineStatsRecorder* stats_;
  SequenceHost* host_;
  const OutputProcessorOptions options_;
};

}  // namespace parley
