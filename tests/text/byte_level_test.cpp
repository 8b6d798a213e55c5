#include "text/byte_level.h"

#include <gtest/gtest.h>

namespace prefer::text {

TEST(ByteLevel, Gpt2Table) {
  // Printable ASCII stands for itself; space is U+0120 "Ġ", newline U+010A "Ċ", byte 0 is U+0100.
  EXPECT_EQ(byte_to_unicode('a'), "a");
  EXPECT_EQ(byte_to_unicode(' '), "\xC4\xA0");
  EXPECT_EQ(byte_to_unicode('\n'), "\xC4\x8A");
  EXPECT_EQ(byte_to_unicode(0), "\xC4\x80");
  EXPECT_EQ(byte_to_unicode(0xAD), "\xC5\x83");  // soft hyphen: the 94th remapped byte -> U+0143
  EXPECT_EQ(bytes_to_unicode_string(" hi\n"), "\xC4\xA0hi\xC4\x8A");
  for (int b = 0; b < 256; ++b) {
    const std::string& s = byte_to_unicode(static_cast<unsigned char>(b));
    size_t i = 0;
    char32_t cp = 0;
    // decode the one code point by hand
    unsigned char c = static_cast<unsigned char>(s[0]);
    cp = c < 0x80 ? c : ((c & 0x1F) << 6) | (static_cast<unsigned char>(s[1]) & 0x3F);
    (void)i;
    ASSERT_EQ(unicode_to_byte(cp), static_cast<unsigned char>(b));
  }
  EXPECT_FALSE(unicode_to_byte(U'\u4E2D').has_value());
}

}  // namespace prefer::text
