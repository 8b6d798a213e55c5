// Python str semantics on UTF-8 (expected values are what CPython 3 returns for the same calls).
#include <gtest/gtest.h>

#include "text/jinja_error.h"
#include "text/jinja_strings.h"

namespace prefer::text::jinja {
namespace {

using Strings = std::vector<std::string>;

TEST(JinjaStrings, Utf8RoundTripAndCounts) {
  std::string s = "aé日🎉";
  std::u32string cps = utf8_decode(s);
  ASSERT_EQ(cps.size(), 4u);
  EXPECT_EQ(cps[1], U'é');
  EXPECT_EQ(cps[3], U'🎉');
  EXPECT_EQ(utf8_encode(cps), s);
  EXPECT_EQ(code_point_count(s), 4u);
  EXPECT_EQ(code_point_count(""), 0u);
}

TEST(JinjaStrings, WhitespaceIsPythons) {
  for (char32_t c : {U' ', U'\t', U'\n', U'\r', U'\v', U'\f', U'\x1c', U'\x85', U'\xa0', U'\u2003', U'\u3000'})
    EXPECT_TRUE(py_isspace(c)) << static_cast<uint32_t>(c);
  // U+FEFF (byte order mark) and U+200B (zero width space) are not whitespace to Python.
  for (char32_t c : {U'a', U'\u200b', U'\ufeff', U'_'}) EXPECT_FALSE(py_isspace(c)) << static_cast<uint32_t>(c);
}

TEST(JinjaStrings, Strip) {
  EXPECT_EQ(py_strip("  \t hi there \n", std::nullopt), "hi there");
  EXPECT_EQ(py_strip("\xc2\xa0x\xe3\x80\x80", std::nullopt), "x");  // NBSP and ideographic space
  EXPECT_EQ(py_strip("\n\n  text\n", std::string("\n")), "  text");
  EXPECT_EQ(py_strip("xxhixyx", std::string("xy")), "hi");
  EXPECT_EQ(py_strip("  a  ", std::nullopt, true, false), "a  ");
  EXPECT_EQ(py_strip("  a  ", std::nullopt, false, true), "  a");
  EXPECT_EQ(py_strip("ééaé", std::string("é")), "a");
  EXPECT_EQ(py_strip("   ", std::nullopt), "");
}

TEST(JinjaStrings, SplitOnWhitespace) {
  EXPECT_EQ(py_split("  a b\t\tc \n", std::nullopt), (Strings{"a", "b", "c"}));
  EXPECT_EQ(py_split("", std::nullopt), Strings{});
  EXPECT_EQ(py_split("   ", std::nullopt), Strings{});
  // maxsplit keeps the rest as is, minus its leading whitespace.
  EXPECT_EQ(py_split(" a b c ", std::nullopt, 1), (Strings{"a", "b c "}));
  EXPECT_EQ(py_split("a b", std::nullopt, 0), (Strings{"a b"}));
}

TEST(JinjaStrings, SplitOnSeparator) {
  EXPECT_EQ(py_split("a,b,,c", std::string(",")), (Strings{"a", "b", "", "c"}));
  EXPECT_EQ(py_split("", std::string(",")), (Strings{""}));
  EXPECT_EQ(py_split("a</think>b</think>c", std::string("</think>"), 1), (Strings{"a", "b</think>c"}));
  EXPECT_EQ(py_split("no sep", std::string("|")), (Strings{"no sep"}));
  EXPECT_THROW(py_split("x", std::string("")), EvalError);
}

TEST(JinjaStrings, Splitlines) {
  EXPECT_EQ(py_splitlines("a\nb\r\nc\rd"), (Strings{"a", "b", "c", "d"}));
  EXPECT_EQ(py_splitlines("a\n\nb\n"), (Strings{"a", "", "b"}));
  EXPECT_EQ(py_splitlines(""), Strings{});
  EXPECT_EQ(py_splitlines("x\xe2\x80\xa8y"), (Strings{"x", "y"}));  // U+2028 line separator
}

TEST(JinjaStrings, ReplaceFindCount) {
  EXPECT_EQ(py_replace("aaa", "a", "b"), "bbb");
  EXPECT_EQ(py_replace("aaa", "a", "b", 2), "bba");
  EXPECT_EQ(py_replace("abc", "", "-"), "-a-b-c-");
  EXPECT_EQ(py_replace("héé", "", "|", 2), "|h|éé");
  EXPECT_EQ(py_replace("abc", "x", "y"), "abc");
  EXPECT_EQ(py_find("héllo", "l"), 2);
  EXPECT_EQ(py_find("hello", "z"), -1);
  EXPECT_EQ(py_count("hello", "l"), 2);
  EXPECT_EQ(py_count("aaaa", "aa"), 2);
  EXPECT_EQ(py_count("abc", ""), 4);
}

TEST(JinjaStrings, CaseMapping) {
  EXPECT_EQ(py_upper("héllo wörld"), "HÉLLO WÖRLD");
  EXPECT_EQ(py_lower("ÀÉÎ Straße"), "àéî straße");
  EXPECT_EQ(py_title("hELLO wORLD"), "Hello World");
  EXPECT_EQ(py_title("they're 1st"), "They'Re 1St");
  EXPECT_EQ(py_capitalize("hELLO World"), "Hello world");
  EXPECT_EQ(py_capitalize(""), "");
  EXPECT_TRUE(py_islower("abc 1"));
  EXPECT_FALSE(py_islower("aBc"));
  EXPECT_FALSE(py_islower("123"));  // no cased character
  EXPECT_TRUE(py_isupper("ÉTÉ!"));
}

TEST(JinjaStrings, JinjaTitleFilterIsNotStrTitle) {
  EXPECT_EQ(jinja_title("they're bill's friends"), "They're Bill's Friends");
  EXPECT_EQ(jinja_title("hELLO-wORLD (aB) [cD] <eF> {gH}"), "Hello-World (Ab) [Cd] <Ef> {Gh}");
  EXPECT_EQ(jinja_title("  two  spaces"), "  Two  Spaces");
}

TEST(JinjaStrings, Repr) {
  EXPECT_EQ(py_repr_string("abc"), "'abc'");
  EXPECT_EQ(py_repr_string("it's"), "\"it's\"");
  EXPECT_EQ(py_repr_string("both ' and \""), "'both \\' and \"'");
  EXPECT_EQ(py_repr_string("a\nb\tc\\"), "'a\\nb\\tc\\\\'");
  EXPECT_EQ(py_repr_string(std::string("\x01\x7f", 2)), "'\\x01\\x7f'");
  EXPECT_EQ(py_repr_string("日本 🎉"), "'日本 🎉'");
  EXPECT_EQ(py_repr_string("\xc2\x85\xe2\x80\x8b"), "'\\x85\\u200b'");  // NEL, zero width space
}

}  // namespace
}  // namespace prefer::text::jinja
