// Added tokens (special tokens like <|im_start|> and user-added pieces): found in the text before the
// model runs, so that they are never split by the pre-tokenizer or BPE.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/component_error.h"
#include "text/normalizer.h"

namespace prefer::text {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool single_word = false;  // only match as a whole word
  bool lstrip = false;       // swallow whitespace on its left
  bool rstrip = false;       // swallow whitespace on its right
  bool normalized = false;   // matched in the normalized text (else in the raw text)
  bool special = false;      // removed by decode(skip_special_tokens)
};

// Longest-match dictionary splitter: at the first position where some token matches, the longest one
// is cut out; text between matches is kept as is. (Leftmost-longest, as HF's Aho-Corasick.)
class TokenSplitter {
 public:
  void add(const std::string& content, bool single_word);
  struct Section {
    std::string text;
    bool is_token;
  };
  std::vector<Section> split(std::string_view text) const;
  bool empty() const { return nodes_.size() <= 1; }

 private:
  struct Node {
    std::unordered_map<unsigned char, int32_t> next;
    int32_t token_len = -1;  // length of the token ending here
    bool single_word = false;
  };
  std::vector<Node> nodes_{Node{}};
  bool first_byte_[256] = {};
};

class AddedVocabulary {
 public:
  // Reads tokenizer.json's "added_tokens" list.
  void load(const Json& list, const ComponentContext& ctx);
  // Builds the two splitters: tokens with normalized=false (or all, without a normalizer) are found in
  // the raw text; the others by their normalized spelling in the normalized text.
  void build_splitters(const Normalizer* normalizer);

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  // The added token spelled `content` (raw or normalized spelling), or nullptr.
  const AddedToken* find(std::string_view content) const;
  const AddedToken* find_id(int32_t id) const;
  const TokenSplitter& raw_splitter() const { return raw_; }
  const TokenSplitter& normalized_splitter() const { return normalized_; }

 private:
  std::vector<AddedToken> tokens_;
  std::unordered_map<std::string, size_t> by_content_;
  std::unordered_map<int32_t, size_t> by_id_;
  TokenSplitter raw_, normalized_;
};

// Applies lstrip/rstrip of the token sections to their neighbours (JS trimEnd/trimStart semantics).
void apply_strip_flags(std::vector<TokenSplitter::Section>& sections, const AddedVocabulary& vocab);

}  // namespace prefer::text
