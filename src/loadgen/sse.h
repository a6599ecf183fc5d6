// An incremental parser for server-sent events as OpenAI-compatible servers stream them:
// bytes arrive in arbitrary pieces; each complete event's data (its "data:" lines joined)
// is handed out once its blank line arrives.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace parley::loadgen {

class SseParser {
 public:
  using OnEvent = std::function<void(const std::string& data)>;
  explicit SseParser(OnEvent on_event) : on_event_(std::move(on_event)) {}

  void Feed(std::string_view bytes);
  // End of stream: an event left without its blank line is delivered.
  void Finish();

 private:
  void Line(std::string_view line);
  OnEvent on_event_;
  std::string line_;
  std::string data_;
  bool has_data_ = false;
};

}  // namespace parley::loadgen
