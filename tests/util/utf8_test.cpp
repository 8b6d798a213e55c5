#include "util/utf8.h"

#include "test_util.h"

namespace prefer {

TEST(Utf8, AcceptsValidTextOfEveryLength) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9"));                      // 2 bytes
  EXPECT_TRUE(is_valid_utf8("\xE4\xB8\xAD\xE6\x96\x87"));          // 3 bytes (CJK)
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB"));  // woman ZWJ laptop
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));                  // U+10FFFF, the last code point
}

TEST(Utf8, FindsTheFirstBadByte) {
  EXPECT_EQ(find_invalid_utf8("ab\xFF" "cd"), 2u);                // never valid
  EXPECT_EQ(find_invalid_utf8("abc\xC3"), 3u);                    // truncated sequence
  EXPECT_EQ(find_invalid_utf8("\x80"), 0u);                       // lone continuation
  EXPECT_EQ(find_invalid_utf8("x\xC0\xAF"), 1u);                  // overlong '/'
  EXPECT_EQ(find_invalid_utf8("\xED\xA0\x80"), 0u);               // UTF-16 surrogate D800
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);           // U+110000, past the end
  EXPECT_EQ(find_invalid_utf8(std::string_view("a\0b", 3)), std::nullopt);  // NUL is valid UTF-8
}

TEST(Utf8, CheckNamesWhere) {
  EXPECT_ERROR_WITH(check_utf8("ok\xFE", {.file = "d.jsonl", .line = 4, .field = "chosen"}), "d.jsonl:4",
                    "'chosen'", "invalid UTF-8 at byte 2", "0xFE");
  EXPECT_NO_THROW(check_utf8("fine", {}));
}

}  // namespace prefer
