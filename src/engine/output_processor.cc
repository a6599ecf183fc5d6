#include "engine/output_processor.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"

namespace parley {
namespace {

double Seconds(RequestState::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

double PromptTokenScore(std::span<const float> row, int32_t token) {
  const float mx = *std::max_element(row.begin(), row.end());
  double sum = 0.0;
  for (float v : row) sum += std::exp(static_cast<double>(v) - mx);
  return static_cast<double>(row[token]) - mx - std::log(sum);
}

void OutputProcessor::Process(RequestState* a, int32_t first_pos, std::span<const float> rows, int32_t vocab) {
  const int32_t num_rows = static_cast<int32_t>(rows.size() / vocab);
  for (int32_t r = 0; r < num_rows; ++r) {
    HandleLogits(a, first_pos + r, rows.subspan(static_cast<size_t>(r) * vocab, vocab));
    if (a->seq.state == SeqState::kFinished) break;
  }
  // A prefill that just ended with max_tokens == 0 (prompt scoring only).
  if (a->seq.state != SeqState::kFinished && a->seq.num_computed == a->seq.num_tokens() && a->max_new == 0) {
    Finish(a, FinishReason::kLength, EngineEvent{});
  }
}

void OutputProcessor::HandleLogits(RequestState* a, int32_t pos, std::span<const float> row) {
  Sequence& s = a->seq;
  if (a->wants_prompt_lps() && pos + 1 == a->prompt_lp_next && pos + 1 < s.num_prompt) {
    if (a->scores_prompt()) {
      a->prompt_scores.push_back(PromptTokenScore(row, s.tokens[pos + 1]));
    } else {
      a->prompt_lps.push_back(ComputeLogprob(row, s.tokens[pos + 1], std::max(0, a->req.logprobs)));
    }
    ++a->prompt_lp_next;
  }
  if (pos + 1 == s.num_tokens() && s.num_computed == s.num_tokens() && !a->forks.empty()) {
    ForkChoices(a, row);  // before this choice samples (and perhaps finishes)
  }
  if (pos + 1 == s.num_tokens() && s.num_computed == s.num_tokens() && a->generated < a->max_new) {
    SampleNext(a, row);
  }
}

int32_t OutputProcessor::Verify(RequestState* a, std::span<const int32_t> draft, std::span<const float> rows,
                                int32_t vocab) {
  Sequence& s = a->seq;
  const int32_t k = static_cast<int32_t>(draft.size());
  PARLEY_DCHECK(rows.size() == static_cast<size_t>(k + 1) * vocab);
  int32_t kept = 0;
  for (int32_t i = 0; i <= k; ++i) {
    SampleNext(a, rows.subspan(static_cast<size_t>(i) * vocab, vocab));
    if (s.state == SeqState::kFinished || i == k || s.tokens.back() != draft[i]) break;
    // The model chose the drafted token: the K/V computed from it stand, and the next row
    // (computed after it) is the model's own next distribution.
    ++s.num_computed;
    ++kept;
  }
  Usage& u = a->spec_usage;
  u.draft_tokens += k;
  u.draft_accepted += kept;
  if (a->draft_source == DraftSource::kPrediction) u.prediction_rejected += k - kept;
  return kept;
}

// The prompt of choice 0 is computed and `row` holds its last token's logits: the other
// choices start from its K/V and sample their first token from the same row. A choice
// that gets no seat or page (Scheduler::Fork) waits to be computed like any sequence.
void OutputProcessor::ForkChoices(RequestState* a, std::span<const float> row) {
  std::vector<std::unique_ptr<RequestState>> forks = std::move(a->forks);
  a->forks.clear();
  for (std::unique_ptr<RequestState>& f : forks) {
    RequestState* c = f.get();
    host_->Adopt(std::move(f));
    c->prompt_lps = a->prompt_lps;
    c->prompt_lp_next = a->prompt_lp_next;
    c->seq.num_cached = a->seq.num_cached;
    c->seq.num_cached_host = a->seq.num_cached_host;
    c->seq.num_cached_disk = a->seq.num_cached_disk;
    if (c->stream->cancelled()) {
      Finish(c, FinishReason::kCancelled, EngineEvent{});
    } else if (c->max_new == 0) {
      Finish(c, FinishReason::kLength, EngineEvent{});  // prompt scoring only
    } else if (host_->Fork(&a->seq, &c->seq)) {
      SampleNext(c, row);
    } else {
      host_->Enqueue(&c->seq);
    }
  }
  a->seq.fork_seats = 0;
}

// Choice 0 ended before its prompt was computed: on an error the other choices end with
// it; otherwise (it was cancelled) those still wanted are computed on their own. Those that
// end here are never adopted (Engine shutdown finishes while iterating its requests).
void OutputProcessor::EndForks(RequestState* a, FinishReason reason, const std::string& error) {
  std::vector<std::unique_ptr<RequestState>> forks = std::move(a->forks);
  a->forks.clear();
  a->seq.fork_seats = 0;
  for (std::unique_ptr<RequestState>& f : forks) {
    RequestState* c = f.get();
    if (reason == FinishReason::kError) {
      Finish(c, reason, EngineEvent{}, error);
    } else if (c->stream->cancelled()) {
      Finish(c, FinishReason::kCancelled, EngineEvent{});
    } else {
      host_->Enqueue(&c->seq);
      host_->Adopt(std::move(f));
    }
  }
}

void OutputProcessor::SampleNext(RequestState* a, std::span<const float> row) {
  const int32_t token = a->sampler.Sample(row);
  if (a->req.sampling.has_penalties()) a->sampler.Accept(token);
  if (a->drafter) a->drafter->Accept(token);
  if (a->canary) a->canary->Record(row, token);
  ++a->generated;
  const auto now = RequestState::Clock::now();
  EngineEvent ev;
  ev.tokens.push_back(token);
  // After the logit bias, like the choice itself (Sampler::Logprob); prompt logprobs above
  // stay the model's own: the bias shapes the completion only.
  if (a->req.logprobs >= 0) ev.logprobs.push_back(a->sampler.Logprob(row, token, a->req.logprobs));
  const bool first = !a->has_first;
  stats_->Record([&](EngineStats& s) {
    if (!first) {
      s.inter_token_latency.Observe(Seconds(now - a->last_token));
    } else if (a->choice == 0) {
      s.time_to_first_token.Observe(Seconds(now - a->stream->created()));
    }
    ++s.generation_tokens;
  });
  if (first) {
    a->has_first = true;
    a->first_token = now;
  }
  a->last_token = now;

  const bool eos = (!a->req.ignore_eos && tokenizer_.IsEndOfGeneration(token)) ||
                   std::find(a->req.stop_token_ids.begin(), a->req.stop_token_ids.end(), token) !=
                       a->req.stop_token_ids.end();
  if (eos) {
    ev.text = a->stops.Feed(a->detok.Flush());
    if (!a->stops.stopped()) ev.text += a->stops.Flush();
    Finish(a, FinishReason::kStop, std::move(ev));
    return;
  }
  ev.text = a->stops.Feed(a->detok.Feed(token));
  if (a->stops.stopped()) {
    Finish(a, FinishReason::kStop, std::move(ev));
    return;
  }
  if (a->generated >= a->max_new) {
    ev.text += a->stops.Feed(a->detok.Flush());
    if (!a->stops.stopped()) ev.text += a->stops.Flush();
    Finish(a, a->stops.stopped() ? FinishReason::kStop : FinishReason::kLength, std::move(ev));
    return;
  }
  a->seq.tokens.push_back(token);  // computed next step
  if ((a->req.prompt_logprobs || a->scores_prompt()) && !a->prompt_lps_sent) {
    ev.prompt_logprobs = std::move(a->prompt_lps);
    ev.prompt_scores = std::move(a->prompt_scores);
    a->prompt_lps_sent = true;
  }
  a->stream->Push(std::move(ev));
}

void OutputProcessor::Finish(RequestState* a, FinishReason reason, EngineEvent ev, const std::string& error) {
  host_->Release(&a->seq, /*cache_pages=*/reason != FinishReason::kError);
  if (a->canary && (reason == FinishReason::kStop || reason == FinishReason::kLength)) {
    options_.canary->Submit(a->req.prompt, std::move(*a->canary));
  }
  if (!a->forks.empty()) EndForks(a, reason, error);
  const int32_t cached = std::clamp(a->seq.num_cached, 0, a->seq.num_prompt);
  ev.finish = reason;
  ev.error = error;
  if ((a->req.prompt_logprobs || a->scores_prompt()) && !a->prompt_lps_sent) {
    ev.prompt_logprobs = std::move(a->prompt_lps);
    ev.prompt_scores = std::move(a->prompt_scores);
    a->prompt_lps_sent = true;
  }
  ev.usage.prompt_tokens = a->seq.num_prompt;
  ev.usage.completion_tokens = a->generated;
  ev.usage.cached_tokens = cached;
  ev.usage.draft_tokens = a->spec_usage.draft_tokens;
  ev.usage.draft_accepted = a->spec_usage.draft_accepted;
  ev.usage.prediction_accepted = a->drafter ? a->drafter->prediction_matched() : 0;
  ev.usage.prediction_rejected = a->spec_usage.prediction_rejected;
  const auto now = RequestState::Clock::now();
  ev.ttft_seconds = a->has_first ? Seconds(a->first_token - a->stream->created()) : 0.0;
  stats_->Record([&](EngineStats& s) {
    ++s.finished[reason];
    s.request_latency.Observe(Seconds(now - a->stream->created()));
    if (a->choice == 0) CountPrompt(a->seq, &s);  // once per request
  });
  a->stream->Push(std::move(ev));
}

void OutputProcessor::CountPrompt(const Sequence& seq, EngineStats* s) {
  const int32_t cached = std::clamp(seq.num_cached, 0, seq.num_prompt);
  const int32_t host = std::min(seq.num_cached_host, cached);
  const int32_t disk = std::min(seq.num_cached_disk, cached - host);
  ++s->prompts_counted;
  s->prompt_tokens += seq.num_prompt;
  s->prompt_sources.computed += seq.num_prompt - cached;
  s->prompt_sources.pool += cached - host - disk;
  s->prompt_sources.host += host;
  s->prompt_sources.disk += disk;
}

}  // namespace parley
