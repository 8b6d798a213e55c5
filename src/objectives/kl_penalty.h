// The KL penalty of RLHF: per-token estimators of KL(π ‖ π_ref) and the controllers of its coefficient.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace prefer::objectives {

// Schulman 2020, "Approximating KL Divergence" (http://joschu.net/blog/kl-approx.html). For a token
// sampled from π, with r = π_ref/π, i.e. log r = ref_logprob − logprob (TRL's `logr`):
//   k1 = −log r                 unbiased, can be negative
//   k2 = ½·(log r)²             biased, low variance, always >= 0
//   k3 = (r − 1) − log r        unbiased, low variance, always >= 0
// TRL v1.x's PPOConfig.kl_estimator offers "k1" and "k3"; "k2" is added here.
enum class KlEstimator { kK1, kK2, kK3 };

KlEstimator parse_kl_estimator(std::string_view name);
std::string to_string(KlEstimator estimator);

// Elementwise estimate: logprobs, ref_logprobs [B, T] -> [B, T].
at::Tensor kl_penalty(const at::Tensor& logprobs, const at::Tensor& ref_logprobs, KlEstimator estimator);

// The adaptive KL coefficient of Ziegler et al. 2019 ("Fine-Tuning Language Models from Human
// Preferences", arXiv 1909.08593, §2.2): after a batch with observed KL, e = clip(KL/target − 1, −0.2,
// 0.2) and β ← β·(1 + e·n_steps/horizon). TRL <= 0.11 names: init_kl_coef, target, horizon.
struct AdaptiveKlController {
  double value = 0.2;       // the current coefficient β
  double target = 6.0;      // the KL (nats per sequence) to steer to
  double horizon = 10000;   // in steps (samples): how fast β moves

  // Folds in one batch and returns the new coefficient.
  double update(double current_kl, int64_t n_steps);
};

}  // namespace prefer::objectives
