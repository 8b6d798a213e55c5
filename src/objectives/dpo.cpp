#include "objectives/dpo.h"

#include <ATen/ATen.h>

#include <cmath>
#include <string>

#include "objectives/dpo_tokens.h"
#include "objectives/loss_math.h"
#include "util/error.h"

namespace prefer::objectives {

namespace {

// Everything a loss branch may read, in the compute dtype. [B] unless noted.
struct Pair {
  const DpoConfig& cfg;
  bool legacy;                    // trl_version v0.28.0
  at::Tensor pc, pr, rc, rr;      // policy / reference log-probs of chosen and rejected
  at::Tensor u, v;                // log-ratios u = pc − rc, v = pr − rr
  at::Tensor sc, sr, delta;       // f-divergence scores f(u), f(v) and Δ = sc − sr
  at::Tensor nc, nr;              // completion lengths clamped to >= 1 (undefined when not given)
  at::Tensor nll;                 // [] chosen NLL (undefined when not given)
  int64_t batch;
};

double beta(const Pair& p) { return p.cfg.beta; }

// DPO, Rafailov et al. 2023 (arXiv 2305.18290), eq. 7: −logσ(βΔ). trl_version v0.28.0 applies label
// smoothing here: conservative DPO (Mitchell 2023, "A note on DPO with noisy preferences"),
// −(1−ε)logσ(βΔ) − ε·logσ(−βΔ). v1.9.0 ignores ε for this loss.
at::Tensor sigmoid_loss(const Pair& p) {
  at::Tensor z = p.delta * beta(p);
  return p.legacy ? smoothed_logistic_loss(z, p.cfg.label_smoothing) : -at::log_sigmoid(z);
}

// SLiC-HF, Zhao et al. 2023 (arXiv 2305.10425), calibration loss with margin 1/β: max(0, 1 − βΔ).
at::Tensor hinge_loss(const Pair& p) { return at::relu(1.0 - p.delta * beta(p)); }

// IPO, Azar et al. 2023 (arXiv 2310.12036), eq. 17: (h − 1/(2τ))² with τ = β. h uses per-token average
// log-ratios: v1.9.0 divides the scores by the completion lengths here; v0.28.0 divided every log-prob
// by its length before any loss (done in dpo_loss), so Δ already is the averaged margin.
at::Tensor ipo_loss(const Pair& p) {
  at::Tensor h = p.legacy ? p.delta : p.sc / p.nc - p.sr / p.nr;
  return at::pow(h - 1.0 / (2.0 * beta(p)), 2);
}

// EXO, Ji et al. 2024 (arXiv 2402.00856), eq. 16 for K = 2: KL([q, 1−q] ‖ [1−ε, ε]) with q = σ(βΔ).
// v1.9.0 builds ε as a float32 tensor, so log(1−ε) and log ε carry float32 rounding (reproduced);
// v0.28.0 computes them in double and replaces ε = 0 by 1e-3.
at::Tensor exo_pair_loss(const Pair& p) {
  double eps = p.cfg.label_smoothing;
  double log_pw = 0.0, log_pl = 0.0;
  if (p.legacy) {
    if (eps == 0.0) eps = 1e-3;
    log_pw = std::log1p(-eps);
    log_pl = std::log(eps);
  } else {
    at::Tensor e32 = at::scalar_tensor(eps, at::TensorOptions().dtype(at::kFloat));
    log_pw = at::log1p(-e32).item<float>();
    log_pl = at::log(e32).item<float>();
  }
  at::Tensor z = p.delta * beta(p);
  return at::sigmoid(z) * (at::log_sigmoid(z) - log_pw) + at::sigmoid(-z) * (at::log_sigmoid(-z) - log_pl);
}

// NCA, Chen et al. 2024 (arXiv 2402.05369), pairwise NCA loss:
// −logσ(β·sc) − ½·logσ(−β·sc) − ½·logσ(−β·sr).
at::Tensor nca_pair_loss(const Pair& p) {
  at::Tensor c = p.sc * beta(p), r = p.sr * beta(p);
  return -at::log_sigmoid(c) - 0.5 * at::log_sigmoid(-c) - 0.5 * at::log_sigmoid(-r);
}

// Robust DPO, Chowdhury et al. 2024 (arXiv 2403.00409), the unbiased loss under label-flip rate ε:
// [−(1−ε)·logσ(βΔ) + ε·logσ(−βΔ)] / (1 − 2ε). It can be negative.
at::Tensor robust_loss(const Pair& p) {
  const double eps = p.cfg.label_smoothing;
  at::Tensor z = p.delta * beta(p);
  return (-(1.0 - eps) * at::log_sigmoid(z) + eps * at::log_sigmoid(-z)) / (1.0 - 2.0 * eps);
}

// BCO, Jung et al. 2024 (arXiv 2404.04656), pairwise form: −logσ(β·sc − δ) − logσ(−(β·sr − δ)).
// δ = 0 in v1.9.0; v0.28.0 subtracts the running mean of the batch-mean reward (`delta`).
at::Tensor bco_pair_loss(const Pair& p, double delta) {
  return -at::log_sigmoid(p.sc * beta(p) - delta) - at::log_sigmoid(-(p.sr * beta(p) - delta));
}

// SPPO, Wu et al. 2024 (arXiv 2405.00675), eq. 4.7 of Algorithm 1 with hard probabilities (P = 1 for
// the winner, 0 for the loser): (sc − 1/(2β))² + (sr + 1/(2β))².
at::Tensor sppo_hard_loss(const Pair& p) {
  const double half = 0.5 / beta(p);
  return at::pow(p.sc - half, 2) + at::pow(p.sr + half, 2);
}

// AOT, Melnyk et al. 2024 (arXiv 2406.05882): first-order stochastic dominance through the sorted
// (one-dimensional optimal transport) matching of two batch distributions, with the smoothed logistic
// loss. Entry j belongs to rank j, not to pair j.
//   aot:          sort(pc − pr) − sort(rc − rr)     (paired)
//   aot_unpaired: sort(u) − sort(v)                 (unpaired)
at::Tensor aot_loss(const Pair& p, bool paired) {
  at::Tensor a = paired ? p.pc - p.pr : p.u;
  at::Tensor b = paired ? p.rc - p.rr : p.v;
  at::Tensor d = std::get<0>(at::sort(a, 0)) - std::get<0>(at::sort(b, 0));
  return smoothed_logistic_loss(d * beta(p), p.cfg.label_smoothing);
}

// APO, D'Oosterlinck et al. 2024 (arXiv 2408.06266), eq. 7 (APO-zero): 1 − σ(βu) + σ(βv).
at::Tensor apo_zero_loss(const Pair& p) { return 1.0 - at::sigmoid(p.u * beta(p)) + at::sigmoid(p.v * beta(p)); }

// APO, eq. 8 (APO-down): σ(βu) + 1 − σ(βΔ).
at::Tensor apo_down_loss(const Pair& p) {
  return at::sigmoid(p.u * beta(p)) + 1.0 - at::sigmoid(p.delta * beta(p));
}

// DiscoPOP / log-ratio modulated loss, Lu et al. 2024 (arXiv 2406.08414), eq. 5: with z = βΔ and
// m = σ(z/τ), ℓ = −logσ(z)·(1 − m) + e^(−z)·m. The second product is evaluated as e^(−z + logσ(z/τ)),
// which equals it but stays finite where e^(−z) overflows while m underflows to 0.
at::Tensor discopop_loss(const Pair& p) {
  at::Tensor z = p.delta * beta(p);
  at::Tensor zt = z / p.cfg.discopop_tau;
  return -at::log_sigmoid(z) * at::sigmoid(-zt) + at::exp(at::log_sigmoid(zt) - z);
}

// SFT term (RPO, Pang et al. 2024, arXiv 2404.19733; MPO, Wang et al. 2024, arXiv 2411.10442): the
// chosen NLL, one scalar repeated for every pair so that it combines with the other per-pair losses.
at::Tensor sft_term(const Pair& p) { return p.nll.reshape({}).expand({p.batch}); }

// Length-normalised DPO (TRL v1.9.0 "sigmoid_norm"; the SimPO-style average log-ratio, Meng et al. 2024,
// arXiv 2405.14734, with a reference): −logσ(β·(sc/nc − sr/nr)).
at::Tensor sigmoid_norm_loss(const Pair& p) { return -at::log_sigmoid((p.sc / p.nc - p.sr / p.nr) * beta(p)); }

at::Tensor lengths_of(const at::Tensor& t, at::ScalarType dtype) { return t.to(dtype).clamp_min(1.0); }

}  // namespace

double BcoRunningMean::update(double batch_mean) {
  // TRL's RunningMoments.update with one value per step (the batch mean): the difference and the step
  // are float32 tensors, the accumulated mean and count are Python floats.
  const float x = static_cast<float>(batch_mean);
  const float diff = x - static_cast<float>(mean);
  const double total = count + 1.0;
  const float step = diff / static_cast<float>(total);
  mean += static_cast<double>(step);
  count = total;
  return mean;
}

DpoOutput dpo_loss(const DpoInputs& in, const DpoConfig& cfg, DpoState* state) {
  cfg.validate();
  check_vector(in.policy_chosen_logps, "policy_chosen_logps");
  const int64_t batch = in.policy_chosen_logps.size(0);
  if (batch == 0) throw Error("the batch is empty", {.field = "policy_chosen_logps"});
  check_vector(in.policy_rejected_logps, "policy_rejected_logps", batch);
  check_vector(in.reference_chosen_logps, "reference_chosen_logps", batch);
  check_vector(in.reference_rejected_logps, "reference_rejected_logps", batch);
  const bool legacy = cfg.trl_version == TrlVersion::kV0_28;
  if (cfg.needs_lengths()) {
    const std::string why = "the loss types 'ipo' and 'sigmoid_norm' need the completion token counts";
    require_input(in.chosen_lengths, "chosen_lengths", why);
    require_input(in.rejected_lengths, "rejected_lengths", why);
    check_vector(in.chosen_lengths, "chosen_lengths", batch);
    check_vector(in.rejected_lengths, "rejected_lengths", batch);
  }
  if (cfg.needs_nll()) {
    require_input(in.nll_loss, "nll_loss", "the 'sft' loss type and rpo_alpha need the chosen NLL");
    check_scalar(in.nll_loss, "nll_loss");
  }
  if (cfg.use_weighting) {
    const std::string why = "use_weighting needs the WPO log-weights of both completions";
    require_input(in.chosen_wpo_log_weights, "chosen_wpo_log_weights", why);
    require_input(in.rejected_wpo_log_weights, "rejected_wpo_log_weights", why);
    check_vector(in.chosen_wpo_log_weights, "chosen_wpo_log_weights", batch);
    check_vector(in.rejected_wpo_log_weights, "rejected_wpo_log_weights", batch);
  }
  if (legacy && cfg.has(DpoLossType::kBcoPair) && state == nullptr)
    throw Error("'bco_pair' with trl_version v0.28.0 needs a DpoState to carry its running mean between steps",
                {.field = "loss_type"});

  const auto dtype = compute_dtype({in.policy_chosen_logps, in.policy_rejected_logps, in.reference_chosen_logps,
                                    in.reference_rejected_logps, in.nll_loss});
  Pair p{.cfg = cfg, .legacy = legacy, .batch = batch};
  p.pc = to_compute(in.policy_chosen_logps, dtype);
  p.pr = to_compute(in.policy_rejected_logps, dtype);
  p.rc = to_compute(in.reference_chosen_logps, dtype);
  p.rr = to_compute(in.reference_rejected_logps, dtype);
  if (in.chosen_lengths.defined() && in.rejected_lengths.defined()) {
    p.nc = lengths_of(in.chosen_lengths, dtype);
    p.nr = lengths_of(in.rejected_lengths, dtype);
  }
  if (legacy && cfg.has(DpoLossType::kIpo)) {
    // v0.28.0 turns every log-prob (policy and reference, for every loss type in the list) into a
    // per-token average as soon as 'ipo' is among the loss types.
    p.pc = p.pc / p.nc;
    p.rc = p.rc / p.nc;
    p.pr = p.pr / p.nr;
    p.rr = p.rr / p.nr;
  }
  p.nll = to_compute(in.nll_loss, dtype);
  p.u = p.pc - p.rc;
  p.v = p.pr - p.rr;
  p.sc = f_divergence_score(p.u, cfg.f_divergence_type, cfg.f_alpha_divergence_coef);
  p.sr = f_divergence_score(p.v, cfg.f_divergence_type, cfg.f_alpha_divergence_coef);
  p.delta = p.sc - p.sr;

  DpoOutput out;
  if (cfg.use_weighting)
    out.wpo_weights = wpo_pair_weights(to_compute(in.chosen_wpo_log_weights, dtype),
                                       to_compute(in.rejected_wpo_log_weights, dtype), cfg.trl_version);

  at::Tensor total;
  for (const auto& [type, weight] : cfg.terms()) {
    at::Tensor term;
    switch (type) {
      case DpoLossType::kSigmoid: term = sigmoid_loss(p); break;
      case DpoLossType::kHinge: term = hinge_loss(p); break;
      case DpoLossType::kIpo: term = ipo_loss(p); break;
      case DpoLossType::kExoPair: term = exo_pair_loss(p); break;
      case DpoLossType::kNcaPair: term = nca_pair_loss(p); break;
      case DpoLossType::kRobust: term = robust_loss(p); break;
      case DpoLossType::kBcoPair: {
        double delta = 0.0;
        if (legacy) {
          at::Tensor rewards = at::cat({p.u, p.v}).detach() * cfg.beta;
          delta = state->bco.update(rewards.mean().item<double>());
          out.bco_delta = delta;
        }
        term = bco_pair_loss(p, delta);
        break;
      }
      case DpoLossType::kSppoHard: term = sppo_hard_loss(p); break;
      case DpoLossType::kAot: term = aot_loss(p, /*paired=*/true); break;
      case DpoLossType::kAotUnpaired: term = aot_loss(p, /*paired=*/false); break;
      case DpoLossType::kApoZero: term = apo_zero_loss(p); break;
      case DpoLossType::kApoDown: term = apo_down_loss(p); break;
      case DpoLossType::kDiscopop: term = discopop_loss(p); break;
      case DpoLossType::kSft: term = sft_term(p); break;
      case DpoLossType::kSigmoidNorm: term = sigmoid_norm_loss(p); break;
    }
    // WPO, Zhou et al. 2024 (arXiv 2406.11827), eq. 2: v1.9.0 weights every term, v0.28.0 weights the
    // weighted sum below. The two are equal up to rounding; losses_by_type differs.
    if (cfg.use_weighting && !legacy) term = term * out.wpo_weights;
    out.losses_by_type.emplace_back(type, term);
    at::Tensor weighted = term * weight;
    total = total.defined() ? total + weighted : weighted;
  }
  if (cfg.use_weighting && legacy) total = total * out.wpo_weights;
  out.losses = total;
  out.loss = total.mean();

  // Implicit rewards β·u, β·v (always the plain log-ratios). v0.28.0 summed them once per loss type,
  // weighted, so it reports (Σ loss_weights)·β·u.
  double reward_scale = cfg.beta;
  if (legacy) {
    double sum_w = 0.0;
    for (size_t i = 0; i < cfg.loss_type.size(); ++i) sum_w += cfg.loss_weights.empty() ? 1.0 : cfg.loss_weights[i];
    reward_scale *= sum_w;
  }
  out.chosen_rewards = p.u.detach() * reward_scale;
  out.rejected_rewards = p.v.detach() * reward_scale;
  out.chosen_scores = p.sc.detach();
  out.rejected_scores = p.sr.detach();

  Metrics& m = out.metrics;
  add_pair_metrics(m, out.chosen_rewards, out.rejected_rewards, p.pc, p.pr);
  if (cfg.needs_nll()) m["nll_loss"] = p.nll.detach().reshape({});
  return out;
}

}  // namespace prefer::objectives
