// Loading: F32/BF16/F16 weights, single-file and sharded checkpoints, and the errors that name tensors.
#include "model/loader.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "io/checkpoint.h"
#include "model_test_util.h"

namespace prefer::model {
namespace {

namespace fs = std::filesystem;
using prefer::test::TempDir;
using test::model_fixture;

// Writes `tensors` (name -> tensor) as a checkpoint in `dir` with llama-tiny's config (`dtype_name` as
// torch_dtype) and optional edits to the config.
void write_folder(const fs::path& dir, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                  const std::string& dtype_name, uint64_t shard_bytes = 5ull << 30, Json config_edits = Json::object()) {
  fs::create_directories(dir);
  Json cfg = read_json_file(model_fixture("llama-tiny") / "config.json");
  cfg["torch_dtype"] = dtype_name;
  for (auto it = config_edits.begin(); it != config_edits.end(); ++it) cfg[it.key()] = it.value();
  write_json_file(dir / "config.json", cfg);
  std::vector<at::Tensor> keep(tensors.size());
  std::vector<io::TensorData> data;
  for (size_t i = 0; i < tensors.size(); ++i) data.push_back(tensor_data(tensors[i].first, tensors[i].second, keep[i]));
  io::write_checkpoint(dir, data, shard_bytes);
}

std::vector<std::pair<std::string, at::Tensor>> fixture_tensors(at::ScalarType dtype) {
  CausalLM m = load_model(model_fixture("llama-tiny"));
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (auto& [n, t] : m.named_parameters()) out.emplace_back(n, t.to(dtype));
  return out;
}

TEST(Loader, ShardedBfloat16CheckpointLoadsExactly) {
  TempDir tmp;
  auto bf16 = fixture_tensors(at::kBFloat16);
  write_folder(tmp.path(), bf16, "bfloat16", /*shard_bytes=*/100 * 1024);
  ASSERT_TRUE(fs::exists(tmp / "model.safetensors.index.json"));
  ASSERT_GE(io::Checkpoint::open_folder(tmp.path()).shards().size(), 3u);

  // fp32 compute: every weight is the bf16 value upcast exactly.
  CausalLM m = load_model(tmp.path());
  EXPECT_EQ(m.dtype(), at::kFloat);
  auto loaded = m.named_parameters();
  ASSERT_EQ(loaded.size(), bf16.size());
  for (size_t i = 0; i < loaded.size(); ++i) {
    EXPECT_EQ(loaded[i].first, bf16[i].first);
    EXPECT_TRUE(at::equal(loaded[i].second, bf16[i].second.to(at::kFloat))) << loaded[i].first;
  }
  // bf16 compute: the logits stay near the fp32 ones (HF's bf16 arithmetic differs by ~1e-2).
  CausalLM mb = load_model(tmp.path(), {.dtype = at::kBFloat16});
  EXPECT_EQ(mb.slot(Slot::Embed).scalar_type(), at::kBFloat16);
  auto b = test::fixture_batch("llama-tiny", "left");
  at::NoGradGuard ng;
  at::Tensor l32 = m.logits(m.forward(b.ids, b.positions, {.key_mask = b.mask}));
  at::Tensor l16 = mb.logits(mb.forward(b.ids, b.positions, {.key_mask = b.mask}));
  EXPECT_EQ(l16.scalar_type(), at::kBFloat16);
  EXPECT_LT(test::max_abs_diff_at(l16, l32, b.mask), 3e-2);
}

TEST(Loader, Float16WeightsAreUpcast) {
  TempDir tmp;
  auto f16 = fixture_tensors(at::kHalf);
  write_folder(tmp.path(), f16, "float16");
  CausalLM m = load_model(tmp.path());
  auto loaded = m.named_parameters();
  for (size_t i = 0; i < loaded.size(); ++i) EXPECT_TRUE(at::equal(loaded[i].second, f16[i].second.to(at::kFloat)));
}

TEST(Loader, MissingTensorsAreListedByName) {
  TempDir tmp;
  auto t = fixture_tensors(at::kFloat);
  t.erase(std::remove_if(t.begin(), t.end(), [](auto& p) { return p.first.find("layers.1.mlp") != std::string::npos; }), t.end());
  write_folder(tmp.path(), t, "float32");
  EXPECT_ERROR_WITH(load_model(tmp.path()), "missing 3 tensor(s)", "model.layers.1.mlp.down_proj.weight",
                    "model.layers.1.mlp.up_proj.weight", "model.safetensors");
}

TEST(Loader, UnexpectedTensorsAreListedByName) {
  TempDir tmp;
  auto t = fixture_tensors(at::kFloat);
  t.emplace_back("model.layers.0.self_attn.q_proj.bias", at::zeros({64}));
  t.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq", at::zeros({8}));  // ignored, as HF does
  write_folder(tmp.path(), t, "float32");
  EXPECT_ERROR_WITH(load_model(tmp.path()), "unexpected 1 tensor(s)", "model.layers.0.self_attn.q_proj.bias",
                    "LlamaForCausalLM");
}

TEST(Loader, ShapeMismatchNamesTheTensorAndBothShapes) {
  TempDir tmp;
  auto t = fixture_tensors(at::kFloat);
  write_folder(tmp.path(), t, "float32", 5ull << 30, {{"num_key_value_heads", 4}});
  EXPECT_ERROR_WITH(load_model(tmp.path()), "model.layers.0.self_attn.k_proj.weight", "[32, 64]", "[64, 64]");
}

TEST(Loader, IntegerWeightsAreRejected) {
  TempDir tmp;
  auto t = fixture_tensors(at::kFloat);
  t[0].second = t[0].second.to(at::kInt);
  write_folder(tmp.path(), t, "float32");
  EXPECT_ERROR_WITH(load_model(tmp.path()), "model.embed_tokens.weight", "I32");
}

TEST(Loader, UnsupportedArchitectureNamesTheSupportedOnes) {
  TempDir tmp;
  write_folder(tmp.path(), fixture_tensors(at::kFloat), "float32", 5ull << 30, {{"architectures", {"GPT2LMHeadModel"}}});
  EXPECT_ERROR_WITH(load_model(tmp.path()), "GPT2LMHeadModel", "LlamaForCausalLM", "MistralForCausalLM",
                    "Qwen2ForCausalLM", "Qwen3ForCausalLM", "GemmaForCausalLM");
}

TEST(Loader, TiedCheckpointMayCarryAnLmHeadCopy) {
  TempDir tmp;
  CausalLM q = load_model(model_fixture("qwen2-tiny"));
  auto t = q.named_parameters();
  t.emplace_back("lm_head.weight", q.slot(Slot::Embed));
  fs::create_directories(tmp.path());
  fs::copy_file(model_fixture("qwen2-tiny") / "config.json", tmp / "config.json");
  std::vector<at::Tensor> keep(t.size());
  std::vector<io::TensorData> data;
  for (size_t i = 0; i < t.size(); ++i) data.push_back(tensor_data(t[i].first, t[i].second, keep[i]));
  io::write_checkpoint(tmp.path(), data);
  LoadReport report;
  CausalLM m = load_model(tmp.path(), {}, &report);
  EXPECT_EQ(report.ignored, std::vector<std::string>{"lm_head.weight"});
}

TEST(Loader, CausalCheckpointUnderANewScalarHead) {
  LoadReport report;
  CausalLM m = load_model(model_fixture("llama-tiny"),
                          {.head = io::HeadKind::SequenceClassification, .num_labels = 1, .head_seed = 3}, &report);
  EXPECT_EQ(m.config().architecture, "LlamaForSequenceClassification");
  EXPECT_EQ(report.initialized, std::vector<std::string>{"score.weight"});
  EXPECT_EQ(report.ignored, std::vector<std::string>{"lm_head.weight"});
  at::Tensor s = m.slot(Slot::Score);
  ASSERT_EQ(s.sizes(), at::IntArrayRef({1, 64}));
  // normal(0, initializer_range = 0.02)
  EXPECT_GT(s.std().item<double>(), 0.01);
  EXPECT_LT(s.std().item<double>(), 0.04);
}

}  // namespace
}  // namespace prefer::model
