// The pre-tokenizer table and PCRE2-based splitting.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pre_tokenizer.h"

#include <pcre2.h>

#include <algorithm>

namespace parley {
namespace {

// GPT-2's split pattern. llama.cpp's string omits the final `|\s+` but its hand-written
// splitter implements it, so it is spelled out here.
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct PreTokenizerEntry {
  std::vector<std::string> names;  // tokenizer.ggml.pre values
  std::vector<std::string> regexes;
  bool ignore_merges = false;
  bool add_bos = false;  // default for tokenizer.ggml.add_bos_token
};

// llama.cpp's llm_tokenizer_bpe regex lists (llama-vocab.cpp), by pre-tokenizer name. To
// support another model, add its names and regexes here.
const std::vector<PreTokenizerEntry>& Table() {
  static const auto* table = new std::vector<PreTokenizerEntry>{
      {{"default", ""}, {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}},
      {{"gpt2", "gpt-2", "phi-2", "roberta-bpe", "mpt", "olmo", "jais"}, {kGpt2}},
      {{"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"},
       {R"(\p{N})", kGpt2}},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe"},
       {kLlama3},
       /*ignore_merges=*/true,
       /*add_bos=*/true},
      {{"qwen2", "stablelm2", "megrez"}, {kQwen2}},
  };
  return *table;
}

// llama.cpp's whitespace class is Unicode White_Space, which is PCRE2's UCP \s plus U+0085
// (NEL). Rewrites \s and \S to include it.
std::string WithNelAsSpace(const std::string& re) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      const char e = re[i + 1];
      ++i;
      if (e == 's') {
        out += in_class ? R"(\s\x{85})" : R"([\s\x{85}])";
      } else if (e == 'S' && !in_class) {
        out += R"([^\s\x{85}])";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < re.size() && re[i + 1] == '^') out += re[++i];
      if (i + 1 < re.size() && re[i + 1] == ']') out += re[++i];
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

}  // namespace

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

std::vector<std::string> PreTokenizer::KnownNames() {
  std::vector<std::string> names;
  for (const PreTokenizerEntry& e : Table()) {
    for (const std::string& n : e.names) {
      if (!n.empty()) names.push_back(n);
    }
  }
  return names;
}

StatusOr<PreTokenizer> PreTokenizer::ForName(const std::string& name) {
  for (const PreTokenizerEntry& e : Table()) {
    if (std::find(e.names.begin(), e.names.end(), name) != e.names.end()) {
      PARLEY_ASSIGN_OR_RETURN(PreTokenizer pre, FromRegexes(e.regexes, e.ignore_merges));
      pre.default_add_bos_ = e.add_bos;
      return pre;
    }
  }
  std::string known;
  for (const std::string& n : KnownNames()) known += (known.empty() ? "" : ", ") + n;
  return Status::Error("unsupported BPE pre-tokenizer '" + name +
                       "' (tokenizer.ggml.pre); Parley knows: " + known);
}

StatusOr<PreTokenizer> PreTokenizer::FromRegexes(const std::vector<std::string>& regexes,
                                                 bool ignore_merges) {
  PreTokenizer pre;
  pre.ignore_merges_ = ignore_merges;
  for (const std::string& re : regexes) {
    const std::string pattern = WithNelAsSpace(re);
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &error_code,
                                     &error_offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error_code, message, sizeof(message));
      return Status::Error("pre-tokenizer regex '" + re + "' does not compile at offset " +
                           std::to_string(error_offset) + ": " +
                           reinterpret_cast<const char*>(message));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort: falls back to the interpreter
    auto compiled = std::make_unique<Compiled>();
    compiled->code = code;
    pre.regexes_.push_back(std::move(compiled));
  }
  return pre;
}

std::vector<std::string_view> PreTokenizer::Split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  if (text.empty()) return pieces;
  pieces.push_back(text);
  std::vector<std::string_view> next;
  for (const auto& re : regexes_) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(re->code, nullptr);
    next.clear();
    for (std::string_view piece : pieces) {
      // Each piece is matched on its own, so lookaheads see the piece's end as the text's end.
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
      size_t pos = 0;
      size_t prev_end = 0;
      while (pos < piece.size()) {
        int rc = pcre2_match(re->code, subject, piece.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
          // A JIT resource limit (e.g. its stack): retry with the interpreter.
          rc = pcre2_match(re->code, subject, piece.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                           md, nullptr);
        }
        if (rc < 0) break;  // no more matches (or still an error: keep the rest whole)
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t begin = ov[0];
        const size_t end = ov[1];
        if (end == begin) {  // empty match: step over one character
          pos = begin + 1;
          while (pos < piece.size() && (static_cast<uint8_t>(piece[pos]) & 0xC0) == 0x80) ++pos;
          continue;
        }
        if (begin > prev_end) next.push_back(piece.substr(prev_end, begin - prev_end));
        next.push_back(piece.substr(begin, end - begin));
        prev_end = end;
        pos = end;
      }
      if (prev_end < piece.size()) next.push_back(piece.substr(prev_end));
    }
    pcre2_match_data_free(md);
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace parley
