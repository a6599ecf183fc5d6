#include "common.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

namespace parley {

void AddKvDtypeOption(CLI::App* cmd, std::string* kv_dtype) {
  cmd->add_option("--kv-dtype", *kv_dtype,
                  "KV cache element type: f32, f16 or int8 (int8: per-head scales, ~3.9x the tokens of f32 per MiB)")
      ->check(CLI::IsMember({"f32", "f16", "int8", "i8"}))
      ->capture_default_str();
}

void AddModelOptions(CLI::App* cmd, ModelOptions* opts) {
  cmd->add_option("-m,--model", opts->model_path, "GGUF model file (default: the Gemma 3 270M in models/)");
  cmd->add_option("-t,--threads", opts->threads, "compute threads (default: all cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("-c,--ctx-size", opts->ctx_size, "context size in tokens")
      ->check(CLI::Range(16, 1 << 20));
  cmd->add_option("-b,--batch-size", opts->batch_tokens, "prompt tokens computed per forward pass")
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--activations", opts->activations,
                  "matrix-product inputs: f32 (exact) or q8 (8-bit blocks with integer dot products, "
                  "as llama.cpp computes; faster)")
      ->check(CLI::IsMember({"f32", "q8"}));
  cmd->add_option("--weights", opts->weights,
                  "matrix-product weights: gguf (the file's own types) or int8 (converted at load to int8 with a "
                  "scale per row, activations to int8 per 64 values; integer products on AMX tiles for prompts and "
                  "batches, AVX-512 VNNI or AVX2 otherwise; the output head keeps 16-bit activations)")
      ->check(CLI::IsMember({"gguf", "int8"}))
      ->capture_default_str();
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
  const char* name = "models/gemma-3-270m-q4_k_m.gguf";
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
    return Status::Error("no model given and models/gemma-3-270m-q4_k_m.gguf not found; "
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
  load.int8_weights = opts.weights == "int8";
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
