// The parley subcommands. Each returns the process exit code; none throws or exits.
#pragma once

#include <string>

#include "common.h"

namespace parley {

struct RunOptions {
  ModelOptions model;
  SamplingParams sampling;
  std::string prompt;
  int32_t max_tokens = 128;
  bool ignore_eos = false;
  bool no_special = false;   // treat control-token text in the prompt as plain text
};
int RunRun(const RunOptions& opts);

struct ChatOptions {
  ModelOptions model;
  SamplingParams sampling;
  std::string system;
  std::string chat_template;  // "" = from the model file
  int32_t max_tokens = 512;
};
int RunChat(const ChatOptions& opts);

struct ServeOptions {
  ModelOptions model;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;        // also PARLEY_API_KEY
  std::string model_name;     // "" = the file name without .gguf
  int max_body_mb = 8;
  int max_tokens_limit = 0;   // 0 = the context size
  std::string chat_template;  // "" = from the model file
  int max_seqs = 16;
  int max_queue = 256;
  int kv_cache_mb = 0;  // 0: automatic (Engine: max_seqs full-context sequences, <= RAM / 4)
  int page_size = 16;
  std::string kv_dtype = "f32";
  std::string kv_sharing;     // "L:O,..."
};
// Adds the `serve` subcommand and its options to `app`.
CLI::App* AddServeCommand(CLI::App* app, ServeOptions* opts);
int RunServe(const ServeOptions& opts);

struct InspectOptions {
  std::string path;
};
int RunInspect(const InspectOptions& opts);

}  // namespace parley
