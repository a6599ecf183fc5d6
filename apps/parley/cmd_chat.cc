// parley chat: interactive multi-turn chat with the model's chat template. Each turn
// re-renders the conversation and submits it to the engine (Generator), whose prefix cache
// resumes after the conversation's cached pages, so only the new user message (and
// template markup, and the rest of the last partly filled page) is computed.
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
  auto gen = CreateGenerator(*loaded->model, tok, opts.model);
  if (!gen.ok()) {
    std::fprintf(stderr, "error: %s\n", gen.status().message().c_str());
    return 1;
  }
  const int32_t threads = (*gen)->threads();

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
    GenerationRequest req;
    req.prompt = std::move(prompt);
    req.sampling = opts.sampling;
    req.max_tokens = opts.max_tokens;
    std::string reply;
    auto stats = (*gen)->Generate(std::move(req), [&](const EngineEvent& ev) {
      reply += ev.text;
      std::fputs(ev.text.c_str(), stdout);
      std::fflush(stdout);
      return true;
    });
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
                 std::max(0, s.generated - 1) / std::max(s.generate_seconds, 1e-9));
  }
  return 0;
}

}  // namespace parley
