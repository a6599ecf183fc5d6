// Prompt lookup: draft tokens by finding the latest earlier occurrence of a text's own
// ending (an n-gram of its last tokens) and proposing what followed it. Over one
// conversation's tokens this covers everything said before: the persona, the history, the
// reply so far.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace parley {

struct NgramLookupOptions {
  int32_t min_n = 2;  // shortest ending matched (1 proposes too often to pay)
  int32_t max_n = 4;  // longest; longer matches are tried first
};

// Appends to *draft up to `max_draft` tokens that followed the latest earlier occurrence of
// the longest ending of `tokens` (from max_n down to min_n tokens) found in `tokens`; returns
// how many it appended (0: no ending recurs; else max_draft). Where the continuation reaches
// the end of `tokens` it goes on as a copy of itself (the occurrence may overlap the ending:
// a repeating pattern repeats on).
int32_t LookupNgramDraft(std::span<const int32_t> tokens, const NgramLookupOptions& options, int32_t max_draft,
                         std::vector<int32_t>* draft);

// The same search with the ending taken from `key` and the occurrence searched in `source`,
// starting at `from` (positions in source); returns the position in `source` right after the
// match, or -1. Used to re-align a prediction with the output.
int32_t FindNgram(std::span<const int32_t> source, std::span<const int32_t> key, int32_t from);

}  // namespace parley
