#include "text/normalizer.h"

#include "test_util.h"

namespace prefer::text {

static std::string normalize_text(const char* json, const std::string& text) {
  auto n = make_normalizer(Json::parse(json), {"t.json", "normalizer"});
  return n->normalize(text);
}

TEST(Normalizer, EachType) {
  EXPECT_EQ(normalize_text(R"({"type": "NFC"})", "e\xCC\x81"), "\xC3\xA9");
  EXPECT_EQ(normalize_text(R"({"type": "NFKD"})", "\xEF\xAC\x81"), "fi");
  EXPECT_EQ(normalize_text(R"({"type": "Lowercase"})", "ABC"), "abc");
  EXPECT_EQ(normalize_text(R"({"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"})", "a b"), "a\xE2\x96\x81" "b");
  EXPECT_EQ(normalize_text(R"({"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "})", "a \t\n b"), "a b");
  EXPECT_EQ(normalize_text(R"({"type": "Prepend", "prepend": "\u2581"})", "x"), "\xE2\x96\x81x");
  EXPECT_EQ(normalize_text(R"({"type": "Strip", "strip_left": true, "strip_right": false})", "  x  "), "x  ");
  EXPECT_EQ(normalize_text(R"({"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "_"}, {"type": "Lowercase"}]})", "AB"), "_ab");
  EXPECT_EQ(make_normalizer(Json(nullptr), {"t.json", "normalizer"}), nullptr);
}

TEST(Normalizer, UnknownTypeAndBadPatternAreErrors) {
  EXPECT_ERROR_WITH(normalize_text(R"({"type": "BertNormalizer"})", "x"), "t.json", "'normalizer.type'", "unsupported normalizer 'BertNormalizer'",
                    "NFC");
  EXPECT_ERROR_WITH(normalize_text(R"({"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Nope"}]})", "x"),
                    "'normalizer.normalizers[1].type'");
  EXPECT_ERROR_WITH(normalize_text(R"({"type": "Replace", "pattern": {"Regex": "("}, "content": ""})", "x"), "'normalizer.pattern'",
                    "invalid regular expression");
  EXPECT_ERROR_WITH(normalize_text(R"({"type": "Replace", "pattern": 3, "content": ""})", "x"), "{\"String\"");
}

}  // namespace prefer::text
