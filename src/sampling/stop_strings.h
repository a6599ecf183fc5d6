// StopMatcher: cuts stop strings out of streamed text. Text arrives in arbitrary pieces
// (decoded tokens, possibly single bytes); what could still begin a stop string, or ends in
// an incomplete UTF-8 character, is held back until it is known to be safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);  // empty strings ignored

  // Feeds newly decoded text (UTF-8). Returns the text that is now safe to emit: anything
  // that could still be the start of a stop string is held back, as is a trailing
  // incomplete UTF-8 character. When a stop string completes, returns the text before it,
  // sets stopped(), and drops the stop string and everything after it; later Feed calls
  // return "". Of several stop strings, the one that starts earliest in the whole text wins
  // (the longest on an equal start), however the text was cut into pieces.
  std::string Feed(std::string_view text);

  bool stopped() const { return stopped_; }
  const std::string& matched() const { return matched_; }  // "" if none

  // End of generation: the held-back text ("" once stopped). A stop string that was
  // complete but waiting on a longer one that started earlier (and can now no longer
  // complete) wins here: Flush then returns the text before it and sets stopped().
  std::string Flush();

 private:
  // The earliest complete stop string in pending_ (the longest on an equal start) and its
  // offset in *pos, or null.
  const std::string* FindComplete(size_t* pos) const;
  // Stops at `stop`, found at `pos` in pending_: returns the text before it.
  std::string Stop(const std::string& stop, size_t pos);

  std::vector<std::string> stops_;
  std::string pending_;  // fed but not yet returned
  bool stopped_ = false;
  std::string matched_;
};

}  // namespace parley
