// f-DPO scores: the generalisation of DPO's log-ratio to other f-divergence regularisers (Wang et al. 2023,
// "Beyond Reverse KL: Generalizing Direct Preference Optimization with Diverse Divergence Constraints",
// arXiv 2309.16240, Theorem 1 and Table 1: the implicit reward is f'(π/π_ref) up to a constant).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <string_view>

namespace prefer::objectives {

enum class FDivergenceType { kReverseKl, kForwardKl, kJsDivergence, kAlphaDivergence };

// TRL's names: "reverse_kl", "forward_kl", "js_divergence", "alpha_divergence".
FDivergenceType parse_f_divergence_type(std::string_view name);
std::string to_string(FDivergenceType type);

// Score f(x) of a log-ratio x = log π − log π_ref, elementwise (TRL v1.9.0 DPOTrainer semantics):
//   reverse_kl        f(x) = x                      (standard DPO)
//   forward_kl        f(x) = −e^(−x)                (f'(t) = 1 − 1/t, constant dropped)
//   js_divergence     f(x) = logσ(x)                (f'(t) = log(2t/(1+t)), log 2 dropped)
//   alpha_divergence  f(x) = e^(min((a−1)x, 80))/(a−1) with a = alpha_coef; f(x) = x when |a − 1| < 1e-6.
// The clamp at 80 keeps e^(.) finite in float32 (TRL uses 80 for float32/bfloat16; our losses are
// computed in float32 or float64, so 80 applies to every input dtype).
at::Tensor f_divergence_score(const at::Tensor& logratio, FDivergenceType type, double alpha_coef);

}  // namespace prefer::objectives
