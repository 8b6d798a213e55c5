#include "cli/dpo_run.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <optional>

#include "data/pipeline.h"
#include "data/sampler.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/save.h"
#include "objectives/dpo_config.h"
#include "train/dpo_recipe.h"
#include "train/memory_estimate.h"
#include "train/preflight.h"
#include "train/reference_table.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/log.h"
#include "util/yaml.h"

namespace prefer::cli {
namespace fs = std::filesystem;

OptionSet dpo_option_set() {
  OptionSet s;
  using T = OptType;
  // --- model and data ---
  s.add("model", T::String, nullptr, "Policy model folder (Hugging Face format; start from an SFT model)");
  s.add("data", T::String, nullptr, "Training data: JSONL of prompt/chosen/rejected (text or messages)");
  s.add("eval_data", T::String, nullptr, "Evaluation data in the same format");
  s.add("eval_split", T::Float, 0.0, "Fraction of the training data held out for evaluation when no eval_data");
  s.add("output_dir", T::String, nullptr, "Run folder (config.yaml, metrics.jsonl, checkpoint-N/, final/)");
  s.add("ref_model", T::String, nullptr, "Reference model folder (default: the starting policy)");
  s.add("prompt_column", T::String, "prompt", "Column holding the prompt");
  s.add("chosen_column", T::String, "chosen", "Column holding the preferred response");
  s.add("rejected_column", T::String, "rejected", "Column holding the dispreferred response");
  s.add("max_length", T::Int, 1024, "Longest row (prompt + completion) in tokens");
  s.add("max_prompt_length", T::Int, nullptr, "Longest prompt in tokens (its end is kept)");
  s.add("truncation_mode", T::String, "keep_start", "keep_start (cut completions) or keep_end (cut prompts)");
  s.add("cache_dir", T::String, nullptr, "Folder for tokenized data and reference log-probs (default ~/.cache/prefer)");
  // --- DPO ---
  s.add("beta", T::Float, 0.1, "KL temperature: how far the policy may move from the reference");
  s.add("loss_type", T::StringList, Json::array({"sigmoid"}), "One or more TRL loss types (sigmoid, ipo, hinge, sft, ...)");
  s.add("loss_weights", T::FloatList, nullptr, "Weights of the loss types (default 1 each)");
  s.add("label_smoothing", T::Float, 0.0, "Label noise epsilon (robust, exo_pair, aot)");
  s.add("use_weighting", T::Bool, false, "WPO weighting (not supported yet; see docs)");
  s.add("ld_alpha", T::Float, nullptr, "LD-DPO weight of the longer completion's extra tokens");
  s.add("f_divergence_type", T::String, "reverse_kl", "reverse_kl, forward_kl, js_divergence or alpha_divergence");
  s.add("f_alpha_divergence_coef", T::Float, 0.5, "alpha of alpha_divergence");
  s.add("discopop_tau", T::Float, 0.05, "tau of the discopop loss");
  s.add("rpo_alpha", T::Float, nullptr, "Older TRL: adds rpo_alpha x NLL of chosen (= loss_type sft)");
  s.add("trl_version", T::String, "v1.9.0", "Whose loss semantics to follow where TRL releases differ: v1.9.0 or v0.28.0");
  s.add("precompute_ref_log_probs", T::Bool, true, "One reference pass before training, cached on disk; the step never runs the reference (false: TRL's live reference)");
  // --- training ---
  s.add("learning_rate", T::Float, 1e-6, "Peak learning rate (0 measures without changing the model)");
  s.add("lr_scheduler_type", T::String, "linear", "linear, cosine, constant, constant_with_warmup, ...");
  s.add("warmup_ratio", T::Float, 0.0, "Fraction of steps spent warming up");
  s.add("warmup_steps", T::Int, 0, "Warm-up steps (overrides warmup_ratio when > 0)");
  s.add("num_train_epochs", T::Float, 3.0, "Epochs over the training data");
  s.add("max_steps", T::Int, -1, "Stop after this many optimizer steps (overrides epochs)");
  s.add("per_device_train_batch_size", T::Int, 8, "Pairs per micro-batch");
  s.add("per_device_eval_batch_size", T::Int, 8, "Pairs per eval batch");
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
  s.add("bf16", T::Bool, false, "Compute in bfloat16 (fp32 master weights)");
  s.add("group_by_length", T::Bool, true, "Batch examples of similar length (less padding)");
  s.add("batch_layout", T::String, "prefix_shared", "prefix_shared (each prompt once) or concatenated (TRL's rows)");
  s.add("pad_to_multiple_of", T::Int, nullptr, "Pad each batch's length to a multiple of this");
  s.add("chunk_tokens", T::Int, 1024, "Completion positions per LM-head chunk (memory vs speed)");
  // --- LoRA ---
  s.add("use_peft", T::Bool, false, "Train a LoRA adapter instead of every weight");
  s.add("lora_r", T::Int, 16, "LoRA rank");
  s.add("lora_alpha", T::Float, 32.0, "LoRA alpha (scale alpha / r)");
  s.add("lora_dropout", T::Float, 0.05, "Dropout on the LoRA input");
  s.add("lora_target_modules", T::StringList, nullptr, "Modules to adapt (names or all-linear; default q_proj,v_proj)");
  s.add("use_rslora", T::Bool, false, "Scale alpha / sqrt(r)");
  s.add("merge", T::Bool, false, "With use_peft: also write the merged model to final/merged");
  return s;
}

namespace {

template <class T>
T get(const Json& o, const char* k) {
  return o.at(k).get<T>();
}
template <class T>
std::optional<T> opt(const Json& o, const char* k) {
  if (!o.contains(k) || o.at(k).is_null()) return std::nullopt;
  return o.at(k).get<T>();
}

objectives::DpoConfig dpo_config(const Json& o) {
  objectives::DpoConfig c;
  c.beta = get<double>(o, "beta");
  c.loss_type = objectives::parse_dpo_loss_types(get<std::vector<std::string>>(o, "loss_type"));
  if (auto w = opt<std::vector<double>>(o, "loss_weights")) c.loss_weights = *w;
  c.label_smoothing = get<double>(o, "label_smoothing");
  c.use_weighting = get<bool>(o, "use_weighting");
  c.ld_alpha = opt<double>(o, "ld_alpha");
  c.f_divergence_type = objectives::parse_f_divergence_type(get<std::string>(o, "f_divergence_type"));
  c.f_alpha_divergence_coef = get<double>(o, "f_alpha_divergence_coef");
  c.discopop_tau = get<double>(o, "discopop_tau");
  c.rpo_alpha = opt<double>(o, "rpo_alpha");
  c.trl_version = objectives::parse_trl_version(get<std::string>(o, "trl_version"));
  c.validate();
  return c;
}

train::TrainerArgs trainer_args(const Json& o) {
  train::TrainerArgs a;
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
  a.validate();
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

void require(const Json& o, const char* k, const char* what) {
  if (!o.contains(k) || o.at(k).is_null()) throw Error(std::string("is required: ") + what, {.field = k});
}

}  // namespace

DpoRunSummary run_dpo(const Json& o, std::ostream& out) {
  // ---- validate everything before any work ----
  require(o, "model", "the model folder to align");
  require(o, "data", "the preference data");
  require(o, "output_dir", "where the run is written");
  objectives::DpoConfig dpo = dpo_config(o);
  train::TrainerArgs targs = trainer_args(o);
  const bool use_peft = get<bool>(o, "use_peft");
  const fs::path model_dir = get<std::string>(o, "model");
  model::LoraConfig lora = lora_config(o, model_dir.string());
  const std::string layout = get<std::string>(o, "batch_layout");
  if (layout != "concatenated" && layout != "prefix_shared")
    throw Error("must be concatenated or prefix_shared, not '" + layout + "'", {.field = "batch_layout"});
  if (get<int64_t>(o, "chunk_tokens") < 1) throw Error("must be >= 1", {.field = "chunk_tokens"});
  double eval_split = get<double>(o, "eval_split");
  if (eval_split < 0 || eval_split >= 1) throw Error("must be in [0, 1)", {.field = "eval_split"});
  if (get<bool>(o, "merge") && !use_peft) throw Error("only applies with use_peft (a full run's final/ is already a whole model)", {.field = "merge"});

  data::PrepareOptions prep;
  prep.read.columns.prompt = get<std::string>(o, "prompt_column");
  prep.read.columns.chosen = get<std::string>(o, "chosen_column");
  prep.read.columns.rejected = get<std::string>(o, "rejected_column");
  prep.read.expect = data::DatasetKind::Preference;
  prep.tokenize.max_length = get<int64_t>(o, "max_length");
  prep.tokenize.max_prompt_length = opt<int64_t>(o, "max_prompt_length");
  std::string tm = get<std::string>(o, "truncation_mode");
  if (tm != "keep_start" && tm != "keep_end") throw Error("must be keep_start or keep_end", {.field = "truncation_mode"});
  prep.tokenize.truncation_mode = tm == "keep_start" ? data::TruncationMode::KeepStart : data::TruncationMode::KeepEnd;
  fs::path cache_dir = opt<std::string>(o, "cache_dir").value_or(data::default_cache_dir().string());
  prep.cache_dir = cache_dir;

  // ---- run folder ----
  const fs::path out_dir = targs.output_dir;
  if (fs::exists(out_dir / "final") && targs.resume_from_checkpoint.empty())
    throw Error("already holds a finished run (final/)", {.file = out_dir.string(), .field = "output_dir",
                .hint = "choose another output_dir, or delete that folder"});
  fs::create_directories(out_dir);
  write_yaml_file(out_dir / "config.yaml", o);

  // ---- data ----
  data::TextModel text = data::TextModel::load(model_dir);
  data::PreparedData train_data = data::prepare_data(get<std::string>(o, "data"), text, prep);
  DpoRunSummary summary;
  summary.output_dir = out_dir;
  for (const auto& w : train_data.warnings) out << "warning: " << w << "\n";
  std::optional<data::PreparedData> eval_data;
  data::TokenizedDataset train_set, eval_set;
  if (auto e = opt<std::string>(o, "eval_data")) {
    eval_data = data::prepare_data(*e, text, prep);
    train_set = std::move(train_data.data);
    eval_set = std::move(eval_data->data);
  } else if (eval_split > 0) {
    // A deterministic split: every k-th example (by the seed's shuffle) goes to eval.
    data::SamplerOptions so{.batch_size = 1, .shuffle = true, .group_by_length = false, .seed = targs.seed};
    auto order = data::epoch_batches(train_data.data, so, -1);
    size_t n_eval = static_cast<size_t>(std::llround(eval_split * static_cast<double>(order.size())));
    std::vector<bool> is_eval(train_data.data.size(), false);
    for (size_t i = 0; i < n_eval; ++i) is_eval[order[i][0]] = true;
    std::vector<size_t> tr, ev;
    for (size_t i = 0; i < train_data.data.size(); ++i) (is_eval[i] ? ev : tr).push_back(i);
    train_set = train_data.data.select(tr);
    eval_set = train_data.data.select(ev);
  } else {
    train_set = std::move(train_data.data);
  }

  // ---- models ----
  model::LoadOptions lo;
  lo.dtype = get<bool>(o, "bf16") ? at::kBFloat16 : at::kFloat;
  at::manual_seed(get<int64_t>(o, "seed"));
  model::CausalLM policy = model::load_model(model_dir, lo);
  std::optional<model::CausalLM> reference;
  const bool precompute = get<bool>(o, "precompute_ref_log_probs");
  if (use_peft) {
    policy.set_requires_grad(false);
    model::add_lora(policy, lora, static_cast<uint64_t>(get<int64_t>(o, "seed")));
  } else {
    policy.set_requires_grad(true);
  }
  auto ref_dir = opt<std::string>(o, "ref_model");
  if (ref_dir || (!use_peft && !precompute)) {
    reference.emplace(model::load_model(ref_dir ? fs::path(*ref_dir) : model_dir, lo));
    reference->set_requires_grad(false);
  }

  train::DpoRecipeOptions ro;
  ro.dpo = dpo;
  ro.chunk_tokens = get<int64_t>(o, "chunk_tokens");
  ro.batch.layout = layout == "prefix_shared" ? data::BatchLayout::PrefixShared : data::BatchLayout::Concatenated;
  ro.batch.pad_id = text.tokenizer.pad_id().value_or(text.tokenizer.eos_id().value_or(0));
  if (auto m = opt<int64_t>(o, "pad_to_multiple_of")) {
    if (*m < 1) throw Error("must be >= 1", {.field = "pad_to_multiple_of"});
    ro.batch.pad_to_multiple_of = *m;
  }
  ro.batch.tokens_multiple_of = 64;  // avoids oneDNN's slow bf16 GEMM row counts (data/batch.h)
  train::DpoRecipe recipe(policy, reference ? &*reference : nullptr, ro);

  // precompute_ref_log_probs: one no-grad pass (train and eval), cached on disk by model and data.
  std::optional<train::ReferenceTable> train_table, eval_table;
  if (precompute) {
    fs::path ref_source = ref_dir ? fs::path(*ref_dir) : model_dir;
    recipe.use_policy_as_reference(!reference.has_value());  // untrained policy = the starting model
    train_table = train::reference_table(recipe, train_set, ref_source, cache_dir, targs.per_device_eval_batch_size);
    out << fmt::format("reference log-probs: {} pairs {}\n", train_set.size(), train_table->from_cache ? "read from the cache" : "computed and cached");
    if (eval_set.size() > 0) eval_table = train::reference_table(recipe, eval_set, ref_source, cache_dir, targs.per_device_eval_batch_size);
    recipe.use_policy_as_reference(false);
    recipe.set_reference_model(nullptr);
    reference.reset();  // the reference weights are no longer needed
  }

  // ---- the task the trainer runs ----
  train::TrainingTask task;
  task.step = [&](const data::TokenizedDataset& d, const std::vector<size_t>& ex, bool is_train) {
    const train::ReferenceTable* t = &d == &train_set ? (train_table ? &*train_table : nullptr) : (eval_table ? &*eval_table : nullptr);
    if (t != nullptr) recipe.set_reference_table(t->chosen, t->rejected);
    else recipe.clear_reference_table();
    train::DpoStepOutput s = recipe.step(d, ex, is_train);
    return train::MicroStep{s.loss, s.metrics, s.pairs, s.tokens, s.lines};
  };
  task.trainable = [&] {
    std::vector<train::NamedParam> p;
    if (use_peft) {
      for (auto& [n, t] : model::lora_parameters(policy, lora)) p.push_back({n, t});
    } else {
      for (auto& [n, t] : policy.named_parameters()) p.push_back({n, t});
    }
    return p;
  };
  task.save_checkpoint = [&](const fs::path& dir) {
    if (use_peft) model::save_adapter(policy, lora, dir);
    else model::save_pretrained(policy, dir / "model");
  };
  task.load_checkpoint = [&](const fs::path& dir) {
    if (use_peft) {
      model::remove_lora(policy);
      model::load_adapter(policy, dir);
    } else {
      model::CausalLM saved = model::load_model(dir / "model", lo);
      at::NoGradGuard g;
      auto dst = policy.named_parameters();
      auto src = saved.named_parameters();
      for (size_t i = 0; i < dst.size(); ++i) dst[i].second.copy_(src[i].second);
    }
  };
  task.save_final = [&](const fs::path& dir) {
    if (use_peft) {
      model::save_adapter(policy, lora, dir);
      model::copy_tokenizer_files(model_dir, dir);
      if (get<bool>(o, "merge")) {
        // Merge into a copy of the weights so the trained adapter in memory stays as it is.
        model::save_pretrained(policy, dir / "merged");
      }
    } else {
      model::save_pretrained(policy, dir);
    }
  };

  train::Trainer trainer(targs, task, train_set, eval_set.size() > 0 ? &eval_set : nullptr);

  // ---- the seed's checklist before training, and the monitor during it ----
  int64_t trainable = 0, total_params = 0;
  for (const auto& p : task.trainable()) trainable += p.param.numel();
  for (const auto& [n, t] : policy.named_parameters()) total_params += t.numel();
  int64_t longest = 0;
  double rejected_tokens = 0;
  for (size_t i = 0; i < train_set.size(); ++i) {
    longest = std::max(longest, train_set.max_row_length(i));
    rejected_tokens += static_cast<double>(train_set.row(i).rejected_len);
  }
  const auto& cfg = policy.config();
  train::MemoryInputs mi;
  mi.parameters = total_params;
  mi.trainable_parameters = trainable;
  mi.weight_bytes = get<bool>(o, "bf16") ? 2 : 4;
  mi.reference_copy = reference.has_value();
  mi.batch_tokens = 2 * targs.per_device_train_batch_size * longest;
  mi.logits_tokens = std::min<int64_t>(mi.batch_tokens, get<int64_t>(o, "chunk_tokens"));  // the chunked scorer
  mi.vocab_size = cfg.vocab_size;
  mi.hidden_size = cfg.hidden_size;
  mi.intermediate_size = cfg.intermediate_size;
  mi.num_layers = cfg.num_hidden_layers;
  train::MemoryEstimate mem = train::estimate_memory(mi);
  train::PreflightInputs pi;
  pi.beta = dpo.beta;
  pi.num_pairs = static_cast<int64_t>(train_set.size());
  pi.learning_rate = targs.learning_rate;
  pi.max_length = prep.tokenize.max_length;
  pi.max_prompt_length = prep.tokenize.max_prompt_length.value_or(0);
  pi.has_chat_template = text.templ() != nullptr;
  pi.estimated_peak_bytes = mem.total();
  pi.available_bytes = train::physical_memory_bytes();
  pi.memory_breakdown = mem.describe();
  trainer.set_preflight(train::preflight_checks(pi));
  train::MonitorOptions mon;
  mon.mean_rejected_length = train_set.size() ? rejected_tokens / static_cast<double>(train_set.size()) : 0;
  trainer.set_monitor(mon);
  out << "estimated peak memory: " << mem.describe() << "\n";
  out << fmt::format("dpo: {} pairs ({} eval), {} steps of {} pairs x {} accumulation, {} on {}\n", train_set.size(), eval_set.size(),
                     trainer.total_steps(), targs.per_device_train_batch_size, targs.gradient_accumulation_steps,
                     use_peft ? fmt::format("LoRA r={}", lora.r) : std::string("full fine-tuning"), model_dir.string());
  train::TrainResult r = trainer.train();
  summary.final_dir = r.final_dir;
  summary.steps = r.steps;
  summary.seconds = r.seconds;
  for (const auto& row : r.log) (row.contains("eval_loss") ? summary.last_eval : summary.last_train) = row;
  for (const auto& w : r.warnings) summary.warnings.push_back(Json::parse(w.to_json().dump()));
  out << fmt::format("done: {} steps in {:.1f} s; the aligned model is in {}\n", r.steps, r.seconds, r.final_dir.string());
  return summary;
}

}  // namespace prefer::cli
