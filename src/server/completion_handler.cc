// POST /v1/completions: each prompt (text tokenized with BOS and parse_special, or token
// ids as given) becomes one engine request of n choices, all submitted at once; choice
// i * n + j is the j-th continuation of prompt i (as OpenAI numbers them). echo prepends
// the prompt text and, with logprobs, the prompt tokens' logprobs (the first one null), so
// scoring requests (echo, max_tokens 0, logprobs) work.
#include <ctime>
#include <memory>

#include "server/generation_common.h"
#include "server/generation_handler.h"

namespace parley {
namespace {

using nlohmann::json;

// One choice as it accumulates.
struct Choice {
  std::vector<int32_t> prompt;
  std::string prompt_text;  // echoed before the completion
  bool started = false;     // the first event was seen (it carries the prompt logprobs)
  std::string text;
  LegacyLogprobs logprobs;
  FinishReason finish = FinishReason::kNone;
};

// The prompt's tokens with their logprobs, the first one null. Accepts one entry per
// prompt token, or one per token after the first (the first has no logprob to give).
void AddPromptLogprobs(Choice& c, const std::vector<TokenLogprob>& lps,
                       const TokenTextFn& token_text) {
  size_t j = 0;
  if (!c.prompt.empty() && lps.size() + 1 == c.prompt.size()) {
    c.logprobs.Add({c.prompt[0], 0.0f, {}}, token_text, /*first_prompt_token=*/true);
  } else if (!lps.empty()) {
    c.logprobs.Add(lps[0], token_text, /*first_prompt_token=*/true);
    j = 1;
  }
  for (; j < lps.size(); ++j) c.logprobs.Add(lps[j], token_text, false);
}

struct Completion {
  Completion(ServerContext* c, CompletionRequest r) : ctx(c), active(c), request(std::move(r)) {}

  // Folds one event into choice i; returns the text this event adds to it (with the echo
  // in front of the first). Records the final event's usage (the prompt's once) and any
  // failure.
  std::string Apply(size_t i, const EngineEvent& ev) {
    Choice& c = choices[i];
    std::string added = ev.text;
    const TokenTextFn token_text = TokenTexts(*ctx->tokenizer);
    if (!c.started) {
      c.started = true;
      if (request.echo) {
        added = c.prompt_text + added;
        if (request.logprobs >= 0) AddPromptLogprobs(c, ev.prompt_logprobs, token_text);
      }
    }
    if (request.logprobs >= 0) {
      for (const TokenLogprob& lp : ev.logprobs) c.logprobs.Add(lp, token_text, false);
    }
    c.text += added;
    if (ev.finish != FinishReason::kNone) {
      c.finish = ev.finish;
      AddUsage(ev.usage, /*counts_prompt=*/i % request.generation.n == 0, &usage);
      if (ev.finish != FinishReason::kStop && ev.finish != FinishReason::kLength && !failure) {
        failure = FinalError(*ctx, ev);
      }
    }
    return added;
  }

  json TakeLogprobs(size_t i) {
    return request.logprobs >= 0 ? choices[i].logprobs.Take() : json(nullptr);
  }

  // Streams every choice; false when the client went away (the requests are cancelled).
  bool Run(httplib::DataSink& sink) {
    auto write = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
    bool write_failed = false;
    Drain(
        streams, [&] { return sink.is_writable(); },
        [&](size_t i, EngineEvent& ev) {
          const std::string added = Apply(i, ev);
          if (failure) return false;  // one prompt failed: the whole request fails
          const bool has_logprobs = request.logprobs >= 0 && !choices[i].logprobs.empty();
          const int32_t index = static_cast<int32_t>(i);
          if (!added.empty() || has_logprobs) {
            if (!write(SseData(CompletionChunkJson(meta, index, added, nullptr,
                                                   has_logprobs ? TakeLogprobs(i) : json())))) {
              write_failed = true;
              return false;
            }
          }
          if (ev.finish != FinishReason::kNone &&
              !write(SseData(CompletionChunkJson(meta, index, "", FinishReasonJson(ev.finish),
                                                 nullptr)))) {
            write_failed = true;
            return false;
          }
          return true;
        });
    finished = true;
    if (write_failed || (!failure && !AllFinished())) return false;  // the client went away
    LogUsage(usage);
    if (failure) {
      write(SseData(ErrorJson(*failure)));
    } else if (request.include_usage) {
      write(SseData(UsageChunkJson(meta, "text_completion", usage)));
    }
    write(kSseDone);
    sink.done();
    return true;
  }

  bool AllFinished() const {
    for (const Choice& c : choices) {
      if (c.finish == FinishReason::kNone) return false;
    }
    return true;
  }

  void CancelAll() {
    for (auto& s : streams) s->Cancel();
  }

  ServerContext* ctx;
  ActiveGeneration active;
  CompletionRequest request;
  ResponseMeta meta;
  std::vector<std::shared_ptr<RequestStream>> streams;
  std::vector<Choice> choices;
  Usage usage;  // summed over the choices
  std::optional<ApiError> failure;
  bool finished = false;
};

void Collect(Completion* job, const httplib::Request& req, httplib::Response& res) {
  const bool completed = Drain(job->streams, ConnectionAlive(req), [&](size_t i, EngineEvent& ev) {
    job->Apply(i, ev);
    return !job->failure;
  });
  if (job->failure) {
    LogUsage(job->usage);
    return SendError(res, *job->failure);
  }
  if (!completed) {
    res.status = 499;  // the client closed the connection; nobody reads this
    return;
  }
  LogUsage(job->usage);
  std::vector<CompletionChoice> out(job->choices.size());
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].text = std::move(job->choices[i].text);
    out[i].finish = job->choices[i].finish;
    out[i].logprobs = job->TakeLogprobs(i);
  }
  SendJson(res, 200, CompletionJson(job->meta, out, job->usage));
}

}  // namespace

void HandleCompletions(ServerContext* ctx, const httplib::Request& req, httplib::Response& res) {
  ActiveGeneration active(ctx);
  std::string param;
  StatusOr<json> body = ParseJsonObject(req.body, &param);
  if (!body.ok()) return SendError(res, ApiErrorFromStatus(body.status(), param));
  ThisRequestLog().session = SessionId(req, BodyUser(*body));
  StatusOr<CompletionRequest> parsed = ParseCompletionRequest(*body, ctx->limits, &param);
  if (!parsed.ok()) return SendError(res, ApiErrorFromStatus(parsed.status(), param));
  if (!CheckModel(*ctx, parsed->model, res)) return;

  auto job = std::make_shared<Completion>(ctx, std::move(*parsed));
  const CompletionRequest& request = job->request;
  job->meta = {NewResponseId("cmpl-"), static_cast<int64_t>(std::time(nullptr)),
               ctx->options.model_name, ctx->options.system_fingerprint};
  std::vector<GenerationRequest> requests;
  for (const PromptInput& p : request.prompts) {
    GenerationRequest gen = request.generation;
    Choice choice;
    if (p.is_text) {
      gen.prompt = ctx->tokenizer->Encode(p.text, /*add_special=*/true, /*parse_special=*/true);
      choice.prompt_text = p.text;
    } else {
      gen.prompt = p.tokens;
      if (request.echo) choice.prompt_text = ctx->tokenizer->Decode(p.tokens);
    }
    PrepareRequest(req, request, &gen);
    choice.prompt = gen.prompt;
    requests.push_back(std::move(gen));
    job->choices.insert(job->choices.end(), request.generation.n, choice);  // i * n + j
  }
  job->request.prompts.clear();  // tokenized above
  if (!SubmitAll(ctx, std::move(requests), &job->streams, res)) return;

  if (!job->request.stream) return Collect(job.get(), req, res);

  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [job](size_t, httplib::DataSink& sink) {
        try {
          return job->Run(sink);
        } catch (...) {  // never let an exception escape into cpp-httplib's writer
          job->CancelAll();
          return false;
        }
      },
      [job](bool) {
        if (!job->finished) job->CancelAll();
      });
}

}  // namespace parley
