// The tokenizer side of a training run that may start from a base model (SFT, ORPO, CPO): TRL's
// chat_template_path (a .jinja file, or a model folder whose template and special tokens come along:
// the tokenizer is extended into <output_dir>/tokenizer and the embeddings grow), the pad token
// (EOS when the tokenizer has none), and what final/ must carry so the model is used as it was trained.
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

#include "cli/option_set.h"
#include "data/batch.h"
#include "data/pipeline.h"
#include "model/model_source.h"
#include "train/training_task.h"
#include "util/json.h"

namespace prefer::cli {

struct TokenizerSetup {
  data::TextModel text;
  int64_t grow_vocab = 0;     // the embeddings' new row count (PolicyOptions::vocab_size); 0 = unchanged
  bool pad_missing = false;   // the tokenizer has no pad token: batches pad with EOS, final/ records it
};

// Reads chat_template_path from `o`; may point `source.tokenizer` at the extended tokenizer.
TokenizerSetup setup_tokenizer(const Json& o, model::ModelSource& source, bool use_peft, const std::filesystem::path& output_dir,
                               std::ostream& out);

// Pads with the tokenizer's pad token (else EOS), to pad_to_multiple_of, with oneDNN-friendly row counts;
// padding-free rows where the command has padding_free and it is true.
data::BatchOptions run_batch_options(const Json& o, const data::TextModel& text);

// padding_free, true by default (DPO, ORPO, SimPO, CPO, KTO; SFT declares its own, false as TRL's).
void add_padding_free_option(OptionSet& s);
// The pair methods' row options (DPO, ORPO, SimPO, CPO): batch_layout and padding_free.
void add_pair_batch_options(OptionSet& s);
// batch_layout checked and read; call it before any work so a bad value fails early.
data::BatchLayout pair_batch_layout(const Json& o);
// run_batch_options with the pair methods' layout and padding-free rows.
data::BatchOptions pair_batch_options(const Json& o, const data::TextModel& text);

// Wraps the task's save_final: the template the model was trained with, and the pad token it was
// padded with, go into final/ too.
void save_tokenizer_choices(train::TrainingTask& task, const TokenizerSetup& setup);

}  // namespace prefer::cli
