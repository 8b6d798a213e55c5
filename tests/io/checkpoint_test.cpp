#include "io/checkpoint.h"

#include <cstring>

#include "test_util.h"
#include "util/error.h"
#include "util/json.h"

namespace prefer::io {
namespace fs = std::filesystem;

namespace {
std::vector<TensorData> tensors_of(const Checkpoint& c) {
  std::vector<TensorData> out;
  for (const auto& n : c.names()) {
    TensorView v = c.view(n);
    out.push_back({n, v.info->dtype, v.info->shape, v.data, v.nbytes});
  }
  return out;
}
}  // namespace

TEST(Checkpoint, OpensASingleFileFolder) {
  Checkpoint c = Checkpoint::open_folder(test::fixture("models/qwen2-tiny"));
  EXPECT_TRUE(c.index_path().empty());
  EXPECT_EQ(c.shards().size(), 1u);
  EXPECT_TRUE(c.contains("model.layers.1.self_attn.q_proj.bias"));
  EXPECT_FALSE(c.contains("lm_head.weight"));  // tied embeddings
  // 320x64 embed + 2 x (q 64x64+64, k 32x64+32, v 32x64+32, o 64x64, mlp 3x160x64, 2 norms 64) + norm 64
  int64_t per_layer = (64 * 64 + 64) + 2 * (32 * 64 + 32) + 64 * 64 + 3 * 160 * 64 + 2 * 64;
  EXPECT_EQ(c.total_elements(), 320 * 64 + 2 * per_layer + 64);
  EXPECT_EQ(c.total_bytes(), static_cast<uint64_t>(c.total_elements()) * 4);
}

TEST(Checkpoint, ShardedWriteAndReadGiveTheSameTensors) {
  test::TempDir tmp;
  Checkpoint src = Checkpoint::open_folder(test::fixture("models/llama-tiny"));
  write_checkpoint(tmp.path(), tensors_of(src), 200'000);  // ~685 KB of weights -> several shards
  ASSERT_TRUE(fs::exists(tmp / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(tmp / "model.safetensors"));
  Json index = read_json_file(tmp / "model.safetensors.index.json");
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), src.total_bytes());
  Checkpoint back = Checkpoint::open_folder(tmp.path());
  EXPECT_GT(back.shards().size(), 2u);
  EXPECT_EQ(back.names(), src.names());
  for (const auto& n : src.names()) {
    TensorView a = src.view(n), b = back.view(n);
    ASSERT_EQ(a.nbytes, b.nbytes);
    EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << n;
  }
  EXPECT_NE(back.file_of("lm_head.weight").filename().string().find("-of-"), std::string::npos);
}

TEST(Checkpoint, SmallCheckpointStaysOneFile) {
  test::TempDir tmp;
  Checkpoint src = Checkpoint::open_folder(test::fixture("models/llama-tiny"));
  write_checkpoint(tmp.path(), tensors_of(src));
  EXPECT_TRUE(fs::exists(tmp / "model.safetensors"));
  EXPECT_FALSE(fs::exists(tmp / "model.safetensors.index.json"));
}

TEST(Checkpoint, IndexNamingAMissingShardIsAnError) {
  test::TempDir tmp;
  Checkpoint src = Checkpoint::open_folder(test::fixture("models/llama-tiny"));
  write_checkpoint(tmp.path(), tensors_of(src), 200'000);
  std::string shard = read_json_file(tmp / "model.safetensors.index.json")["weight_map"]["model.norm.weight"];
  fs::remove(tmp / shard);
  const std::string expected = "names shard '" + shard + "', which does not exist";
  EXPECT_ERROR_WITH(Checkpoint::open_folder(tmp.path()), "model.safetensors.index.json", "weight_map.",
                    expected.c_str(), "incomplete");
}

TEST(Checkpoint, IndexAssigningATensorToTheWrongShardIsAnError) {
  test::TempDir tmp;
  float x[2] = {1, 2};
  write_safetensors(tmp / "a.safetensors", {{"w", DType::F32, {2}, x, 8}});
  write_json_file(tmp / "model.safetensors.index.json", {{"weight_map", {{"w", "a.safetensors"}, {"v", "a.safetensors"}}}});
  EXPECT_ERROR_WITH(Checkpoint::open_folder(tmp.path()), "'weight_map.v'", "does not hold it");
  write_json_file(tmp / "model.safetensors.index.json", {{"weight_map", {{"w", "../a.safetensors"}}}});
  EXPECT_ERROR_WITH(Checkpoint::open_folder(tmp.path()), "must be a file name in the same folder");
  write_json_file(tmp / "model.safetensors.index.json", {{"metadata", {}}});
  EXPECT_ERROR_WITH(Checkpoint::open_folder(tmp.path()), "'weight_map'", "missing");
}

TEST(Checkpoint, FolderWithoutWeightsListsWhatItHas) {
  test::TempDir tmp;
  test::write_bytes(tmp / "pytorch_model.bin", "x");
  test::write_bytes(tmp / "config.json", "{}");
  EXPECT_ERROR_WITH(Checkpoint::open_folder(tmp.path()), "no safetensors weights",
                    "config.json, pytorch_model.bin", "convert them to safetensors");
}

TEST(Checkpoint, UnknownTensorNameIsAnError) {
  Checkpoint c = Checkpoint::open_folder(test::fixture("models/llama-tiny"));
  EXPECT_ERROR_WITH(c.view("model.layers.9.mlp.up_proj.weight"), "model.safetensors", "no such tensor");
}

}  // namespace prefer::io
