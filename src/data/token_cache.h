// The tokenized dataset on disk, so that a second run (or epoch, or the validator then the trainer)
// skips tokenization. One safetensors file per (data file content, tokenizer files, settings), in the
// cache folder, named by the hash of that key; opened memory-mapped, without copying the tokens.
//
// Layout: "tokens" I32 [n], "rows" I64 [N, 11], "margin" F64 [N]; __metadata__ holds the key and the
// tokenization stats as JSON. Written atomically, so a killed run never leaves a half file.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "data/tokenized_dataset.h"
#include "util/json.h"

namespace prefer::data {

struct CachedTokens {
  TokenizedDataset data;
  Json stats;  // TokenizeStats as JSON (the warnings are repeated from it on a cache hit)
};

// `key` describes everything the tokens depend on; the file is <dir>/<hash(key)>.safetensors.
std::filesystem::path cache_path(const std::filesystem::path& dir, const Json& key);
std::optional<CachedTokens> load_cached_tokens(const std::filesystem::path& file, const Json& key);
void save_cached_tokens(const std::filesystem::path& file, const Json& key, const TokenizedDataset& data, const Json& stats);

}  // namespace prefer::data
