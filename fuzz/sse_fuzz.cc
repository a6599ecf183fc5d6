// Fuzzes loadgen's server-sent-events parser: the first byte seeds how the rest is cut
// into pieces; feeding the same bytes whole and in pieces must give the same events.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/sse.h"

namespace {

std::vector<std::string> Events(std::string_view bytes, uint32_t cut_seed) {
  std::vector<std::string> events;
  parley::loadgen::SseParser parser([&](const std::string& data) { events.push_back(data); });
  uint32_t state = cut_seed | 1;
  for (size_t i = 0; i < bytes.size();) {
    size_t n = 1;
    if (cut_seed != 0) {
      state = state * 1103515245u + 12345u;
      n = 1 + (state >> 16) % 7;
    } else {
      n = bytes.size();
    }
    n = std::min(n, bytes.size() - i);
    parser.Feed(bytes.substr(i, n));
    i += n;
  }
  parser.Finish();
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::vector<std::string> whole = Events(bytes, 0);
  const std::vector<std::string> pieces = Events(bytes, data[0] + 1u);
  if (whole != pieces) __builtin_trap();
  return 0;
}
