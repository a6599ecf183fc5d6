// StopMatcher: the held-back text is the suffix that could still begin a stop string (at
// most the longest stop string's length) plus an incomplete trailing UTF-8 character, so
// each Feed costs O(held + piece) per stop string.
#include "sampling/stop_strings.h"

#include <utility>

namespace parley {
namespace {

// How many bytes the UTF-8 character led by `lead` has; 1 for ASCII and for bytes that
// cannot lead a character.
size_t Utf8Length(unsigned char lead) {
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

// The largest cut <= end such that s[0, cut) does not end in the middle of a character
// (only a well-formed but incomplete sequence is held back; invalid bytes pass through).
size_t Utf8SafeEnd(std::string_view s, size_t end) {
  size_t i = end;
  size_t continuation = 0;
  while (i > 0 && continuation < 3 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) {
    --i;
    ++continuation;
  }
  if (i == 0) return end;
  const size_t need = Utf8Length(static_cast<unsigned char>(s[i - 1]));
  return need > 1 && continuation + 1 < need ? i - 1 : end;
}

}  // namespace

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (std::string& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

const std::string* StopMatcher::FindComplete(size_t* pos) const {
  const std::string* match = nullptr;
  for (const std::string& s : stops_) {
    const size_t p = pending_.find(s);
    if (p == std::string::npos) continue;
    if (match == nullptr || p < *pos || (p == *pos && s.size() > match->size())) {
      *pos = p;
      match = &s;
    }
  }
  return match;
}

std::string StopMatcher::Stop(const std::string& stop, size_t pos) {
  stopped_ = true;
  matched_ = stop;
  std::string out = pending_.substr(0, pos);
  pending_.clear();
  return out;
}

std::string StopMatcher::Feed(std::string_view text) {
  if (stopped_) return "";
  pending_.append(text);
  const size_t len = pending_.size();

  size_t match_pos = std::string::npos;
  const std::string* match = FindComplete(&match_pos);
  // The earliest start of a suffix that is a proper prefix of some stop string: a stop
  // that may still complete with more text.
  size_t partial = len;
  for (const std::string& s : stops_) {
    for (size_t q = len >= s.size() ? len - s.size() + 1 : 0; q < partial; ++q) {
      if (s.compare(0, len - q, pending_, q, len - q) == 0) {
        partial = q;
        break;
      }
    }
  }

  // A complete match is final once no stop starting at or before it can still complete
  // (such a stop would start earlier, or as early and be longer).
  if (match != nullptr && partial > match_pos) return Stop(*match, match_pos);
  // Everything before `partial` can no longer begin a stop string (a complete match, if
  // any, starts at or after it).
  const size_t safe = Utf8SafeEnd(pending_, partial);
  std::string out = pending_.substr(0, safe);
  pending_.erase(0, safe);
  return out;
}

std::string StopMatcher::Flush() {
  if (stopped_) return "";
  // No more text: a complete stop that waited on a longer one starting earlier now wins.
  size_t match_pos = std::string::npos;
  if (const std::string* match = FindComplete(&match_pos)) return Stop(*match, match_pos);
  std::string out = std::move(pending_);
  pending_.clear();
  return out;
}

}  // namespace parley
