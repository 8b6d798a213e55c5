#include "text/added_tokens.h"

#include "test_util.h"

namespace prefer::text {

using Sections = std::vector<TokenSplitter::Section>;

static std::vector<std::string> texts(const Sections& s) {
  std::vector<std::string> out;
  for (const auto& x : s) out.push_back((x.is_token ? "[" : "") + x.text + (x.is_token ? "]" : ""));
  return out;
}

TEST(TokenSplitter, LeftmostLongest) {
  TokenSplitter s;
  s.add("<a>", false);
  s.add("<a><b>", false);
  s.add("<b>", false);
  EXPECT_EQ(texts(s.split("x<a><b>y<b><a>")), (std::vector<std::string>{"x", "[<a><b>]", "y", "[<b>]", "[<a>]"}));
  EXPECT_EQ(texts(s.split("<a")), (std::vector<std::string>{"<a"}));
  EXPECT_TRUE(s.split("").empty());
}

TEST(TokenSplitter, SingleWordNeedsWordBoundaries) {
  TokenSplitter s;
  s.add("cat", true);
  EXPECT_EQ(texts(s.split("a cat, concat")), (std::vector<std::string>{"a ", "[cat]", ", concat"}));
}

TEST(AddedVocabulary, LoadsFlagsAndStrips) {
  AddedVocabulary v;
  v.load(Json::parse(R"([{"id": 5, "content": "<mask>", "lstrip": true, "rstrip": false, "special": true},
                         {"id": 6, "content": "<sep>", "rstrip": true, "special": true, "normalized": false},
                         {"id": 7, "content": "word", "special": false}])"),
         {"t.json", "added_tokens"});
  ASSERT_EQ(v.tokens().size(), 3u);
  EXPECT_FALSE(v.tokens()[0].normalized);  // special tokens default to normalized = false
  EXPECT_TRUE(v.tokens()[2].normalized);   // others to true
  v.build_splitters(nullptr);              // without a normalizer everything is matched raw
  Sections s = v.raw_splitter().split("a  <mask> b<sep>  c");
  apply_strip_flags(s, v);
  EXPECT_EQ(texts(s), (std::vector<std::string>{"a", "[<mask>]", " b", "[<sep>]", "c"}));
  EXPECT_EQ(v.find("<sep>")->id, 6);
  EXPECT_EQ(v.find_id(7)->content, "word");
  EXPECT_EQ(v.find("nope"), nullptr);
  EXPECT_ERROR_WITH(v.load(Json::parse(R"([{"content": "x"}])"), {"t.json", "added_tokens"}), "'added_tokens[0].id'");
}

TEST(AddedVocabulary, NormalizedTokensAreMatchedByTheirNormalizedForm) {
  AddedVocabulary v;
  v.load(Json::parse(R"([{"id": 9, "content": "Hello There", "special": false, "normalized": true}])"), {"t.json", "added_tokens"});
  auto lower = make_normalizer(Json::parse(R"({"type": "Lowercase"})"), {"t.json", "normalizer"});
  v.build_splitters(lower.get());
  EXPECT_TRUE(v.raw_splitter().empty());
  EXPECT_EQ(texts(v.normalized_splitter().split("say hello there!")), (std::vector<std::string>{"say ", "[hello there]", "!"}));
  EXPECT_EQ(v.find("hello there")->id, 9);
}

}  // namespace prefer::text
