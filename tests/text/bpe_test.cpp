#include "text/bpe.h"

#include "test_util.h"

namespace prefer::text {

namespace {
Json model(Json extra = Json::object()) {
  Json m = {{"type", "BPE"},
            {"vocab", {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}, {"<unk>", 6}, {"aa", 7}, {"ca", 8}, {"<0x78>", 9}}},
            {"merges", {"a b", "b c", "ab c", "a a"}}};
  for (auto it = extra.begin(); it != extra.end(); ++it) m[it.key()] = it.value();
  return m;
}
std::vector<int32_t> enc(const BpeModel& m, const std::string& w) {
  std::vector<int32_t> out;
  m.encode_word(w, out);
  return out;
}
}  // namespace

TEST(Bpe, LowestRankFirstLeftmostOnTies) {
  BpeModel m = BpeModel::from_json(model(), {"t.json", "model"});
  EXPECT_EQ(enc(m, "abc"), (std::vector<int32_t>{5}));     // a+b (rank 0), then ab+c (rank 2)
  EXPECT_EQ(enc(m, "bca"), (std::vector<int32_t>{4, 0}));  // b+c (rank 1); no merge "bc a"
  EXPECT_EQ(enc(m, "aaa"), (std::vector<int32_t>{7, 0}));  // leftmost "a a" first
  EXPECT_EQ(enc(m, "abab"), (std::vector<int32_t>{3, 3}));
  EXPECT_EQ(enc(m, ""), (std::vector<int32_t>{}));
  EXPECT_EQ(enc(m, "abc"), (std::vector<int32_t>{5}));  // second call hits the cache
}

TEST(Bpe, PairMergeFormatIsTheSame) {
  Json j = model();
  j["merges"] = Json::array({{"a", "b"}, {"b", "c"}, {"ab", "c"}, {"a", "a"}});
  BpeModel m = BpeModel::from_json(j, {"t.json", "model"});
  EXPECT_EQ(enc(m, "abc"), (std::vector<int32_t>{5}));
}

TEST(Bpe, UnknownCharactersUnkOrByteFallback) {
  BpeModel with_unk = BpeModel::from_json(model({{"unk_token", "<unk>"}}), {"t.json", "model"});
  EXPECT_EQ(enc(with_unk, "axy"), (std::vector<int32_t>{0, 6, 6}));  // fusing is the tokenizer's job
  BpeModel fallback = BpeModel::from_json(model({{"unk_token", "<unk>"}, {"byte_fallback", true}}), {"t.json", "model"});
  EXPECT_EQ(enc(fallback, "ax"), (std::vector<int32_t>{0, 9}));  // x -> <0x78>
  EXPECT_EQ(enc(fallback, "y"), (std::vector<int32_t>{6}));       // <0x79> missing -> unk
  BpeModel neither = BpeModel::from_json(model(), {"t.json", "model"});
  EXPECT_EQ(enc(neither, "xa"), (std::vector<int32_t>{0}));  // no unk token: dropped, like the reference
}

TEST(Bpe, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  EXPECT_EQ(enc(BpeModel::from_json(model(), {"t.json", "model"}), "ca"), (std::vector<int32_t>{2, 0}));
  EXPECT_EQ(enc(BpeModel::from_json(model({{"ignore_merges", true}}), {"t.json", "model"}), "ca"), (std::vector<int32_t>{8}));
}

TEST(Bpe, SubwordPrefixAndWordSuffix) {
  Json j = {{"type", "BPE"},
            {"vocab", {{"a", 0}, {"##b", 1}, {"##c</w>", 2}, {"a##b", 3}}},
            {"merges", {"a ##b"}},
            {"continuing_subword_prefix", "##"},
            {"end_of_word_suffix", "</w>"}};
  BpeModel m = BpeModel::from_json(j, {"t.json", "model"});
  EXPECT_EQ(enc(m, "abc"), (std::vector<int32_t>{3, 2}));
}

TEST(Bpe, BadModelsAreErrorsWithThePath) {
  Json j = model();
  j["merges"] = {"ab"};
  EXPECT_ERROR_WITH(BpeModel::from_json(j, {"t.json", "model"}), "t.json", "'model.merges[0]'", "has no space");
  j = model();
  j.erase("vocab");
  EXPECT_ERROR_WITH(BpeModel::from_json(j, {"t.json", "model"}), "'model.vocab'", "missing");
  j = model({{"dropout", 0.1}});
  EXPECT_ERROR_WITH(BpeModel::from_json(j, {"t.json", "model"}), "'model.dropout'", "not supported");
}

TEST(Bpe, VocabularyLookups) {
  BpeModel m = BpeModel::from_json(model({{"unk_token", "<unk>"}}), {"t.json", "model"});
  EXPECT_EQ(m.token_to_id("abc"), 5);
  EXPECT_FALSE(m.token_to_id("zzz").has_value());
  EXPECT_EQ(m.id_to_token(4), "bc");
  EXPECT_EQ(m.id_to_token(99), "");
  EXPECT_EQ(m.vocab_size(), 10);
  EXPECT_EQ(m.unk_id(), 6);
}

}  // namespace prefer::text
