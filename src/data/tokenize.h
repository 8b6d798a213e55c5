// Examples -> token ids with TRL v1.x's semantics (DPOTrainer._prepare_dataset and its collator):
//
//   prompt_ids     = tokenize(prompt)
//   completion_ids = tokenize(prompt + completion)[len(prompt_ids):]
//
// Plain text: tokenized with the tokenizer's special tokens (so BOS comes from tokenizer.json's
// template, once), and the EOS token text is appended to each completion that lacks it.
// Conversations: the prompt is rendered with add_generation_prompt=True, prompt + completion as one
// conversation; both tokenized without extra special tokens (the template writes them); no EOS added.
// Pre-tokenized ids are used as given. When the prompt's ids are not a prefix of the full ids, the
// completion is still cut at len(prompt_ids), as TRL does, and the case is counted so the caller can
// warn once.
//
// Truncation: `max_prompt_length` keeps the last prompt tokens (older TRL; v1.9 removed it); then each
// row (prompt + completion, chosen and rejected separately) is cut to `max_length`: keep_start cuts the
// completion's end and drops examples whose prompt alone fills max_length; keep_end cuts the prompt's
// start.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/example.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace prefer::data {

enum class TruncationMode { KeepStart, KeepEnd };

struct TokenizeOptions {
  int64_t max_length = 1024;                 // 0 = no limit (TRL's default is 1024)
  std::optional<int64_t> max_prompt_length;  // none = no separate prompt limit
  TruncationMode truncation_mode = TruncationMode::KeepStart;
  nlohmann::ordered_json chat_template_kwargs = nlohmann::ordered_json::object();  // e.g. enable_thinking
  // The text appended to plain-text completions that lack it (TRL's eos_token); none = the tokenizer's.
  std::optional<std::string> eos_token;
  // SFT's assistant_only_loss: whole conversations become one example per assistant turn
  // (ExampleTokenizer::tokenize_assistant_turns).
  bool assistant_only = false;
};

// One tokenized completion of a prompt (a preference pair has two). With keep_end truncation each row
// may drop a different number of prompt tokens from the left: `prompt_start` says how many.
struct TokenizedSide {
  std::vector<int32_t> completion_ids;
  int32_t prompt_start = 0;
  bool truncated = false;  // the completion lost tokens
};

struct TokenizedExample {
  int64_t line = 0;
  std::vector<int32_t> prompt_ids;
  TokenizedSide chosen;    // preference: chosen; unpaired / SFT: the completion
  TokenizedSide rejected;  // preference only
  bool paired = false;     // a preference pair (chosen and rejected)
  std::optional<bool> label;
  std::optional<double> margin;
};

// What happened while tokenizing, for the one-time warnings and the validator.
struct TokenizeStats {
  int64_t examples = 0;
  int64_t prefix_mismatches = 0;
  int64_t first_mismatch_line = 0;
  int64_t double_bos_removed = 0;
  int64_t truncated = 0;  // examples with at least one completion cut
  int64_t dropped = 0;    // examples removed: the prompt alone fills max_length (keep_start)
  std::vector<int64_t> dropped_lines;
};

class ExampleTokenizer {
 public:
  // `chat_template` may be null: then conversational examples are an error that says so.
  ExampleTokenizer(const text::Tokenizer& tokenizer, const text::ChatTemplate* chat_template, TokenizeOptions options);

  // The example's ids, or nullopt when truncation drops it. `file` names the data file in errors.
  std::optional<TokenizedExample> tokenize(const Example& ex, TokenizeStats& stats, const std::string& file = "") const;

  // assistant_only_loss for a whole conversation (SFT `messages`): one example per assistant turn, the
  // conversation before it (rendered with the generation prompt) as the prompt and the turn as the
  // completion. Under causal attention each turn's tokens get exactly the log-probs they have inside the
  // whole conversation, so the completion-only loss over these examples is the assistant-only loss. The
  // template must render the whole conversation as an extension of each prefix (checked); one that
  // renders earlier turns differently (e.g. drops their reasoning) is an error that says so.
  std::vector<TokenizedExample> tokenize_assistant_turns(const Example& ex, TokenizeStats& stats, const std::string& file = "") const;

  // The rendered text of a prompt (for --show and checks); empty for pre-tokenized content.
  std::string render_prompt(const Content& prompt) const;
  const TokenizeOptions& options() const { return opt_; }

 private:
  std::vector<int32_t> encode_prompt(const Content& prompt, bool conversational, TokenizeStats& stats) const;
  TokenizedSide encode_completion(const Content& prompt, const std::vector<int32_t>& prompt_ids, const Content& completion,
                                  bool conversational, TokenizeStats& stats, int64_t line, bool& mismatch) const;
  std::string render(const OrderedJson& messages, bool add_generation_prompt) const;
  void drop_double_bos(std::vector<int32_t>& ids, TokenizeStats& stats) const;

  const text::Tokenizer& tok_;
  const text::ChatTemplate* template_;
  TokenizeOptions opt_;
  std::optional<int32_t> bos_id_;
};

}  // namespace prefer::data
