// PredictionAligner: follows a request's predicted output (OpenAI Predicted Outputs: the
// text the reply is expected to mostly repeat, e.g. a document to edit) along the output as
// it is produced, so the prediction's next tokens can be drafted. After a mismatch (the edit)
// it re-aligns by finding the output's last few tokens in the prediction again, forward of
// where it was first, then anywhere; it never gives up on the prediction.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace parley {

class PredictionAligner {
 public:
  explicit PredictionAligner(std::vector<int32_t> prediction) : prediction_(std::move(prediction)) {}

  bool empty() const { return prediction_.empty(); }
  int32_t size() const { return static_cast<int32_t>(prediction_.size()); }
  // The next output token.
  void Push(int32_t token);
  // The output so far (generated tokens only; it only grows): Push()es its new tokens.
  void Observe(std::span<const int32_t> output);
  // Output tokens that were the prediction's next token where they came (OpenAI's
  // accepted_prediction_tokens: the prediction's tokens that appeared in the output).
  int32_t matched() const { return matched_; }
  // Appends up to max_draft predicted tokens that would come next; returns how many (0 while
  // not aligned or at the prediction's end).
  int32_t Draft(int32_t max_draft, std::vector<int32_t>* draft) const;
  // Position in the prediction expected next; -1: not aligned.
  int32_t next() const { return next_; }

 private:
  void Realign();

  std::vector<int32_t> prediction_;
  int32_t next_ = 0;
  int32_t last_aligned_ = 0;  // where the last alignment ended (the search starts here)
  int32_t matched_ = 0;
  size_t seen_ = 0;             // output tokens pushed
  std::vector<int32_t> recent_;  // the last few of them (what re-aligning matches)
};

}  // namespace parley
