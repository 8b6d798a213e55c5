#include "objectives/orpo.h"

#include <ATen/ATen.h>

#include <cmath>

#include "objectives/loss_math.h"
#include "util/error.h"

namespace prefer::objectives {

void OrpoConfig::validate() const {
  if (!(beta > 0.0) || !std::isfinite(beta)) throw Error("must be a positive number.", {.field = "beta"});
}

at::Tensor log1mexp(const at::Tensor& x) {
  constexpr double kMinusLn2 = -0.6931471805599453;
  // Each branch is evaluated only where it is accurate; the other side's inputs are replaced by a
  // harmless value so that neither branch produces inf/NaN (which where() would pass to the gradient).
  at::Tensor low = x < kMinusLn2;
  at::Tensor x_low = at::where(low, x, at::full({}, -1.0, x.options()));
  at::Tensor x_high = at::where(low, at::full({}, -0.5, x.options()), x);
  return at::where(low, at::log1p(-at::exp(x_low)), at::log(-at::expm1(x_high)));
}

OrpoOutput orpo_loss(const OrpoInputs& in, const OrpoConfig& cfg) {
  cfg.validate();
  check_vector(in.policy_chosen_logps, "policy_chosen_logps");
  const int64_t batch = in.policy_chosen_logps.size(0);
  if (batch == 0) throw Error("the batch is empty", {.field = "policy_chosen_logps"});
  check_vector(in.policy_rejected_logps, "policy_rejected_logps", batch);
  require_input(in.nll_loss, "nll_loss", "ORPO needs the NLL of the chosen sequences");
  check_scalar(in.nll_loss, "nll_loss");

  const auto dtype = compute_dtype({in.policy_chosen_logps, in.policy_rejected_logps, in.nll_loss});
  at::Tensor c = to_compute(in.policy_chosen_logps, dtype);
  at::Tensor r = to_compute(in.policy_rejected_logps, dtype);
  at::Tensor nll = to_compute(in.nll_loss, dtype).reshape({});

  // ORPO, Hong et al. 2024 (arXiv 2403.07691), eqs. 4 and 7: odds(y) = P/(1 − P) with P = e^ā, so
  // log odds = ā − log(1 − e^ā); L_OR = −logσ(log odds_c − log odds_r); L = L_SFT + λ·L_OR.
  at::Tensor log_odds = (c - r) - (log1mexp(c) - log1mexp(r));
  at::Tensor ratio = at::log_sigmoid(log_odds);

  OrpoOutput out;
  out.losses = ratio * cfg.beta;
  out.loss = nll - out.losses.mean();
  out.log_odds = log_odds.detach();
  out.chosen_rewards = c.detach() * cfg.beta;
  out.rejected_rewards = r.detach() * cfg.beta;

  Metrics& m = out.metrics;
  add_pair_metrics(m, out.chosen_rewards, out.rejected_rewards, c, r);
  m["nll_loss"] = nll.detach();
  m["log_odds_ratio"] = metric_mean(ratio);
  m["log_odds_chosen"] = metric_mean(log_odds);
  return out;
}

}  // namespace prefer::objectives
