// Regex pre-tokenizers for byte-level BPE: the text is split by a sequence of regexes, each
// applied to every piece the previous ones produced; both the matches and the text between
// them become pieces (llama.cpp's unicode_regex_split). The table of known pre-tokenizer
// names (tokenizer.ggml.pre) lives in pre_tokenizer.cc. Compiled with PCRE2 in UTF + UCP
// mode; a PreTokenizer is immutable and Split is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace parley {

class PreTokenizer {
 public:
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // The pre-tokenizer llama.cpp uses for `name` ("" = "default"). Unknown names are an error.
  static StatusOr<PreTokenizer> ForName(const std::string& name);
  // From explicit regexes (tests, or a name the table does not know yet).
  static StatusOr<PreTokenizer> FromRegexes(const std::vector<std::string>& regexes,
                                            bool ignore_merges = false);

  // Splits `text`, which must be valid UTF-8 (see utf8::Sanitize), into pieces that cover it
  // in order. Returned views point into `text`.
  std::vector<std::string_view> Split(std::string_view text) const;

  // llama3-style vocabularies skip merging for pieces that already are a token.
  bool ignore_merges() const { return ignore_merges_; }
  // Whether models with this pre-tokenizer add BOS when the file does not say (llama3: yes).
  bool default_add_bos() const { return default_add_bos_; }

  // Names the table knows, for error messages.
  static std::vector<std::string> KnownNames();

 private:
  struct Compiled;
  PreTokenizer() = default;
  std::vector<std::unique_ptr<Compiled>> regexes_;
  bool ignore_merges_ = false;
  bool default_add_bos_ = false;
};

}  // namespace parley
