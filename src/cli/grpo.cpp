// `prefer grpo` and `prefer rloo`: online RL without a value model (TRL 1.9's GRPOTrainer and
// RLOOTrainer names and defaults): num_generations completions per prompt, advantages from each group's
// rewards, the reference only when beta > 0. One command body; the method is train/group_method.h on the
// online loop PPO runs on.
#include <fmt/format.h>

#include "cli/command.h"
#include "cli/rl_run.h"
#include "cli/train_options.h"
#include "train/group_method.h"
#include "train/preflight.h"
#include "train/rl_monitor.h"
#include "util/error.h"

namespace prefer::cli {

namespace {

OptionSet group_option_set(bool rloo) {
  OptionSet s;
  using T = OptType;
  add_rl_options(s, /*several_rewards=*/true);
  s.add("num_generations", T::Int, rloo ? 2 : 8, "Completions sampled per prompt (the group)");
  s.add("max_completion_length", T::Int, 256, "Longest completion in tokens");
  s.add("response_length", T::Int, nullptr, "Alias of max_completion_length (PPO's name)");
  s.add("temperature", T::Float, 1.0, "Sampling temperature (the training log-probs use it too)");
  s.add("top_p", T::Float, 1.0, "Nucleus sampling (sampling only)");
  s.add("beta", T::Float, rloo ? 0.05 : 0.0, rloo ? "KL coefficient (k1 KL summed into the reward)" : "KL coefficient (per-token k3 in the loss); 0: no reference model");
  s.add("epsilon", T::Float, 0.2, "Ratio clip below: 1 - epsilon");
  s.add("epsilon_high", T::Float, nullptr, "Ratio clip above: 1 + epsilon_high (default epsilon; DAPO uses 0.28)");
  if (!rloo) {
    s.add("loss_type", T::String, "dapo", "grpo, bnpo, dr_grpo, dapo, cispo, sapo, luspo or vespo");
    s.add("scale_rewards", T::String, "group", "group (true), batch or none (false): what scales the group-centred rewards");
  } else {
    s.add("normalize_advantages", T::Bool, false, "Z-score the advantages over the batch");
  }
  s.add("num_iterations", T::Int, 1, "Optimisation passes over each generation batch");
  s.add("steps_per_generation", T::Int, nullptr, "Micro-steps per generation batch (default gradient_accumulation_steps)");
  s.add("mask_truncated_completions", T::Bool, false, "Completions that never ended are left out of the loss");
  add_training_options(s, {.learning_rate = 1e-6, .num_train_epochs = 1.0, .per_device_train_batch_size = 8, .batch_unit = "completions"});
  s.set_default("save_steps", 50);
  add_lora_options(s);
  return s;
}

RunSummary run_group(const Json& o, std::ostream& out, bool rloo) {
  const std::string name = rloo ? "rloo" : "grpo", method = rloo ? "RLOO" : "GRPO";
  require(o, "model", "the policy to train");
  require(o, "data", "the prompts");
  require(o, "output_dir", "where the run is written");
  train::OnlineArgs args;
  args.trainer = trainer_args(o, "prefer " + name);
  args.label = name;
  args.step_is_update = false;
  if (!args.trainer.metric_for_best_model.empty())
    throw Error(method + " runs no evaluation to rank checkpoints by", {.field = "metric_for_best_model", .hint = "evaluate checkpoints with prefer eval"});
  train::GroupMethodOptions g;
  g.rloo = rloo;
  g.num_generations = get<int64_t>(o, "num_generations");
  g.grpo.epsilon = get<double>(o, "epsilon");
  g.grpo.epsilon_high = opt<double>(o, "epsilon_high");
  g.grpo.beta = get<double>(o, "beta");
  const int64_t length = opt<int64_t>(o, "response_length").value_or(get<int64_t>(o, "max_completion_length"));
  g.grpo.max_completion_length = length;
  if (!rloo) {
    g.grpo.loss_type = objectives::parse_grpo_loss_type(get<std::string>(o, "loss_type"));
    g.scale_rewards = objectives::parse_scale_rewards(get<std::string>(o, "scale_rewards"));
  } else {
    g.normalize_advantages = get<bool>(o, "normalize_advantages");
  }
  g.grpo.validate();
  g.gradient_accumulation_steps = args.trainer.gradient_accumulation_steps;
  g.mask_truncated_completions = get<bool>(o, "mask_truncated_completions");
  const int64_t ga = args.trainer.gradient_accumulation_steps;
  const int64_t spg = opt<int64_t>(o, "steps_per_generation").value_or(ga);
  if (spg < 1 || spg % ga != 0)
    throw Error(fmt::format("is {}; it must be a multiple of gradient_accumulation_steps ({}) here, so that each optimizer step uses one "
                            "generation batch",
                            spg, ga),
                {.field = "steps_per_generation"});
  args.passes = get<int64_t>(o, "num_iterations");
  args.steps_per_pass = spg / ga;
  g.ratio_is_one = spg == ga && args.passes == 1;  // TRL: π_old is the policy's own detached log-probs
  args.total_episodes = 0;
  args.forward_batch_size = get<int64_t>(o, "local_rollout_forward_batch_size");
  args.response_length = length;
  if (!opt<std::string>(o, "reward_command") && !(o.contains("reward_model") && !o.at("reward_model").is_null() && !o.at("reward_model").empty()))
    throw Error("needs a reward: --reward_model DIR (several: a,b) and/or --reward_command CMD", {.field = "reward_model"});
  const model::ModelSource source = model::resolve_model_source(get<std::string>(o, "model"), opt<std::string>(o, "adapter"));
  const bool use_peft = get<bool>(o, "use_peft");
  open_run_folder(o, args.trainer);

  data::TextModel text = data::TextModel::load(source.tokenizer);
  const io::ModelConfig cfg = io::read_model_config(source.base / "config.json");
  RlPrompts prompts = read_rl_prompts(o, text, cfg, length, "max_completion_length");
  RlModelOptions mo = rl_model_options(o, source, text, cfg, length, args.forward_batch_size);
  mo.rollout.top_p = get<double>(o, "top_p");
  mo.value = false;
  mo.reference = g.grpo.beta > 0;  // TRL: beta 0 builds no reference model
  args.eos_token_ids = mo.rollout.eos_token_ids;
  RlModels models(mo, text, prompts.rows);
  train::OnlineTrainer trainer(args, models.roles(), std::make_unique<train::GroupMethod>(g), prompts.ids, prompts.texts,
                               rl_fingerprint(o, source, prompts, mo));
  train::RlCheckOptions rc;
  rc.method = method;
  rc.score_key = "reward";
  rc.kl_key = "kl";
  rc.kl_unit = "nats per token";
  rc.kl_bound = 0.2;
  rc.kl_blowup = 1.0;
  rc.k1 = false;  // RLOO's k1 can go negative by design; GRPO's k3 never does
  rc.kl_advice = "Raise beta";
  rc.length_option = "max_completion_length";
  rc.eos_advice = "set mask_truncated_completions so that cut completions do not train";
  trainer.set_monitor_rules([rc](int64_t total) {
    train::RlCheckOptions r = rc;
    r.total_steps = total;
    return train::rl_monitor_rules(r);
  });
  trainer.set_preflight(train::preflight_checks({.method = method, .preference_checks = false, .learning_rate = args.trainer.learning_rate},
                                                {.min_learning_rate = 1e-7, .max_learning_rate = 1e-4}));
  ModelCard card{.method = method, .command = "prefer " + name, .source = source, .adapter = use_peft, .data_hash = prompts.hash,
                 .settings = {"reward_model", "reward_command", "reward_weights", "learning_rate", "num_train_epochs", "max_steps",
                              "per_device_train_batch_size", "gradient_accumulation_steps", "num_generations", "max_completion_length",
                              "temperature", "beta", "epsilon", "epsilon_high", "loss_type", "scale_rewards", "num_iterations", "use_peft",
                              "lora_r", "seed"}};
  trainer.set_model_card([card, &o](const train::TrainResult& r) { return model_card_text(card, o, r); });
  const std::string start = fmt::format(
      "{}: {} prompts, {} steps; each generation: {} prompts x {} completions of at most {} tokens, {} optimizer step(s) of {} x {} "
      "accumulation; beta {}, {} on {}",
      name, prompts.ids.size(), trainer.total_steps(), trainer.rows_per_update() / g.num_generations, g.num_generations, length,
      args.passes * args.steps_per_pass, args.trainer.per_device_train_batch_size, ga, g.grpo.beta,
      use_peft ? fmt::format("LoRA r={}", mo.policy.lora.r) : std::string("full fine-tuning"), source.describe());
  return run_online(trainer, models, start, method, out);
}

}  // namespace

void add_grpo_command(CLI::App& app, GlobalOptions& g) {
  add_training_command(app, g, "grpo", "Online RL with group-relative advantages, no value model (TRL's GRPOTrainer)", group_option_set(false),
                       [](const Json& o, std::ostream& out) { return run_group(o, out, false); });
}

void add_rloo_command(CLI::App& app, GlobalOptions& g) {
  add_training_command(app, g, "rloo", "Online RL with the leave-one-out baseline (TRL's RLOOTrainer)", group_option_set(true),
                       [](const Json& o, std::ostream& out) { return run_group(o, out, true); });
}

}  // namespace prefer::cli
