// The prompts files of `prefer generate` and `prefer eval`: JSONL lines with `prompt` (text, or a list of
// chat messages), `messages` (rendered with the chat template, generation prompt added) or pre-tokenized
// `prompt_ids` (or TRL's `input_ids`), every line read and tokenized before any compute so a bad line fails first; and
// batched greedy or sampled completions for them.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "data/pipeline.h"
#include "model/causal_lm.h"
#include "model/generation.h"
#include "util/json.h"

namespace prefer::cli {

struct PromptRow {
  OrderedJson row;            // the input line's object
  std::vector<int64_t> ids;   // the prompt's tokens
};

std::vector<PromptRow> read_prompt_file(const std::filesystem::path& file, const data::TextModel& text);

// What a judge reads as the question: the text prompt, the only user message's content, or the
// conversation as "role: content" lines.
std::string prompt_question(const OrderedJson& row);
// The prompt as the judge protocol sends it: text, or the list of messages.
OrderedJson prompt_value(const OrderedJson& row);

// prefer generate's decoding options, shared by every command that generates answers (generate, eval).
struct SamplingFlags {
  int64_t max_new_tokens = 128, top_k = 50, seed = 0;
  double temperature = 1.0, top_p = 1.0;
  bool do_sample = false;
  void add_to(CLI::App* cmd);
  void apply(model::GenerationOptions& go) const;
  Json to_json() const;
};

// GenerationOptions with the model's and tokenizer's EOS ids and pad id filled in.
model::GenerationOptions generation_options(const model::CausalLM& m, const data::TextModel& text);

struct Completion {
  std::string text;
  std::vector<int64_t> ids;
};

// Completions for `prompts` in batches of `batch_size` (each batch seeded with seed + its first index,
// reproducible for a batch size), with a progress bar labelled `label`.
std::vector<Completion> complete_prompts(const model::CausalLM& m, const data::TextModel& text, const std::vector<PromptRow>& prompts,
                                         model::GenerationOptions go, int64_t batch_size, const std::string& label);

}  // namespace prefer::cli
