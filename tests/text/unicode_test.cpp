#include "text/unicode.h"

#include <gtest/gtest.h>

namespace prefer::text {

TEST(Unicode, CodePointsRoundTrip) {
  std::string s = "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80";  // a, é, 中, 😀: 1, 2, 3, 4 bytes
  std::vector<std::string> cps = split_code_points(s);
  ASSERT_EQ(cps.size(), 4u);
  EXPECT_EQ(cps[3], "\xF0\x9F\x98\x80");
  size_t i = 0;
  std::string back;
  while (i < s.size()) append_utf8(back, next_code_point(s, i));
  EXPECT_EQ(back, s);
  i = 0;
  next_code_point(s, i);
  EXPECT_EQ(next_code_point(s, i), U'\u00E9');
}

TEST(Unicode, NormalForms) {
  const std::string composed = "\xC3\xA9";     // é U+00E9
  const std::string decomposed = "e\xCC\x81";  // e + U+0301
  EXPECT_EQ(normalize(decomposed, NormalForm::NFC), composed);
  EXPECT_EQ(normalize(composed, NormalForm::NFD), decomposed);
  EXPECT_EQ(normalize("\xEF\xAC\x81", NormalForm::NFKC), "fi");  // U+FB01 ligature fi
  EXPECT_EQ(normalize("\xEF\xAC\x81", NormalForm::NFC), "\xEF\xAC\x81");
  EXPECT_EQ(normalize("\xE2\x91\xA0", NormalForm::NFKD), "1");  // circled digit one
  EXPECT_EQ(normalize("", NormalForm::NFC), "");
}

TEST(Unicode, LowercaseIncludesTheSpecialCases) {
  EXPECT_EQ(to_lower("HeLLo ÀÉ"), "hello àé");
  EXPECT_EQ(to_lower("\xC4\xB0"), "i\xCC\x87");  // İ -> i + combining dot above
  // Σ is final (ς) after a letter at the end of a word, σ elsewhere.
  EXPECT_EQ(to_lower("ΟΔΟΣ ΣΑ"), "οδος σα");
}

TEST(Unicode, JsWhitespaceTrim) {
  EXPECT_EQ(trim_start_js(" \t\n\xC2\xA0x "), "x ");
  EXPECT_EQ(trim_end_js(" x \xE3\x80\x80\xEF\xBB\xBF"), " x");  // ideographic space, BOM
  EXPECT_EQ(trim_end_js("x\xC2\x85"), "x\xC2\x85");               // U+0085 is not JS whitespace
  EXPECT_EQ(trim_end_js("   "), "");
}

TEST(Unicode, LossyDecodeReplacesMaximalSubparts) {
  EXPECT_EQ(decode_utf8_lossy("ok"), "ok");
  EXPECT_EQ(decode_utf8_lossy("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(decode_utf8_lossy("a\xF0\x9F\x98"), "a" + fffd);        // truncated 4-byte: one U+FFFD
  EXPECT_EQ(decode_utf8_lossy("\xFF\xFE"), fffd + fffd);            // two invalid bytes
  EXPECT_EQ(decode_utf8_lossy("\xE0\x80\x80"), fffd + fffd + fffd);  // overlong: E0 then 80 < A0
  EXPECT_EQ(decode_utf8_lossy("\xED\xA0\x80"), fffd + fffd + fffd);  // surrogate
  EXPECT_EQ(decode_utf8_lossy("\xC3x"), fffd + "x");
}

}  // namespace prefer::text
