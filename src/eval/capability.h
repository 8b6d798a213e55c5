// The capability check of prefer eval: did alignment cost knowledge? Multiple-choice accuracy on
// MMLU-format JSONL (each choice scored by the summed log-probability of its text after the question,
// optionally divided by its token count) and perplexity on held-out text, for the model and the
// reference alike.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "data/pipeline.h"
#include "model/causal_lm.h"

namespace prefer::eval {

struct McQuestion {
  int64_t line = 0;
  std::string question;
  std::vector<std::string> choices;
  int64_t answer = 0;  // index into choices
};

// Reads `question`, `choices` (a list of strings, 2 or more) and `answer` (an index, or a letter A, B,
// ...) per line; a bad line is an error naming the file, line and field.
std::vector<McQuestion> read_mc_questions(const std::filesystem::path& file);

// How a choice is shown to the model: the prompt "<question>\nAnswer:" and the completion " <choice>".
std::string mc_prompt(const McQuestion& q);

struct McResult {
  double accuracy = 0;
  std::vector<int64_t> picked;                     // per question
  std::vector<std::vector<double>> choice_scores;  // per question, per choice
};

struct ScoringOptions {
  int64_t batch_size = 8;
  int64_t chunk_tokens = 1024;
  std::filesystem::path work_dir;  // scratch files for tokenizing (removed after)
};

McResult mc_accuracy(const model::CausalLM& m, const data::TextModel& text, const std::vector<McQuestion>& questions, bool normalize,
                     const ScoringOptions& options);

// exp(total negative log-likelihood / total scored tokens) over a file prefer reads as language-modeling
// or prompt-completion data (text, prompt/completion, messages); no EOS is added to plain text.
double perplexity(const model::CausalLM& m, const data::TextModel& text, const std::filesystem::path& file, const ScoringOptions& options);

}  // namespace prefer::eval
