#include "cli/train_options.h"

#include "cli/quantization_options.h"
#include "util/error.h"

namespace prefer::cli {
namespace fs = std::filesystem;

void add_model_data_options(OptionSet& s, const ModelDataDefaults& d) {
  using T = OptType;
  s.add("model", T::String, nullptr, d.model_help);
  s.add("adapter", T::String, nullptr, "A PEFT LoRA adapter applied on top of --model (merged into it at load)");
  s.add("data", T::StringList, nullptr, d.data_help);
  s.add("eval_data", T::StringList, nullptr, "Evaluation data in the same format");
  s.add("eval_split", T::Float, 0.0, "Fraction of the training data held out for evaluation when no eval_data");
  s.add("output_dir", T::String, nullptr, "Run folder (config.yaml, metrics.jsonl, checkpoint-N/, final/)");
  static const std::map<std::string, std::string> help = {
      {"prompt", "Column holding the prompt"},
      {"chosen", "Column holding the preferred response"},
      {"rejected", "Column holding the dispreferred response"},
      {"completion", "Column holding the completion"},
      {"text", "Column holding plain text (language modelling)"},
      {"messages", "Column holding conversations (lists of messages)"},
      {"margin", "Column holding how much better chosen is than rejected (optional)"},
      {"label", "Column holding the desirable (true) / undesirable (false) label"}};
  for (const auto& c : d.columns) s.add(c + "_column", T::String, c, help.at(c));
  s.add("max_length", T::Int, d.max_length, "Longest row (prompt + completion) in tokens; 0 = no limit");
  if (d.max_prompt_length) s.add("max_prompt_length", T::Int, nullptr, "Longest prompt in tokens (its end is kept)");
  s.add("truncation_mode", T::String, "keep_start", "keep_start (cut completions) or keep_end (cut prompts)");
  s.add("cache_dir", T::String, nullptr, "Folder for tokenized data and reference log-probs (default ~/.cache/prefer)");
}

void add_training_options(OptionSet& s, const TrainingDefaults& d) {
  using T = OptType;
  s.add("learning_rate", T::Float, d.learning_rate, "Peak learning rate (0 measures without changing the model)");
  s.add("lr_scheduler_type", T::String, "linear", "linear, cosine, constant, constant_with_warmup, ...");
  s.add("warmup_ratio", T::Float, 0.0, "Fraction of steps spent warming up");
  s.add("warmup_steps", T::Int, 0, "Warm-up steps (overrides warmup_ratio when > 0)");
  s.add("num_train_epochs", T::Float, d.num_train_epochs, "Epochs over the training data");
  s.add("max_steps", T::Int, -1, "Stop after this many optimizer steps (overrides epochs)");
  s.add("per_device_train_batch_size", T::Int, d.per_device_train_batch_size, "Training " + d.batch_unit + " per micro-batch");
  s.add("per_device_eval_batch_size", T::Int, 8, "Evaluation " + d.batch_unit + " per batch");
  s.add("gradient_accumulation_steps", T::Int, 1, "Micro-batches per optimizer step");
  s.add("max_grad_norm", T::Float, 1.0, "Gradient clipping norm (0 = none)");
  s.add("weight_decay", T::Float, 0.0, "AdamW decoupled weight decay");
  s.add("adam_beta1", T::Float, 0.9, "AdamW beta1");
  s.add("adam_beta2", T::Float, 0.999, "AdamW beta2");
  s.add("adam_epsilon", T::Float, 1e-8, "AdamW epsilon");
  s.add("seed", T::Int, 42, "Seed of data order, LoRA init and dropout");
  s.add("logging_steps", T::Int, 10, "Log every this many steps");
  s.add("eval_steps", T::Int, nullptr, "Evaluate every this many steps (default logging_steps)");
  s.add("save_steps", T::Int, 500, "Checkpoint every this many steps");
  s.add("save_total_limit", T::Int, nullptr, "Keep only the newest N checkpoints");
  s.add("resume_from_checkpoint", T::String, nullptr, "A checkpoint-N folder of this run, or 'latest'");
  s.add("ignore_resume_mismatch", T::Bool, false, "Resume even if the model, data or options differ from the checkpoint's");
  s.add("zero_stage", T::Int, 0, "Data parallel: 1 shards the AdamW state across workers (ZeRO stage 1)");
  s.add("ddp_timeout", T::Int, 1800, "Data parallel (prefer launch, torchrun): seconds to wait for the other workers before failing");
  s.add("bf16", T::Bool, false, "Compute in bfloat16 (fp32 master weights)");
  s.add("group_by_length", T::Bool, true, "Batch examples of similar length (less padding)");
  s.add("validate_data", T::Bool, true,
        "Check each training file as `prefer data validate` does, for the run's report (data.json); false skips this "
        "second read of the data (large datasets)");
  s.add("pad_to_multiple_of", T::Int, nullptr, "Pad each batch's length to a multiple of this");
  s.add("pure_bf16", T::Bool, false,
        "With --bf16: every weight and the residual stream in bf16 (default: embeddings, norms and the residual stream in float32, as autocast)");
  s.add("gradient_checkpointing", T::Bool, false, "Keep only each layer's input, recompute the layer in backward (less memory, ~1/3 more compute)");
  s.add("auto_batch_size", T::Bool, false, "Largest micro-batch the memory plan fits in max_memory (gradient accumulation keeps the effective batch)");
  s.add("max_memory", T::String, nullptr, "Memory the run may use: 12GB, 12GiB or bytes (default: this machine's RAM)");
  s.add("chunk_tokens", T::Int, 1024, "Scored positions per LM-head chunk (memory vs speed)");
  s.add("metric_for_best_model", T::String, nullptr, "Eval metric (eval_loss, eval_win_rate, ...) whose best model final/ holds");
  s.add("greater_is_better", T::Bool, nullptr, "For metric_for_best_model (default: true unless it ends in loss)");
}

void add_judged_eval_options(OptionSet& s) {
  using T = OptType;
  s.add("eval_prompts", T::String, nullptr, "Prompts for a judged win rate against the starting model at every evaluation");
  s.add("judge", T::String, nullptr, "With eval_prompts: rm:DIR, http:URL or cmd:PROGRAM (as prefer eval)");
  s.add("judge_model", T::String, nullptr, "Model name sent to an HTTP judge");
  s.add("judge_template", T::String, nullptr, "File replacing the pairwise judge prompt");
  s.add("eval_max_new_tokens", T::Int, 128, "Answer length at most for eval_prompts (greedy)");
}

void add_lora_options(OptionSet& s) {
  using T = OptType;
  s.add("use_peft", T::Bool, false, "Train a LoRA adapter instead of every weight");
  s.add("lora_r", T::Int, 16, "LoRA rank");
  s.add("lora_alpha", T::Float, 32.0, "LoRA alpha (scale alpha / r)");
  s.add("lora_dropout", T::Float, 0.05, "Dropout on the LoRA input");
  s.add("lora_target_modules", T::StringList, nullptr, "Modules to adapt (names or all-linear; default q_proj,v_proj)");
  s.add("use_rslora", T::Bool, false, "Scale alpha / sqrt(r)");
  s.add("merge", T::Bool, false, "With use_peft: also write the merged model to final/merged");
  add_quantization_options(s);
}

void require(const Json& o, const char* k, const char* what) {
  if (!o.contains(k) || o.at(k).is_null() || (o.at(k).is_array() && o.at(k).empty()))
    throw Error(std::string("is required: ") + what, {.field = k});
}

std::vector<fs::path> data_files(const Json& o, const char* key) {
  std::vector<fs::path> out;
  if (!o.contains(key) || o.at(key).is_null()) return out;
  const Json& v = o.at(key);
  if (v.is_string()) return {fs::path(v.get<std::string>())};
  for (const Json& f : v) out.emplace_back(f.get<std::string>());
  return out;
}

data::PrepareOptions prepare_options(const Json& o, data::DatasetKind kind) {
  DataFlags f;
  auto column = [&](const char* name, std::string& into) {
    if (auto v = opt<std::string>(o, (std::string(name) + "_column").c_str())) into = *v;
  };
  column("prompt", f.prompt_column);
  column("chosen", f.chosen_column);
  column("rejected", f.rejected_column);
  column("completion", f.completion_column);
  column("label", f.label_column);
  column("text", f.text_column);
  column("messages", f.messages_column);
  f.max_length = get<int64_t>(o, "max_length");
  f.max_prompt_length = opt<int64_t>(o, "max_prompt_length").value_or(0);
  f.truncation_mode = get<std::string>(o, "truncation_mode");
  f.cache_dir = opt<std::string>(o, "cache_dir").value_or("");
  data::PrepareOptions p = f.prepare_options();
  if (auto m = opt<std::string>(o, "margin_column")) p.read.columns.margin = *m;
  p.read.expect = kind;
  return p;
}

train::TrainerArgs trainer_args(const Json& o, const std::string& command) {
  train::TrainerArgs a;
  a.command = command;
  a.output_dir = get<std::string>(o, "output_dir");
  a.learning_rate = get<double>(o, "learning_rate");
  a.lr_scheduler_type = get<std::string>(o, "lr_scheduler_type");
  a.warmup_ratio = get<double>(o, "warmup_ratio");
  a.warmup_steps = get<int64_t>(o, "warmup_steps");
  a.num_train_epochs = get<double>(o, "num_train_epochs");
  a.max_steps = get<int64_t>(o, "max_steps");
  a.per_device_train_batch_size = get<int64_t>(o, "per_device_train_batch_size");
  a.per_device_eval_batch_size = get<int64_t>(o, "per_device_eval_batch_size");
  a.gradient_accumulation_steps = get<int64_t>(o, "gradient_accumulation_steps");
  a.max_grad_norm = get<double>(o, "max_grad_norm");
  a.weight_decay = get<double>(o, "weight_decay");
  a.adam_beta1 = get<double>(o, "adam_beta1");
  a.adam_beta2 = get<double>(o, "adam_beta2");
  a.adam_epsilon = get<double>(o, "adam_epsilon");
  a.seed = static_cast<uint64_t>(get<int64_t>(o, "seed"));
  a.logging_steps = get<int64_t>(o, "logging_steps");
  a.eval_steps = opt<int64_t>(o, "eval_steps").value_or(0);
  a.save_steps = get<int64_t>(o, "save_steps");
  a.save_total_limit = opt<int64_t>(o, "save_total_limit").value_or(0);
  a.group_by_length = get<bool>(o, "group_by_length");
  a.resume_from_checkpoint = opt<std::string>(o, "resume_from_checkpoint").value_or("");
  a.ignore_resume_mismatch = get<bool>(o, "ignore_resume_mismatch");
  a.ddp_timeout = get<int64_t>(o, "ddp_timeout");
  a.zero_stage = get<int64_t>(o, "zero_stage");
  a.metric_for_best_model = opt<std::string>(o, "metric_for_best_model").value_or("");
  a.greater_is_better = opt<bool>(o, "greater_is_better");
  a.validate();
  if (get<int64_t>(o, "chunk_tokens") < 1) throw Error("must be >= 1", {.field = "chunk_tokens"});
  if (auto m = opt<int64_t>(o, "pad_to_multiple_of"); m && *m < 1) throw Error("must be >= 1", {.field = "pad_to_multiple_of"});
  if (double eval_split = opt<double>(o, "eval_split").value_or(0); eval_split < 0 || eval_split >= 1)
    throw Error("must be in [0, 1)", {.field = "eval_split"});
  if (get<bool>(o, "merge") && !get<bool>(o, "use_peft"))
    throw Error("only applies with use_peft (a full run's final/ is already a whole model)", {.field = "merge"});
  return a;
}

model::LoraConfig lora_config(const Json& o, const std::string& base) {
  model::LoraConfig c;
  c.r = get<int64_t>(o, "lora_r");
  c.lora_alpha = get<double>(o, "lora_alpha");
  c.lora_dropout = get<double>(o, "lora_dropout");
  c.target_modules = opt<std::vector<std::string>>(o, "lora_target_modules").value_or(std::vector<std::string>{});
  c.use_rslora = get<bool>(o, "use_rslora");
  c.base_model_name_or_path = base;
  if (c.r < 1) throw Error("must be >= 1", {.field = "lora_r"});
  if (!(c.lora_alpha > 0)) throw Error("must be > 0", {.field = "lora_alpha"});
  if (c.lora_dropout < 0 || c.lora_dropout >= 1) throw Error("must be in [0, 1)", {.field = "lora_dropout"});
  return c;
}

}  // namespace prefer::cli
