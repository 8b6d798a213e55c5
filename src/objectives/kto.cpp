#include "objectives/kto.h"

#include <ATen/ATen.h>

#include <array>
#include <cmath>

#include "objectives/loss_math.h"
#include "objectives/option_names.h"
#include "util/error.h"

namespace prefer::objectives {

namespace {

constexpr std::array<OptionName<KtoLossType>, 2> kKtoLossNames{{
    {"kto", KtoLossType::kKto},
    {"apo_zero_unpaired", KtoLossType::kApoZeroUnpaired},
}};

}  // namespace

KtoLossType parse_kto_loss_type(std::string_view name) { return parse_option(name, kKtoLossNames, "loss_type"); }

std::string to_string(KtoLossType type) { return option_name(type, kKtoLossNames); }

void KtoConfig::validate() const {
  if (!(beta > 0.0) || !std::isfinite(beta)) throw Error("must be a positive number.", {.field = "beta"});
  if (!(desirable_weight >= 0.0) || !std::isfinite(desirable_weight))
    throw Error("must be a non-negative number.", {.field = "desirable_weight"});
  if (!(undesirable_weight >= 0.0) || !std::isfinite(undesirable_weight))
    throw Error("must be a non-negative number.", {.field = "undesirable_weight"});
}

at::Tensor kto_kl_estimate(const at::Tensor& policy_KL_logps, const at::Tensor& reference_KL_logps) {
  check_vector(policy_KL_logps, "policy_KL_logps");
  check_vector(reference_KL_logps, "reference_KL_logps", policy_KL_logps.size(0));
  return (policy_KL_logps.detach() - reference_KL_logps.detach()).mean();
}

KtoOutput kto_loss(const KtoInputs& in, const KtoConfig& cfg) {
  cfg.validate();
  check_vector(in.policy_chosen_logps, "policy_chosen_logps");
  check_vector(in.reference_chosen_logps, "reference_chosen_logps", in.policy_chosen_logps.size(0));
  check_vector(in.policy_rejected_logps, "policy_rejected_logps");
  check_vector(in.reference_rejected_logps, "reference_rejected_logps", in.policy_rejected_logps.size(0));
  const int64_t n_chosen = in.policy_chosen_logps.size(0), n_rejected = in.policy_rejected_logps.size(0);
  if (n_chosen + n_rejected == 0) throw Error("the batch is empty", {.field = "policy_chosen_logps"});

  const auto dtype = compute_dtype({in.policy_chosen_logps, in.reference_chosen_logps, in.policy_rejected_logps,
                                    in.reference_rejected_logps});
  at::Tensor u = to_compute(in.policy_chosen_logps, dtype) - to_compute(in.reference_chosen_logps, dtype);
  at::Tensor v = to_compute(in.policy_rejected_logps, dtype) - to_compute(in.reference_rejected_logps, dtype);
  const double beta = cfg.beta;

  KtoOutput out;
  // KTO, Ethayarajh et al. 2024 (arXiv 2402.01306), eq. 7: the reference point z0 is the KL between
  // policy and reference, estimated on mismatched pairs, clamped at 0 and not differentiated.
  if (cfg.needs_kl()) {
    at::Tensor raw = in.kl;
    if (raw.defined()) {
      check_scalar(raw, "kl");
    } else {
      const std::string why = "loss_type 'kto' needs the KL completions' log-probs (or a precomputed kl)";
      require_input(in.policy_KL_logps, "policy_KL_logps", why);
      require_input(in.reference_KL_logps, "reference_KL_logps", why);
      raw = kto_kl_estimate(in.policy_KL_logps, in.reference_KL_logps);
    }
    out.kl = raw.detach().to(dtype).reshape({}).clamp_min(0.0);
  } else {
    out.kl = at::zeros({}, u.options().requires_grad(false));
  }

  at::Tensor chosen_losses, rejected_losses;
  if (cfg.loss_type == KtoLossType::kKto) {
    // Desirable: 1 − σ(β(u − z0)); undesirable: 1 − σ(β(z0 − v)).
    chosen_losses = 1.0 - at::sigmoid((u - out.kl) * beta);
    rejected_losses = 1.0 - at::sigmoid((out.kl - v) * beta);
  } else {
    // APO-zero, unpaired (D'Oosterlinck et al. 2024, arXiv 2408.06266, eq. 7 split by example):
    // desirable 1 − σ(βu), undesirable σ(βv).
    chosen_losses = 1.0 - at::sigmoid(u * beta);
    rejected_losses = at::sigmoid(v * beta);
  }
  out.losses = at::cat({chosen_losses * cfg.desirable_weight, rejected_losses * cfg.undesirable_weight});
  out.loss = at::nanmean(out.losses);
  out.chosen_rewards = u.detach() * beta;
  out.rejected_rewards = v.detach() * beta;

  // TRL divides nansums by the example counts and logs a group only when it is present in the batch.
  Metrics& m = out.metrics;
  m["kl"] = out.kl;
  if (n_chosen > 0) {
    m["rewards/chosen"] = at::nansum(out.chosen_rewards) / static_cast<double>(n_chosen);
    m["logps/chosen"] = at::nansum(in.policy_chosen_logps.detach().to(dtype)) / static_cast<double>(n_chosen);
  }
  if (n_rejected > 0) {
    m["rewards/rejected"] = at::nansum(out.rejected_rewards) / static_cast<double>(n_rejected);
    m["logps/rejected"] = at::nansum(in.policy_rejected_logps.detach().to(dtype)) / static_cast<double>(n_rejected);
  }
  if (n_chosen > 0 && n_rejected > 0) m["rewards/margins"] = m["rewards/chosen"] - m["rewards/rejected"];
  return out;
}

}  // namespace prefer::objectives
