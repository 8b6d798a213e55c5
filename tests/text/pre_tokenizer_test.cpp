#include "text/pre_tokenizer.h"

#include "test_util.h"

namespace prefer::text {

using Pieces = std::vector<std::string>;

static Pieces pre_tokenize_text(const char* json, const std::string& text, size_t section = 0) {
  auto p = make_pre_tokenizer(Json::parse(json), {"t.json", "pre_tokenizer"});
  Pieces pieces{text};
  p->pre_tokenize(pieces, {section});
  return pieces;
}

TEST(SplitBehavior, AllFiveOnOneExample) {
  // "a-b--c" split at each "-": matches at [1,2), [3,4), [4,5).
  std::string t = "a-b--c";
  std::vector<ByteRange> m = {{1, 2}, {3, 4}, {4, 5}};
  EXPECT_EQ(split_with_behavior(t, m, SplitBehavior::Removed, false), (Pieces{"a", "b", "c"}));
  EXPECT_EQ(split_with_behavior(t, m, SplitBehavior::Isolated, false), (Pieces{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(split_with_behavior(t, m, SplitBehavior::MergedWithPrevious, false), (Pieces{"a-", "b-", "-", "c"}));
  EXPECT_EQ(split_with_behavior(t, m, SplitBehavior::MergedWithNext, false), (Pieces{"a", "-b", "-", "-c"}));
  EXPECT_EQ(split_with_behavior(t, m, SplitBehavior::Contiguous, false), (Pieces{"a", "-", "b", "--", "c"}));
  // invert: the matches are the pieces, the rest are the delimiters
  EXPECT_EQ(split_with_behavior(t, m, SplitBehavior::Removed, true), (Pieces{"-", "-", "-"}));
}

TEST(PreTokenizer, ByteLevelWithGpt2Regex) {
  EXPECT_EQ(pre_tokenize_text(R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})", "Hello world's  end"),
            (Pieces{"Hello", "\xC4\xA0world", "'s", "\xC4\xA0", "\xC4\xA0" "end"}));
  EXPECT_EQ(pre_tokenize_text(R"({"type": "ByteLevel", "add_prefix_space": true, "use_regex": false})", "a b"), (Pieces{"\xC4\xA0" "a\xC4\xA0" "b"}));
}

TEST(PreTokenizer, SplitWithRegexAndString) {
  EXPECT_EQ(pre_tokenize_text(R"({"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": false})", "x12345"),
            (Pieces{"x", "123", "45"}));
  EXPECT_EQ(pre_tokenize_text(R"({"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": false})", "a b c"),
            (Pieces{"a ", "b ", "c"}));
}

TEST(PreTokenizer, MetaspacePrependSchemes) {
  const std::string m = "\xE2\x96\x81";
  EXPECT_EQ(pre_tokenize_text(R"({"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": false})", "a b"),
            (Pieces{m + "a" + m + "b"}));
  EXPECT_EQ(pre_tokenize_text(R"({"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": false})", "a", 1), (Pieces{"a"}));
  EXPECT_EQ(pre_tokenize_text(R"({"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": false})", "a", 0), (Pieces{m + "a"}));
  EXPECT_EQ(pre_tokenize_text(R"({"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": true})", "a b  c"),
            (Pieces{"a", m + "b", m, m + "c"}));
  EXPECT_ERROR_WITH(pre_tokenize_text(R"({"type": "Metaspace", "prepend_scheme": "sometimes"})", "a"), "unknown prepend_scheme 'sometimes'");
}

TEST(PreTokenizer, DigitsPunctuationWhitespace) {
  EXPECT_EQ(pre_tokenize_text(R"({"type": "Digits", "individual_digits": true})", "a12b"), (Pieces{"a", "1", "2", "b"}));
  EXPECT_EQ(pre_tokenize_text(R"({"type": "Digits", "individual_digits": false})", "a12b"), (Pieces{"a", "12", "b"}));
  EXPECT_EQ(pre_tokenize_text(R"({"type": "Punctuation"})", "hi!! ok"), (Pieces{"hi", "!", "!", " ok"}));
  EXPECT_EQ(pre_tokenize_text(R"({"type": "Whitespace"})", "Hey, you!  ok"), (Pieces{"Hey", ",", "you", "!", "ok"}));
  EXPECT_EQ(pre_tokenize_text(R"({"type": "WhitespaceSplit"})", " a\tb  c "), (Pieces{"a", "b", "c"}));
  EXPECT_EQ(pre_tokenize_text(R"({"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "Digits", "individual_digits": true}]})",
                "a1 22"),
            (Pieces{"a", "1", "2", "2"}));
}

TEST(PreTokenizer, UnknownTypeAndBehavior) {
  EXPECT_ERROR_WITH(pre_tokenize_text(R"({"type": "BertPreTokenizer"})", "x"), "'pre_tokenizer.type'", "unsupported pre-tokenizer", "ByteLevel");
  EXPECT_ERROR_WITH(pre_tokenize_text(R"({"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"})", "x"), "'pre_tokenizer.behavior'",
                    "unknown split behavior 'Sideways'");
}

}  // namespace prefer::text
