#include "util/strings.h"

#include <gtest/gtest.h>

namespace prefer {

TEST(Strings, EditDistanceClosedForms) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);  // the textbook example
  EXPECT_EQ(edit_distance("beta", "beta"), 0u);
}

TEST(Strings, SuggestsOnlyPlausibleTypos) {
  std::vector<std::string> keys = {"learning_rate", "beta", "loss_type", "max_steps"};
  EXPECT_EQ(suggest_name("lerning_rate", keys), "learning_rate");
  EXPECT_EQ(suggest_name("loss-type", keys), "loss_type");
  EXPECT_EQ(suggest_name("temperature", keys), "");
}

TEST(Strings, FormatBytes) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(3000), "3.0 KB");
  EXPECT_EQ(format_bytes(10.5e6), "10.5 MB");
  EXPECT_EQ(format_bytes(2.1e9), "2.1 GB");
}

TEST(Strings, Join) {
  EXPECT_EQ(join({"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(join({}, ", "), "");
}

}  // namespace prefer
