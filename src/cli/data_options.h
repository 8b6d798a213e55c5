// Flags shared by every command that reads a dataset: column names, lengths, truncation, cache.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "data/pipeline.h"

namespace prefer::cli {

struct DataFlags {
  std::string prompt_column = "prompt", chosen_column = "chosen", rejected_column = "rejected";
  std::string completion_column = "completion", label_column = "label", text_column = "text";
  std::string messages_column = "messages";
  int64_t max_length = 1024;
  int64_t max_prompt_length = 0;  // 0 = none
  std::string truncation_mode = "keep_start";
  std::string cache_dir;          // "" = default folder
  bool no_cache = false;

  void add_to(CLI::App* cmd);
  // Validated settings (one sentence per rule, naming the flag).
  data::PrepareOptions prepare_options() const;
};

}  // namespace prefer::cli
