#include "io/dtype.h"

#include <gtest/gtest.h>

namespace prefer::io {

TEST(DType, NamesAndSizesOfTheSafetensorsSpec) {
  struct Case {
    const char* name;
    size_t size;
  } cases[] = {{"BOOL", 1}, {"U8", 1},   {"I8", 1},  {"I16", 2}, {"I32", 4},
               {"I64", 8},  {"F16", 2},  {"BF16", 2}, {"F32", 4}, {"F64", 8}};
  for (const auto& c : cases) {
    auto d = parse_dtype(c.name);
    ASSERT_TRUE(d.has_value()) << c.name;
    EXPECT_EQ(dtype_size(*d), c.size) << c.name;
    EXPECT_EQ(dtype_name(*d), c.name);
  }
  EXPECT_FALSE(parse_dtype("F8_E4M3").has_value());
  EXPECT_FALSE(parse_dtype("f32").has_value());
  EXPECT_NE(supported_dtype_names().find("BF16"), std::string::npos);
}

}  // namespace prefer::io
