#include "objectives/ppo.h"

#include <ATen/ATen.h>

#include <array>
#include <cmath>

#include "objectives/advantages.h"
#include "objectives/loss_math.h"
#include "objectives/option_names.h"
#include "util/error.h"

namespace prefer::objectives {

namespace {

constexpr std::array<OptionName<ScorePosition>, 2> kScorePositionNames{{
    {"last_token", ScorePosition::kLastToken},
    {"after_last_token", ScorePosition::kAfterLastToken},
}};

void fail(const std::string& field, const std::string& message) { throw Error(message, {.field = field}); }

bool finite_at_least(double x, double low) { return std::isfinite(x) && x >= low; }

}  // namespace

ScorePosition parse_score_position(std::string_view name) {
  return parse_option(name, kScorePositionNames, "score_position");
}

std::string to_string(ScorePosition position) { return option_name(position, kScorePositionNames); }

void PpoConfig::validate() const {
  if (!finite_at_least(kl_coef, 0.0)) fail("kl_coef", "must be a non-negative number.");
  if (!(cliprange > 0.0 && cliprange < 1.0)) fail("cliprange", "must lie in (0, 1).");
  if (!(cliprange_value > 0.0) || !std::isfinite(cliprange_value)) fail("cliprange_value", "must be a positive number.");
  if (!finite_at_least(vf_coef, 0.0)) fail("vf_coef", "must be a non-negative number.");
  if (!(gamma >= 0.0 && gamma <= 1.0)) fail("gamma", "must lie in [0, 1].");
  if (!(lam >= 0.0 && lam <= 1.0)) fail("lam", "must lie in [0, 1].");
  if (missing_eos_penalty && !finite_at_least(*missing_eos_penalty, 0.0))
    fail("missing_eos_penalty", "must be a non-negative number (it is subtracted from the score).");
  if (!(target > 0.0) || !std::isfinite(target)) fail("target", "must be a positive number.");
  if (!(horizon > 0.0) || !std::isfinite(horizon)) fail("horizon", "must be a positive number.");
}

PpoRollout ppo_rollout(const PpoRolloutInputs& in, const PpoConfig& cfg, double kl_coef) {
  cfg.validate();
  if (!finite_at_least(kl_coef, 0.0)) fail("kl_coef", "must be a non-negative number.");
  check_matrix(in.logprobs, "logprobs");
  const int64_t batch = in.logprobs.size(0), steps = in.logprobs.size(1);
  if (batch == 0 || steps == 0) fail("logprobs", "the rollout is empty.");
  check_matrix(in.ref_logprobs, "ref_logprobs", batch, steps);
  check_matrix(in.values, "values", batch, steps);
  check_matrix(in.response_mask, "response_mask", batch, steps);
  check_vector(in.scores, "scores", batch);
  if (cfg.missing_eos_penalty) {
    require_input(in.contains_eos, "contains_eos", "missing_eos_penalty needs to know which responses have an EOS");
    check_vector(in.contains_eos, "contains_eos", batch);
  }

  const auto dtype = compute_dtype({in.logprobs, in.ref_logprobs, in.values, in.scores});
  at::Tensor logprobs = to_compute(in.logprobs, dtype);
  at::Tensor ref_logprobs = to_compute(in.ref_logprobs, dtype);
  at::Tensor values = to_compute(in.values, dtype);
  at::Tensor scores = to_compute(in.scores, dtype);
  at::Tensor keep = in.response_mask.to(at::kBool);
  at::Tensor zero = at::zeros({}, logprobs.options());

  // Responses are right-padded: the mask must be a prefix of each row, non-empty.
  at::Tensor lengths = keep.sum(1);
  at::Tensor index = at::arange(steps, lengths.options()).unsqueeze(0);
  if (!at::equal(keep, index < lengths.unsqueeze(1)))
    fail("response_mask", "must mark a prefix of each row (right padding).");
  if (lengths.min().item<int64_t>() == 0) fail("response_mask", "every response needs at least one token.");

  PpoRollout out;
  out.kl = at::where(keep, kl_penalty(logprobs, ref_logprobs, cfg.kl_estimator), zero);
  out.non_score_reward = out.kl * -kl_coef;
  if (cfg.missing_eos_penalty)
    scores = scores - in.contains_eos.to(at::kBool).logical_not().to(dtype) * *cfg.missing_eos_penalty;
  out.scores = scores;

  at::Tensor position;
  if (cfg.score_position == ScorePosition::kLastToken) {
    position = lengths - 1;
    out.value_mask = keep;
  } else {
    position = at::where(lengths < steps, lengths, lengths - 1);
    out.value_mask = index <= position.unsqueeze(1);
  }
  out.rewards = out.non_score_reward + at::zeros_like(out.non_score_reward).scatter(1, position.unsqueeze(1),
                                                                                    scores.unsqueeze(1));
  if (cfg.whiten_rewards)
    out.rewards = at::where(out.value_mask, masked_whiten(out.rewards, out.value_mask, /*shift_mean=*/false), zero);

  out.values = at::where(out.value_mask, values, zero);
  Gae gae = generalized_advantages(out.rewards, out.values, out.value_mask, cfg.gamma, cfg.lam);
  out.returns = gae.returns;
  out.advantages = gae.advantages;
  if (cfg.whiten_advantages) out.advantages = masked_whiten(out.advantages, keep);
  out.advantages = at::where(keep, out.advantages, zero);

  // TRL's rollout metrics (its entropy sums −logprob over padding too, where it stores 1.0; ours does not).
  Metrics& m = out.metrics;
  at::Tensor non_score = out.non_score_reward.sum(1).mean();
  m["objective/kl"] = out.kl.sum(1).mean();
  m["objective/entropy"] = at::where(keep, -logprobs, zero).sum(1).mean();
  m["objective/non_score_reward"] = non_score;
  m["objective/rlhf_reward"] = non_score + scores.mean();
  m["objective/scores"] = scores.mean();
  return out;
}

PpoLossOutput ppo_loss(const PpoLossInputs& in, const PpoConfig& cfg) {
  cfg.validate();
  check_matrix(in.logprobs, "logprobs");
  const int64_t batch = in.logprobs.size(0), steps = in.logprobs.size(1);
  check_matrix(in.old_logprobs, "old_logprobs", batch, steps);
  check_matrix(in.advantages, "advantages", batch, steps);
  check_matrix(in.values, "values", batch, steps);
  check_matrix(in.old_values, "old_values", batch, steps);
  check_matrix(in.returns, "returns", batch, steps);
  check_matrix(in.response_mask, "response_mask", batch, steps);
  if (in.value_mask.defined()) check_matrix(in.value_mask, "value_mask", batch, steps);

  const auto dtype = compute_dtype({in.logprobs, in.old_logprobs, in.advantages, in.values, in.old_values, in.returns});
  at::Tensor keep = in.response_mask.to(at::kBool);
  at::Tensor value_keep = in.value_mask.defined() ? in.value_mask.to(at::kBool) : keep;
  at::Tensor zero = at::zeros({}, at::TensorOptions().dtype(dtype).device(in.logprobs.device()));
  // Padding is replaced by 0 before any arithmetic: the padding of log-probs and values may hold
  // anything, and an inf there would turn the (zero) gradient of a masked entry into NaN.
  auto on = [&](const at::Tensor& mask, const at::Tensor& t) { return at::where(mask, to_compute(t, dtype), zero); };
  at::Tensor diff = on(keep, in.logprobs) - on(keep, in.old_logprobs.detach());
  at::Tensor advantages = on(keep, in.advantages.detach());
  at::Tensor values = on(value_keep, in.values);
  at::Tensor old_values = on(value_keep, in.old_values.detach());
  at::Tensor returns = on(value_keep, in.returns.detach());

  at::Tensor ratio = at::exp(diff);
  at::Tensor pg_losses = -advantages * ratio;
  at::Tensor pg_losses_clipped = -advantages * at::clamp(ratio, 1.0 - cfg.cliprange, 1.0 + cfg.cliprange);
  at::Tensor policy_loss = masked_mean(at::maximum(pg_losses, pg_losses_clipped), keep);

  at::Tensor values_clipped = at::clamp(values, old_values - cfg.cliprange_value, old_values + cfg.cliprange_value);
  at::Tensor vf_losses = at::pow(values - returns, 2);
  at::Tensor vf_losses_clipped = at::pow(values_clipped - returns, 2);
  at::Tensor value_loss = 0.5 * masked_mean(at::maximum(vf_losses, vf_losses_clipped), value_keep);

  PpoLossOutput out;
  out.policy_loss = policy_loss;
  out.value_loss = value_loss;
  out.loss = policy_loss + cfg.vf_coef * value_loss;

  Metrics& m = out.metrics;
  m["loss/policy"] = policy_loss.detach();
  m["loss/value"] = value_loss.detach();
  m["policy/approxkl"] = 0.5 * masked_mean(diff.detach() * diff.detach(), keep);
  m["policy/clipfrac"] = masked_mean((pg_losses_clipped > pg_losses).to(dtype), keep);
  m["val/clipfrac"] = masked_mean((vf_losses_clipped > vf_losses).to(dtype), value_keep);
  m["val/ratio"] = masked_mean(ratio.detach(), keep);
  return out;
}

}  // namespace prefer::objectives
