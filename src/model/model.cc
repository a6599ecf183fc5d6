// Model::Load: the file mapping, its config and weights, and the conversion of the
// matrix-product weights to int8 rows (--weights int8) or packed panels (--weights packed).
#include "model/model.h"

#include <algorithm>
#include <functional>
#include <thread>

#include <sys/mman.h>
#include <unistd.h>

namespace parley {

namespace {

// Drops this process's pages of the file mapping that lie wholly inside [*from, to) and
// moves *from past them. The mapping is private and never written, so the kernel keeps
// no private copy: a later read (an embedding row of a tied head) faults the file's
// bytes back in from the page cache.
void ReleaseFilePages(uintptr_t* from, uintptr_t to) {
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t end = to / page * page;
  if (end > *from) {
    madvise(reinterpret_cast<void*>(*from), end - *from, MADV_DONTNEED);
    *from = end;
  }
}

// Converts each weight's rows over options.threads threads (rows split evenly), a slice of
// about options.convert_slice_bytes of the file at a time, handing the file pages of each
// slice back once it is converted: only the copies are read from then on (the token
// embedding, which may share the head's data, reads a row per token), and resident memory
// peaks at the copies plus one slice rather than plus the whole file.
//
// With options.packed_weights, a weight of a packable type is repacked at its own bits
// (kernels/packed_matmul.h); any other weight becomes int8 rows. Int8 weights in `wide`
// multiply 16-bit activations with an f16 weight scale per 32 columns; the others int8
// activations with per-row weight scales (kernels/int8_matmul.h).
void ConvertWeights(const std::vector<WeightView*>& views, const std::vector<const WeightView*>& wide,
                    const ModelLoadOptions& options, const LoadProgress& progress,
                    std::vector<std::unique_ptr<Int8Matrix>>* int8, std::vector<std::unique_ptr<PackedMatrix>>* packed) {
  uint64_t total = 0, done = 0;
  for (const WeightView* w : views) total += static_cast<uint64_t>(w->rows) * w->row_bytes;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const int32_t n = std::max(1, options.threads);
  for (WeightView* w : views) {
    std::function<void(int64_t, int64_t)> convert;
    if (options.packed_weights && CanPack(w->type)) {
      auto rows = std::make_unique<PackedMatrix>();
      InitPackedMatrix(w->type, w->rows, w->cols, rows.get());
      convert = [w, r = rows.get()](int64_t begin, int64_t end) { PackRows(w->data, w->row_bytes, begin, end, r); };
      w->packed = rows.get();
      packed->push_back(std::move(rows));
    } else {
      auto rows = std::make_unique<Int8Matrix>();
      const bool f32_activations = options.packed_weights || std::find(wide.begin(), wide.end(), w) != wide.end();
      InitInt8Matrix(w->rows, w->cols, rows.get(), f32_activations);
      convert = [w, r = rows.get()](int64_t begin, int64_t end) {
        ConvertRowsToInt8(w->type, w->data, w->row_bytes, begin, end, r);
      };
      w->i8 = rows.get();
      int8->push_back(std::move(rows));
    }
    const uintptr_t data = reinterpret_cast<uintptr_t>(w->data);
    uintptr_t released = (data + page - 1) / page * page;  // the first page wholly inside
    const int64_t slice = std::max<int64_t>(n, options.convert_slice_bytes / static_cast<int64_t>(w->row_bytes));
    for (int64_t s0 = 0; s0 < w->rows; s0 += slice) {
      const int64_t s1 = std::min(w->rows, s0 + slice);
      std::vector<std::thread> workers;
      for (int32_t i = 0; i < n; ++i) {
        const int64_t begin = s0 + (s1 - s0) * i / n, end = s0 + (s1 - s0) * (i + 1) / n;
        workers.emplace_back([&convert, begin, end] { convert(begin, end); });
      }
      for (auto& t : workers) t.join();
      ReleaseFilePages(&released, data + static_cast<uintptr_t>(s1) * w->row_bytes);
      done += static_cast<uint64_t>(s1 - s0) * w->row_bytes;
      if (progress) progress(done, total);
    }
  }
}

}  // namespace

int64_t Model::converted_bytes() const {
  int64_t total = 0;
  for (const auto& r : int8_) total += r->bytes();
  for (const auto& r : packed_) total += r->bytes();
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
  // The int8 path reads the file once to convert it (reporting progress there); paging the
  // whole file in first would only raise the peak.
  if (progress && !options.int8_weights && !options.packed_weights) PrefaultWeights(*m->gguf_, progress);
  if (options.int8_weights || options.packed_weights) {
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
        if (w != &l.wo && options.int8_wide_activations) wide.push_back(w);
      }
    }
    views.push_back(&m->weights_.output);
    wide.push_back(&m->weights_.output);
    ConvertWeights(views, wide, options, progress, &m->int8_, &m->packed_);
  }
  return m;
}

}  // namespace parley
