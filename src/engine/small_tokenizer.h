// SmallTokenizer: a tokenizer for engine tests without a model file. Ids 0-2 are <unk>,
// <s> and </s> (which ends generation); ids 3..63 are the single characters '0'..'l'
// (SPM style), so any token sequence detokenizes to readable text.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tokenizer/tokenizer.h"

namespace parley::testing {

inline constexpr int32_t kSmallVocab = 64;

inline std::unique_ptr<Tokenizer> SmallTokenizer() {
  TokenizerSpec spec;
  spec.model = "llama";
  spec.tokens = {"<unk>", "<s>", "</s>"};
  spec.token_types = {2, 3, 3};  // unknown, control, control
  for (int i = 3; i < kSmallVocab; ++i) {
    spec.tokens.push_back(std::string(1, static_cast<char>('0' + i - 3)));
    spec.token_types.push_back(1);
  }
  spec.bos_id = 1;
  spec.eos_id = 2;
  spec.unk_id = 0;
  spec.add_space_prefix = false;
  auto tok = Tokenizer::FromSpec(spec);
  EXPECT_TRUE(tok.ok()) << tok.status().message();
  return std::move(tok).value();
}

}  // namespace parley::testing
