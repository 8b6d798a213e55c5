// A Hugging Face fast tokenizer (tokenizer.json + tokenizer_config.json), giving the ids that
// Hugging Face gives. The pipeline, as in HF:
//
//   text -> added tokens cut out of the raw text -> normalizer -> added tokens cut out of the normalized
//        -> pre-tokenizer (pieces) -> BPE per piece -> post-processor (BOS/EOS) -> ids
//
// Checked against @huggingface/tokenizers (tests/text/tokenizer_reference_test.cpp) on real vocabularies.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text/added_tokens.h"
#include "text/bpe.h"
#include "text/decoder.h"
#include "text/normalizer.h"
#include "text/post_processor.h"
#include "text/pre_tokenizer.h"
#include "text/tokenizer_config.h"

namespace prefer::text {

class Tokenizer {
 public:
  // `tokenizer_config_json` may be empty (no special-token metadata then).
  static Tokenizer from_files(const std::filesystem::path& tokenizer_json,
                              const std::filesystem::path& tokenizer_config_json = {});
  // Both files from a model folder; a missing tokenizer.json is an error that says what to do.
  static Tokenizer from_folder(const std::filesystem::path& dir);
  static Tokenizer from_json(const Json& tokenizer, const TokenizerConfig& config, const std::string& file);

  Tokenizer(Tokenizer&&) noexcept = default;
  Tokenizer& operator=(Tokenizer&&) noexcept = default;

  // Ids of `text`. Text must be valid UTF-8 (error "invalid UTF-8 at byte N" otherwise).
  // add_special_tokens: let the post-processor add BOS/EOS as the tokenizer.json template says.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // Token strings of ids (as stored in the vocabulary; byte-level tokens look like "Ġthe").
  std::vector<std::string> tokens(const std::vector<int32_t>& ids) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::string id_to_token(int32_t id) const;
  // One past the largest id (base vocabulary and added tokens).
  int32_t vocab_size() const;
  bool is_special(int32_t id) const;

  const TokenizerConfig& config() const { return config_; }
  // Ids of the config's special tokens, when they exist in the vocabulary.
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;
  std::optional<int32_t> pad_id() const;
  const AddedVocabulary& added() const { return *added_; }

 private:
  Tokenizer() = default;
  std::optional<int32_t> special_id(const std::optional<std::string>& token) const;
  void encode_section(const std::string& text, size_t section_index, std::vector<int32_t>& out) const;

  std::string file_;
  TokenizerConfig config_;
  // On the heap: the decoder keeps a pointer to it, which must survive moving the Tokenizer.
  std::unique_ptr<AddedVocabulary> added_ = std::make_unique<AddedVocabulary>();
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<Decoder> decoder_;
  std::vector<std::string> special_tokens_;  // contents removed by skip_special_tokens
  std::string end_of_word_suffix_;
};

// transformers' clean_up_tokenization: " ." -> "." and the like, applied by decode when the
// tokenizer_config asks for it.
std::string clean_up_tokenization(std::string text);

}  // namespace prefer::text
