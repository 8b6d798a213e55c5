#include "cli/data_options.h"

#include "cli/command.h"
#include "util/error.h"

namespace prefer::cli {

void DataFlags::add_to(CLI::App* cmd) {
  cmd->add_option("--prompt_column", prompt_column, "Column holding the prompt")->capture_default_str();
  cmd->add_option("--chosen_column", chosen_column, "Column holding the preferred response")->capture_default_str();
  cmd->add_option("--rejected_column", rejected_column, "Column holding the dispreferred response")->capture_default_str();
  cmd->add_option("--completion_column", completion_column, "Column holding a single completion")->capture_default_str();
  cmd->add_option("--label_column", label_column, "Column holding the desirable/undesirable label")->capture_default_str();
  cmd->add_option("--text_column", text_column, "Column holding SFT text")->capture_default_str();
  cmd->add_option("--messages_column", messages_column, "Column holding SFT conversations")->capture_default_str();
  cmd->add_option("--max_length", max_length, "Longest row (prompt + completion) in tokens; 0 = no limit")->capture_default_str();
  cmd->add_option("--max_prompt_length", max_prompt_length, "Longest prompt in tokens (its end is kept); 0 = no limit");
  cmd->add_option("--truncation_mode", truncation_mode, "keep_start (cut completions) or keep_end (cut prompts)")->capture_default_str();
  cmd->add_option("--cache_dir", cache_dir, "Folder for the tokenized-data cache (default ~/.cache/prefer)");
  add_bool_option(cmd, "no_cache", no_cache, "Tokenize again instead of using the cache");
}

data::PrepareOptions DataFlags::prepare_options() const {
  data::PrepareOptions o;
  o.read.columns = {prompt_column, chosen_column, rejected_column, completion_column, label_column, text_column, messages_column, "margin"};
  if (max_length < 0) throw Error("must be >= 0 (0 means no limit)", {.field = "max_length"});
  if (max_prompt_length < 0) throw Error("must be >= 0 (0 means no limit)", {.field = "max_prompt_length"});
  if (max_length > 0 && max_prompt_length >= max_length)
    throw Error("must be smaller than max_length (" + std::to_string(max_length) + ")", {.field = "max_prompt_length"});
  o.tokenize.max_length = max_length;
  if (max_prompt_length > 0) o.tokenize.max_prompt_length = max_prompt_length;
  if (truncation_mode == "keep_start") o.tokenize.truncation_mode = data::TruncationMode::KeepStart;
  else if (truncation_mode == "keep_end") o.tokenize.truncation_mode = data::TruncationMode::KeepEnd;
  else throw Error("must be keep_start or keep_end, not '" + truncation_mode + "'", {.field = "truncation_mode"});
  if (!no_cache) o.cache_dir = cache_dir.empty() ? data::default_cache_dir() : std::filesystem::path(cache_dir);
  return o;
}

}  // namespace prefer::cli
