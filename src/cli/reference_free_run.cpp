#include "cli/reference_free_run.h"

#include <fmt/format.h>

#include "cli/judged_eval.h"
#include "cli/policy.h"
#include "cli/tokenizer_setup.h"
#include "cli/quantization_options.h"
#include "cli/train_options.h"
#include "train/memory_estimate.h"
#include "train/preference_checks.h"
#include "train/preflight.h"
#include "train/trainer.h"
#include "util/error.h"

namespace prefer::cli {

void add_reference_free_options(OptionSet& s, const std::string& model_help) {
  using T = OptType;
  add_model_data_options(s, {.model_help = model_help,
                             .data_help = "Training data: prompt/chosen/rejected (text or messages), JSONL or JSON; several files: a,b",
                             .columns = {"prompt", "chosen", "rejected"}, .max_length = 1024, .max_prompt_length = true});
  s.add("chat_template_path", T::String, nullptr, "Chat template: a .jinja file or a model folder to take it (and its special tokens) from");
  add_pair_batch_options(s);
}

RunSummary run_reference_free(const Json& o, const ReferenceFreeMethod& m, std::ostream& out) {
  // ---- validate everything before any work ----
  require(o, "model", "the model folder to align");
  require(o, "data", "the preference data");
  require(o, "output_dir", "where the run is written");
  train::TrainerArgs targs = trainer_args(o, "prefer " + m.name);
  model::ModelSource source = model::resolve_model_source(get<std::string>(o, "model"), opt<std::string>(o, "adapter"));
  PolicyOptions pol = policy_options(o, source);  // read and checked before the data work
  pair_batch_layout(o);  // checked before any work
  data::PrepareOptions prep = prepare_options(o, data::DatasetKind::Preference);
  open_run_folder(o, targs);

  // ---- tokenizer (template, special tokens, pad token) and data ----
  TokenizerSetup tok = setup_tokenizer(o, source, pol.use_peft, targs.output_dir, out);
  RunData data = prepare_run_data(o, tok.text, prep, targs.seed);
  for (const auto& w : data.warnings) out << "warning: " << w << "\n";

  // ---- the policy and the task: no reference anywhere ----
  pol.source = source;  // as the tokenizer setup left it
  pol.vocab_size = tok.grow_vocab;
  Policy policy(pol);
  train::PairRecipeOptions ro;
  ro.chunk_tokens = get<int64_t>(o, "chunk_tokens");
  ro.batch = pair_batch_options(o, tok.text);
  ro.batch.score_chosen_prompt = m.score_chosen_prompt;
  train::PairRecipe recipe(policy.model(), m.objective, ro);
  train::TrainingTask task;
  recipe.install(task);
  policy.install(task);
  task.extra_eval = make_judged_eval(o, policy.model(), tok.text, targs.output_dir, out);
  save_tokenizer_choices(task, tok);
  task.fingerprint = run_fingerprint(o, source, data.hash);
  train::Trainer trainer(targs, task, data.train, data.eval.size() > 0 ? &data.eval : nullptr);

  // ---- pre-flight and monitor ----
  int64_t longest = 0;
  for (size_t i = 0; i < data.train.size(); ++i) longest = std::max(longest, data.train.max_row_length(i));
  train::MemoryEstimate mem = train::estimate_memory(policy.memory_inputs(2 * targs.per_device_train_batch_size * longest, ro.chunk_tokens));
  train::PreflightInputs pi{.method = m.title, .preference_checks = false, .learning_rate = targs.learning_rate,
                            .max_length = prep.tokenize.max_length, .max_prompt_length = prep.tokenize.max_prompt_length.value_or(0),
                            .estimated_peak_bytes = mem.total(), .available_bytes = train::physical_memory_bytes(),
                            .memory_breakdown = mem.describe()};
  std::vector<train::TrainingWarning> pre = train::preflight_checks(pi);
  for (const auto& w : m.preflight) pre.push_back(w);
  if (m.nll_term)
    if (auto w = train::template_format_check(m.title, tok.text.templ() != nullptr, data.conversational)) pre.push_back(*w);
  trainer.set_preflight(pre);
  train::MonitorOptions mon;
  mon.method = m.title;
  mon.chosen_term_hint = m.chosen_term_hint;
  mon.pairs_per_log = static_cast<double>(targs.per_device_train_batch_size * targs.gradient_accumulation_steps * targs.logging_steps);
  double rejected_tokens = 0;
  for (const auto& r : data.train.rows()) rejected_tokens += static_cast<double>(r.rejected_len);
  mon.mean_rejected_length = data.train.size() ? rejected_tokens / static_cast<double>(data.train.size()) : 0;
  if (m.average_logps) mon = train::average_logp_thresholds(mon, m.beta);
  const bool nll = m.nll_term;
  trainer.set_monitor_rules([mon, nll](int64_t total) {
    train::MonitorOptions mo = mon;
    mo.total_steps = total;
    std::vector<train::MonitorRule> rules = train::dpo_monitor_rules(mo);
    if (nll) rules.push_back(train::chosen_nll_rising_rule(total));
    return rules;
  });
  std::vector<std::string> settings = m.settings;
  for (const char* k : {"learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps",
                        "max_length", "bf16", "use_peft", "lora_r", "lora_alpha", "seed"})
    settings.push_back(k);
  ModelCard card{.method = m.title, .command = "prefer " + m.name, .source = source, .adapter = pol.use_peft, .data_hash = data.hash,
                 .settings = settings};
  trainer.set_model_card([card, &o](const train::TrainResult& r) { return model_card_text(card, o, r); });
  trainer.set_status_metrics({"rewards/margins", "rewards/accuracies"});
  record_memory_estimate(targs, mem, out, " (reference-free: no reference model)");
  out << fmt::format("{}: {} pairs ({} eval), {} steps of {} pairs x {} accumulation, {} on {}\n", m.name, data.train.size(), data.eval.size(),
                     trainer.total_steps(), targs.per_device_train_batch_size, targs.gradient_accumulation_steps,
                     pol.use_peft ? fmt::format("LoRA r={}", pol.lora.r) : std::string("full fine-tuning"), source.describe());
  return run_training(trainer, "aligned", out);
}

}  // namespace prefer::cli
