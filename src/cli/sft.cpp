// `prefer sft`: supervised fine-tuning with TRL SFTTrainer's names and semantics: text (language
// modelling), prompt/completion (loss on the completion) or messages data, packing with padding-free
// rows, nll / chunked_nll / dft losses. Stage 1 of RLHF; its final/ feeds `prefer dpo` and `prefer reward`.
#include <fmt/format.h>

#include <iostream>

#include "cli/command.h"
#include "cli/policy.h"
#include "cli/tokenizer_setup.h"
#include "cli/quantization_options.h"
#include "cli/train_options.h"
#include "cli/train_run.h"
#include "train/memory_estimate.h"
#include "train/preflight.h"
#include "train/sft_checks.h"
#include "train/sft_recipe.h"
#include "util/error.h"

namespace prefer::cli {
namespace fs = std::filesystem;

namespace {

OptionSet sft_option_set() {
  OptionSet s;
  using T = OptType;
  add_model_data_options(s, {.model_help = "Model folder to fine-tune (a base or instruct model), a run folder or an adapter",
                             .data_help = "Training data: text, prompt/completion or messages (JSONL or JSON; several files: a,b)",
                             .columns = {"prompt", "completion", "text", "messages"}, .max_length = 1024});
  // --- SFT (TRL's SFTConfig) ---
  s.add("dataset_text_field", T::String, nullptr, "Column holding plain text (TRL's name for text_column)");
  s.add("completion_only_loss", T::Bool, nullptr, "Loss on completion tokens only (default: true for prompt/completion data)");
  s.add("assistant_only_loss", T::Bool, false, "Loss on the assistant turns of conversations only (each turn scored in its context)");
  s.add("packing", T::Bool, false, "Pack examples into rows of max_length (best-fit decreasing; each keeps its own positions and attention)");
  s.add("packing_strategy", T::String, "bfd", "bfd (best-fit decreasing; the only strategy)");
  s.add("padding_free", T::Bool, false, "Each micro-batch's examples one after another in rows of up to 4096 tokens, no padding (implied by packing)");
  s.add("eval_packing", T::Bool, nullptr, "Pack the eval set too (default: as packing)");
  s.add("eos_token", T::String, nullptr, "Text appended to plain-text completions (default: the tokenizer's EOS)");
  s.add("loss_type", T::String, "chunked_nll", "nll, chunked_nll (the same numbers, in chunks) or dft");
  s.add("chat_template_path", T::String, nullptr, "Chat template: a .jinja file or a model folder to take it from");
  add_training_options(s, {.learning_rate = 2e-5, .num_train_epochs = 3.0, .per_device_train_batch_size = 8,
                           .batch_unit = "examples (packed rows with packing)"});
  add_lora_options(s);
  return s;
}

RunSummary run_sft(const Json& o, std::ostream& out) {
  require(o, "model", "the model folder to fine-tune");
  require(o, "data", "the training data");
  require(o, "output_dir", "where the run is written");
  train::TrainerArgs targs = trainer_args(o, "prefer sft");
  model::ModelSource source = model::resolve_model_source(get<std::string>(o, "model"), opt<std::string>(o, "adapter"));
  PolicyOptions pol = policy_options(o, source);  // read and checked before the data work
  Json po = o;
  if (auto f = opt<std::string>(o, "dataset_text_field")) po["text_column"] = *f;
  data::PrepareOptions prep = prepare_options(po, data::DatasetKind::Sft);
  prep.tokenize.eos_token = opt<std::string>(o, "eos_token");
  train::SftRecipeOptions ro;
  ro.sft.loss_type = objectives::parse_sft_loss_type(get<std::string>(o, "loss_type"));
  ro.packing = get<bool>(o, "packing");
  ro.max_length = prep.tokenize.max_length;
  ro.chunk_tokens = get<int64_t>(o, "chunk_tokens");
  if (get<std::string>(o, "packing_strategy") != "bfd")
    throw Error("only bfd (best-fit decreasing) is supported, not '" + get<std::string>(o, "packing_strategy") + "'",
                {.field = "packing_strategy", .hint = "bfd keeps examples whole; wrapped would let packed examples see each other"});
  if (ro.packing && ro.max_length <= 0) throw Error("packing needs max_length > 0 (the packed row length)", {.field = "max_length"});
  prep.tokenize.assistant_only = get<bool>(o, "assistant_only_loss");
  open_run_folder(o, targs);

  // ---- the tokenizer: template, its special tokens, the pad token ----
  TokenizerSetup tok = setup_tokenizer(o, source, pol.use_peft, targs.output_dir, out);
  const data::TextModel& text = tok.text;

  // ---- data ----
  RunData data = prepare_run_data(o, text, prep, targs.seed);
  for (const auto& w : data.warnings) out << "warning: " << w << "\n";
  // TRL: completion-only for prompt/completion data, every token for language-modelling data.
  ro.completion_only_loss = opt<bool>(o, "completion_only_loss").value_or(data.prompted || prep.tokenize.assistant_only);
  if (prep.tokenize.assistant_only && !ro.completion_only_loss)
    throw Error("cannot be false with assistant_only_loss (each assistant turn is the completion of its context)",
                {.field = "completion_only_loss"});
  const bool eval_packing = opt<bool>(o, "eval_packing").value_or(ro.packing);
  ro.batch = run_batch_options(o, text);

  // ---- model and task ----
  pol.source = source;  // as the tokenizer setup left it
  pol.vocab_size = tok.grow_vocab;
  Policy policy(pol);
  train::SftRecipe recipe(policy.model(), ro);
  train::TrainingTask task;
  recipe.install(task);
  if (ro.packing && !eval_packing) {
    // Packed training rows, one example per eval row.
    task.batches = [&recipe, &data](const data::TokenizedDataset& d, const data::SamplerOptions& so, int64_t epoch) {
      return &d == &data.train ? recipe.batches(d, so, epoch) : data::epoch_batches(d, so, epoch);
    };
  }
  policy.install(task);
  save_tokenizer_choices(task, tok);
  task.fingerprint = run_fingerprint(o, source, data.hash);
  train::Trainer trainer(targs, task, data.train, data.eval.size() > 0 ? &data.eval : nullptr);

  // ---- pre-flight and monitor ----
  int64_t longest = 0, truncated = 0;
  for (size_t i = 0; i < data.train.size(); ++i) {
    longest = std::max(longest, data.train.max_row_length(i));
    truncated += data.train.row(i).truncated ? 1 : 0;
  }
  train::MemoryEstimate mem = train::estimate_memory(
      policy.memory_inputs(targs.per_device_train_batch_size * (ro.packing ? ro.max_length : longest), ro.chunk_tokens));
  train::PreflightInputs pi{.method = "SFT", .preference_checks = false, .learning_rate = targs.learning_rate,
                            .estimated_peak_bytes = mem.total(), .available_bytes = train::physical_memory_bytes(),
                            .memory_breakdown = mem.describe()};
  std::vector<train::TrainingWarning> pre = train::preflight_checks(pi, {.min_learning_rate = 1e-6, .max_learning_rate = 1e-3});
  const bool generation_blocks = text.templ() != nullptr && text.templ()->source().find("generation") != std::string::npos;
  for (auto& w : train::sft_data_checks({.examples = static_cast<int64_t>(data.train.size()), .truncated = truncated,
                                         .conversational = data.conversational, .template_has_generation = generation_blocks,
                                         .assistant_only_loss = prep.tokenize.assistant_only}))
    pre.push_back(std::move(w));
  trainer.set_preflight(pre);
  trainer.set_monitor_rules([](int64_t total) { return train::sft_monitor_rules(total); });
  ModelCard card{.method = "SFT", .command = "prefer sft", .source = source, .adapter = pol.use_peft, .data_hash = data.hash,
                 .settings = {"learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps",
                              "max_length", "packing", "completion_only_loss", "loss_type", "bf16", "use_peft", "lora_r", "lora_alpha", "seed"}};
  Json shown = o;
  shown["completion_only_loss"] = ro.completion_only_loss;
  trainer.set_model_card([card, shown](const train::TrainResult& r) { return model_card_text(card, shown, r); });
  trainer.set_status_metrics({"mean_token_accuracy"});
  record_memory_estimate(targs, mem, out);
  out << fmt::format("sft: {} examples ({} eval){}, loss on {}, {} steps of {} x {} accumulation, {} on {}\n", data.train.size(),
                     data.eval.size(), ro.packing ? fmt::format(" packed into rows of {}", ro.max_length) : "",
                     ro.completion_only_loss ? "completions" : "every token", trainer.total_steps(), targs.per_device_train_batch_size,
                     targs.gradient_accumulation_steps, pol.use_peft ? fmt::format("LoRA r={}", pol.lora.r) : std::string("full fine-tuning"),
                     source.describe());
  return run_training(trainer, "fine-tuned", out);
}

}  // namespace

void add_sft_command(CLI::App& app, GlobalOptions& g) {
  add_training_command(app, g, "sft", "Supervised fine-tuning on text, prompt/completion or conversations (TRL's SFTTrainer)", sft_option_set(), run_sft);
}

}  // namespace prefer::cli
