// Helpers shared by the parley subcommands: model loading with a progress line, and
// the options every model-running command has.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "model/model.h"
#include "model/transformer.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace parley {

struct ModelOptions {
  std::string model_path;
  int32_t threads = 0;      // 0: all cores
  int32_t ctx_size = 4096;
  int32_t batch_tokens = 512;
  std::string activations = "f32";  // "f32" (exact) or "q8" (8-bit activations, llama.cpp's numerics)
  std::string weights = "gguf";     // "gguf" (the file's types) or "int8" (W8A8, converted at load)
};

// Adds -m/--model, -t/--threads, -c/--ctx-size, -b/--batch-size to `cmd`.
void AddModelOptions(CLI::App* cmd, ModelOptions* opts);
// Adds --temp, --top-k, --top-p, --seed.
void AddSamplingOptions(CLI::App* cmd, SamplingParams* params);
// Adds --kv-dtype (f32, f16, int8 or i8; ParseKvDtype reads the value).
void AddKvDtypeOption(CLI::App* cmd, std::string* kv_dtype);

// The default model file (models/gemma-3-270m-q4_k_m.gguf beside the binary's source
// tree or the current directory), or "" if none is found.
std::string DefaultModelPath();

struct LoadedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};
// Loads model and tokenizer, drawing a progress bar on stderr when it is a terminal.
StatusOr<LoadedModel> LoadModelWithProgress(const std::string& path, const ModelOptions& opts = {});

int32_t ResolveThreads(int32_t requested);
ActivationMode ParseActivationMode(const std::string& name);

}  // namespace parley
