// POST /v1/chat/completions: messages -> chat template -> tokens (parse_special, no
// added BOS: the template writes it) -> one engine request of n choices -> a
// chat.completion body, or SSE chunks (each carrying its choice's index: a role chunk per
// choice first, then content deltas and each choice's finish chunk as they come, an
// optional usage chunk, and [DONE]).
#include <ctime>
#include <memory>
#include <optional>

#include "server/generation_common.h"
#include "server/generation_handler.h"

namespace parley {
namespace {

using nlohmann::json;

// The n choices of one chat completion as they accumulate, streamed or not. Stream j
// answers choice j; usage counts the prompt once and every choice's completion tokens. A
// choice that fails fails the whole response.
struct ChatJob {
  ChatJob(ServerContext* c, ChatRequest r) : ctx(c), active(c), request(std::move(r)) {}

  // Folds one event into choice i (text and logprobs when `keep`, finish, usage); false
  // when the choice failed (then `failure` holds the error).
  bool Apply(size_t i, const EngineEvent& ev, bool keep) {
    ChatChoice& c = choices[i];
    if (keep) {
      c.text += ev.text;
      if (request.logprobs) {
        for (json& e : ChatLogprobEntries(ev.logprobs, token_text)) c.logprobs["content"].push_back(std::move(e));
      }
    }
    if (ev.finish == FinishReason::kNone) return true;
    c.finish = ev.finish;
    AddUsage(ev.usage, /*counts_prompt=*/i == 0, &usage);
    if (ev.finish == FinishReason::kStop || ev.finish == FinishReason::kLength) return true;
    failure = FinalError(*ctx, ev);
    return false;
  }

  // Writes the whole stream: a role chunk per choice, then each choice's content and
  // finish chunks as they come, an optional usage chunk and [DONE]. False when the client
  // went away (every choice is cancelled).
  bool Run(httplib::DataSink& sink) {
    auto write = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
    for (size_t j = 0; j < streams.size(); ++j) {
      if (!write(SseData(ChatChunkJson(meta, static_cast<int32_t>(j), {{"role", "assistant"}, {"content", ""}},
                                       nullptr, nullptr)))) {
        CancelAll();
        return false;
      }
    }
    bool write_failed = false;
    const bool completed = Drain(
        streams, [&] { return sink.is_writable(); },
        [&](size_t i, EngineEvent& ev) {
          if (!Apply(i, ev, /*keep=*/false)) return false;
          const int32_t index = static_cast<int32_t>(i);
          const bool has_logprobs = request.logprobs && !ev.logprobs.empty();
          if (!ev.text.empty() || has_logprobs) {
            json lp = nullptr;
            if (request.logprobs) lp = {{"content", ChatLogprobEntries(ev.logprobs, token_text)}};
            if (!write(SseData(ChatChunkJson(meta, index, {{"content", ev.text}}, nullptr, lp)))) {
              write_failed = true;
              return false;
            }
          }
          if (ev.finish != FinishReason::kNone &&
              !write(SseData(ChatChunkJson(meta, index, json::object(), FinishReasonJson(ev.finish), nullptr)))) {
            write_failed = true;
            return false;
          }
          return true;
        });
    finished = true;
    if (write_failed || (!completed && !failure)) return false;  // the client went away
    LogUsage(usage);
    if (failure) {
      write(SseData(ErrorJson(*failure)));
    } else if (request.include_usage) {
      write(SseData(UsageChunkJson(meta, "chat.completion.chunk", usage)));
    }
    write(kSseDone);
    sink.done();
    return true;
  }

  // Waits for every choice and answers with one chat.completion body.
  void Collect(const httplib::Request& req, httplib::Response& res) {
    const bool completed =
        Drain(streams, ConnectionAlive(req), [&](size_t i, EngineEvent& ev) { return Apply(i, ev, /*keep=*/true); });
    if (failure) {
      LogUsage(usage);
      return SendError(res, *failure);
    }
    if (!completed) {
      res.status = 499;  // the client closed the connection; nobody reads this
      return;
    }
    LogUsage(usage);
    SendJson(res, 200, ChatCompletionJson(meta, choices, usage));
  }

  void CancelAll() {
    for (auto& s : streams) s->Cancel();
  }

  ServerContext* ctx;
  ActiveGeneration active;
  ChatRequest request;
  TokenTextFn token_text;
  ResponseMeta meta;
  std::vector<std::shared_ptr<RequestStream>> streams;  // one per choice
  std::vector<ChatChoice> choices;
  Usage usage;  // the prompt once, every choice's completion
  std::optional<ApiError> failure;
  bool finished = false;
};

}  // namespace

void HandleChatCompletions(ServerContext* ctx, const httplib::Request& req,
                           httplib::Response& res) {
  ActiveGeneration active(ctx);
  std::string param;
  StatusOr<json> body = ParseJsonObject(req.body, &param);
  if (!body.ok()) return SendError(res, ApiErrorFromStatus(body.status(), param));
  StatusOr<ChatRequest> parsed = ParseChatRequest(*body, ctx->limits, &param);
  ThisRequestLog().session = SessionId(req, BodyUser(*body));
  if (!parsed.ok()) return SendError(res, ApiErrorFromStatus(parsed.status(), param));
  if (!CheckModel(*ctx, parsed->model, res)) return;

  StatusOr<std::string> prompt = ctx->chat_template->Render(parsed->messages, true);
  if (!prompt.ok()) {
    return SendError(res, {400, prompt.status().message(), "", "messages", ""});
  }
  GenerationRequest gen = parsed->generation;
  gen.prompt = ctx->tokenizer->Encode(*prompt, /*add_special=*/false, /*parse_special=*/true);
  // The predicted reply, tokenized as reply text is (no special tokens).
  if (!parsed->prediction.empty()) {
    gen.prediction = ctx->tokenizer->Encode(parsed->prediction, /*add_special=*/false, /*parse_special=*/false);
  }
  PrepareRequest(req, *parsed, &gen);

  auto job = std::make_shared<ChatJob>(ctx, std::move(*parsed));
  job->meta = {NewResponseId("chatcmpl-"), static_cast<int64_t>(std::time(nullptr)), ctx->options.model_name,
               ctx->options.system_fingerprint};
  job->token_text = TokenTexts(*ctx->tokenizer);
  job->request.messages.clear();  // rendered; the rest needs only the options
  const json empty_logprobs = job->request.logprobs ? json{{"content", json::array()}} : json(nullptr);
  job->choices.assign(gen.n, ChatChoice{"", FinishReason::kNone, empty_logprobs});
  if (!SubmitAll(ctx, {std::move(gen)}, &job->streams, res, "messages")) return;

  if (!job->request.stream) return job->Collect(req, res);

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
