// Saving: the folder reads back (through this loader) to identical logits, for single-file and sharded
// checkpoints, bf16 weights, merged LoRA, scalar heads and models built from a config struct.
#include "model/save.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "io/checkpoint.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/scalar_head.h"
#include "model_test_util.h"

namespace prefer::model {
namespace {

namespace fs = std::filesystem;
using prefer::test::TempDir;
using test::model_fixture;

at::Tensor logits_of(const CausalLM& m, const std::string& fixture = "llama-tiny") {
  auto b = test::fixture_batch(fixture, "right");
  at::NoGradGuard ng;
  return m.logits(m.forward(b.ids, b.positions, {.key_mask = b.mask})).index({b.mask.to(at::kBool)});
}

TEST(Save, RoundTripGivesIdenticalLogitsAndCopiesTokenizerFiles) {
  TempDir tmp;
  CausalLM m = load_model(model_fixture("llama-tiny"));
  save_pretrained(m, tmp / "out");
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
    EXPECT_TRUE(fs::exists(tmp / "out" / f)) << f;
  Json gen = read_json_file(tmp / "out" / "generation_config.json");
  EXPECT_EQ(gen["bos_token_id"], 1);
  EXPECT_EQ(gen["eos_token_id"], 2);
  Json cfg = read_json_file(tmp / "out" / "config.json");
  EXPECT_EQ(cfg["torch_dtype"], "float32");
  EXPECT_EQ(cfg["architectures"], Json({"LlamaForCausalLM"}));
  CausalLM back = load_model(tmp / "out");
  EXPECT_TRUE(at::equal(logits_of(back), logits_of(m)));
  // Saving again replaces the folder.
  save_pretrained(back, tmp / "out");
  EXPECT_TRUE(at::equal(logits_of(load_model(tmp / "out")), logits_of(m)));
}

TEST(Save, ShardsAtTheSizeLimitWithAnIndex) {
  TempDir tmp;
  CausalLM m = load_model(model_fixture("qwen2-tiny"));
  save_pretrained(m, tmp / "out", {.max_shard_bytes = 100 * 1024});
  ASSERT_TRUE(fs::exists(tmp / "out" / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(tmp / "out" / "model.safetensors"));
  auto ck = io::Checkpoint::open_folder(tmp / "out");
  EXPECT_GE(ck.shards().size(), 3u);
  for (const auto& s : ck.shards()) EXPECT_LE(fs::file_size(s->path()), 100u * 1024 + 4096);
  EXPECT_FALSE(ck.contains("lm_head.weight"));  // tied
  EXPECT_TRUE(at::equal(logits_of(load_model(tmp / "out"), "qwen2-tiny"), logits_of(m, "qwen2-tiny")));
}

TEST(Save, Bfloat16Weights) {
  TempDir tmp;
  CausalLM m = load_model(model_fixture("llama-tiny"));
  save_pretrained(m, tmp / "out", {.dtype = at::kBFloat16});
  EXPECT_EQ(read_json_file(tmp / "out" / "config.json")["torch_dtype"], "bfloat16");
  auto ck = io::Checkpoint::open_folder(tmp / "out");
  EXPECT_EQ(ck.info("model.norm.weight").dtype, io::DType::BF16);
  CausalLM back = load_model(tmp / "out");
  auto a = back.named_parameters(), b = m.named_parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i].second, b[i].second.to(at::kBFloat16).to(at::kFloat)));
}

TEST(Save, LoraIsMergedIntoTheSavedWeights) {
  TempDir tmp;
  CausalLM m = load_model(model_fixture("llama-tiny"));
  LoraConfig c{.r = 2, .lora_alpha = 4, .target_modules = {"all-linear"}};
  add_lora(m, c, 1);
  {
    at::NoGradGuard ng;
    for (auto& [n, t] : lora_parameters(m, c)) t.normal_(0, 0.05);
  }
  at::Tensor adapted = logits_of(m);
  save_pretrained(m, tmp / "out");
  EXPECT_TRUE(has_lora(m));  // the model itself is unchanged
  EXPECT_LT((logits_of(load_model(tmp / "out")) - adapted).abs().max().item<double>(), 1e-5);
  merge_lora(m);
  EXPECT_LT((logits_of(m) - adapted).abs().max().item<double>(), 1e-5);
}

TEST(Save, ScalarHeadModelSavesAsSequenceClassification) {
  TempDir tmp;
  CausalLM m = load_model(model_fixture("qwen2-tiny"));
  add_scalar_head(m, 1, 4);
  save_pretrained(m, tmp / "rm");
  Json cfg = read_json_file(tmp / "rm" / "config.json");
  EXPECT_EQ(cfg["architectures"], Json({"Qwen2ForSequenceClassification"}));
  EXPECT_EQ(cfg["num_labels"], 1);
  EXPECT_EQ(cfg["id2label"], Json({{"0", "LABEL_0"}}));
  CausalLM back = load_model(tmp / "rm");
  EXPECT_EQ(back.config().head, io::HeadKind::SequenceClassification);
  auto b = test::fixture_batch("qwen2-tiny", "left");
  at::NoGradGuard ng;
  at::Tensor r0 = scalar_head(m, m.forward(b.ids, b.positions, {.key_mask = b.mask}), b.mask);
  at::Tensor r1 = scalar_head(back, back.forward(b.ids, b.positions, {.key_mask = b.mask}), b.mask);
  EXPECT_TRUE(at::equal(r0, r1));
}

TEST(Save, ConfigWrittenFromTheStructKeepsEveryFeature) {
  for (auto [arch, extra] : std::vector<std::pair<std::string, Json>>{
           {"MistralForCausalLM", {{"sliding_window", 3}}},
           {"Qwen2ForCausalLM", {{"use_sliding_window", true}, {"sliding_window", 2}, {"max_window_layers", 1}}},
           {"Qwen3ForCausalLM", {{"head_dim", 16}}},
           {"GemmaForCausalLM", {{"head_dim", 12}}},
           {"LlamaForCausalLM", {{"attention_bias", true}, {"mlp_bias", true},
                                 {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                                                   {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}}}}}}) {
    TempDir tmp;
    CausalLM m(test::tiny_config(arch, extra));
    test::randomize(m, 3, 0.3);
    save_pretrained(m, tmp / "out");
    CausalLM back = load_model(tmp / "out");
    const auto &a = m.config(), &b = back.config();
    EXPECT_EQ(a.layer_window, b.layer_window) << arch;
    EXPECT_EQ(a.head_dim, b.head_dim) << arch;
    EXPECT_EQ(a.qkv_bias, b.qkv_bias) << arch;
    EXPECT_EQ(a.mlp_bias, b.mlp_bias) << arch;
    EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings) << arch;
    EXPECT_EQ(a.activation, b.activation) << arch;
    EXPECT_EQ(a.rope_scaling.type, b.rope_scaling.type) << arch;
    at::Tensor ids = at::tensor({1, 5, 9, 14, 3, 22, 7, 31}, at::kLong).view({1, 8});
    at::Tensor pos = at::arange(8, at::kLong).view({1, 8});
    at::NoGradGuard ng;
    EXPECT_TRUE(at::equal(back.logits(back.forward(ids, pos, {})), m.logits(m.forward(ids, pos, {})))) << arch;
  }
}

}  // namespace
}  // namespace prefer::model
