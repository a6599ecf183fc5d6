// UTF-8 encoding, lenient decoding and incomplete-tail detection.
#include "tokenizer/utf8.h"

namespace parley::utf8 {
namespace {

bool IsContinuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// The allowed range of the second byte after `lead` (RFC 3629 table), so that overlong
// forms, surrogates and values above U+10FFFF are rejected as early as possible.
void SecondByteRange(uint8_t lead, uint8_t* lo, uint8_t* hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (lead == 0xE0) *lo = 0xA0;
  if (lead == 0xED) *hi = 0x9F;
  if (lead == 0xF0) *lo = 0x90;
  if (lead == 0xF4) *hi = 0x8F;
}

// Expected total length for a valid lead byte, 0 for bytes that cannot start a sequence.
size_t ValidLeadLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

}  // namespace

void Append(uint32_t cpt, std::string* out) {
  if (cpt <= 0x7F) {
    out->push_back(static_cast<char>(cpt));
  } else if (cpt <= 0x7FF) {
    out->push_back(static_cast<char>(0xC0 | (cpt >> 6)));
    out->push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt <= 0xFFFF) {
    out->push_back(static_cast<char>(0xE0 | (cpt >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cpt >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  }
}

std::string Encode(uint32_t cpt) {
  std::string out;
  Append(cpt, &out);
  return out;
}

uint32_t DecodeOne(std::string_view text, size_t* offset) {
  const size_t pos = *offset;
  const uint8_t lead = static_cast<uint8_t>(text[pos]);
  if (lead < 0x80) {
    *offset = pos + 1;
    return lead;
  }
  // Like llama.cpp: the lead byte's bit pattern decides the length; overlong forms are
  // accepted (they decode to their value), anything else malformed is one U+FFFD per byte.
  size_t len = 0;
  uint32_t cpt = 0;
  if ((lead & 0xE0) == 0xC0) {
    len = 2;
    cpt = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    len = 3;
    cpt = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    len = 4;
    cpt = lead & 0x07;
  } else {
    *offset = pos + 1;
    return kReplacementChar;
  }
  if (pos + len > text.size()) {
    *offset = pos + 1;
    return kReplacementChar;
  }
  for (size_t i = 1; i < len; ++i) {
    const uint8_t b = static_cast<uint8_t>(text[pos + i]);
    if (!IsContinuation(b)) {
      *offset = pos + 1;
      return kReplacementChar;
    }
    cpt = (cpt << 6) | (b & 0x3F);
  }
  if (cpt > 0x10FFFF || (cpt >= 0xD800 && cpt <= 0xDFFF)) {
    *offset = pos + 1;
    return kReplacementChar;
  }
  *offset = pos + len;
  return cpt;
}

std::string Sanitize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t offset = 0;
  while (offset < text.size()) {
    const size_t start = offset;
    const uint32_t cpt = DecodeOne(text, &offset);
    // Re-encoding (rather than copying) also normalises overlong forms, as llama.cpp does.
    if (offset - start == 1 && cpt < 0x80) {
      out.push_back(text[start]);
    } else {
      Append(cpt, &out);
    }
  }
  return out;
}

size_t IncompleteTailLength(std::string_view bytes) {
  // A sequence is at most 4 bytes: look for the lead byte among the last 3.
  const size_t n = bytes.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const uint8_t b = static_cast<uint8_t>(bytes[n - back]);
    if (IsContinuation(b)) continue;
    const size_t need = ValidLeadLength(b);
    if (need <= back) return 0;  // complete, ASCII, or an invalid lead byte
    if (back >= 2) {
      uint8_t lo, hi;
      SecondByteRange(b, &lo, &hi);
      const uint8_t second = static_cast<uint8_t>(bytes[n - back + 1]);
      if (second < lo || second > hi) return 0;  // already provably invalid
    }
    return back;
  }
  return 0;
}

}  // namespace parley::utf8
