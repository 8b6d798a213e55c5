#include "objectives/reward.h"

#include <ATen/ATen.h>

#include <cmath>

#include "objectives/loss_math.h"
#include "util/error.h"

namespace prefer::objectives {

void RewardConfig::validate() const {
  if (center_rewards_coefficient && (!(*center_rewards_coefficient >= 0.0) || !std::isfinite(*center_rewards_coefficient)))
    throw Error("must be a non-negative number.", {.field = "center_rewards_coefficient"});
}

RewardOutput reward_loss(const RewardInputs& in, const RewardConfig& cfg) {
  cfg.validate();
  check_vector(in.rewards_chosen, "rewards_chosen");
  const int64_t batch = in.rewards_chosen.size(0);
  if (batch == 0) throw Error("the batch is empty", {.field = "rewards_chosen"});
  check_vector(in.rewards_rejected, "rewards_rejected", batch);
  if (in.margin.defined()) check_vector(in.margin, "margin", batch);

  const auto dtype = compute_dtype({in.rewards_chosen, in.rewards_rejected, in.margin});
  at::Tensor rc = to_compute(in.rewards_chosen, dtype);
  at::Tensor rr = to_compute(in.rewards_rejected, dtype);

  // Bradley–Terry preference model as used for RLHF reward models (Ouyang et al. 2022, arXiv
  // 2203.02155, eq. 1); the margin m is Llama 2's (Touvron et al. 2023, arXiv 2307.09288, eq. 2).
  at::Tensor logit = rc - rr;
  if (in.margin.defined()) logit = logit - to_compute(in.margin, dtype);
  at::Tensor bt = -at::log_sigmoid(logit);

  RewardOutput out;
  out.bradley_terry = bt.detach();
  out.losses = bt;
  // Reward centring (Eisenstein et al. 2023, arXiv 2312.09244): c·(r_c + r_r)² per pair, whose mean is
  // TRL's c·mean((r_c + r_r)²).
  if (cfg.center_rewards_coefficient)
    out.losses = out.losses + at::pow(rc + rr, 2) * *cfg.center_rewards_coefficient;
  out.loss = out.losses.mean();

  at::Tensor all = at::cat({rc, rr}).detach();
  Metrics& m = out.metrics;
  m["accuracy"] = metric_mean((rc > rr).to(dtype));
  m["margin"] = metric_mean(rc - rr);
  m["min_reward"] = all.min();
  m["mean_reward"] = all.mean();
  m["max_reward"] = all.max();
  return out;
}

}  // namespace prefer::objectives
