// GGUF files and ggml encodings: the byte layout of the specification checked by hand on a small file,
// round trips, validation, and the block quantisers against their closed forms.
#include "io/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "io/float16.h"
#include "io/ggml_quant.h"
#include "test_util.h"
#include "util/error.h"
#include "util/file.h"

namespace prefer::io {
namespace {

template <class T>
T at(const std::string& s, size_t p) {
  T v;
  std::memcpy(&v, s.data() + p, sizeof v);
  return v;
}

}  // namespace

TEST(Gguf, LayoutFollowsTheSpecification) {
  test::TempDir tmp;
  GgufFile f;
  f.metadata.emplace_back("general.architecture", std::string("llama"));
  f.metadata.emplace_back("llama.block_count", uint32_t{3});
  const float x[2] = {1.5f, -2.0f};
  f.tensors.push_back({.name = "w", .ne = {2}, .type = GgmlType::F32, .data = std::string(reinterpret_cast<const char*>(x), 8)});
  write_gguf(tmp / "a.gguf", f);
  const std::string b = read_file(tmp / "a.gguf");
  size_t p = 0;
  EXPECT_EQ(b.substr(0, 4), "GGUF");
  EXPECT_EQ(at<uint32_t>(b, 4), 3u);   // version
  EXPECT_EQ(at<uint64_t>(b, 8), 1u);   // tensors
  EXPECT_EQ(at<uint64_t>(b, 16), 2u);  // metadata
  p = 24;
  EXPECT_EQ(at<uint64_t>(b, p), 20u);  // "general.architecture"
  EXPECT_EQ(b.substr(p + 8, 20), "general.architecture");
  p += 28;
  EXPECT_EQ(at<uint32_t>(b, p), 8u);  // string
  EXPECT_EQ(at<uint64_t>(b, p + 4), 5u);
  EXPECT_EQ(b.substr(p + 12, 5), "llama");
  p += 17;
  EXPECT_EQ(at<uint64_t>(b, p), 17u);
  p += 8 + 17;
  EXPECT_EQ(at<uint32_t>(b, p), 4u);  // uint32
  EXPECT_EQ(at<uint32_t>(b, p + 4), 3u);
  p += 8;
  EXPECT_EQ(at<uint64_t>(b, p), 1u);  // tensor name "w"
  EXPECT_EQ(b[p + 8], 'w');
  p += 9;
  EXPECT_EQ(at<uint32_t>(b, p), 1u);      // n_dims
  EXPECT_EQ(at<uint64_t>(b, p + 4), 2u);  // ne[0]
  EXPECT_EQ(at<uint32_t>(b, p + 12), 0u);  // f32
  EXPECT_EQ(at<uint64_t>(b, p + 16), 0u);  // offset
  p += 24;
  const size_t data = (p + 31) / 32 * 32;  // aligned to 32
  EXPECT_EQ(at<float>(b, data), 1.5f);
  EXPECT_EQ(at<float>(b, data + 4), -2.0f);
  EXPECT_EQ(b.size(), data + 32);

  const GgufFile r = read_gguf(tmp / "a.gguf");
  ASSERT_NE(r.find("llama.block_count"), nullptr);
  EXPECT_EQ(std::get<uint32_t>(*r.find("llama.block_count")), 3u);
  EXPECT_EQ(std::get<std::string>(*r.find("general.architecture")), "llama");
  ASSERT_NE(r.tensor("w"), nullptr);
  EXPECT_EQ(r.tensor("w")->data, f.tensors[0].data);
}

TEST(Gguf, RoundTripOfArraysAndSeveralAlignedTensors) {
  test::TempDir tmp;
  GgufFile f;
  f.metadata.emplace_back("tokenizer.ggml.tokens", GgufArray{std::vector<std::string>{"<s>", "a", "Ġb"}});
  f.metadata.emplace_back("tokenizer.ggml.token_type", GgufArray{std::vector<int32_t>{3, 1, 1}});
  f.metadata.emplace_back("tokenizer.ggml.scores", GgufArray{std::vector<float>{0, -1, -2.5f}});
  f.metadata.emplace_back("tokenizer.ggml.add_bos_token", true);
  f.metadata.emplace_back("x.eps", 1e-5f);
  f.metadata.emplace_back("x.size", uint64_t{1} << 40);
  std::vector<float> v(64);
  for (int i = 0; i < 64; ++i) v[static_cast<size_t>(i)] = std::sin(static_cast<float>(i));
  f.tensors.push_back({.name = "a", .ne = {3}, .type = GgmlType::F32, .data = ggml_encode(GgmlType::F32, v.data(), 3)});
  f.tensors.push_back({.name = "q", .ne = {32, 2}, .type = GgmlType::Q8_0, .data = ggml_encode(GgmlType::Q8_0, v.data(), 64)});
  f.tensors.push_back({.name = "h", .ne = {64}, .type = GgmlType::F16, .data = ggml_encode(GgmlType::F16, v.data(), 64)});
  write_gguf(tmp / "b.gguf", f);
  const GgufFile r = read_gguf(tmp / "b.gguf");
  EXPECT_EQ(std::get<std::vector<std::string>>(std::get<GgufArray>(*r.find("tokenizer.ggml.tokens")))[2], "Ġb");
  EXPECT_EQ(std::get<std::vector<int32_t>>(std::get<GgufArray>(*r.find("tokenizer.ggml.token_type")))[0], 3);
  EXPECT_EQ(std::get<std::vector<float>>(std::get<GgufArray>(*r.find("tokenizer.ggml.scores")))[2], -2.5f);
  EXPECT_TRUE(std::get<bool>(*r.find("tokenizer.ggml.add_bos_token")));
  EXPECT_EQ(std::get<uint64_t>(*r.find("x.size")), uint64_t{1} << 40);
  ASSERT_EQ(r.tensors.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r.tensors[i].name, f.tensors[i].name);
    EXPECT_EQ(r.tensors[i].ne, f.tensors[i].ne);
    EXPECT_EQ(r.tensors[i].data, f.tensors[i].data);
  }
}

TEST(Gguf, BadFilesAndBadTensorsAreNamed) {
  test::TempDir tmp;
  GgufFile f;
  f.tensors.push_back({.name = "bad", .ne = {4}, .type = GgmlType::F32, .data = std::string(12, '\0')});
  EXPECT_ERROR_WITH(write_gguf(tmp / "x.gguf", f), "bad");
  EXPECT_FALSE(std::filesystem::exists(tmp / "x.gguf"));
  f.tensors = {{.name = "q", .ne = {16}, .type = GgmlType::Q4_0, .data = ""}};
  EXPECT_ERROR_WITH(write_gguf(tmp / "x.gguf", f), "q");
  f.tensors = {};
  f.metadata = {{"k", uint32_t{1}}, {"k", uint32_t{2}}};
  EXPECT_ERROR_WITH(write_gguf(tmp / "x.gguf", f), "duplicate");

  test::write_bytes(tmp / "n.gguf", "GGML....");
  EXPECT_ERROR_WITH(read_gguf(tmp / "n.gguf"), "not a GGUF file");
  GgufFile g;
  g.metadata = {{"general.name", std::string("m")}};
  const float x[4] = {1, 2, 3, 4};
  g.tensors = {{.name = "t", .ne = {4}, .type = GgmlType::F32, .data = std::string(reinterpret_cast<const char*>(x), 16)}};
  write_gguf(tmp / "g.gguf", g);
  const std::string full = read_file(tmp / "g.gguf");
  for (size_t cut : {size_t{10}, size_t{30}, full.size() - 40}) {
    test::write_bytes(tmp / "t.gguf", full.substr(0, cut));
    EXPECT_THROW(read_gguf(tmp / "t.gguf"), Error) << cut;
  }
}

TEST(GgmlQuant, Float16AndBfloat16RoundToNearestEven) {
  EXPECT_EQ(float_to_float16(1.0f), 0x3c00);
  EXPECT_EQ(float_to_float16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_float16(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_float16(65520.0f), 0x7c00);                      // halfway to the next: even is infinity
  EXPECT_EQ(float_to_float16(1.0f + 1.0f / 2048), 0x3c00);            // halfway between 1 and 1 + 2^-10: even
  EXPECT_EQ(float_to_float16(1.0f + 3.0f / 2048), 0x3c02);            // halfway, odd below: up
  EXPECT_EQ(float_to_float16(std::ldexp(1.0f, -24)), 0x0001);         // smallest subnormal
  EXPECT_EQ(float_to_float16(std::ldexp(1.0f, -25)), 0x0000);         // half of it: even (zero)
  EXPECT_EQ(float_to_float16(std::ldexp(3.0f, -25)), 0x0002);
  EXPECT_EQ(float_to_float16(std::ldexp(1.0f, -14)), 0x0400);         // smallest normal
  EXPECT_TRUE(std::isnan(float16_to_double(float_to_float16(NAN))));
  for (float v : {0.1f, -3.14159f, 1e-5f, 1234.5f})
    EXPECT_NEAR(float16_to_double(float_to_float16(v)), v, std::abs(v) * std::ldexp(1.0, -11) + 1e-8) << v;
  const float b[3] = {1.0f, 1.0f + 1.0f / 256, 1.0f + 3.0f / 256};  // halfway cases for bf16's 8 bits
  const std::vector<float> d = ggml_decode(GgmlType::BF16, ggml_encode(GgmlType::BF16, b, 3), 3);
  EXPECT_EQ(d[0], 1.0f);
  EXPECT_EQ(d[1], 1.0f);
  EXPECT_EQ(d[2], 1.0f + 4.0f / 256);
}

TEST(GgmlQuant, BlocksMatchTheirClosedForms) {
  // One block: values -16 .. 15 scaled by 0.25 (largest magnitude -4.0, at index 0).
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[static_cast<size_t>(i)] = 0.25f * static_cast<float>(i - 16);
  const std::string q8 = ggml_encode(GgmlType::Q8_0, x.data(), 32);
  ASSERT_EQ(q8.size(), 34u);
  EXPECT_EQ(at<uint16_t>(q8, 0), float_to_float16(4.0f / 127));
  EXPECT_EQ(at<int8_t>(q8, 2), -127);
  EXPECT_EQ(at<int8_t>(q8, 2 + 16), 0);
  EXPECT_EQ(at<int8_t>(q8, 2 + 17), static_cast<int8_t>(std::round(0.25f * 127 / 4)));  // 8 (7.94)
  const std::vector<float> y8 = ggml_decode(GgmlType::Q8_0, q8, 32);
  for (size_t i = 0; i < 32; ++i) EXPECT_NEAR(y8[i], x[i], 4.0 / 127 / 2 + 1e-3) << i;

  const std::string q4 = ggml_encode(GgmlType::Q4_0, x.data(), 32);
  ASSERT_EQ(q4.size(), 18u);
  // d = max / -8 = -4 / -8 = 0.5; q = trunc(x / 0.5 + 8.5) capped at 15: x = -4 -> 0, x = 0 -> 8, x = 3.75 -> 15.
  EXPECT_EQ(at<uint16_t>(q4, 0), float_to_float16(0.5f));
  EXPECT_EQ(at<uint8_t>(q4, 2) & 0x0f, 0);           // x[0] = -4
  EXPECT_EQ(at<uint8_t>(q4, 2) >> 4, 8);             // x[16] = 0
  EXPECT_EQ(at<uint8_t>(q4, 2 + 15) >> 4, 15);       // x[31] = 3.75 -> 7.5 + 8.5 = 16, capped at 15
  const std::vector<float> y4 = ggml_decode(GgmlType::Q4_0, q4, 32);
  EXPECT_EQ(y4[0], -4.0f);
  EXPECT_EQ(y4[16], 0.0f);
  for (size_t i = 0; i < 32; ++i) EXPECT_NEAR(y4[i], x[i], 0.5) << i;
  // All zeros: a zero scale, zero values.
  std::vector<float> z(32, 0.0f);
  for (float v : ggml_decode(GgmlType::Q4_0, ggml_encode(GgmlType::Q4_0, z.data(), 32), 32)) EXPECT_EQ(v, 0.0f);
  EXPECT_THROW(ggml_encode(GgmlType::Q8_0, x.data(), 31), Error);
}

}  // namespace prefer::io
