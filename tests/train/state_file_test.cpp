#include "train/state_file.h"

#include <ATen/ATen.h>

#include "test_util.h"

namespace prefer::train {

TEST(StateFile, RoundTripsTensorsBitForBitWithMetadata) {
  test::TempDir tmp;
  at::manual_seed(1);
  std::map<std::string, at::Tensor> in = {
      {"f32", at::randn({3, 2})},
      {"bf16", at::randn({5}).to(at::kBFloat16)},
      {"f64", at::randn({2}, at::kDouble)},
      {"u8", at::arange(7, at::kByte)},
      {"i64", at::tensor(std::vector<int64_t>{-1, int64_t{1} << 40})},
      {"scalar", at::full({}, 2.5)},
      {"strided", at::randn({4, 4}).t()},  // non-contiguous input is written row-major
  };
  write_state_file(tmp / "s.safetensors", in, {{"step", "12"}});
  StateFile out = read_state_file(tmp / "s.safetensors");
  ASSERT_EQ(out.tensors.size(), in.size());
  for (const auto& [name, t] : in) {
    const at::Tensor& r = out.tensors.at(name);
    EXPECT_EQ(r.scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(at::equal(r, t)) << name;
  }
  EXPECT_EQ(out.metadata.at("format"), "pt");
  EXPECT_EQ(state_metadata_int(out, "step", tmp / "s.safetensors"), 12);
}

TEST(StateFile, ErrorsNameFileAndEntry) {
  test::TempDir tmp;
  write_state_file(tmp / "s.safetensors", {{"a", at::zeros({1})}}, {{"bad", "12x"}});
  StateFile f = read_state_file(tmp / "s.safetensors");
  EXPECT_ERROR_WITH(state_metadata_int(f, "bad", tmp / "s.safetensors"), "s.safetensors", "'bad'", "12x");
  EXPECT_ERROR_WITH(state_metadata_int(f, "step", tmp / "s.safetensors"), "'step'", "missing");
  EXPECT_ERROR_WITH(state_tensor(f, "b", tmp / "s.safetensors"), "s.safetensors", "'b'", "missing");
  EXPECT_ERROR_WITH(read_state_file(tmp / "none.safetensors"), "none.safetensors");
  EXPECT_ERROR_WITH(write_state_file(tmp / "c.safetensors", {{"c", at::zeros({1}, at::kComplexFloat)}}), "'c'",
                    "cannot be stored");
}

}  // namespace prefer::train
