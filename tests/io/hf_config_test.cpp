#include "io/hf_config.h"

#include "test_util.h"
#include "util/error.h"

namespace prefer::io {

namespace {
Json base(const std::string& arch = "LlamaForCausalLM") {
  return {{"architectures", {arch}}, {"vocab_size", 320}, {"hidden_size", 64}, {"intermediate_size", 160},
          {"num_hidden_layers", 2}, {"num_attention_heads", 4}};
}
}  // namespace

TEST(HfConfig, ReadsTheLlamaFixture) {
  ModelConfig c = read_model_config(test::fixture("models/llama-tiny/config.json"));
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.family, ModelFamily::Llama);
  EXPECT_EQ(c.head, HeadKind::CausalLM);
  EXPECT_EQ(c.num_hidden_layers, 3);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.num_kv_groups(), 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.rope_scaling.type, "default");
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_EQ(c.activation, Activation::SiLU);
  EXPECT_EQ(c.layer_window, (std::vector<int64_t>{0, 0, 0}));
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2}));
  EXPECT_EQ(c.torch_dtype, "float32");
}

TEST(HfConfig, ReadsTheQwen2FixtureAndIgnoresItsDisabledWindow) {
  ModelConfig c = read_model_config(test::fixture("models/qwen2-tiny/config.json"));
  EXPECT_EQ(c.family, ModelFamily::Qwen2);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.o_bias);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.layer_window, (std::vector<int64_t>{0, 0}));  // use_sliding_window: false
}

TEST(HfConfig, FamilyFeatures) {
  Json m = base("MistralForCausalLM");
  m["sliding_window"] = 8;
  EXPECT_EQ(parse_model_config(m).layer_window, (std::vector<int64_t>{8, 8}));
  m["sliding_window"] = nullptr;
  EXPECT_EQ(parse_model_config(m).layer_window, (std::vector<int64_t>{0, 0}));

  Json q = base("Qwen2ForCausalLM");
  q["use_sliding_window"] = true;
  q["sliding_window"] = 16;
  q["max_window_layers"] = 1;
  EXPECT_EQ(parse_model_config(q).layer_window, (std::vector<int64_t>{0, 16}));

  Json q3 = base("Qwen3ForCausalLM");
  q3["head_dim"] = 32;  // 4 x 32 = 128 != hidden 64: explicit head_dim wins
  ModelConfig c3 = parse_model_config(q3);
  EXPECT_TRUE(c3.qk_norm);
  EXPECT_EQ(c3.head_dim, 32);
  EXPECT_FALSE(c3.qkv_bias);

  Json g = base("GemmaForCausalLM");
  g["hidden_act"] = "gelu_pytorch_tanh";
  g["hidden_activation"] = "gelu_pytorch_tanh";
  ModelConfig cg = parse_model_config(g);
  EXPECT_TRUE(cg.norm_plus_one);
  EXPECT_TRUE(cg.scale_embeddings);
  EXPECT_TRUE(cg.tie_word_embeddings);  // Gemma's default
  EXPECT_EQ(cg.activation, Activation::GeluTanh);
  EXPECT_TRUE(cg.warnings.empty());

  Json g1 = base("GemmaForCausalLM");
  g1["hidden_act"] = "gelu";  // what Gemma 1.0 checkpoints carry
  ModelConfig cg1 = parse_model_config(g1);
  EXPECT_EQ(cg1.activation, Activation::GeluTanh);
  ASSERT_EQ(cg1.warnings.size(), 1u);

  Json l = base();
  l["attention_bias"] = true;
  l["mlp_bias"] = true;
  ModelConfig cl = parse_model_config(l);
  EXPECT_TRUE(cl.qkv_bias && cl.o_bias && cl.mlp_bias);
}

TEST(HfConfig, LayerTypesOverrideTheWindowRules) {
  Json j = base("Qwen3ForCausalLM");
  j["sliding_window"] = 4;
  j["layer_types"] = {"sliding_attention", "full_attention"};
  EXPECT_EQ(parse_model_config(j).layer_window, (std::vector<int64_t>{4, 0}));
  j["layer_types"] = {"full_attention"};
  EXPECT_ERROR_WITH(parse_model_config(j), "'layer_types'", "has 1 entries but num_hidden_layers is 2");
  j["layer_types"] = {"full_attention", "chunked"};
  EXPECT_ERROR_WITH(parse_model_config(j), "unknown layer type 'chunked'");
}

TEST(HfConfig, RopeScalingLlama3AndLinear) {
  Json j = base();
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  ModelConfig c = parse_model_config(j);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};  // legacy key
  EXPECT_EQ(parse_model_config(j).rope_scaling.type, "linear");
  j["rope_scaling"] = {{"type", "yarn"}, {"factor", 2.0}};
  EXPECT_ERROR_WITH(parse_model_config(j), "'rope_scaling.rope_type'", "unsupported rope scaling type 'yarn'",
                    "linear, llama3");
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  EXPECT_ERROR_WITH(parse_model_config(j), "'rope_scaling.low_freq_factor'", "missing");
}

TEST(HfConfig, Transformers5Names) {
  Json j = base();
  j["dtype"] = "bfloat16";
  j["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 32.0},
                          {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                          {"original_max_position_embeddings", 8192}};
  ModelConfig c = parse_model_config(j);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 10000.0}};
  EXPECT_EQ(parse_model_config(j).rope_scaling.type, "default");
}

TEST(HfConfig, ContradictionsAreErrors) {
  Json j = base();
  j["torch_dtype"] = "float32";
  j["dtype"] = "bfloat16";
  EXPECT_ERROR_WITH(parse_model_config(j, "m/config.json"), "m/config.json", "'dtype'", "torch_dtype is 'float32'");
  j = base();
  j["rope_theta"] = 10000.0;
  j["rope_parameters"] = {{"rope_theta", 500000.0}};
  EXPECT_ERROR_WITH(parse_model_config(j), "'rope_theta'", "rope_parameters.rope_theta");
  j = base();
  j["model_type"] = "qwen2";
  EXPECT_ERROR_WITH(parse_model_config(j), "'model_type'", "LlamaForCausalLM");
}

TEST(HfConfig, MissingAndInvalidFields) {
  Json j = base();
  j.erase("hidden_size");
  EXPECT_ERROR_WITH(parse_model_config(j, "x/config.json"), "x/config.json", "'hidden_size'", "missing");
  j = base();
  j["num_key_value_heads"] = 3;
  EXPECT_ERROR_WITH(parse_model_config(j), "'num_key_value_heads'", "multiple");
  j = base();
  j["hidden_size"] = 66;
  EXPECT_ERROR_WITH(parse_model_config(j), "'head_dim'", "not divisible");
  j = base();
  j["num_hidden_layers"] = 0;
  EXPECT_ERROR_WITH(parse_model_config(j), "'num_hidden_layers'", "must be > 0");
  j = base();
  j["eos_token_id"] = {2, 999};
  EXPECT_ERROR_WITH(parse_model_config(j), "'eos_token_id'", "outside the vocabulary");
  j = base();
  j["hidden_act"] = "relu2";
  EXPECT_ERROR_WITH(parse_model_config(j), "'hidden_act'", "unsupported activation");
  j = base();
  j["vocab_size"] = "320";
  EXPECT_ERROR_WITH(parse_model_config(j), "'vocab_size'", "expected an integer, found a string");
}

TEST(HfConfig, UnsupportedArchitectureNamesTheSupportedOnes) {
  EXPECT_ERROR_WITH(parse_model_config(base("GPT2LMHeadModel")), "'architectures'", "unsupported architecture",
                    "LlamaForCausalLM", "Qwen3ForCausalLM", "GemmaForCausalLM");
  EXPECT_ERROR_WITH(parse_model_config(base("LLamaForCausalLM")), "did you mean LlamaForCausalLM");
}

TEST(HfConfig, SequenceClassificationHead) {
  Json j = base("Qwen2ForSequenceClassification");
  j["num_labels"] = 1;
  ModelConfig c = parse_model_config(j);
  EXPECT_EQ(c.head, HeadKind::SequenceClassification);
  EXPECT_EQ(c.num_labels, 1);
  j.erase("num_labels");
  j["id2label"] = {{"0", "LABEL_0"}};
  EXPECT_EQ(parse_model_config(j).num_labels, 1);
}

TEST(HfConfig, NotJsonIsAnErrorWithFileAndLine) {
  test::TempDir tmp;
  test::write_bytes(tmp / "config.json", "{\n \"hidden_size\": 64,\n oops\n}");
  EXPECT_ERROR_WITH(read_model_config(tmp / "config.json"), "config.json:3", "invalid JSON");
}

}  // namespace prefer::io
