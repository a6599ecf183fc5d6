// parley: the command-line entry point. Parses arguments with CLI11 and dispatches to
// the subcommands in cmd_*.cc.
#include <cstdio>

#include "commands.h"
#include "kernels/cpu.h"

int main(int argc, char** argv) {
  using namespace parley;
  CLI::App app{"Parley: fast serving of LLMs to long multi-turn conversations"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "parley 0.1");

  RunOptions run;
  CLI::App* run_cmd = app.add_subcommand("run", "generate a continuation of one prompt");
  AddModelOptions(run_cmd, &run.model);
  AddSamplingOptions(run_cmd, &run.sampling);
  run_cmd->add_option("-p,--prompt", run.prompt, "prompt text (control-token text such as <start_of_turn> is parsed)")
      ->required();
  run_cmd->add_option("-n,--n-predict", run.max_tokens, "tokens to generate")->check(CLI::Range(0, 1 << 20));
  run_cmd->add_flag("--ignore-eos", run.ignore_eos, "keep generating after end-of-generation tokens");
  run_cmd->add_flag("--no-special", run.no_special, "tokenize control-token text in the prompt as plain text");
  run_cmd->add_option("--stop", run.stop, "stop string (repeatable): generation ends before it, as in the server");
  run_cmd->add_option("--logprobs", run.logprobs,
                      "print each generated token's log-probability and the N most likely tokens to stderr")
      ->check(CLI::Range(0, 20));

  ChatOptions chat;
  CLI::App* chat_cmd = app.add_subcommand("chat", "interactive multi-turn chat (KV kept between turns)");
  AddModelOptions(chat_cmd, &chat.model);
  AddSamplingOptions(chat_cmd, &chat.sampling);
  chat.sampling.temperature = 0.7f;
  chat.sampling.top_p = 0.95f;
  chat.sampling.top_k = 64;
  chat_cmd->add_option("-s,--system", chat.system, "system prompt");
  chat_cmd->add_option("--chat-template", chat.chat_template, "override the model's template: gemma or chatml")
      ->check(CLI::IsMember({"", "gemma", "chatml"}));
  chat_cmd->add_option("-n,--n-predict", chat.max_tokens, "maximum tokens per reply")->check(CLI::Range(1, 1 << 20));

  ServeOptions serve;
  CLI::App* serve_cmd = AddServeCommand(&app, &serve);

  BenchOptions bench, compare;
  CLI::App *bench_cmd = nullptr, *compare_cmd = nullptr;
  AddBenchCommand(&app, &bench, &compare, &bench_cmd, &compare_cmd);
  BenchSweepOptions sweep;
  CLI::App* sweep_cmd = AddBenchSweepCommand(bench_cmd, &sweep);

  PerplexityOptions perplexity;
  CLI::App* perplexity_cmd = AddPerplexityCommand(&app, &perplexity);

  BenchModelOptions bench_model;
  CLI::App* bench_model_cmd = AddBenchModelCommand(&app, &bench_model);

  InspectOptions inspect;
  CLI::App* inspect_cmd = app.add_subcommand("inspect", "print a GGUF file's metadata and tensors");
  inspect_cmd->add_option("file", inspect.path, "GGUF file")->required();

  CLI11_PARSE(app, argc, argv);
  if (run_cmd->parsed()) return RunRun(run);
  if (chat_cmd->parsed()) return RunChat(chat);
  if (serve_cmd->parsed()) return RunServe(serve);
  if (inspect_cmd->parsed()) return RunInspect(inspect);
  if (perplexity_cmd->parsed()) return RunPerplexity(perplexity);
  if (bench_model_cmd->parsed()) return RunBenchModel(bench_model);
  if (sweep_cmd->parsed()) return RunBenchSweep(sweep);
  if (compare_cmd->parsed()) return RunBench(compare, /*compare=*/true);
  if (bench_cmd->parsed()) return RunBench(bench, /*compare=*/false);
  return 1;
}
