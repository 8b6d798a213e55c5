#include "data/pipeline.h"

#include "test_util.h"

namespace prefer::data {

TEST(Pipeline, TokenizesOnceThenReadsTheCache) {
  test::TempDir tmp;
  test::write_bytes(tmp / "d.jsonl", R"({"prompt": "The answer is", "chosen": " short.", "rejected": " long."})" "\n"
                                     R"({"prompt": "Hi", "chosen": " there", "rejected": " you"})" "\n");
  TextModel m = TextModel::load(test::fixture("models/llama-tiny"));
  ASSERT_NE(m.templ(), nullptr);
  PrepareOptions opt;
  opt.cache_dir = tmp / "cache";
  PreparedData first = prepare_data(tmp / "d.jsonl", m, opt);
  EXPECT_FALSE(first.from_cache);
  ASSERT_EQ(first.data.size(), 2u);
  PreparedData second = prepare_data(tmp / "d.jsonl", m, opt);
  EXPECT_TRUE(second.from_cache);
  ASSERT_EQ(second.data.size(), 2u);
  auto a = first.data.chosen(1), b = second.data.chosen(1);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end()));
  EXPECT_EQ(second.kind, DatasetKind::Preference);
  // A different setting is a different cache entry.
  opt.tokenize.max_length = 4;
  PreparedData third = prepare_data(tmp / "d.jsonl", m, opt);
  EXPECT_FALSE(third.from_cache);
  EXPECT_FALSE(third.warnings.empty());
  // Changing the data file invalidates the entry.
  test::write_bytes(tmp / "d.jsonl", R"({"prompt": "Hi", "chosen": " a", "rejected": " b"})" "\n");
  opt.tokenize.max_length = 1024;
  PreparedData fourth = prepare_data(tmp / "d.jsonl", m, opt);
  EXPECT_FALSE(fourth.from_cache);
  EXPECT_EQ(fourth.data.size(), 1u);
}

TEST(Pipeline, WarningsInPlainWords) {
  TokenizeStats s;
  s.examples = 10;
  s.prefix_mismatches = 2;
  s.first_mismatch_line = 4;
  s.dropped = 1;
  s.dropped_lines = {7};
  auto w = tokenize_warnings(s, "d.jsonl");
  ASSERT_EQ(w.size(), 2u);
  EXPECT_NE(w[0].find("d.jsonl:4"), std::string::npos);
  EXPECT_NE(w[1].find("d.jsonl:7"), std::string::npos);
}

}  // namespace prefer::data
