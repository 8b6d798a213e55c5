#include "text/tokenizer_config.h"

#include "test_util.h"

namespace prefer::text {

TEST(TokenizerConfig, StringAndObjectFormsAndTemplates) {
  TokenizerConfig c = parse_tokenizer_config(Json::parse(R"({
      "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "pad_token": null,
      "add_bos_token": true, "add_eos_token": false, "model_max_length": 1000000000000000019884624838656,
      "clean_up_tokenization_spaces": false,
      "additional_special_tokens": ["<a>", {"content": "<b>"}],
      "chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]})"));
  EXPECT_EQ(c.bos_token, "<s>");
  EXPECT_EQ(c.eos_token, "</s>");
  EXPECT_FALSE(c.pad_token.has_value());
  EXPECT_EQ(c.add_bos_token, true);
  EXPECT_FALSE(c.model_max_length.has_value());  // HF's "no limit" sentinel
  EXPECT_FALSE(c.clean_up_tokenization_spaces);
  EXPECT_EQ(c.additional_special_tokens, (std::vector<std::string>{"<a>", "<b>"}));
  EXPECT_EQ(c.chat_templates.at("tool_use"), "T");
}

TEST(TokenizerConfig, TheFixture) {
  TokenizerConfig c = read_tokenizer_config(test::fixture("models/qwen2-tiny/tokenizer_config.json"));
  EXPECT_EQ(c.eos_token, "<|im_end|>");
  EXPECT_EQ(c.model_max_length, 512);
  EXPECT_NE(c.chat_templates.at("default").find("<|im_start|>"), std::string::npos);
  EXPECT_TRUE(c.clean_up_tokenization_spaces == false);
}

TEST(TokenizerConfig, Errors) {
  EXPECT_ERROR_WITH(parse_tokenizer_config(Json::parse(R"({"eos_token": 5})"), "x/tokenizer_config.json"),
                    "x/tokenizer_config.json", "'eos_token'", "expected a string");
  EXPECT_ERROR_WITH(parse_tokenizer_config(Json::parse(R"({"chat_template": [{"name": "a"}]})")), "'chat_template[0].template'");
}

}  // namespace prefer::text
