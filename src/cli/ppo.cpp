// `prefer ppo`: stage 3 of RLHF with TRL PPOTrainer's names, defaults and metrics: a policy (LoRA or
// full), a frozen reference, a reward model (or --reward_command) and a value model, on prompts (text,
// messages or token ids). The loop is train/online_trainer.h; where the four roles' weights live is
// cli/rl_models.h (one shared base under LoRA).
#include <fmt/format.h>

#include <iostream>

#include "cli/command.h"
#include "cli/rl_run.h"
#include "cli/prompt_file.h"
#include "cli/train_options.h"
#include "cli/train_run.h"
#include "train/online_trainer.h"
#include "train/ppo_method.h"
#include "train/preflight.h"
#include "train/rl_monitor.h"
#include "util/error.h"
#include "util/hash.h"

namespace prefer::cli {
namespace fs = std::filesystem;

namespace {

OptionSet ppo_option_set() {
  OptionSet s;
  using T = OptType;
  add_rl_options(s, /*several_rewards=*/false);
  s.add("score_position", T::String, "last_token",
        "last_token (read the score at the last real token, put it on the last response token) or first_pad (TRL's placement)");
  s.add("kl_coef", T::Float, 0.05, "Weight of the per-token KL penalty (the initial value with adap_kl_ctrl)");
  s.add("kl_estimator", T::String, "k1", "k1 (log-ratio, unbiased, can be negative) or k3 (never negative)");
  s.add("adap_kl_ctrl", T::Bool, false, "Adapt kl_coef to hold the KL near target (Ziegler et al.)");
  s.add("target", T::Float, 6.0, "With adap_kl_ctrl: the KL per response to steer to");
  s.add("horizon", T::Float, 10000.0, "With adap_kl_ctrl: how many episodes the controller takes to react");
  s.add("cliprange", T::Float, 0.2, "Clip of the policy ratio");
  s.add("cliprange_value", T::Float, 0.2, "Clip of the value prediction around the rollout's");
  s.add("vf_coef", T::Float, 0.1, "Weight of the value loss");
  s.add("gamma", T::Float, 1.0, "Discount");
  s.add("lam", T::Float, 0.95, "GAE lambda");
  s.add("num_ppo_epochs", T::Int, 4, "Passes over each rollout batch");
  s.add("num_mini_batches", T::Int, 1, "Mini-batches per pass (one optimizer step each)");
  s.add("whiten_rewards", T::Bool, false, "Whiten the per-token rewards (mean kept)");
  s.add("missing_eos_penalty", T::Float, nullptr, "Subtracted from the score of responses that never end with EOS");
  s.add("response_length", T::Int, 53, "Longest response in tokens");
  s.add("temperature", T::Float, 0.7, "Sampling temperature (also applied to every log-prob, as TRL)");
  s.add("stop_token", T::String, nullptr, "eos: responses end at the EOS token (it always does here; kept for TRL's flag)");
  s.add("stop_token_id", T::Int, nullptr, "A token id that also ends a response");
  s.add("total_episodes", T::Int, nullptr, "Responses to train on (default num_train_epochs x prompts)");
  add_training_options(s, {.learning_rate = 3e-6, .num_train_epochs = 1.0, .per_device_train_batch_size = 8, .batch_unit = "responses"});
  s.set_default("logging_steps", 1);
  s.set_default("save_steps", 50);
  add_lora_options(s);
  return s;
}

RunSummary run_ppo(const Json& o, std::ostream& out) {
  require(o, "model", "the policy to align");
  require(o, "data", "the prompts");
  require(o, "output_dir", "where the run is written");
  train::OnlineArgs args;
  args.trainer = trainer_args(o, "prefer ppo");
  objectives::PpoConfig c;
  if (!args.trainer.metric_for_best_model.empty())
    throw Error("PPO runs no evaluation to rank checkpoints by", {.field = "metric_for_best_model", .hint = "evaluate checkpoints with prefer eval"});
  c.kl_coef = get<double>(o, "kl_coef");
  c.kl_estimator = objectives::parse_kl_estimator(get<std::string>(o, "kl_estimator"));
  c.cliprange = get<double>(o, "cliprange");
  c.cliprange_value = get<double>(o, "cliprange_value");
  c.vf_coef = get<double>(o, "vf_coef");
  c.gamma = get<double>(o, "gamma");
  c.lam = get<double>(o, "lam");
  c.whiten_rewards = get<bool>(o, "whiten_rewards");
  c.missing_eos_penalty = opt<double>(o, "missing_eos_penalty");
  c.adap_kl_ctrl = get<bool>(o, "adap_kl_ctrl");
  c.target = get<double>(o, "target");
  c.horizon = get<double>(o, "horizon");
  const std::string position = get<std::string>(o, "score_position");
  if (position != "last_token" && position != "first_pad") throw Error("must be last_token or first_pad", {.field = "score_position"});
  c.score_position = position == "first_pad" ? objectives::ScorePosition::kAfterLastToken : objectives::ScorePosition::kLastToken;
  c.validate();
  args.passes = get<int64_t>(o, "num_ppo_epochs");
  args.steps_per_pass = get<int64_t>(o, "num_mini_batches");
  if (c.whiten_rewards && args.trainer.per_device_train_batch_size * args.trainer.gradient_accumulation_steps < 8)
    throw Error("whiten_rewards needs mini-batches of at least 8 responses (per_device_train_batch_size x gradient_accumulation_steps)",
                {.field = "whiten_rewards", .hint = "raise per_device_train_batch_size or gradient_accumulation_steps, or turn whiten_rewards off"});
  args.total_episodes = opt<int64_t>(o, "total_episodes").value_or(0);
  args.forward_batch_size = get<int64_t>(o, "local_rollout_forward_batch_size");
  args.response_length = get<int64_t>(o, "response_length");
  if (args.forward_batch_size < 1) throw Error("must be >= 1", {.field = "local_rollout_forward_batch_size"});
  if (auto st = opt<std::string>(o, "stop_token"); st && *st != "eos")
    throw Error("must be eos (or use stop_token_id)", {.field = "stop_token"});
  if (opt<std::string>(o, "stop_token") && opt<int64_t>(o, "stop_token_id"))
    throw Error("stop_token and stop_token_id exclude each other (TRL)", {.field = "stop_token_id"});
  const bool reward_model = opt<std::string>(o, "reward_model").has_value(), command = opt<std::string>(o, "reward_command").has_value();
  if (reward_model == command)
    throw Error(reward_model ? "--reward_model and --reward_command exclude each other" : "needs a reward: --reward_model DIR or --reward_command CMD",
                {.field = "reward_model"});
  const model::ModelSource source = model::resolve_model_source(get<std::string>(o, "model"), opt<std::string>(o, "adapter"));
  const bool use_peft = get<bool>(o, "use_peft");
  open_run_folder(o, args.trainer);

  // ---- prompts (every line read and checked first), then the four roles ----
  data::TextModel text = data::TextModel::load(source.tokenizer);
  const io::ModelConfig cfg = io::read_model_config(source.base / "config.json");
  RlPrompts prompts = read_rl_prompts(o, text, cfg, args.response_length, "response_length");
  RlModelOptions mo = rl_model_options(o, source, text, cfg, args.response_length, args.forward_batch_size);
  mo.rollout.stop_token_id = opt<int64_t>(o, "stop_token_id");
  mo.score_read = position == "first_pad" ? train::ScoreRead::kFirstPad : train::ScoreRead::kLastToken;
  args.eos_token_ids = mo.rollout.eos_token_ids;
  RlModels models(mo, text, prompts.rows);
  Json fingerprint = rl_fingerprint(o, source, prompts, mo);
  train::OnlineTrainer trainer(args, models.roles(), std::make_unique<train::PpoMethod>(c, args.trainer.gradient_accumulation_steps),
                               prompts.ids, prompts.texts, fingerprint);
  train::RlCheckOptions rc;
  rc.k1 = c.kl_estimator == objectives::KlEstimator::kK1;
  rc.adaptive_kl = c.adap_kl_ctrl;
  trainer.set_monitor_rules([rc](int64_t total) {
    train::RlCheckOptions r = rc;
    r.total_steps = total;
    return train::rl_monitor_rules(r);
  });
  trainer.set_preflight(train::preflight_checks({.method = "PPO", .preference_checks = false, .learning_rate = args.trainer.learning_rate},
                                                {.min_learning_rate = 1e-7, .max_learning_rate = 1e-4}));
  ModelCard card{.method = "PPO", .command = "prefer ppo", .source = source, .adapter = use_peft, .data_hash = prompts.hash,
                 .settings = {"reward_model", "reward_command", "learning_rate", "total_episodes", "num_train_epochs", "per_device_train_batch_size",
                              "gradient_accumulation_steps", "num_mini_batches", "num_ppo_epochs", "kl_coef", "kl_estimator", "adap_kl_ctrl",
                              "cliprange", "vf_coef", "response_length", "temperature", "missing_eos_penalty", "use_peft", "lora_r", "seed"}};
  trainer.set_model_card([card, &o](const train::TrainResult& r) { return model_card_text(card, o, r); });
  const std::string start = fmt::format(
      "ppo: {} prompts, {} updates of {} responses ({} x {} accumulation x {} mini-batches), {} PPO epochs each, {} on {}", prompts.ids.size(),
      trainer.total_updates(), trainer.rows_per_update(), args.trainer.per_device_train_batch_size, args.trainer.gradient_accumulation_steps,
      args.steps_per_pass, args.passes, use_peft ? fmt::format("LoRA r={}", mo.policy.lora.r) : std::string("full fine-tuning"),
      source.describe());
  return run_online(trainer, models, start, "PPO", out);
}

}  // namespace

void add_ppo_command(CLI::App& app, GlobalOptions& g) {
  add_training_command(app, g, "ppo", "RLHF with PPO: policy, frozen reference, reward model and value model (TRL's PPOTrainer)", ppo_option_set(),
                       run_ppo);
}

}  // namespace prefer::cli
