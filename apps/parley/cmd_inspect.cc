// parley inspect FILE: prints a GGUF file's metadata and tensor table, and whether
// Parley can run it.
#include <algorithm>
#include <cstdio>

#include "commands.h"
#include "gguf/gguf.h"
#include "kv/kv_cache.h"
#include "model/config.h"
#include "model/weights.h"

namespace parley {
namespace {

std::string Preview(const GgufValue& v) {
  auto one = [&](size_t i) -> std::string {
    if (!v.strings.empty()) {
      std::string s = v.strings[i];
      if (s.size() > 60) s = s.substr(0, 57) + "...";
      for (char& c : s) if (c == '\n') c = ' ';
      return "\"" + s + "\"";
    }
    if (!v.floats.empty()) return std::to_string(v.floats[i]);
    if (!v.uints.empty()) return std::to_string(v.uints[i]);
    if (v.type == GgufValueType::kBool || v.elem_type == GgufValueType::kBool) return v.ints[i] ? "true" : "false";
    return std::to_string(v.ints[i]);
  };
  if (!v.is_array()) return one(0);
  std::string s = std::string("[") + GgufValueTypeName(v.elem_type) + " x " + std::to_string(v.size()) + "] ";
  for (size_t i = 0; i < std::min<size_t>(v.size(), 4); ++i) s += (i ? ", " : "") + one(i);
  if (v.size() > 4) s += ", ...";
  return s;
}

// KV bytes per token of context as Parley's paged cache stores them (window layers keep
// only their window; layers that share K/V keep nothing), against a cache that keeps
// every layer's K/V for every position in f32.
void PrintKvFootprint(const ModelConfig& c) {
  auto layout = MakeKvLayout(c);
  if (!layout.ok()) return;
  std::printf("kv layout: %s\n", layout->Describe().c_str());
  std::printf("kv bytes per token of context (16-token pages):\n  %8s %12s %12s %12s %16s\n", "context",
              "parley f32", "parley f16", "parley int8", "every layer f32");
  for (int32_t context : {512, 4096, 32768}) {
    if (context > std::max(512, c.context_length)) break;
    const int64_t full = static_cast<int64_t>(c.num_layers) * 2 * c.kv_dim() * 4 * context;
    const KvDtype dtypes[3] = {KvDtype::kF32, KvDtype::kF16, KvDtype::kI8};
    int64_t bytes[3] = {0, 0, 0};
    for (int i = 0; i < 3; ++i) {
      KvCacheOptions o;
      o.dtype = dtypes[i];
      bytes[i] = KvCache::BytesForContext(*layout, o, context);
    }
    std::printf("  %8d %12.0f %12.0f %12.0f %16.0f   (%.1fx less at f16, %.1fx at int8)\n", context,
                bytes[0] / double(context), bytes[1] / double(context), bytes[2] / double(context),
                full / double(context), full / double(bytes[1]), full / double(bytes[2]));
  }
}

}  // namespace

int RunInspect(const InspectOptions& opts) {
  auto file = GgufFile::Open(opts.path);
  if (!file.ok()) {
    std::fprintf(stderr, "error: %s\n", file.status().message().c_str());
    return 1;
  }
  const GgufFile& g = **file;
  std::printf("file: %s\nGGUF version %u, alignment %u, %zu metadata keys, %zu tensors, %.1f MB\n\n",
              g.path().c_str(), g.version(), g.alignment(), g.metadata().size(), g.tensors().size(),
              g.file_size() / 1e6);
  std::printf("metadata:\n");
  for (const auto& [key, value] : g.metadata()) {
    std::printf("  %-45s %-8s %s\n", key.c_str(),
                GgufValueTypeName(value.is_array() ? GgufValueType::kArray : value.type),
                Preview(value).c_str());
  }
  std::printf("\ntensors:\n  %-36s %-8s %-22s %12s %12s\n", "name", "type", "shape", "offset", "bytes");
  for (const GgufTensorInfo& t : g.tensors()) {
    std::string shape = "[";
    for (size_t i = 0; i < t.ne.size(); ++i) shape += (i ? ", " : "") + std::to_string(t.ne[i]);
    shape += "]";
    std::printf("  %-36s %-8s %-22s %12llu %12llu\n", t.name.c_str(), TypeName(t.type_id).c_str(),
                shape.c_str(), static_cast<unsigned long long>(t.offset),
                static_cast<unsigned long long>(t.size_bytes));
  }
  auto config = ReadModelConfig(g);
  Status runnable = config.ok() ? LoadWeights(g, *config).status() : config.status();
  if (runnable.ok()) {
    const ModelConfig& c = *config;
    int globals = 0;
    for (const auto& l : c.layers) globals += l.window == 0;
    std::printf("\nmodel: %s, %d layers (%d global, %d sliding window %d), hidden %d, heads %d/%d kv, "
                "head dim %d, ffn %d, vocab %d\n",
                c.arch_name.c_str(), c.num_layers, globals, c.num_layers - globals, c.max_window(),
                c.hidden, c.num_heads, c.num_kv_heads, c.head_dim, c.ffn_hidden, c.vocab_size);
    PrintKvFootprint(c);
  } else {
    std::printf("\nParley cannot run this model: %s\n", runnable.message().c_str());
  }
  return 0;
}

}  // namespace parley
