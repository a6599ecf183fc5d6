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
  // The numerics. Empty until ResolveNumerics fills what the user left unset: the fast
  // path by default, the exact path with --exact.
  bool exact = false;       // --exact: the file's weights, f32 activations, f32 KV
  std::string activations;  // "f32" (exact) or "q8" (8-bit activations, llama.cpp's numerics)
  std::string weights;      // "gguf" (the file's types), "int8"/"w8a8" (converted at load) or "packed"
  std::string kv_dtype;     // "f32", "f16", "int8" / "i8"
  std::string fast_weights; // the default weights for this model and CPU (FastWeights), set by ResolveNumerics
};

// The default ("fast") numerics: the fastest configuration whose perplexity stays within
// 0.5% of the exact path's on both models (docs/performance.md, "Choosing the default").
// The weights depend on the model and the CPU: "packed" (the file's own bits) when that
// reads at most 90% of the int8 rows' bytes per decoded token and no AMX tiles run the int8
// path's prompts, else "int8". Decode speed follows the bytes read, and packed prompts run
// up to 20% slower than int8 rows (docs/performance.md, issue 20): SmolLM2's Q4_1 layers
// take 0.63 bytes per weight packed against 1.06 as int8 rows (decode +34%); Gemma 3 270M's
// Q8_0 head dominates both (260 against 286 MB, decode +1%), so it keeps int8 rows.
// `model_path` empty or unreadable: "int8".
const char* FastWeights(const std::string& model_path);
inline constexpr const char* kFastActivations = "f32";  // unused by int8 weights' own products
inline constexpr const char* kFastKvDtype = "int8";

// Fills the numerics left unset: with --exact gguf/f32/f32 (an explicit non-exact choice
// next to --exact is an error), else the fast defaults above.
Status ResolveNumerics(ModelOptions* opts);
// One line for start-up banners: which path runs ("fast path: ..." / "exact path: ..." /
// "custom: ...") and how to get the other.
std::string DescribeNumerics(const ModelOptions& opts);

// Adds -m/--model, -t/--threads, -c/--ctx-size, -b/--batch-size, --exact, --weights,
// --activations and --kv-dtype to `cmd`, and resolves the numerics once it is parsed.
void AddModelOptions(CLI::App* cmd, ModelOptions* opts);
// Adds --temp, --top-k, --top-p, --seed.
void AddSamplingOptions(CLI::App* cmd, SamplingParams* params);

// The default model file (models/SmolLM2-135M-Instruct.Q4_1.gguf beside the binary's source
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
