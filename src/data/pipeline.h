// The whole way from a data file to a TokenizedDataset: read, extract prompts, tokenize with TRL's
// semantics, truncate, and cache on disk (reused when the file, the tokenizer and the settings are the
// same). Training commands, `prefer logprobs` and the validator all come through here.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "data/format.h"
#include "data/tokenize.h"
#include "data/tokenized_dataset.h"

namespace prefer::data {

// The tokenizer side of a model folder: tokenizer and, when the model has one, its chat template.
struct TextModel {
  std::filesystem::path dir;
  text::Tokenizer tokenizer;
  std::optional<text::ChatTemplate> chat_template;
  std::string template_override;  // the source of a template set with use_template (part of cache keys)
  static TextModel load(const std::filesystem::path& model_dir);
  // TRL's chat_template_path: a .jinja file, or a model folder whose template to take.
  void use_template(const std::filesystem::path& file_or_folder);
  const text::ChatTemplate* templ() const { return chat_template ? &*chat_template : nullptr; }
};

struct PrepareOptions {
  ReadOptions read;
  TokenizeOptions tokenize;
  std::optional<std::filesystem::path> cache_dir;  // none = no cache
};

struct PreparedData {
  TokenizedDataset data;
  DatasetKind kind = DatasetKind::Preference;
  bool conversational = false;
  bool prompted = false;  // some example has a non-empty prompt (SFT: completion-only loss by default)
  bool from_cache = false;
  TokenizeStats stats;
  // Plain-language notes for the user: prefix mismatches (once, with a count and an example line),
  // truncated and dropped examples, double BOS.
  std::vector<std::string> warnings;
};

PreparedData prepare_data(const std::filesystem::path& file, const TextModel& model, const PrepareOptions& options);

// The default cache folder: $PREFER_CACHE_DIR, else $XDG_CACHE_HOME/prefer, else ~/.cache/prefer.
std::filesystem::path default_cache_dir();

std::vector<std::string> tokenize_warnings(const TokenizeStats& stats, const std::string& file);

}  // namespace prefer::data
