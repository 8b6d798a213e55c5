// tokenizer_config.json: the special tokens a model uses, whether BOS/EOS are added, the chat
// template(s) and the maximum length. Special tokens come as a string or as {"content": ...}.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/json.h"

namespace prefer::text {

struct TokenizerConfig {
  std::optional<std::string> bos_token, eos_token, pad_token, unk_token;
  std::optional<bool> add_bos_token, add_eos_token;
  std::vector<std::string> additional_special_tokens;
  // name -> template; a plain string template is named "default".
  std::map<std::string, std::string> chat_templates;
  std::optional<int64_t> model_max_length;  // absent, or HF's "no limit" sentinel (~1e30)
  bool clean_up_tokenization_spaces = true;  // transformers' (and the reference's) default when absent
  std::string tokenizer_class;
};

TokenizerConfig parse_tokenizer_config(const Json& j, const std::string& file = "tokenizer_config.json");
TokenizerConfig read_tokenizer_config(const std::filesystem::path& path);

}  // namespace prefer::text
