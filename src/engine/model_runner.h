// ModelRunner: the seam between the engine and the model. The engine hands it one ragged
// batch per step (every scheduled sequence's new tokens, their pages already reserved) and
// gets back logits for the rows that need them. TransformerRunner runs the real model;
// tests use a fake one (engine tests need no model). Called from the engine thread only.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "kv/kv_cache.h"
#include "model/forward_batch.h"

namespace parley {

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  virtual int32_t vocab_size() const = 0;
  // Per layer: attention window (0 = global) and KV owner (the model's own sharing map;
  // owners[l] == l without sharing).
  virtual std::vector<int32_t> LayerWindows() const = 0;
  virtual std::vector<int32_t> KvOwners() const = 0;
  virtual int32_t kv_dim() const = 0;    // kv_heads * head_dim
  virtual int32_t head_dim() const = 0;  // values per KV head
  // Computes every sequence's tokens, writes their K/V into `cache` and appends, per
  // sequence in order, the logits of rows [logits_from, tokens.size()) to `logits`
  // ([rows, vocab] row-major). Errors end the step's requests, not the engine.
  virtual Status Forward(std::span<const ForwardSeq> batch, KvCache* cache,
                         std::vector<float>* logits) = 0;
};

}  // namespace parley
