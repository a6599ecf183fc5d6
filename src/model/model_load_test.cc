// Model::Load with int8 weights: the conversion hands back the file pages of every
// converted weight (none stays mapped in this process: /proc/self/pagemap), it reports
// progress over the converted bytes, and converting in small slices on several threads
// gives the same model, logit for logit, as in one piece on one thread. Packed weights
// (the file's bits): every packable type gives logits close to the exact path's. (Their
// file pages are released by the same sliced conversion as int8 weights'; these tiny
// matrices are too small to check it: the kernel's fault-around maps neighbours' pages.)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "model/model.h"
#include "model/sequence_kv.h"
#include "model/transformer.h"
#include "gguf/testing/tiny_model.h"

namespace parley {
namespace {

// Big enough that every matrix spans many pages (ffn: 512 rows of 1 KiB in f32).
testing::TinyModelSpec PagesSpec() {
  testing::TinyModelSpec spec;
  spec.hidden = 256;
  spec.heads = 4;
  spec.kv_heads = 2;
  spec.head_dim = 64;
  spec.ffn = 512;
  return spec;
}

std::vector<const WeightView*> ConvertedViews(const Model& m) {
  std::vector<const WeightView*> views;
  for (const LayerWeights& l : m.weights().layers) {
    for (const WeightView* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) views.push_back(w);
  }
  views.push_back(&m.weights().output);
  return views;
}

// Pages wholly inside `w`'s bytes that are mapped in this process (pagemap bit 63), or -1
// when pagemap cannot be read.
int64_t MappedPagesInside(const WeightView& w) {
  const int fd = open("/proc/self/pagemap", O_RDONLY);
  if (fd < 0) return -1;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(w.data) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(w.data) + w.rows * w.row_bytes) / page * page;
  int64_t mapped = 0;
  for (uintptr_t p = begin; p < end; p += page) {
    uint64_t entry = 0;
    if (pread(fd, &entry, sizeof(entry), static_cast<off_t>(p / page * sizeof(entry))) != sizeof(entry)) {
      mapped = -1;
      break;
    }
    mapped += static_cast<int64_t>(entry >> 63);
  }
  close(fd);
  return mapped;
}

std::unique_ptr<Model> Load(const std::string& path, const ModelLoadOptions& options, const LoadProgress& progress) {
  auto m = Model::Load(path, progress, options);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m).value() : nullptr;
}

TEST(ModelLoadTest, Int8ConversionReleasesTheFilePagesOfConvertedWeights) {
  const std::string path = testing::TempModelPath("pages");
  ASSERT_TRUE(testing::WriteTinyModel(PagesSpec(), path).ok());
  // The file's own weights, paged in: the check sees mapped pages.
  auto gguf = Load(path, {}, [](uint64_t, uint64_t) {});
  ASSERT_NE(gguf, nullptr);
  const int64_t gguf_mapped = MappedPagesInside(gguf->weights().layers[0].w_gate);
  if (gguf_mapped < 0) GTEST_SKIP() << "/proc/self/pagemap is not readable";
  EXPECT_GT(gguf_mapped, 64);  // 512 KiB of f32 rows

  ModelLoadOptions options;
  options.int8_weights = true;
  options.threads = 2;
  options.convert_slice_bytes = 64 << 10;
  std::vector<std::pair<uint64_t, uint64_t>> reports;
  auto int8 = Load(path, options, [&](uint64_t done, uint64_t total) { reports.emplace_back(done, total); });
  std::remove(path.c_str());
  ASSERT_NE(int8, nullptr);
  uint64_t converted = 0;
  for (const WeightView* w : ConvertedViews(*int8)) {
    ASSERT_NE(w->i8, nullptr) << w->name;
    EXPECT_EQ(MappedPagesInside(*w), 0) << w->name;
    converted += w->rows * w->row_bytes;
  }
  // Progress over the converted bytes, a report per slice (several per ffn matrix).
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back(), std::make_pair(converted, converted));
  EXPECT_GT(reports.size(), ConvertedViews(*int8).size() + 8);
  for (size_t i = 1; i < reports.size(); ++i) EXPECT_GT(reports[i].first, reports[i - 1].first);
}

TEST(ModelLoadTest, SlicedConversionGivesTheSameLogits) {
  const std::string path = testing::TempModelPath("slices");
  ASSERT_TRUE(testing::WriteTinyModel(PagesSpec(), path).ok());
  ModelLoadOptions whole;
  whole.int8_weights = true;
  ModelLoadOptions sliced = whole;
  sliced.threads = 3;
  sliced.convert_slice_bytes = 20 << 10;  // slices of 20 rows: neither pages nor 16-row panels
  auto a = Load(path, whole, nullptr);
  auto b = Load(path, sliced, nullptr);
  std::remove(path.c_str());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ThreadPool pool(1);
  const std::vector<int32_t> tokens = {1, 5, 9, 2, 7, 3};
  std::vector<float> la, lb;
  Transformer ta(a->config(), a->weights(), &pool), tb(b->config(), b->weights(), &pool);
  SequenceKv ka(a->config(), 16), kb(b->config(), 16);
  ASSERT_TRUE(ta.Forward(tokens, &ka, LogitRows::kAll, &la).ok());
  ASSERT_TRUE(tb.Forward(tokens, &kb, LogitRows::kAll, &lb).ok());
  ASSERT_EQ(la.size(), lb.size());
  EXPECT_EQ(la, lb);
}

std::vector<float> Logits(const Model& m, const std::vector<int32_t>& tokens) {
  ThreadPool pool(2);
  Transformer t(m.config(), m.weights(), &pool);
  SequenceKv kv(m.config(), 16);
  std::vector<float> logits;
  EXPECT_TRUE(t.Forward(tokens, &kv, LogitRows::kAll, &logits).ok());
  return logits;
}

TEST(ModelLoadTest, PackedWeightsOfEveryTypeStayCloseToTheExactPath) {
  for (TensorType type : {TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ4_K, TensorType::kQ5_0,
                          TensorType::kQ5_K, TensorType::kQ6_K, TensorType::kQ8_0}) {
    const std::string name = TypeName(static_cast<uint32_t>(type));
    testing::TinyModelSpec spec = PagesSpec();
    spec.weight_type = type;
    spec.embed_type = TensorType::kQ8_0;
    const std::string path = testing::TempModelPath("packed");
    ASSERT_TRUE(testing::WriteTinyModel(spec, path).ok());
    ModelLoadOptions packed;
    packed.packed_weights = true;
    packed.threads = 2;
    packed.convert_slice_bytes = 20 << 10;
    auto exact = Load(path, {}, nullptr);
    auto m = Load(path, packed, [](uint64_t, uint64_t) {});
    std::remove(path.c_str());
    ASSERT_NE(exact, nullptr);
    ASSERT_NE(m, nullptr);
    ASSERT_TRUE(m->packed_weights());
    for (const WeightView* w : ConvertedViews(*m)) {
      ASSERT_NE(w->packed, nullptr) << name << " " << w->name;
      EXPECT_EQ(w->i8, nullptr) << name << " " << w->name;
    }
    const std::vector<int32_t> tokens = {1, 5, 9, 2, 7, 3, 11, 4};
    const std::vector<float> want = Logits(*exact, tokens), got = Logits(*m, tokens);
    ASSERT_EQ(want.size(), got.size());
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < want.size(); ++i) {
      worst = std::max(worst, std::fabs(static_cast<double>(want[i]) - got[i]));
      scale = std::max(scale, std::fabs(static_cast<double>(want[i])));
    }
    // 16-bit activations per 32 values: the products differ from f32 ones by ~1e-4 relative.
    EXPECT_LT(worst, 2e-3 * scale + 1e-4) << name << ": worst logit difference " << worst << " of " << scale;
  }
}

}  // namespace
}  // namespace parley
