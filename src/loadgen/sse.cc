#include "loadgen/sse.h"

namespace parley::loadgen {

void SseParser::Feed(std::string_view bytes) {
  for (char c : bytes) {
    if (c == '\n') {
      std::string_view line(line_);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      Line(line);
      line_.clear();
    } else {
      line_ += c;
    }
  }
}

void SseParser::Finish() {
  if (!line_.empty()) {
    Line(line_);
    line_.clear();
  }
  Line("");
}

void SseParser::Line(std::string_view line) {
  if (line.empty()) {
    if (has_data_) on_event_(data_);
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line[0] == ':') return;  // comment / keep-alive
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
  if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) data_ += '\n';
    data_.append(value);
    has_data_ = true;
  }
}

}  // namespace parley::loadgen
