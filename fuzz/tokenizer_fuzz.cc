// Fuzzes the real tokenizers (SmolLM2's byte-level BPE, Gemma 3's SentencePiece): the
// first byte picks the tokenizer and the mode, the rest is text or token ids. Checks
// encode/decode round trips where they must hold and that streaming detokenization equals
// a whole decode. Models: $PARLEY_FUZZ_MODELS_DIR, default the repository's models/.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace {

struct Loaded {
  std::unique_ptr<parley::Tokenizer> tokenizer;
  bool is_spm = false;
  bool add_space_prefix = false;
  // BPE: whether the vocabulary has the one-byte token for each byte. SmolLM2's lacks 21
  // (0x04 0x06 0x13 0x14 0x16 0x1D 0xC0 0xC1 0xF1 0xF2 0xF5..0xFF); Encode drops such
  // bytes, as llama.cpp does, so text holding one cannot round-trip.
  bool has_byte_token[256] = {};
};

// GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the others
// for U+0100 onwards in byte order.
std::string ByteLevelChar(int byte) {
  static int next_extra[256];
  static const bool init = [] {
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      next_extra[b] = self ? b : 256 + extra++;
    }
    return true;
  }();
  (void)init;
  const int cp = next_extra[byte];
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

Loaded Load(const std::string& file) {
  const char* env = std::getenv("PARLEY_FUZZ_MODELS_DIR");
  const std::string dir = env != nullptr ? env : PARLEY_SOURCE_DIR "/models";
  auto gguf = parley::GgufFile::Open(dir + "/" + file);
  if (!gguf.ok()) {
    std::fprintf(stderr, "tokenizer_fuzz: %s (set PARLEY_FUZZ_MODELS_DIR)\n",
                 gguf.status().message().c_str());
    std::abort();
  }
  auto tokenizer = parley::Tokenizer::FromGguf(**gguf);
  if (!tokenizer.ok()) std::abort();
  Loaded loaded;
  loaded.tokenizer = std::move(*tokenizer);
  auto model = (*gguf)->GetString("tokenizer.ggml.model");
  loaded.is_spm = model.ok() && *model == "llama";
  auto prefix = (*gguf)->GetBool("tokenizer.ggml.add_space_prefix");
  // SpmTokenizer's default when the key is absent.
  loaded.add_space_prefix = loaded.is_spm && prefix.ok() && prefix->value_or(true);
  for (int b = 0; b < 256; ++b) {
    loaded.has_byte_token[b] = loaded.is_spm || loaded.tokenizer->FindToken(ByteLevelChar(b)) >= 0;
  }
  return loaded;
}

// Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const uint8_t c = static_cast<uint8_t>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const uint8_t cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n;
  }
  return true;
}

bool AllBytesHaveTokens(const Loaded& t, std::string_view text) {
  for (char c : text) {
    if (!t.has_byte_token[static_cast<uint8_t>(c)]) return false;
  }
  return true;
}

std::string StreamDecode(const parley::Tokenizer& tokenizer, const std::vector<int32_t>& ids,
                         bool include_special) {
  parley::StreamingDetokenizer detok(tokenizer, include_special);
  std::string out;
  for (int32_t id : ids) out += detok.Feed(id);
  out += detok.Flush();
  return out;
}

void CheckStreaming(const parley::Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  for (bool include_special : {false, true}) {
    if (StreamDecode(tokenizer, ids, include_special) != tokenizer.Decode(ids, include_special)) {
      __builtin_trap();
    }
  }
}

// What Decode(Encode(text, add_special=false, parse_special=false)) must give back.
// Byte-level BPE maps every byte to a token: the text itself. SentencePiece writes
// spaces as U+2581 and its decoder turns every U+2581 back into a space, so a literal
// U+2581 in the text comes back as a space, and with add_space_prefix a non-empty text
// gains one leading space.
std::string ExpectedRoundTrip(const Loaded& t, std::string_view text) {
  if (!t.is_spm) return std::string(text);
  std::string out = t.add_space_prefix && !text.empty() ? " " : "";
  constexpr std::string_view kMarker = "\xE2\x96\x81";
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i, kMarker.size()) == kMarker) {
      out += ' ';
      i += kMarker.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Loaded kTokenizers[] = {Load("SmolLM2-135M-Instruct.Q4_1.gguf"),
                                       Load("gemma-3-270m-q4_k_m.gguf")};
  if (size == 0) return 0;
  const Loaded& t = kTokenizers[data[0] & 1];
  const parley::Tokenizer& tokenizer = *t.tokenizer;
  const bool decode_ids = (data[0] & 2) != 0;
  const uint8_t* rest = data + 1;
  const size_t n = size - 1;

  if (decode_ids) {
    // Arbitrary ids, two bytes each: most in range, some negative or past the vocabulary
    // (TokenBytes gives "" for those; they must never crash).
    std::vector<int32_t> ids;
    for (size_t i = 0; i + 1 < n; i += 2) {
      const uint16_t raw = static_cast<uint16_t>(rest[i] | (rest[i + 1] << 8));
      int32_t id = raw % tokenizer.vocab_size();
      if (raw >= 0xFFF0) id = raw == 0xFFFF ? -1 : tokenizer.vocab_size() + (raw & 0xF);
      ids.push_back(id);
    }
    CheckStreaming(tokenizer, ids);
    return 0;
  }

  const std::string_view text(reinterpret_cast<const char*>(rest), n);
  for (bool parse_special : {false, true}) {
    const std::vector<int32_t> ids = tokenizer.Encode(text, /*add_special=*/false, parse_special);
    for (int32_t id : ids) {
      if (id < 0 || id >= tokenizer.vocab_size()) __builtin_trap();
    }
    CheckStreaming(tokenizer, ids);
    if (!parse_special && IsValidUtf8(text) && AllBytesHaveTokens(t, text)) {
      if (tokenizer.Decode(ids) != ExpectedRoundTrip(t, text)) __builtin_trap();
    }
  }
  (void)tokenizer.Encode(text, /*add_special=*/true, /*parse_special=*/true);
  return 0;
}
