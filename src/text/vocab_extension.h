// New special tokens for a tokenizer folder (TRL's clone_chat_template: a base model takes an instruct
// model's chat template and the special tokens it writes). The tokens are appended after the largest id
// in tokenizer.json (its model vocabulary and added_tokens) as added, special, never-split tokens, and
// recorded in tokenizer_config.json's added_tokens_decoder, as transformers saves them; the model's
// embeddings and LM head must then grow to match (model::CausalLM::resize_token_embeddings).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace prefer::text {

struct VocabExtension {
  std::vector<std::string> added;  // the tokens that were new, in id order
  int64_t first_id = 0;            // id of added[0]
  int64_t size = 0;                // ids in the extended tokenizer (largest id + 1)
};

// The special tokens of the tokenizer folder `from` (tokenizer.json's added_tokens with special: true).
std::vector<std::string> special_tokens_of(const std::filesystem::path& from);

// Copies the tokenizer files of `src` into `dst` (created), adding those of `tokens` that `src` does not
// already have; `eos_token` (optional) becomes the eos_token of tokenizer_config.json.
VocabExtension extend_tokenizer_folder(const std::filesystem::path& src, const std::filesystem::path& dst,
                                       const std::vector<std::string>& tokens, const std::string& eos_token = "");

}  // namespace prefer::text
