// The BPE model of tokenizer.json: vocabulary, ranked merges, byte fallback, unk handling.
//
// A word (one pre-tokenized piece) starts as its code points; the adjacent pair with the lowest merge
// rank is merged (leftmost first among equal ranks) until no ranked pair is left. Works on ids: each
// merge (left id, right id) -> (rank, merged id), as HF's Rust implementation does.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/component_error.h"

namespace prefer::text {

class BpeModel {
 public:
  static BpeModel from_json(const Json& model, const ComponentContext& ctx);
  BpeModel() = default;
  BpeModel(BpeModel&& o) noexcept;
  BpeModel& operator=(BpeModel&& o) noexcept;

  // Appends the ids of `word` to `out`. Thread-safe (the word cache is locked).
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  // Empty string when `id` is not in the vocabulary.
  const std::string& id_to_token(int32_t id) const;
  // Registers an added token so that vocabulary look-ups see it (the reference does the same).
  void add_token(const std::string& content, int32_t id);
  int32_t vocab_size() const { return static_cast<int32_t>(id_to_token_.size()); }
  std::optional<int32_t> unk_id() const { return unk_id_; }
  const std::string& unk_token() const { return unk_token_; }
  bool byte_fallback() const { return byte_fallback_; }
  bool fuse_unk() const { return fuse_unk_; }

 private:
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;

  struct Merge {
    int32_t rank;
    int32_t id;
  };
  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::unordered_map<uint64_t, Merge> merges_;  // key: left id << 32 | right id
  std::optional<int32_t> unk_id_;
  std::string unk_token_;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  std::array<int32_t, 256> byte_ids_{};  // ids of <0x00>..<0xFF>, -1 when absent

  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace prefer::text
