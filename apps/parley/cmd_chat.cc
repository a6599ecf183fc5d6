// parley chat: interactive multi-turn chat with the model's chat template. Each turn
// re-renders the conversation; the Generator reuses the KV of the common prefix, so only
// the new user message (and template markup) is computed.
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "generator.h"
#include "tokenizer/chat_template.h"

namespace parley {

int RunChat(const ChatOptions& opts) {
  auto loaded = LoadModelWithProgress(opts.model.model_path.empty() ? DefaultModelPath()
                                                                    : opts.model.model_path, opts.model);
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", loaded.status().message().c_str());
    return 1;
  }
  const Tokenizer& tok = *loaded->tokenizer;
  auto tmpl = ChatTemplate::FromGguf(loaded->model->gguf(), opts.chat_template);
  if (!tmpl.ok()) {
    std::fprintf(stderr, "error: %s\n", tmpl.status().message().c_str());
    return 1;
  }
  if (std::string warning = tmpl->FallbackWarning(opts.model.model_path.empty() ? DefaultModelPath()
                                                                               : opts.model.model_path);
      !warning.empty()) {
    std::fprintf(stderr, "%s\n", warning.c_str());
  }
  const int32_t threads = ResolveThreads(opts.model.threads);
  Generator gen(*loaded->model, tok, opts.model.ctx_size, threads,
                ParseActivationMode(opts.model.activations));
  StatusOr<KvDtype> kv_dtype = ParseKvDtype(opts.model.kv_dtype);
  if (!kv_dtype.ok()) {
    std::fprintf(stderr, "error: --kv-dtype: %s\n", kv_dtype.status().message().c_str());
    return 1;
  }
  gen.set_kv(opts.model.batch_tokens, *kv_dtype);

  std::vector<ChatMessage> history;
  if (!opts.system.empty()) history.push_back({"system", opts.system});
  std::fprintf(stderr, "parley chat: %s, template %s, %d threads, %s. Type a message; /reset clears the "
                       "conversation, /exit or Ctrl-D quits.\n",
               loaded->model->config().arch_name.c_str(), tmpl->name(), threads,
               DescribeNumerics(opts.model).c_str());
  std::string line;
  for (;;) {
    std::fprintf(stdout, "\n> ");
    std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      history.resize(opts.system.empty() ? 0 : 1);
      std::fprintf(stderr, "(conversation cleared)\n");
      continue;
    }
    if (line.empty()) continue;
    history.push_back({"user", line});
    auto text = tmpl->Render(history, /*add_generation_prompt=*/true);
    if (!text.ok()) {
      std::fprintf(stderr, "error: %s\n", text.status().message().c_str());
      history.pop_back();
      continue;
    }
    std::vector<int32_t> prompt = tok.Encode(*text, /*add_special=*/false, /*parse_special=*/true);
    StreamingDetokenizer detok(tok);
    std::string reply;
    auto stats = gen.Generate(prompt, opts.max_tokens, opts.sampling, false, [&](int32_t id) {
      if (tok.IsEndOfGeneration(id)) return false;
      std::string piece = detok.Feed(id);
      reply += piece;
      std::fputs(piece.c_str(), stdout);
      std::fflush(stdout);
      return true;
    });
    std::string tail = detok.Flush();
    reply += tail;
    std::fputs(tail.c_str(), stdout);
    std::fputs("\n", stdout);
    std::fflush(stdout);
    if (!stats.ok()) {
      std::fprintf(stderr, "error: %s\n", stats.status().message().c_str());
      history.pop_back();
      continue;
    }
    history.push_back({"assistant", reply});
    const GenerationStats& s = *stats;
    std::fprintf(stderr, "[%d prompt tokens, %d computed (%d cached), %.1f tok/s prompt; %d generated, %.1f tok/s]\n",
                 s.prompt_tokens, s.computed_prompt, s.prompt_tokens - s.computed_prompt,
                 s.computed_prompt / std::max(s.prompt_seconds, 1e-9), s.generated,
                 s.decode_steps / std::max(s.generate_seconds, 1e-9));
  }
  return 0;
}

}  // namespace parley
