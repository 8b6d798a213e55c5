#include "text/regex.h"

#include "test_util.h"

namespace prefer::text {

TEST(Regex, FindsAllMatchesWithUnicodeClasses) {
  Regex re(R"(\p{L}+|\p{N})");
  auto m = re.find_all("ab 12 été");
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].begin, 0u);
  EXPECT_EQ(m[0].end, 2u);
  EXPECT_EQ(m[1].begin, 3u);  // each digit alone
  EXPECT_EQ(m[3].begin, 6u);
  EXPECT_EQ(m[3].end, 11u);  // "été" is 5 bytes
}

TEST(Regex, LookaheadAndCaseInsensitiveGroups) {
  Regex re(R"((?i:'s|'t)|\s+(?!\S))");
  auto m = re.find_all("IT'S  x");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].begin, 2u);  // 'S
  EXPECT_EQ(m[1].begin, 4u);  // one space only: the last space belongs to the next word
  EXPECT_EQ(m[1].end, 5u);
}

TEST(Regex, EmptyMatchesAdvanceByACodePoint) {
  Regex re("x*");
  auto m = re.find_all("\xC3\xA9x");
  // empty at 0, (é is 2 bytes) "x" at 2, then the empty match at the end
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[1].begin, 2u);
  EXPECT_EQ(m[1].end, 3u);
}

TEST(Regex, BadPatternIsAnErrorNamingIt) { EXPECT_ERROR_WITH(Regex("(unclosed"), "invalid regular expression /(unclosed/"); }

TEST(Pattern, LiteralAndRegexReplace) {
  EXPECT_EQ(Pattern::literal(" ").replace_all("a b  c", "\xE2\x96\x81"), "a\xE2\x96\x81" "b\xE2\x96\x81\xE2\x96\x81" "c");
  EXPECT_EQ(Pattern::regex("[0-9]+").replace_all("a12b3", "#"), "a#b#");
  EXPECT_EQ(Pattern::literal("a.b").replace_all("a.b axb", "!"), "! axb");  // literal, not a regex
  EXPECT_EQ(regex_escape("a.b*(c)"), "a\\.b\\*\\(c\\)");
}

}  // namespace prefer::text
