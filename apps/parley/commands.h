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

struct InspectOptions {
  std::string path;
};
int RunInspect(const InspectOptions& opts);

}  // namespace parley
