#include "cli/dpo_run.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <optional>

#include "cli/judged_eval.h"
#include "cli/policy.h"
#include "cli/run_reference.h"
#include "cli/tokenizer_setup.h"
#include "cli/quantization_options.h"
#include "cli/train_options.h"
#include "data/pipeline.h"
#include "model/loader.h"
#include "model/model_source.h"
#include "objectives/dpo_config.h"
#include "train/dpo_recipe.h"
#include "train/memory_estimate.h"
#include "train/preflight.h"
#include "train/reference.h"
#include "train/trainer.h"
#include "util/error.h"

namespace prefer::cli {
namespace fs = std::filesystem;

OptionSet dpo_option_set() {
  OptionSet s;
  using T = OptType;
  add_model_data_options(s, {.model_help = "Policy model folder, run folder or adapter (start from an SFT model)",
                             .data_help = "Training data: prompt/chosen/rejected (text or messages), JSONL or JSON; several files: a,b",
                             .columns = {"prompt", "chosen", "rejected"}, .max_length = 1024, .max_prompt_length = true});
  s.add("ref_model", T::String, nullptr, "Reference model folder or adapter (default: the starting policy)");
  // --- DPO ---
  s.add("beta", T::Float, 0.1, "KL temperature: how far the policy may move from the reference");
  s.add("loss_type", T::StringList, Json::array({"sigmoid"}), "One or more TRL loss types (sigmoid, ipo, hinge, sft, ...)");
  s.add("loss_weights", T::FloatList, nullptr, "Weights of the loss types (default 1 each)");
  s.add("label_smoothing", T::Float, 0.0, "Label noise epsilon (robust, exo_pair, aot)");
  s.add("use_weighting", T::Bool, false, "WPO: weight each pair by how likely the policy finds both completions (TRL's use_weighting)");
  s.add("ld_alpha", T::Float, nullptr, "LD-DPO weight of the longer completion's extra tokens");
  s.add("f_divergence_type", T::String, "reverse_kl", "reverse_kl, forward_kl, js_divergence or alpha_divergence");
  s.add("f_alpha_divergence_coef", T::Float, 0.5, "alpha of alpha_divergence");
  s.add("discopop_tau", T::Float, 0.05, "tau of the discopop loss");
  s.add("rpo_alpha", T::Float, nullptr, "Older TRL: adds rpo_alpha x NLL of chosen (= loss_type sft)");
  s.add("trl_version", T::String, "v1.9.0", "Whose loss semantics to follow where TRL releases differ: v1.9.0 or v0.28.0");
  s.add("precompute_ref_log_probs", T::Bool, true, "One reference pass before training, cached on disk; the step never runs the reference (false: TRL's live reference)");
  s.add("precompute_ref_dtype", T::String, "auto",
        "Dtype of the precompute pass: auto (the policy's), float32 or bfloat16 (for a float32 policy: its reference log-probs from a bf16 copy of the starting weights, faster where bf16 GEMMs are, within bf16 rounding of the float32 ones; the copy, 2 bytes a weight, lives only during the pass)");
  add_pair_batch_options(s);
  add_training_options(s, {.learning_rate = 1e-6, .num_train_epochs = 3.0, .per_device_train_batch_size = 8, .batch_unit = "pairs"});
  add_lora_options(s);
  add_judged_eval_options(s);
  return s;
}

namespace {

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

}  // namespace

RunSummary run_dpo(const Json& o, std::ostream& out) {
  // ---- validate everything before any work ----
  require(o, "model", "the model folder to align");
  require(o, "data", "the preference data");
  require(o, "output_dir", "where the run is written");
  objectives::DpoConfig dpo = dpo_config(o);
  train::TrainerArgs targs = trainer_args(o, "prefer dpo");
  const model::ModelSource source = model::resolve_model_source(get<std::string>(o, "model"), opt<std::string>(o, "adapter"));
  PolicyOptions pol = policy_options(o, source);  // read and checked before the data work
  pair_batch_layout(o);  // checked before any work
  RunReference::check_options(o);
  data::PrepareOptions prep = prepare_options(o, data::DatasetKind::Preference);
  const fs::path cache_dir = prep.cache_dir.value_or(data::default_cache_dir());
  open_run_folder(o, targs);

  // ---- data ----
  data::TextModel text = data::TextModel::load(source.tokenizer);
  RunData data = prepare_run_data(o, text, prep, targs.seed);
  for (const auto& w : data.warnings) out << "warning: " << w << "\n";
  const data::TokenizedDataset& train_set = data.train;
  const data::TokenizedDataset& eval_set = data.eval;

  // ---- models ----
  Policy policy(pol);
  train::DpoRecipeOptions ro;
  ro.dpo = dpo;
  ro.chunk_tokens = get<int64_t>(o, "chunk_tokens");
  ro.batch = pair_batch_options(o, text);
  RunReference reference(o, source, policy, ro.chunk_tokens);
  train::DpoRecipe recipe(policy.model(), reference.get(), ro);

  // precompute_ref_log_probs: one no-grad pass (train and eval), cached on disk by model and data.
  if (reference.precompute())
    reference.tabulate({&train_set, &eval_set}, ro.batch, cache_dir, targs.per_device_eval_batch_size, "pairs", out);

  // ---- the task the trainer runs: DPO's loss is a mean over pairs ----
  train::TrainingTask task;
  task.step = [&](const data::TokenizedDataset& d, const std::vector<size_t>& ex, bool is_train) {
    train::DpoStepOutput s = recipe.step(d, ex, is_train);
    train::MicroStep m{.loss_sum = s.loss * static_cast<double>(s.pairs), .weight = static_cast<double>(s.pairs),
                       .examples = s.pairs, .tokens = s.tokens, .lines = s.lines};
    train::add_means(m.metrics, s.metrics, static_cast<double>(s.pairs));
    return m;
  };
  policy.install(task);
  task.extra_eval = make_judged_eval(o, policy.model(), text, targs.output_dir, out);
  task.fingerprint = run_fingerprint(o, source, data.hash);

  train::Trainer trainer(targs, task, train_set, eval_set.size() > 0 ? &eval_set : nullptr);

  // ---- the seed's checklist before training, and the monitor during it ----
  int64_t longest = 0;
  double rejected_tokens = 0;
  for (size_t i = 0; i < train_set.size(); ++i) {
    longest = std::max(longest, train_set.max_row_length(i));
    rejected_tokens += static_cast<double>(train_set.row(i).rejected_len);
  }
  train::MemoryInputs mi = policy.memory_inputs(2 * targs.per_device_train_batch_size * longest, ro.chunk_tokens);
  mi.reference_copy = reference.keeps_copy();
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
  mon.pairs_per_log = static_cast<double>(targs.per_device_train_batch_size * targs.gradient_accumulation_steps * targs.logging_steps);
  trainer.set_monitor(mon);
  ModelCard card{.method = "DPO", .command = "prefer dpo", .source = source, .adapter = pol.use_peft, .data_hash = data.hash,
                 .settings = {"beta", "loss_type", "learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
                              "gradient_accumulation_steps", "max_length", "bf16", "use_peft", "lora_r", "lora_alpha",
                              "precompute_ref_log_probs", "precompute_ref_dtype", "seed"}};
  trainer.set_model_card([card, &o](const train::TrainResult& r) { return model_card_text(card, o, r); });
  trainer.set_status_metrics({"rewards/margins", "rewards/accuracies"});
  record_memory_estimate(targs, mem, out);
  out << fmt::format("dpo: {} pairs ({} eval), {} steps of {} pairs x {} accumulation, {} on {}\n", train_set.size(), eval_set.size(),
                     trainer.total_steps(), targs.per_device_train_batch_size, targs.gradient_accumulation_steps,
                     pol.use_peft ? fmt::format("LoRA r={}", pol.lora.r) : std::string("full fine-tuning"), source.describe());
  return run_training(trainer, "aligned", out);
}

}  // namespace prefer::cli
