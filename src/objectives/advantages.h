// Advantage estimation for PPO: generalised advantage estimation over token trajectories and the masked
// whitening TRL applies to rewards and advantages.
//
// Shapes: B trajectories (responses) of T steps (tokens); a mask [B, T] is 1 (or true) on the steps
// that exist.
#pragma once

#include <ATen/core/Tensor.h>

namespace prefer::objectives {

// Unbiased variance over the masked entries (Bessel's correction n/(n − 1)); throws prefer::Error when
// fewer than 2 entries are masked in.
at::Tensor masked_var(const at::Tensor& values, const at::Tensor& mask);

// (x − mean)/sqrt(var + 1e-8) over the masked entries; with shift_mean = false the mean is added back
// (only the scale changes). Entries outside the mask are transformed too; callers zero them.
at::Tensor masked_whiten(const at::Tensor& values, const at::Tensor& mask, bool shift_mean = true);

struct Gae {
  at::Tensor advantages;  // [B, T] Â_t, raw (not whitened), 0 outside the mask
  at::Tensor returns;     // [B, T] Â_t + V_t, the value targets
};

// GAE, Schulman et al. 2016 ("High-Dimensional Continuous Control Using Generalized Advantage
// Estimation", arXiv 1506.02438), eq. 16, computed backwards:
//   δ_t = r_t + γ·V_{t+1} − V_t,   Â_t = δ_t + γλ·Â_{t+1},   with V_T = Â_T = 0.
// Rewards and values outside `mask` count as 0, so a trajectory ends where its mask does.
//   rewards, values, mask [B, T] -> advantages, returns [B, T]
Gae generalized_advantages(const at::Tensor& rewards, const at::Tensor& values, const at::Tensor& mask, double gamma,
                           double lam);

}  // namespace prefer::objectives
