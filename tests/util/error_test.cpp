#include "util/error.h"

#include <gtest/gtest.h>

namespace prefer {

TEST(Error, FormatsEveryPartInOrder) {
  Error e("must be > 0", {.file = "run.yaml", .line = 7, .field = "beta", .hint = "try 0.1"});
  EXPECT_STREQ(e.what(), "run.yaml:7: 'beta': must be > 0 (hint: try 0.1)");
  EXPECT_EQ(e.message(), "must be > 0");
  EXPECT_EQ(e.line(), 7);
  EXPECT_EQ(e.field(), "beta");
}

TEST(Error, LeavesOutEmptyParts) {
  EXPECT_STREQ(Error("boom").what(), "boom");
  EXPECT_STREQ(Error("boom", {.file = "a.json"}).what(), "a.json: boom");
  EXPECT_STREQ(Error("boom", {.line = 3}).what(), "line 3: boom");
  EXPECT_STREQ(Error("boom", {.field = "x"}).what(), "'x': boom");
}

TEST(Error, WithDefaultsFillsOnlyMissingContext) {
  Error inner("expected a string", {.field = "prompt"});
  Error outer = inner.with_defaults({.file = "data.jsonl", .line = 12, .field = "ignored"});
  EXPECT_STREQ(outer.what(), "data.jsonl:12: 'prompt': expected a string");
}

TEST(Error, IsAStdException) {
  try {
    throw Error("x", {.file = "f"});
  } catch (const std::exception& e) {
    EXPECT_STREQ(e.what(), "f: x");
  }
}

}  // namespace prefer
