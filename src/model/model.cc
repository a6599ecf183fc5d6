#include "model/model.h"

#include <algorithm>
#include <thread>

#include <sys/mman.h>
#include <unistd.h>

namespace parley {

namespace {

// Converts each weight's rows to int8 over `threads` threads (rows split evenly). Weights in
// `wide` multiply 16-bit activations with an f16 weight scale per 32 columns; the others
// int8 activations with per-row weight scales (kernels/int8_matmul.h).
void ConvertToInt8(std::vector<WeightView*> views, const std::vector<const WeightView*>& wide, int32_t threads,
                   std::vector<std::unique_ptr<Int8Matrix>>* store) {
  for (WeightView* w : views) {
    auto rows = std::make_unique<Int8Matrix>();
    const bool f32_activations = std::find(wide.begin(), wide.end(), w) != wide.end();
    InitInt8Matrix(w->rows, w->cols, rows.get(), f32_activations);
    const int32_t n = std::max(1, threads);
    std::vector<std::thread> workers;
    for (int32_t i = 0; i < n; ++i) {
      const int64_t begin = w->rows * i / n, end = w->rows * (i + 1) / n;
      workers.emplace_back([w, begin, end, r = rows.get()] { ConvertRowsToInt8(w->type, w->data, w->row_bytes, begin, end, r); });
    }
    for (auto& t : workers) t.join();
    w->i8 = rows.get();
    store->push_back(std::move(rows));
  }
}

}  // namespace

int64_t Model::int8_bytes() const {
  int64_t total = 0;
  for (const auto& r : int8_) total += r->bytes();
  return total;
}

StatusOr<std::unique_ptr<Model>> Model::Load(const std::string& path, const LoadProgress& progress,
                                             const ModelLoadOptions& options) {
  std::unique_ptr<Model> m(new Model());
  PARLEY_ASSIGN_OR_RETURN(m->gguf_, GgufFile::Open(path));
  auto config = ReadModelConfig(*m->gguf_);
  if (!config.ok()) return config.status().WithContext(path);
  m->config_ = std::move(config).value();
  auto weights = LoadWeights(*m->gguf_, m->config_);
  if (!weights.ok()) return weights.status().WithContext(path);
  m->weights_ = std::move(weights).value();
  if (progress) PrefaultWeights(*m->gguf_, progress);
  if (options.int8_weights) {
    // Which products keep 16-bit activations (and an f16 weight scale per 32 columns): those
    // whose input is a norm's output or the FFN's gated product, where SmolLM2's outlier
    // channels make int8 activations per 64 values and per-row weight scales cost 0.7% of
    // perplexity (Q/K/V and gate/up inputs, then the weights of down and V). The head's
    // input is the final norm's output. Only the attention output's product, whose input
    // has no such channels, takes int8 activations (0.07% of perplexity on SmolLM2).
    std::vector<WeightView*> views;
    std::vector<const WeightView*> wide;
    for (LayerWeights& l : m->weights_.layers) {
      for (WeightView* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
        if (w->data == nullptr) continue;
        views.push_back(w);
        if (w != &l.wo) wide.push_back(w);
      }
    }
    views.push_back(&m->weights_.output);
    wide.push_back(&m->weights_.output);
    ConvertToInt8(views, wide, options.threads, &m->int8_);
    // The converted tensors' file pages are not read again (the token embedding, which may
    // share the head's data, only a row per token): hand them back, so resident memory is
    // the int8 copies rather than both.
    const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    for (const WeightView* w : views) {
      const uintptr_t begin = (reinterpret_cast<uintptr_t>(w->data) + page - 1) / page * page;
      const uintptr_t end = (reinterpret_cast<uintptr_t>(w->data) + static_cast<uintptr_t>(w->rows) * w->row_bytes) / page * page;
      if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
    }
  }
  return m;
}

}  // namespace parley
