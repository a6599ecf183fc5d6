#include "common.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "gguf/gguf.h"
#include "kernels/int8_matmul.h"
#include "kernels/packed_matmul.h"

namespace parley {

void AddModelOptions(CLI::App* cmd, ModelOptions* opts) {
  cmd->add_option("-m,--model", opts->model_path,
                  "GGUF model file (default: models/SmolLM2-135M-Instruct.Q4_1.gguf)");
  cmd->add_option("-t,--threads", opts->threads, "compute threads (default: all cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("-c,--ctx-size", opts->ctx_size, "context size in tokens")
      ->check(CLI::Range(16, 1 << 20));
  cmd->add_option("-b,--batch-size", opts->batch_tokens, "prompt tokens computed per forward pass")
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_flag("--exact", opts->exact,
                "the exact path: the file's own weight types, f32 activations and an f32 KV cache (the golden "
                "tests' numerics; default: the fast path, packed or int8 weights and int8 KV)");
  cmd->add_option("--activations", opts->activations,
                  "matrix-product inputs of the gguf weights: f32 (exact; the default) or q8 (8-bit blocks with "
                  "integer dot products, as llama.cpp computes)")
      ->check(CLI::IsMember({"f32", "q8"}));
  cmd->add_option("--weights", opts->weights,
                  "matrix-product weights (default: packed where it reads at most 90% of int8 rows' bytes per token "
                  "and the CPU has no AMX tiles, e.g. SmolLM2; else int8): int8 (converted at load to int8, "
                  "activations to int8 per 64 values; integer products on AMX tiles for prompts and batches, "
                  "AVX-512 VNNI or AVX2 otherwise; the products whose input is a norm's output or the FFN's "
                  "gated product, and the head, take 16-bit activations and an f16 weight scale per 32 columns), "
                  "w8a8 (the same int8 weights but every layer product W8A8: faster, lossless on Gemma 3 270M, "
                  "+0.7% perplexity on SmolLM2), packed (the file's own 4- to 8-bit codes and scales, repacked "
                  "at load into panels for AVX-512 VNNI / AVX2, times 16-bit activations: fewer bytes per decoded "
                  "token) or gguf (the file's own types)")
      ->check(CLI::IsMember({"gguf", "int8", "w8a8", "packed"}));
  cmd->add_option("--kv-dtype", opts->kv_dtype,
                  "KV cache element type: int8 (the default; i8 also accepted), f16 or f32")
      ->check(CLI::IsMember({"f32", "f16", "int8", "i8"}));
  cmd->parse_complete_callback([opts] {
    if (Status st = ResolveNumerics(opts); !st.ok()) throw CLI::ValidationError("--exact", st.message());
  });
}

const char* FastWeights(const std::string& model_path) {
  if (Int8UsesAmx() || model_path.empty()) return "int8";
  auto gguf = GgufFile::Open(model_path);
  if (!gguf.ok()) return "int8";
  // Every 2-D matrix-product weight once (the embedding is the head unless output.weight
  // exists); int8 rows take a byte per weight plus an f16 scale per 32.
  const bool untied = (*gguf)->FindTensor("output.weight") != nullptr;
  double packed = 0, int8 = 0;
  for (const GgufTensorInfo& t : (*gguf)->tensors()) {
    if (t.ne.size() != 2 || (untied && t.name == "token_embd.weight")) continue;
    const double n = static_cast<double>(t.num_elements());
    int8 += n * (1.0 + 2.0 / 32);
    if (CanPack(t.type())) {
      const PackFormat f = PackFormatFor(t.type());
      packed += n / (kPackPanel * kPackBlock) * static_cast<double>(f.block_bytes());
    } else {
      packed += n * (1.0 + 2.0 / 32);  // converted to int8 rows
    }
  }
  return int8 > 0 && packed <= 0.9 * int8 ? "packed" : "int8";
}

Status ResolveNumerics(ModelOptions* opts) {
  if (opts->exact) {
    const bool conflict = (!opts->weights.empty() && opts->weights != "gguf") ||
                          (!opts->activations.empty() && opts->activations != "f32") ||
                          (!opts->kv_dtype.empty() && opts->kv_dtype != "f32");
    if (conflict) {
      return Status::Error("--exact means --weights gguf --activations f32 --kv-dtype f32; drop the "
                           "conflicting option");
    }
  }
  if (!opts->exact) opts->fast_weights = FastWeights(opts->model_path.empty() ? DefaultModelPath() : opts->model_path);
  if (opts->weights.empty()) opts->weights = opts->exact ? "gguf" : opts->fast_weights;
  if (opts->activations.empty()) opts->activations = opts->exact ? "f32" : kFastActivations;
  if (opts->kv_dtype.empty()) opts->kv_dtype = opts->exact ? "f32" : kFastKvDtype;
  if (opts->kv_dtype == "i8") opts->kv_dtype = "int8";
  return Status::Ok();
}

std::string DescribeNumerics(const ModelOptions& opts) {
  const std::string what = (opts.weights == "int8"   ? std::string("int8 weights, 16/8-bit activations")
                            : opts.weights == "w8a8" ? std::string("int8 weights and activations (W8A8)")
                            : opts.weights == "packed" ? std::string("packed file-bit weights, 16-bit activations")
                                                     : "the file's weights, " + opts.activations + " activations") +
                           ", " + opts.kv_dtype + " KV";
  if (opts.weights == "gguf" && opts.activations == "f32" && opts.kv_dtype == "f32") {
    return "exact path (" + what + ")";
  }
  if (opts.weights == opts.fast_weights && opts.kv_dtype == kFastKvDtype) {
    return "fast path (" + what + "; --exact for the exact path)";
  }
  return "custom numerics (" + what + "; --exact for the exact path)";
}

ActivationMode ParseActivationMode(const std::string& name) {
  return name == "q8" ? ActivationMode::kQ8 : ActivationMode::kF32;
}

void AddSamplingOptions(CLI::App* cmd, SamplingParams* p) {
  cmd->add_option("--temp,--temperature", p->temperature, "sampling temperature (0 = greedy)")
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-k", p->top_k, "keep the k most likely tokens (0 = all)")->check(CLI::Range(0, 1 << 30));
  cmd->add_option("--top-p", p->top_p, "nucleus sampling threshold in (0, 1]")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", p->seed, "random seed for sampling");
}

std::string DefaultModelPath() {
  namespace fs = std::filesystem;
  const char* name = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
  std::vector<fs::path> roots = {fs::current_path()};
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (fs::path p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
      roots.push_back(p);
    }
  }
  for (const fs::path& r : roots) {
    if (fs::exists(r / name, ec)) return (r / name).string();
  }
  return "";
}

StatusOr<LoadedModel> LoadModelWithProgress(const std::string& path, const ModelOptions& opts) {
  if (path.empty()) {
    return Status::Error("no model given and models/SmolLM2-135M-Instruct.Q4_1.gguf not found; "
                         "run scripts/fetch_models.py or pass -m FILE");
  }
  const bool tty = ::isatty(STDERR_FILENO);
  int last_pct = -1;
  auto progress = [&](uint64_t done, uint64_t total) {
    int pct = total ? static_cast<int>(100 * done / total) : 100;
    if (pct == last_pct) return;
    last_pct = pct;
    if (tty) {
      int bars = pct / 4;
      std::fprintf(stderr, "\rloading %s [%.*s%*s] %3d%%",
                   std::filesystem::path(path).filename().c_str(), bars,
                   "=========================", 25 - bars, "", pct);
      if (pct == 100) std::fprintf(stderr, "\n");
    }
  };
  LoadedModel out;
  ModelLoadOptions load;
  load.int8_weights = opts.weights == "int8" || opts.weights == "w8a8";
  load.packed_weights = opts.weights == "packed";
  load.int8_wide_activations = opts.weights != "w8a8";
  load.threads = ResolveThreads(opts.threads);
  PARLEY_ASSIGN_OR_RETURN(out.model, Model::Load(path, progress, load));
  auto tok = Tokenizer::FromGguf(out.model->gguf());
  if (!tok.ok()) return tok.status().WithContext(path);
  out.tokenizer = std::move(tok).value();
  return out;
}

int32_t ResolveThreads(int32_t requested) {
  if (requested > 0) return requested;
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int32_t>(hc);
}

}  // namespace parley
