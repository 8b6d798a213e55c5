#include "util/startup_env.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace prefer {
namespace {

TEST(StartupEnv, AddsHugeTlbOnceAndKeepsOtherTunables) {
  EXPECT_EQ(tunables_with_huge_pages(nullptr).value(), "glibc.malloc.hugetlb=1");
  EXPECT_EQ(tunables_with_huge_pages("").value(), "glibc.malloc.hugetlb=1");
  EXPECT_EQ(tunables_with_huge_pages("glibc.malloc.arena_max=2").value(), "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1");
  // A user's own setting, 0 included, is theirs.
  EXPECT_FALSE(tunables_with_huge_pages("glibc.malloc.hugetlb=0").has_value());
  EXPECT_FALSE(tunables_with_huge_pages("a.b=1:glibc.malloc.hugetlb=2").has_value());
  // A name that merely starts the same way is another tunable.
  EXPECT_EQ(tunables_with_huge_pages("glibc.malloc.hugetlbx=1").value(), "glibc.malloc.hugetlbx=1:glibc.malloc.hugetlb=1");
}

TEST(StartupEnv, RemovesOnlyTheHugeTlbEntry) {
  EXPECT_EQ(tunables_without_huge_pages(nullptr), "");
  EXPECT_EQ(tunables_without_huge_pages("glibc.malloc.hugetlb=1"), "");
  EXPECT_EQ(tunables_without_huge_pages("a.b=1:glibc.malloc.hugetlb=1:c.d=2"), "a.b=1:c.d=2");
  EXPECT_EQ(tunables_without_huge_pages("a.b=1::c.d=2"), "a.b=1:c.d=2");
}

TEST(StartupEnv, ReadsWhetherThisProcessAskedForHugePages) {
  const char* before = std::getenv("GLIBC_TUNABLES");
  const std::string saved = before ? before : "";
  ::setenv("GLIBC_TUNABLES", "a.b=1:glibc.malloc.hugetlb=1", 1);
  EXPECT_TRUE(huge_page_malloc());
  ::setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=0", 1);
  EXPECT_FALSE(huge_page_malloc());
  ::unsetenv("GLIBC_TUNABLES");
  EXPECT_FALSE(huge_page_malloc());
  if (before) ::setenv("GLIBC_TUNABLES", saved.c_str(), 1);
}

}  // namespace
}  // namespace prefer
