// FakeRunner: a ModelRunner with no model, for scheduler and engine tests. It writes
// (token, position) as each position's K/V in every owner layer and "attends" by reading
// back every key its layers can see, checking each page row holds the position it should.
// The next token is a hash of what it read, so any paging mistake (a wrong page, a
// released page still in use, a window off by one) changes the output or fails the step.
// ReferenceNext() computes the same function straight from the token list.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "engine/model_runner.h"

namespace parley::testing {

class FakeRunner : public ModelRunner {
 public:
  // windows[l] (0 = global); owners[l] (empty = no sharing). First 3 ids are never produced.
  FakeRunner(std::vector<int32_t> windows, std::vector<int32_t> owners, int32_t vocab)
      : windows_(std::move(windows)), owners_(std::move(owners)), vocab_(vocab) {
    if (owners_.empty()) {
      for (size_t l = 0; l < windows_.size(); ++l) owners_.push_back(static_cast<int32_t>(l));
    }
  }
  int32_t vocab_size() const override { return vocab_; }
  std::vector<int32_t> LayerWindows() const override { return windows_; }
  std::vector<int32_t> KvOwners() const override { return owners_; }
  int32_t kv_dim() const override { return 2; }
  int32_t head_dim() const override { return 2; }
  int64_t num_forward_tokens = 0;  // all tokens ever computed
  int32_t fail_next = 0;           // > 0: the next this-many Forward calls fail

  Status Forward(std::span<const ForwardSeq> batch, KvCache* cache, std::vector<float>* logits) override {
    if (fail_next > 0) {
      --fail_next;
      return Status::Error("injected failure");
    }
    const KvLayout& layout = cache->layout();
    logits->clear();
    for (const ForwardSeq& fs : batch) {
      for (size_t i = 0; i < fs.tokens.size(); ++i) {
        const int32_t pos = fs.start + static_cast<int32_t>(i);
        for (int32_t l = 0; l < layout.num_layers(); ++l) {
          if (!layout.is_owner(l)) continue;
          float kv[2] = {static_cast<float>(fs.tokens[i]), static_cast<float>(pos)};
          Store(cache->k_row(*fs.kv, l, pos), kv, cache->dtype());
          Store(cache->v_row(*fs.kv, l, pos), kv, cache->dtype());
        }
        ++num_forward_tokens;
      }
      for (size_t i = fs.logits_from; i < fs.tokens.size(); ++i) {
        const int32_t pos = fs.start + static_cast<int32_t>(i);
        uint64_t acc = 0;
        for (int32_t l = 0; l < layout.num_layers(); ++l) {
          const int32_t lo = windows_[l] > 0 ? std::max(0, pos - windows_[l] + 1) : 0;
          for (int32_t j = lo; j <= pos; ++j) {
            float kv[2];
            Load(cache->k_row(*fs.kv, l, j), kv, cache->dtype());
            if (kv[1] != static_cast<float>(j)) {
              return Status::Error("page corruption: layer " + std::to_string(l) + " position " +
                                   std::to_string(j) + " holds position " + std::to_string(kv[1]));
            }
            acc += Mix(static_cast<int32_t>(kv[0]), j, l);
          }
        }
        const size_t row = logits->size();
        logits->resize(row + vocab_, 0.0f);
        (*logits)[row + 3 + acc % (vocab_ - 3)] = 1.0f;
      }
    }
    return Status::Ok();
  }

  // The token the fake model predicts after `tokens` (all of them as context).
  int32_t ReferenceNext(const std::vector<int32_t>& tokens) const {
    const int32_t pos = static_cast<int32_t>(tokens.size()) - 1;
    uint64_t acc = 0;
    for (size_t l = 0; l < windows_.size(); ++l) {
      const int32_t lo = windows_[l] > 0 ? std::max(0, pos - windows_[l] + 1) : 0;
      for (int32_t j = lo; j <= pos; ++j) acc += Mix(tokens[j], j, static_cast<int32_t>(l));
    }
    return static_cast<int32_t>(3 + acc % (vocab_ - 3));
  }

 private:
  static uint64_t Mix(int32_t token, int32_t pos, int32_t layer) {
    return static_cast<uint64_t>(token) * 2654435761u + static_cast<uint64_t>(pos + 1) * 40503u * (layer + 1);
  }
  static void Store(uint8_t* dst, const float* kv, KvDtype dtype) {
    if (dtype == KvDtype::kF32) {
      std::memcpy(dst, kv, sizeof(float) * 2);
    } else {  // f16 and int8 rows (4 and 6 bytes): store them as raw 16-bit integers
      const uint16_t h[2] = {static_cast<uint16_t>(kv[0]), static_cast<uint16_t>(kv[1])};
      std::memcpy(dst, h, sizeof(h));
    }
  }
  static void Load(const uint8_t* src, float* kv, KvDtype dtype) {
    if (dtype == KvDtype::kF32) {
      std::memcpy(kv, src, sizeof(float) * 2);
    } else {
      uint16_t h[2];
      std::memcpy(h, src, sizeof(h));
      kv[0] = h[0];
      kv[1] = h[1];
    }
  }

  std::vector<int32_t> windows_, owners_;
  int32_t vocab_;
};

}  // namespace parley::testing
