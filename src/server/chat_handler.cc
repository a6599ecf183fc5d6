// POST /v1/chat/completions: messages -> chat template -> tokens (parse_special, no
// added BOS: the template writes it) -> one engine request -> a chat.completion body, or
// SSE chunks (role first, then content deltas, a finish chunk, an optional usage chunk,
// and [DONE]).
#include <ctime>
#include <memory>

#include "server/generation_common.h"
#include "server/generation_handler.h"

namespace parley {
namespace {

using nlohmann::json;

// The state of one streamed chat completion, shared by the content provider and its
// releaser (which cancels the request if the stream did not finish).
struct ChatStream {
  ChatStream(ServerContext* c, ChatRequest r) : ctx(c), active(c), request(std::move(r)) {}

  // Writes the whole stream; false when the client went away (the request is cancelled).
  bool Run(httplib::DataSink& sink) {
    auto write = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
    const TokenTextFn token_text = TokenTexts(*ctx->tokenizer);
    if (!write(SseData(ChatChunkJson(meta, {{"role", "assistant"}, {"content", ""}}, nullptr,
                                     nullptr)))) {
      streams[0]->Cancel();
      return false;
    }
    EngineEvent final_event;
    const bool completed = Drain(
        streams, [&] { return sink.is_writable(); },
        [&](size_t, EngineEvent& ev) {
          const bool has_logprobs = request.logprobs && !ev.logprobs.empty();
          if (!ev.text.empty() || has_logprobs) {
            json lp = nullptr;
            if (request.logprobs) lp = {{"content", ChatLogprobEntries(ev.logprobs, token_text)}};
            if (!write(SseData(ChatChunkJson(meta, {{"content", ev.text}}, nullptr, lp)))) {
              return false;
            }
          }
          if (ev.finish != FinishReason::kNone) final_event = std::move(ev);
          return true;
        });
    finished = true;
    if (!completed) return false;
    LogUsage(final_event.usage);
    if (final_event.finish != FinishReason::kStop && final_event.finish != FinishReason::kLength) {
      write(SseData(ErrorJson(FinalError(*ctx, final_event))));
    } else {
      write(SseData(ChatChunkJson(meta, json::object(), FinishReasonJson(final_event.finish),
                                  nullptr)));
      if (request.include_usage) {
        write(SseData(UsageChunkJson(meta, "chat.completion.chunk", final_event.usage)));
      }
    }
    write(kSseDone);
    sink.done();
    return true;
  }

  ServerContext* ctx;
  ActiveGeneration active;
  ChatRequest request;
  ResponseMeta meta;
  std::vector<std::shared_ptr<RequestStream>> streams;  // one
  bool finished = false;
};

void Collect(ServerContext* ctx, const httplib::Request& req, const ChatRequest& request,
             const ResponseMeta& meta, const std::vector<std::shared_ptr<RequestStream>>& streams,
             httplib::Response& res) {
  const TokenTextFn token_text = TokenTexts(*ctx->tokenizer);
  std::string text;
  json logprobs = json::array();
  EngineEvent final_event;
  const bool completed = Drain(streams, ConnectionAlive(req), [&](size_t, EngineEvent& ev) {
    text += ev.text;
    if (request.logprobs) {
      for (json& e : ChatLogprobEntries(ev.logprobs, token_text)) logprobs.push_back(std::move(e));
    }
    if (ev.finish != FinishReason::kNone) final_event = std::move(ev);
    return true;
  });
  if (!completed) {
    res.status = 499;  // the client closed the connection; nobody reads this
    return;
  }
  LogUsage(final_event.usage);
  if (final_event.finish != FinishReason::kStop && final_event.finish != FinishReason::kLength) {
    SendError(res, FinalError(*ctx, final_event));
    return;
  }
  json lp = request.logprobs ? json{{"content", std::move(logprobs)}} : json(nullptr);
  SendJson(res, 200, ChatCompletionJson(meta, text, final_event.finish, lp, final_event.usage));
}

}  // namespace

void HandleChatCompletions(ServerContext* ctx, const httplib::Request& req,
                           httplib::Response& res) {
  ActiveGeneration active(ctx);
  StatusOr<json> body = ParseJsonObject(req.body);
  if (!body.ok()) return SendError(res, ApiErrorFromStatus(body.status()));
  std::string param;
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
  PrepareRequest(req, *parsed, &gen);

  const ResponseMeta meta{NewResponseId("chatcmpl-"), static_cast<int64_t>(std::time(nullptr)),
                          ctx->options.model_name, ctx->options.system_fingerprint};
  std::vector<std::shared_ptr<RequestStream>> streams;
  if (!SubmitAll(ctx, {std::move(gen)}, &streams, res, "messages")) return;

  if (!parsed->stream) return Collect(ctx, req, *parsed, meta, streams, res);

  parsed->messages.clear();  // rendered; the stream needs only the options
  auto state = std::make_shared<ChatStream>(ctx, std::move(*parsed));
  state->meta = meta;
  state->streams = std::move(streams);
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [state](size_t, httplib::DataSink& sink) {
        try {
          return state->Run(sink);
        } catch (...) {  // never let an exception escape into cpp-httplib's writer
          state->streams[0]->Cancel();
          return false;
        }
      },
      [state](bool) {
        if (!state->finished) state->streams[0]->Cancel();
      });
}

}  // namespace parley
