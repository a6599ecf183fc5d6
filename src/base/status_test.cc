#include "base/status.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

StatusOr<int> Half(int x) {
  if (x % 2 != 0) return Status::Error("odd");
  return x / 2;
}

Status UseHalf(int x, int* out) {
  PARLEY_ASSIGN_OR_RETURN(*out, Half(x));
  return Status::Ok();
}

TEST(StatusTest, OkAndError) {
  EXPECT_TRUE(Status::Ok().ok());
  Status e = Status::Error("bad").WithContext("file.gguf");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.message(), "file.gguf: bad");
}

TEST(StatusTest, AssignOrReturn) {
  int v = 0;
  EXPECT_TRUE(UseHalf(8, &v).ok());
  EXPECT_EQ(v, 4);
  Status s = UseHalf(3, &v);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "odd");
}

}  // namespace
}  // namespace parley
