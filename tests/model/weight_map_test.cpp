// The per-architecture weight tables: names and shapes as HF saves them.
#include "model/weight_map.h"

#include <gtest/gtest.h>

#include <map>

#include "model_test_util.h"

namespace prefer::model {
namespace {

std::map<std::string, std::vector<int64_t>> specs_of(const io::ModelConfig& c) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& w : weight_specs(c)) out[w.name] = w.shape;
  return out;
}

TEST(WeightMap, LlamaLayout) {
  auto s = specs_of(test::tiny_config("LlamaForCausalLM"));  // hidden 32, 4/2 heads x 8, inter 48, vocab 50
  EXPECT_EQ(s.size(), 1u + 2 * 9 + 1 + 1);
  EXPECT_EQ(s.at("model.embed_tokens.weight"), (std::vector<int64_t>{50, 32}));
  EXPECT_EQ(s.at("model.layers.1.self_attn.q_proj.weight"), (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(s.at("model.layers.1.self_attn.k_proj.weight"), (std::vector<int64_t>{16, 32}));
  EXPECT_EQ(s.at("model.layers.0.self_attn.o_proj.weight"), (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(s.at("model.layers.0.mlp.down_proj.weight"), (std::vector<int64_t>{32, 48}));
  EXPECT_EQ(s.at("model.layers.0.input_layernorm.weight"), (std::vector<int64_t>{32}));
  EXPECT_EQ(s.at("lm_head.weight"), (std::vector<int64_t>{50, 32}));
  EXPECT_FALSE(s.count("model.layers.0.self_attn.q_proj.bias"));
}

TEST(WeightMap, BiasesFollowEachFamilysRule) {
  auto llama = specs_of(test::tiny_config("LlamaForCausalLM", {{"attention_bias", true}, {"mlp_bias", true}}));
  for (const char* n : {"q_proj", "k_proj", "v_proj", "o_proj"})
    EXPECT_TRUE(llama.count(std::string("model.layers.0.self_attn.") + n + ".bias")) << n;
  EXPECT_TRUE(llama.count("model.layers.0.mlp.up_proj.bias"));
  auto qwen2 = specs_of(test::tiny_config("Qwen2ForCausalLM"));
  EXPECT_EQ(qwen2.at("model.layers.0.self_attn.k_proj.bias"), (std::vector<int64_t>{16}));
  EXPECT_FALSE(qwen2.count("model.layers.0.self_attn.o_proj.bias"));
  auto mistral = specs_of(test::tiny_config("MistralForCausalLM", {{"attention_bias", true}}));
  EXPECT_FALSE(mistral.count("model.layers.0.self_attn.q_proj.bias"));
}

TEST(WeightMap, Qwen3QkNormAndExplicitHeadDim) {
  auto s = specs_of(test::tiny_config("Qwen3ForCausalLM", {{"head_dim", 16}, {"tie_word_embeddings", true}}));
  EXPECT_EQ(s.at("model.layers.0.self_attn.q_norm.weight"), (std::vector<int64_t>{16}));
  EXPECT_EQ(s.at("model.layers.0.self_attn.k_norm.weight"), (std::vector<int64_t>{16}));
  EXPECT_EQ(s.at("model.layers.0.self_attn.q_proj.weight"), (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(s.at("model.layers.0.self_attn.o_proj.weight"), (std::vector<int64_t>{32, 64}));
  EXPECT_FALSE(s.count("lm_head.weight"));
}

TEST(WeightMap, GemmaTiesByDefaultAndClassifiersHaveAScore) {
  EXPECT_FALSE(specs_of(test::tiny_config("GemmaForCausalLM")).count("lm_head.weight"));
  auto cls = specs_of(test::tiny_config("LlamaForSequenceClassification", {{"num_labels", 1}}));
  EXPECT_EQ(cls.at("score.weight"), (std::vector<int64_t>{1, 32}));
  EXPECT_FALSE(cls.count("lm_head.weight"));
}

TEST(WeightMap, ModuleNamesForLoraAndPeft) {
  EXPECT_EQ(linear_module_name(Slot::QProj, 3), "model.layers.3.self_attn.q_proj");
  EXPECT_EQ(linear_module_name(Slot::DownProj, 0), "model.layers.0.mlp.down_proj");
  EXPECT_EQ(linear_short_name(Slot::GateProj), "gate_proj");
  EXPECT_EQ(layer_linear_slots().size(), 7u);
  EXPECT_TRUE(is_ignored_checkpoint_tensor("model.layers.0.self_attn.rotary_emb.inv_freq"));
}

}  // namespace
}  // namespace prefer::model
