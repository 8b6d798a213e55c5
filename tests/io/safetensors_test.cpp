#include "io/safetensors.h"

#include <cstring>

#include "test_util.h"
#include "util/error.h"
#include "util/file.h"
#include "util/json.h"

namespace prefer::io {

namespace {

// A safetensors file from a hand-written header (no padding logic of ours involved) and raw data.
std::string make_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);  // x86-64 is little-endian, as the format requires
  return out + header + data;
}

}  // namespace

TEST(Safetensors, ReadsAHandBuiltFile) {
  test::TempDir tmp;
  float f[2] = {1.5f, -2.0f};
  int64_t i = 42;
  std::string data(reinterpret_cast<char*>(f), 8);
  data += std::string(reinterpret_cast<char*>(&i), 8);
  test::write_bytes(tmp / "a.safetensors",
                    make_file(R"({"b":{"dtype":"I64","shape":[],"data_offsets":[8,16]},)"
                              R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}})",
                              data));
  SafetensorsFile st(tmp / "a.safetensors");
  ASSERT_EQ(st.tensors().size(), 2u);
  EXPECT_EQ(st.tensors()[0].name, "a");  // name order
  EXPECT_EQ(st.metadata().at("k"), "v");
  TensorView a = st.view("a");
  EXPECT_EQ(a.nbytes, 8u);
  // This hand-built header is not padded to 8 bytes, so views may be unaligned: read through memcpy.
  float a1;
  std::memcpy(&a1, a.data + 4, 4);
  EXPECT_EQ(a1, -2.0f);
  TensorView b = st.view("b");
  EXPECT_EQ(b.info->numel(), 1);  // a scalar: empty shape
  int64_t b0;
  std::memcpy(&b0, b.data, 8);
  EXPECT_EQ(b0, 42);
  EXPECT_ERROR_WITH(st.view("c"), "a.safetensors", "'c'", "no such tensor");
}

TEST(Safetensors, WriteThenReadRoundTripsEveryDtype) {
  test::TempDir tmp;
  std::vector<std::string> bufs;
  std::vector<TensorData> ts;
  const char* names[] = {"BOOL", "U8", "I8", "I16", "I32", "I64", "F16", "BF16", "F32", "F64"};
  for (int k = 0; k < 10; ++k) {
    DType d = *parse_dtype(names[k]);
    std::vector<int64_t> shape = {2, 3};
    std::string b(6 * dtype_size(d), '\0');
    for (size_t j = 0; j < b.size(); ++j) b[j] = static_cast<char>(k * 31 + j);
    bufs.push_back(b);
    ts.push_back({std::string("t.") + names[k], d, shape, nullptr, b.size()});
  }
  ts.push_back({"empty", DType::F32, {0, 4}, nullptr, 0});
  for (size_t k = 0; k < bufs.size(); ++k) ts[k].data = bufs[k].data();
  write_safetensors(tmp / "rt.safetensors", ts);

  std::string raw = read_file(tmp / "rt.safetensors");
  uint64_t n;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ(n % 8, 0u);                                      // aligned data area
  EXPECT_EQ(raw.substr(8, 31), R"({"__metadata__":{"format":"pt"})");  // metadata first

  SafetensorsFile st(tmp / "rt.safetensors");
  EXPECT_EQ(st.metadata().at("format"), "pt");
  for (size_t k = 0; k < bufs.size(); ++k) {
    TensorView v = st.view(ts[k].name);
    EXPECT_EQ(v.info->dtype, ts[k].dtype);
    EXPECT_EQ(v.info->shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.data), v.nbytes), bufs[k]);
  }
  EXPECT_EQ(st.view("empty").nbytes, 0u);
}

TEST(Safetensors, RewritingAFixtureReproducesItByteForByte) {
  // The fixtures were written by an independent writer; our reader + writer must give the same bytes.
  for (const char* rel : {"models/llama-tiny/model.safetensors", "models/qwen2-tiny/model.safetensors",
                          "models/llama-tiny/expected.safetensors"}) {
    test::TempDir tmp;
    SafetensorsFile st(test::fixture(rel));
    std::vector<TensorData> ts;
    for (const auto& t : st.tensors()) {
      TensorView v = st.view(t);
      ts.push_back({t.name, t.dtype, t.shape, v.data, v.nbytes});
    }
    write_safetensors(tmp / "copy.safetensors", ts, st.metadata());
    EXPECT_EQ(read_file(tmp / "copy.safetensors"), read_file(test::fixture(rel))) << rel;
  }
}

TEST(Safetensors, FixtureValuesMatchTheirJsonDescription) {
  // expected.safetensors stores copies of case.json's integer batches: compare them exactly.
  SafetensorsFile st(test::fixture("models/llama-tiny/expected.safetensors"));
  Json c = read_json_file(test::fixture("models/llama-tiny/case.json"));
  for (const Json& batch : c["batches"]) {
    std::string side = batch["padding_side"];
    for (const char* what : {"input_ids", "attention_mask", "position_ids"}) {
      TensorView v = st.view(std::string(what) + "_" + side);
      ASSERT_EQ(v.info->dtype, DType::I64);
      const auto* p = reinterpret_cast<const int64_t*>(v.data);
      std::vector<int64_t> flat;
      for (const Json& row : batch[what])
        for (const Json& x : row) flat.push_back(x.get<int64_t>());
      ASSERT_EQ(flat.size(), static_cast<size_t>(v.info->numel()));
      EXPECT_TRUE(std::equal(flat.begin(), flat.end(), p)) << what << "_" << side;
    }
  }
  TensorView lens = st.view("seq_lengths");
  for (size_t b = 0; b < 3; ++b)
    EXPECT_EQ(reinterpret_cast<const int64_t*>(lens.data)[b], c["sequences"][b]["length"].get<int64_t>());
  // And the weights have the shapes config.json implies: 3 layers x 9 + embed + norm + lm_head.
  SafetensorsFile w(test::fixture("models/llama-tiny/model.safetensors"));
  EXPECT_EQ(w.tensors().size(), 30u);
  EXPECT_EQ(w.find("model.layers.2.self_attn.k_proj.weight")->shape, (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(w.find("model.layers.0.mlp.down_proj.weight")->shape, (std::vector<int64_t>{64, 160}));
}

// ---- bad input: one clear sentence naming the file and the tensor -------------------------------------

class BadSafetensors : public ::testing::Test {
 protected:
  test::TempDir tmp;
  std::filesystem::path write(const std::string& bytes) {
    auto p = tmp / "bad.safetensors";
    test::write_bytes(p, bytes);
    return p;
  }
  std::string eight_floats = std::string(32, '\x01');
};

TEST_F(BadSafetensors, TooShortForAHeader) {
  EXPECT_ERROR_WITH(SafetensorsFile(write("abc")), "bad.safetensors", "too short");
}

TEST_F(BadSafetensors, HeaderLengthPastTheEnd) {
  std::string f = make_file(R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", eight_floats);
  uint64_t huge = f.size();  // claims more header than the file holds
  std::memcpy(f.data(), &huge, 8);
  EXPECT_ERROR_WITH(SafetensorsFile(write(f)), "bad.safetensors", "runs past the end of the file");
  uint64_t absurd = 1ull << 40;
  std::memcpy(f.data(), &absurd, 8);
  EXPECT_ERROR_WITH(SafetensorsFile(write(f)), "exceeds the 100 MB limit");
}

TEST_F(BadSafetensors, TruncatedData) {
  std::string f = make_file(R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", eight_floats);
  EXPECT_ERROR_WITH(SafetensorsFile(write(f.substr(0, f.size() - 5))), "bad.safetensors", "'a'",
                    "past the data area", "truncated");
}

TEST_F(BadSafetensors, HeaderNotJson) {
  EXPECT_ERROR_WITH(SafetensorsFile(write(make_file(R"({"a":{"dtype":)", eight_floats))), "bad.safetensors",
                    "header is not valid JSON");
  EXPECT_ERROR_WITH(SafetensorsFile(write(make_file("[1,2]", ""))), "header is an array, expected an object");
}

TEST_F(BadSafetensors, UnknownDtype) {
  EXPECT_ERROR_WITH(SafetensorsFile(write(make_file(R"({"w":{"dtype":"F7","shape":[8],"data_offsets":[0,32]}})",
                                                    eight_floats))),
                    "bad.safetensors", "'w'", "unknown dtype 'F7'", "supported: BOOL");
}

TEST_F(BadSafetensors, ShapeAndByteSizeDisagree) {
  EXPECT_ERROR_WITH(SafetensorsFile(write(make_file(R"({"w":{"dtype":"F32","shape":[3,3],"data_offsets":[0,32]}})",
                                                    eight_floats))),
                    "'w'", "holds 32 bytes but dtype F32 x shape needs 36");
}

TEST_F(BadSafetensors, OverlappingOffsets) {
  EXPECT_ERROR_WITH(
      SafetensorsFile(write(make_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                      R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]},)"
                                      R"("c":{"dtype":"F32","shape":[2],"data_offsets":[24,32]}})",
                                      eight_floats))),
      "bad.safetensors", "'b'", "overlap tensor 'a'");
}

TEST_F(BadSafetensors, GapsAndUncoveredBytes) {
  EXPECT_ERROR_WITH(SafetensorsFile(write(make_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}})",
                                                    eight_floats))),
                    "'a'", "gap in the data area");
  EXPECT_ERROR_WITH(SafetensorsFile(write(make_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                                                    eight_floats))),
                    "16 bytes that no tensor covers");
}

TEST_F(BadSafetensors, MalformedEntries) {
  EXPECT_ERROR_WITH(SafetensorsFile(write(make_file(R"({"a":{"dtype":"F32","shape":[-8],"data_offsets":[0,32]}})",
                                                    eight_floats))),
                    "'a'", "negative dimension");
  EXPECT_ERROR_WITH(SafetensorsFile(write(make_file(R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[32,0]}})",
                                                    eight_floats))),
                    "'a'", "begin > end");
  EXPECT_ERROR_WITH(SafetensorsFile(write(make_file(R"({"a":{"dtype":"F32","shape":[8]}})", eight_floats))),
                    "'a'", "data_offsets must be");
  EXPECT_ERROR_WITH(SafetensorsFile(write(make_file(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,32]}})",
                                                    eight_floats))),
                    "'a'", "overflows");
  EXPECT_ERROR_WITH(SafetensorsFile(write(make_file(R"({"__metadata__":{"format":1}})", ""))), "is not a string");
}

TEST(SafetensorsWrite, RejectsInconsistentInput) {
  test::TempDir tmp;
  float x[4] = {};
  EXPECT_ERROR_WITH(write_safetensors(tmp / "o.safetensors", {{"w", DType::F32, {3}, x, 16}}), "'w'",
                    "does not match");
  EXPECT_ERROR_WITH(write_safetensors(tmp / "o.safetensors", {{"w", DType::F32, {4}, x, 16}, {"w", DType::F32, {4}, x, 16}}),
                    "appears twice");
  EXPECT_FALSE(std::filesystem::exists(tmp / "o.safetensors"));
}

}  // namespace prefer::io
