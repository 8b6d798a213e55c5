#include "io/model_folder.h"

#include "test_util.h"
#include "util/error.h"

namespace prefer::io {
namespace fs = std::filesystem;

TEST(ModelFolder, FindsEverythingInTheFixture) {
  ModelFolder m = open_model_folder(test::fixture("models/llama-tiny"));
  EXPECT_EQ(m.config.architecture, "LlamaForCausalLM");
  EXPECT_EQ(m.weights.filename(), "model.safetensors");
  EXPECT_EQ(m.tokenizer.tokenizer_json.filename(), "tokenizer.json");
  EXPECT_EQ(m.tokenizer.tokenizer_config_json.filename(), "tokenizer_config.json");
  EXPECT_TRUE(m.tokenizer.chat_template_jinja.empty());
  EXPECT_EQ(m.tokenizer.all().size(), 2u);
  EXPECT_FALSE(m.generation.has_value());
}

TEST(ModelFolder, GenerationConfig) {
  GenerationConfig g = parse_generation_config(
      Json::parse(R"({"bos_token_id": 1, "eos_token_id": [2, 4], "do_sample": true, "temperature": 0.7, "top_p": 0.9})"));
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(g.do_sample, true);
  EXPECT_DOUBLE_EQ(*g.temperature, 0.7);
  EXPECT_FALSE(g.top_k.has_value());
  EXPECT_ERROR_WITH(parse_generation_config(Json::parse(R"({"top_p": 1.5})")), "generation_config.json", "'top_p'");
}

TEST(ModelFolder, ReadsGenerationConfigFromTheFolder) {
  test::TempDir tmp;
  fs::copy(test::fixture("models/qwen2-tiny"), tmp.path(), fs::copy_options::recursive);
  test::write_bytes(tmp / "generation_config.json", R"({"eos_token_id": [2, 4], "max_new_tokens": 64})");
  ModelFolder m = open_model_folder(tmp.path());
  ASSERT_TRUE(m.generation.has_value());
  EXPECT_EQ(m.generation->max_new_tokens, 64);
}

TEST(ModelFolder, ClearErrorsForWrongFolders) {
  test::TempDir tmp;
  EXPECT_ERROR_WITH(open_model_folder(tmp / "nope"), "model folder does not exist");
  EXPECT_ERROR_WITH(open_model_folder(tmp.path()), "'config.json'", "no config.json", "save_pretrained");
  test::write_bytes(tmp / "adapter_config.json", "{}");
  EXPECT_ERROR_WITH(open_model_folder(tmp.path()), "PEFT adapter folder", "base model");
  test::write_bytes(tmp / "config.json", R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 10})");
  EXPECT_ERROR_WITH(open_model_folder(tmp.path()), "config.json", "'hidden_size'", "missing");
}

}  // namespace prefer::io
