#include "objectives/cpo.h"

#include <ATen/ATen.h>

#include <array>
#include <cmath>

#include "objectives/loss_math.h"
#include "objectives/option_names.h"
#include "util/error.h"

namespace prefer::objectives {

namespace {

constexpr std::array<OptionName<CpoLossType>, 5> kCpoLossNames{{
    {"sigmoid", CpoLossType::kSigmoid},
    {"hinge", CpoLossType::kHinge},
    {"ipo", CpoLossType::kIpo},
    {"simpo", CpoLossType::kSimpo},
    {"alphapo", CpoLossType::kAlphapo},
}};

// AlphaPO, Gupta et al. 2025 (arXiv 2501.03884): the reward g(x) = (1 − p^(−α))/α with p = e^x, written
// as −expm1(−α·x)/α, which neither overflows through p^(−α) for very negative x nor loses digits for
// small α·x.
at::Tensor alphapo_reward(const at::Tensor& x, double alpha) { return -at::expm1(x * -alpha) / alpha; }

}  // namespace

CpoLossType parse_cpo_loss_type(std::string_view name) { return parse_option(name, kCpoLossNames, "loss_type"); }

std::string to_string(CpoLossType type) { return option_name(type, kCpoLossNames); }

bool CpoConfig::uses_average_log_prob() const {
  return loss_type == CpoLossType::kIpo || loss_type == CpoLossType::kSimpo || loss_type == CpoLossType::kAlphapo;
}

double CpoConfig::effective_cpo_alpha() const { return loss_type == CpoLossType::kAlphapo ? 0.0 : cpo_alpha; }

void CpoConfig::validate() const {
  if (!(beta > 0.0) || !std::isfinite(beta)) throw Error("must be a positive number.", {.field = "beta"});
  if (!(label_smoothing >= 0.0 && label_smoothing < 0.5))
    throw Error("must lie in [0, 0.5).", {.field = "label_smoothing"});
  if (!(cpo_alpha >= 0.0) || !std::isfinite(cpo_alpha))
    throw Error("must be a non-negative number.", {.field = "cpo_alpha"});
  if (!std::isfinite(simpo_gamma)) throw Error("must be a finite number.", {.field = "simpo_gamma"});
  if (!std::isfinite(alpha)) throw Error("must be a finite number.", {.field = "alpha"});
}

CpoOutput cpo_loss(const CpoInputs& in, const CpoConfig& cfg) {
  cfg.validate();
  check_vector(in.policy_chosen_logps, "policy_chosen_logps");
  const int64_t batch = in.policy_chosen_logps.size(0);
  if (batch == 0) throw Error("the batch is empty", {.field = "policy_chosen_logps"});
  check_vector(in.policy_rejected_logps, "policy_rejected_logps", batch);
  const double nll_weight = cfg.effective_cpo_alpha();
  if (nll_weight != 0.0) {
    require_input(in.nll_loss, "nll_loss", "cpo_alpha > 0 needs the NLL of the chosen completions");
    check_scalar(in.nll_loss, "nll_loss");
  }

  const auto dtype = compute_dtype({in.policy_chosen_logps, in.policy_rejected_logps, in.nll_loss});
  at::Tensor xc = to_compute(in.policy_chosen_logps, dtype);
  at::Tensor xr = to_compute(in.policy_rejected_logps, dtype);
  at::Tensor gc = cfg.alpha != 0.0 ? alphapo_reward(xc, cfg.alpha) : xc;
  at::Tensor gr = cfg.alpha != 0.0 ? alphapo_reward(xr, cfg.alpha) : xr;
  at::Tensor z = gc - gr;
  const double beta = cfg.beta;

  CpoOutput out;
  switch (cfg.loss_type) {
    case CpoLossType::kSigmoid:
      // CPO, Xu et al. 2024 (arXiv 2401.08417), eq. 3 (the DPO loss without a reference), with
      // conservative label smoothing.
      out.losses = smoothed_logistic_loss(z * beta, cfg.label_smoothing);
      break;
    case CpoLossType::kSimpo:
    case CpoLossType::kAlphapo:
      // SimPO, Meng et al. 2024 (arXiv 2405.14734): −logσ(β·z − γ) on average log-probs; the margin γ
      // enters as z − γ/β so that label smoothing applies to the same logit.
      out.losses = smoothed_logistic_loss((z - cfg.simpo_gamma / beta) * beta, cfg.label_smoothing);
      break;
    case CpoLossType::kHinge:
      // SLiC-HF, Zhao et al. 2023 (arXiv 2305.10425): max(0, 1 − β·z).
      out.losses = at::relu(1.0 - z * beta);
      break;
    case CpoLossType::kIpo:
      // IPO, Azar et al. 2023 (arXiv 2310.12036), eq. 17: (z − 1/(2β))².
      out.losses = at::pow(z - 1.0 / (2.0 * beta), 2);
      break;
  }
  out.loss = out.losses.mean();
  // TRL skips the NLL entirely when cpo_alpha is 0 (no gradient reaches nll_loss then).
  if (nll_weight != 0.0) out.loss = out.loss + to_compute(in.nll_loss, dtype).reshape({}) * nll_weight;
  out.chosen_rewards = gc.detach() * beta;
  out.rejected_rewards = gr.detach() * beta;

  Metrics& m = out.metrics;
  add_pair_metrics(m, out.chosen_rewards, out.rejected_rewards, xc, xr);
  if (in.nll_loss.defined()) m["nll_loss"] = in.nll_loss.detach().to(dtype).reshape({});
  return out;
}

}  // namespace prefer::objectives
