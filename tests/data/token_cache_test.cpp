#include "data/token_cache.h"

#include <cmath>

#include "test_util.h"

namespace prefer::data {

TEST(TokenCache, RoundTripIsExactAndKeyed) {
  test::TempDir tmp;
  TokenizedDataset d;
  TokenizedExample a;
  a.line = 3;
  a.paired = true;
  a.prompt_ids = {1, 2, 3};
  a.chosen.completion_ids = {4, 5};
  a.rejected.completion_ids = {6};
  a.rejected.prompt_start = 1;
  a.rejected.truncated = true;
  a.margin = 0.25;
  d.add(a);
  TokenizedExample b;
  b.line = 9;
  b.prompt_ids = {7};
  b.chosen.completion_ids = {8, 9, 10};
  b.label = false;
  d.add(b);
  Json key = {{"data", "x"}, {"max_length", 5}};
  std::filesystem::path file = cache_path(tmp.path(), key);
  save_cached_tokens(file, key, d, {{"note", 1}});
  auto back = load_cached_tokens(file, key);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->data.size(), 2u);
  EXPECT_EQ(back->stats["note"], 1);
  for (size_t i = 0; i < 2; ++i) {
    auto p0 = d.prompt(i, true), p1 = back->data.prompt(i, true);
    EXPECT_TRUE(std::equal(p0.begin(), p0.end(), p1.begin(), p1.end()));
    auto c0 = d.chosen(i), c1 = back->data.chosen(i);
    EXPECT_TRUE(std::equal(c0.begin(), c0.end(), c1.begin(), c1.end()));
  }
  EXPECT_EQ(back->data.row(0).rejected_prompt_start, 1);
  EXPECT_TRUE(back->data.row(0).truncated);
  EXPECT_TRUE(back->data.row(0).paired);
  EXPECT_DOUBLE_EQ(back->data.row(0).margin, 0.25);
  EXPECT_EQ(back->data.row(1).label, 0);
  EXPECT_TRUE(std::isnan(back->data.row(1).margin));
  // Another key never reads this file; a damaged file is ignored, not trusted.
  EXPECT_FALSE(load_cached_tokens(file, Json{{"data", "y"}}));
  EXPECT_NE(cache_path(tmp.path(), Json{{"data", "y"}}), file);
  std::filesystem::resize_file(file, 100);
  EXPECT_FALSE(load_cached_tokens(file, key));
}

}  // namespace prefer::data
