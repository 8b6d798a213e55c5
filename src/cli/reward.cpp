// `prefer reward`: a Bradley-Terry reward model with TRL RewardTrainer's names and semantics: pairs
// (chosen/rejected, optional prompt and margin; text or conversations), pairs longer than max_length
// dropped and counted, the score head read at the last real token. Stage 2 of RLHF; its final/ is what
// `prefer score` (and PPO) reads, an HF sequence classifier or a SEQ_CLS PEFT adapter.
#include <fmt/format.h>

#include <iostream>

#include "cli/command.h"
#include "cli/policy.h"
#include "cli/quantization_options.h"
#include "cli/train_options.h"
#include "cli/train_run.h"
#include "train/memory_estimate.h"
#include "train/preflight.h"
#include "train/reward_checks.h"
#include "train/reward_recipe.h"
#include "util/error.h"

namespace prefer::cli {
namespace fs = std::filesystem;

namespace {

OptionSet reward_option_set() {
  OptionSet s;
  using T = OptType;
  add_model_data_options(s, {.model_help = "Model to turn into a reward model (an SFT model, or a classifier), a run folder or an adapter",
                             .data_help = "Preference pairs: chosen/rejected with optional prompt and margin (JSONL or JSON; several files: a,b)",
                             .columns = {"prompt", "chosen", "rejected", "margin"}, .max_length = 1024});
  s.add("center_rewards_coefficient", T::Float, nullptr, "Weight of mean((r_c + r_r)^2), keeping rewards centred on 0 (0.01 is usual)");
  add_training_options(s, {.learning_rate = 1e-4, .num_train_epochs = 1.0, .per_device_train_batch_size = 8, .batch_unit = "pairs"});
  add_lora_options(s);
  return s;
}

// Pairs longer than max_length are dropped, not truncated (TRL): a truncated pair may have lost the part
// that makes chosen better.
data::TokenizedDataset drop_long_pairs(const data::TokenizedDataset& d, int64_t max_length, int64_t& dropped, int64_t& first_line) {
  std::vector<size_t> keep;
  for (size_t i = 0; i < d.size(); ++i) {
    if (max_length > 0 && d.max_row_length(i) > max_length) {
      if (dropped++ == 0) first_line = d.row(i).line;
      continue;
    }
    keep.push_back(i);
  }
  return d.select(keep);
}

RunSummary run_reward(const Json& o, std::ostream& out) {
  require(o, "model", "the model to train as a reward model");
  require(o, "data", "the preference pairs");
  require(o, "output_dir", "where the run is written");
  train::TrainerArgs targs = trainer_args(o, "prefer reward");
  const model::ModelSource source = model::resolve_model_source(get<std::string>(o, "model"), opt<std::string>(o, "adapter"));
  PolicyOptions pol = policy_options(o, source);  // read and checked before the data work
  train::RewardRecipeOptions ro;
  ro.reward.center_rewards_coefficient = opt<double>(o, "center_rewards_coefficient");
  ro.reward.validate();
  data::PrepareOptions prep = prepare_options(o, data::DatasetKind::Preference);
  const int64_t max_length = prep.tokenize.max_length;
  prep.tokenize.max_length = 0;  // tokenize whole; long pairs are dropped below
  open_run_folder(o, targs);

  // ---- data ----
  data::TextModel text = data::TextModel::load(source.tokenizer);
  RunData data = prepare_run_data(o, text, prep, targs.seed);
  for (const auto& w : data.warnings) out << "warning: " << w << "\n";
  int64_t dropped = 0, first_line = 0, eval_dropped = 0, eval_first = 0;
  data::TokenizedDataset train_set = drop_long_pairs(data.train, max_length, dropped, first_line);
  data::TokenizedDataset eval_set = drop_long_pairs(data.eval, max_length, eval_dropped, eval_first);
  if (dropped > 0)
    out << fmt::format("warning: {} of {} training pairs are longer than max_length {} and were dropped (first: line {})\n", dropped,
                       data.train.size(), max_length, first_line);
  if (eval_dropped > 0) out << fmt::format("warning: {} eval pairs longer than max_length were dropped\n", eval_dropped);

  // ---- model and task ----
  const std::optional<int32_t> pad = text.tokenizer.pad_id();
  pol.classifier = true;
  pol.pad_token_id = pad ? std::optional<int64_t>(*pad) : text.tokenizer.eos_id() ? std::optional<int64_t>(*text.tokenizer.eos_id()) : std::nullopt;
  Policy policy(pol);
  ro.batch.pad_id = pad.value_or(text.tokenizer.eos_id().value_or(0));
  if (auto m = opt<int64_t>(o, "pad_to_multiple_of")) ro.batch.pad_to_multiple_of = *m;
  ro.batch.tokens_multiple_of = 64;
  train::RewardRecipe recipe(policy.model(), ro);
  train::TrainingTask task;
  recipe.install(task);
  policy.install(task);
  task.fingerprint = run_fingerprint(o, source, data.hash);
  train::Trainer trainer(targs, task, train_set, eval_set.size() > 0 ? &eval_set : nullptr);

  // ---- pre-flight and monitor ----
  int64_t longest = 0;
  for (size_t i = 0; i < train_set.size(); ++i) longest = std::max(longest, train_set.max_row_length(i));
  train::MemoryInputs mi = policy.memory_inputs(2 * targs.per_device_train_batch_size * longest, 1);
  mi.vocab_size = 1;  // a scalar head: no vocabulary logits
  train::MemoryEstimate mem = train::estimate_memory(mi);
  train::PreflightInputs pi{.method = "reward-model", .preference_checks = false, .learning_rate = targs.learning_rate,
                            .estimated_peak_bytes = mem.total(), .available_bytes = train::physical_memory_bytes(),
                            .memory_breakdown = mem.describe()};
  trainer.set_preflight(train::preflight_checks(pi, {.min_learning_rate = 1e-6, .max_learning_rate = 1e-3}));
  const data::TokenizedDataset& bias_set = eval_set.size() > 0 ? eval_set : train_set;
  train::RewardCheckOptions rc;
  rc.centring = ro.reward.center_rewards_coefficient.has_value();
  rc.pairs_per_log = static_cast<double>(targs.per_device_train_batch_size * targs.gradient_accumulation_steps * targs.logging_steps);
  rc.length_set = eval_set.size() > 0 ? "eval" : "training";
  rc.length_pairs = [&recipe, &bias_set, &targs] {
    std::vector<std::pair<double, double>> xy;
    for (size_t s = 0; s < bias_set.size(); s += static_cast<size_t>(targs.per_device_eval_batch_size)) {
      std::vector<size_t> ex;
      for (size_t i = s; i < std::min(bias_set.size(), s + static_cast<size_t>(targs.per_device_eval_batch_size)); ++i) ex.push_back(i);
      auto [c, r] = recipe.pair_rewards(bias_set, ex);
      for (size_t k = 0; k < ex.size(); ++k)
        xy.push_back({c[static_cast<int64_t>(k)].item<double>() - r[static_cast<int64_t>(k)].item<double>(),
                      static_cast<double>(bias_set.row(ex[k]).chosen_len - bias_set.row(ex[k]).rejected_len)});
    }
    return xy;
  };
  trainer.set_monitor_rules([rc](int64_t total) {
    train::RewardCheckOptions r = rc;
    r.total_steps = total;
    return train::reward_monitor_rules(r);
  });
  ModelCard card{.method = "reward model", .command = "prefer reward", .source = source, .adapter = pol.use_peft, .classifier = true,
                 .data_hash = data.hash,
                 .settings = {"learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps",
                              "max_length", "center_rewards_coefficient", "bf16", "use_peft", "lora_r", "lora_alpha", "seed"}};
  trainer.set_model_card([card, &o](const train::TrainResult& r) { return model_card_text(card, o, r); });
  trainer.set_status_metrics({"accuracy", "margin"});
  record_memory_estimate(targs, mem, out);
  out << fmt::format("reward: {} pairs ({} eval), {} steps of {} pairs x {} accumulation, {} on {}\n", train_set.size(), eval_set.size(),
                     trainer.total_steps(), targs.per_device_train_batch_size, targs.gradient_accumulation_steps,
                     pol.use_peft ? fmt::format("LoRA r={}", pol.lora.r) : std::string("full fine-tuning"), source.describe());
  return run_training(trainer, "reward", out);
}

}  // namespace

void add_reward_command(CLI::App& app, GlobalOptions& g) {
  add_training_command(app, g, "reward", "Train a Bradley-Terry reward model on preference pairs (TRL's RewardTrainer)", reward_option_set(), run_reward);
}

}  // namespace prefer::cli
