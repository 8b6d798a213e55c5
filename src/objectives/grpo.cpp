#include "objectives/grpo.h"

#include <ATen/ATen.h>

#include <cmath>

#include "objectives/kl_penalty.h"
#include "objectives/option_names.h"
#include "util/error.h"

namespace prefer::objectives {

namespace {

constexpr std::array<OptionName<ScaleRewards>, 5> kScale{{
    {"group", ScaleRewards::kGroup},
    {"batch", ScaleRewards::kBatch},
    {"none", ScaleRewards::kNone},
    {"true", ScaleRewards::kGroup},
    {"false", ScaleRewards::kNone},
}};

constexpr std::array<OptionName<GrpoLossType>, 8> kLoss{{
    {"grpo", GrpoLossType::kGrpo},
    {"bnpo", GrpoLossType::kBnpo},
    {"dr_grpo", GrpoLossType::kDrGrpo},
    {"dapo", GrpoLossType::kDapo},
    {"cispo", GrpoLossType::kCispo},
    {"sapo", GrpoLossType::kSapo},
    {"luspo", GrpoLossType::kLuspo},
    {"vespo", GrpoLossType::kVespo},
}};

// [N] -> [groups, G], checking the shape.
at::Tensor grouped(const at::Tensor& rewards, int64_t G) {
  if (G < 2) throw Error("must be at least 2: a group needs another completion to compare with", {.field = "num_generations"});
  if (rewards.dim() != 1 || rewards.size(0) % G != 0)
    throw Error("the rewards must be [prompts x num_generations]", {.field = "num_generations"});
  return rewards.to(at::kDouble).view({-1, G});
}

// Bessel std of a 1-D tensor (0 for fewer than 2 entries).
at::Tensor bessel_std(const at::Tensor& x) { return x.numel() < 2 ? at::zeros({}, x.options()) : x.std(/*unbiased=*/true); }

Metrics reward_metrics(const at::Tensor& R, const at::Tensor& group_std) {
  Metrics m;
  m["reward"] = R.mean();
  m["reward_std"] = bessel_std(R.flatten());
  m["frac_reward_zero_std"] = (group_std < 1e-6).to(at::kDouble).mean();
  return m;
}

}  // namespace

ScaleRewards parse_scale_rewards(std::string_view name) { return parse_option(name, kScale, "scale_rewards"); }
std::string to_string(ScaleRewards s) { return option_name(s, kScale); }
GrpoLossType parse_grpo_loss_type(std::string_view name) { return parse_option(name, kLoss, "loss_type"); }
std::string to_string(GrpoLossType t) { return option_name(t, kLoss); }

GroupAdvantages grpo_advantages(const at::Tensor& rewards, int64_t G, ScaleRewards scale) {
  at::Tensor R = grouped(rewards, G);                       // [g, G]
  at::Tensor centred = R - R.mean(1, /*keepdim=*/true);
  at::Tensor group_std = R.std(1, /*unbiased=*/true);       // [g]
  at::Tensor A = centred;
  if (scale == ScaleRewards::kGroup) A = centred / (group_std.unsqueeze(1) + 1e-4);
  if (scale == ScaleRewards::kBatch) A = centred / (bessel_std(R.flatten()) + 1e-4);
  // TRL's quirk under "batch": the zero-std share tests the batch's std (0 or 1).
  at::Tensor zero = scale == ScaleRewards::kBatch ? bessel_std(R.flatten()).expand({R.size(0)}) : group_std;
  return {A.flatten().to(rewards.scalar_type()), reward_metrics(R, zero)};
}

GroupAdvantages rloo_advantages(const at::Tensor& rewards, const at::Tensor& kl, double beta, int64_t G, bool normalize) {
  at::Tensor R = grouped(rewards, G);
  if (beta != 0) R = R - beta * grouped(kl.to(at::kDouble), G);
  const at::Tensor baseline = (R.sum(1, /*keepdim=*/true) - R) / static_cast<double>(G - 1);
  at::Tensor A = (R - baseline).flatten();
  if (normalize) A = (A - A.mean()) / (bessel_std(A) + 1e-4);
  Metrics m = reward_metrics(grouped(rewards, G), R.std(1, /*unbiased=*/true));
  return {A.to(rewards.scalar_type()), m};
}

void GrpoConfig::validate() const {
  if (!(epsilon > 0 && epsilon < 1)) throw Error("must be in (0, 1)", {.field = "epsilon"});
  if (epsilon_high && !(*epsilon_high > 0)) throw Error("must be > 0", {.field = "epsilon_high"});
  if (beta < 0) throw Error("must be >= 0", {.field = "beta"});
  if (max_completion_length < 1) throw Error("must be >= 1", {.field = "max_completion_length"});
}

GrpoLossOutput grpo_loss(const GrpoLossInputs& in, const GrpoConfig& c) {
  c.validate();
  const at::ScalarType acc = at::kDouble;
  at::Tensor lp = in.logprobs.to(acc), old = in.old_logprobs.to(acc).to(lp.device());
  at::Tensor m = in.mask.to(lp.device()).to(acc);
  at::Tensor A = in.advantages.to(lp.device()).to(acc).unsqueeze(1);  // [B, 1]
  const double eps = c.epsilon, high = c.high();
  at::Tensor diff = lp - old;
  at::Tensor ratio = diff.exp();
  at::Tensor per_token;
  switch (c.loss_type) {
    case GrpoLossType::kCispo:
      per_token = -at::clamp_max(ratio, high).detach() * A * lp;
      break;
    case GrpoLossType::kSapo: {
      at::Tensor tau = at::where(A > 0, at::full_like(A, c.sapo_temperature_pos), at::full_like(A, c.sapo_temperature_neg));
      per_token = -at::sigmoid(tau * (ratio - 1)) * (4.0 / tau) * A;
      break;
    }
    case GrpoLossType::kVespo: {
      at::Tensor w = ((diff * m).sum(1, true) / m.sum(1, true).clamp_min(1)).exp().detach();  // [B, 1]
      at::Tensor k = at::where(A >= 0, at::full_like(A, 2.0), at::full_like(A, 3.0));
      at::Tensor lam = at::where(A >= 0, at::full_like(A, 3.0), at::full_like(A, 2.0));
      at::Tensor phi = (lam + k * w.log() - lam * w).exp();
      per_token = -phi * A * lp;
      break;
    }
    default:
      per_token = -at::min(ratio * A, at::clamp(ratio, 1 - eps, 1 + high) * A);
  }
  GrpoLossOutput out;
  if (c.beta > 0) {
    if (!in.ref_logprobs.defined()) throw Error("beta > 0 needs the reference's log-probs", {.field = "beta"});
    at::Tensor k3 = kl_penalty(lp, in.ref_logprobs.to(lp.device()).to(acc), KlEstimator::kK3);
    per_token = per_token + c.beta * k3;
    out.metrics["kl"] = ((k3 * m).sum() / m.sum().clamp_min(1)).detach();
  }
  const double ga = static_cast<double>(in.gradient_accumulation_steps);
  at::Tensor row_sum = (per_token * m).sum(1), row_len = m.sum(1).clamp_min(1);
  switch (c.loss_type) {
    case GrpoLossType::kGrpo:
    case GrpoLossType::kSapo:
      out.loss = (row_sum / row_len).mean() / ga;
      break;
    case GrpoLossType::kBnpo:
      out.loss = row_sum.sum() / m.sum().clamp_min(1) / ga;
      break;
    case GrpoLossType::kDrGrpo:
      out.loss = row_sum.sum() / (static_cast<double>(lp.size(0)) * static_cast<double>(c.max_completion_length)) / ga;
      break;
    case GrpoLossType::kLuspo:
      out.loss = row_sum.mean() / ga;
      break;
    default:  // dapo, cispo, vespo
      if (!(in.num_items_in_batch > 0)) throw Error("needs the generation batch's completion tokens", {.field = "num_items_in_batch"});
      out.loss = row_sum.sum() / in.num_items_in_batch;
  }
  out.loss = out.loss.to(in.logprobs.scalar_type() == at::kDouble ? at::kDouble : at::kFloat);
  // Clip ratios (TRL): low = r < 1 − ε with A < 0, high = r > 1 + ε_h with A > 0; token means, and the
  // min / max of the per-completion fractions.
  at::NoGradGuard ng;
  at::Tensor low = ((ratio < 1 - eps) & (A < 0)).to(acc) * m, hi = ((ratio > 1 + high) & (A > 0)).to(acc) * m;
  const at::Tensor tokens = m.sum().clamp_min(1);
  out.metrics["clip_ratio/low_mean"] = low.sum() / tokens;
  out.metrics["clip_ratio/low_min"] = (low.sum(1) / row_len).min();
  out.metrics["clip_ratio/high_mean"] = hi.sum() / tokens;
  out.metrics["clip_ratio/high_max"] = (hi.sum(1) / row_len).max();
  out.metrics["clip_ratio/region_mean"] = (low + hi).sum() / tokens;
  return out;
}

GrpoLossOutput rloo_loss(const GrpoLossInputs& in, double eps, double high) {
  const at::ScalarType acc = at::kDouble;
  at::Tensor m = in.mask.to(in.logprobs.device()).to(acc);
  at::Tensor lp = (in.logprobs.to(acc) * m).sum(1), old = (in.old_logprobs.to(acc).to(m.device()) * m).sum(1);
  at::Tensor A = in.advantages.to(m.device()).to(acc);
  at::Tensor rho = (lp - old).exp();
  GrpoLossOutput out;
  out.loss = (-at::min(rho * A, at::clamp(rho, 1 - eps, 1 + high) * A)).mean() / static_cast<double>(in.gradient_accumulation_steps);
  out.loss = out.loss.to(in.logprobs.scalar_type() == at::kDouble ? at::kDouble : at::kFloat);
  at::NoGradGuard ng;
  at::Tensor low = ((rho < 1 - eps) & (A < 0)).to(acc), hi = ((rho > 1 + high) & (A > 0)).to(acc);
  out.metrics["clip_ratio/low_mean"] = low.mean();
  out.metrics["clip_ratio/low_min"] = low.min();
  out.metrics["clip_ratio/high_mean"] = hi.mean();
  out.metrics["clip_ratio/high_max"] = hi.max();
  out.metrics["clip_ratio/region_mean"] = (low + hi).mean();
  return out;
}

}  // namespace prefer::objectives
