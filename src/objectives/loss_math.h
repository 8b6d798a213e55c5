// Pieces shared by the objectives: the dtype a loss is computed in, input checks that name the input,
// the label-smoothed logistic loss and masked reductions.
#pragma once

#include <ATen/core/Tensor.h>

#include "objectives/metrics.h"

#include <cstdint>
#include <initializer_list>
#include <string>

namespace prefer::objectives {

// float64 when any defined input is float64, else float32: half and bfloat16 inputs are upcast so that
// sums, exponentials and log-sigmoids keep at least 24 bits of mantissa. Undefined tensors are skipped.
at::ScalarType compute_dtype(std::initializer_list<at::Tensor> inputs);

// `t` converted to `dtype` (differentiably; the gradient flows back in t's own dtype). Undefined stays
// undefined.
at::Tensor to_compute(const at::Tensor& t, at::ScalarType dtype);

// Input checks. Each throws prefer::Error whose field is `name`.
// A defined 1-D tensor, with `size` entries unless size < 0.
void check_vector(const at::Tensor& t, const std::string& name, int64_t size = -1);
// A defined tensor with exactly one element (shape [] or [1]).
void check_scalar(const at::Tensor& t, const std::string& name);
// A defined 2-D tensor [rows, cols]; `rows`/`cols` < 0 accept any size.
void check_matrix(const at::Tensor& t, const std::string& name, int64_t rows = -1, int64_t cols = -1);
// Throws "<why>" naming `name` when `t` is undefined (an optional input that the configuration needs).
void require_input(const at::Tensor& t, const std::string& name, const std::string& why);

// −(1−ε)·logσ(z) − ε·logσ(−z): the logistic loss against the soft label (1−ε, ε) that conservative DPO,
// CPO and AOT use. Shape of z.
at::Tensor smoothed_logistic_loss(const at::Tensor& z, double eps);

// Σ values·mask / Σ mask over all entries (a 0-dim tensor); mask is 0/1 or bool, same shape as values.
at::Tensor masked_mean(const at::Tensor& values, const at::Tensor& mask);

// Detached mean, for metrics.
at::Tensor metric_mean(const at::Tensor& t);

// The paired-preference metrics every pairwise method logs under TRL's names: rewards/chosen,
// rewards/rejected, rewards/accuracies, rewards/margins (from the rewards [B]) and logps/chosen,
// logps/rejected (from the log-probs [B]).
void add_pair_metrics(Metrics& m, const at::Tensor& chosen_rewards, const at::Tensor& rejected_rewards,
                      const at::Tensor& chosen_logps, const at::Tensor& rejected_logps);

}  // namespace prefer::objectives
