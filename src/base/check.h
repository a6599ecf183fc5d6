// Always-on invariant checks. A failed PARLEY_CHECK is a bug in Parley, never bad input:
// it prints where and why, then aborts. PARLEY_DCHECK is compiled out in release builds.
#pragma once

#include <sstream>

namespace parley::internal {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* expr);
  [[noreturn]] ~CheckFailure();
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace parley::internal

#define PARLEY_CHECK(cond)                        \
  (cond) ? (void)0                                \
         : ::parley::internal::Voidify() &        \
               ::parley::internal::CheckFailure(__FILE__, __LINE__, #cond).stream()

#ifdef NDEBUG
#define PARLEY_DCHECK(cond) \
  while (false) PARLEY_CHECK(cond)
#else
#define PARLEY_DCHECK(cond) PARLEY_CHECK(cond)
#endif
