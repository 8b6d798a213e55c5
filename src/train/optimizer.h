// AdamW as torch.optim.AdamW (the `adamw_torch` optimizer of transformers' Trainer), with fp32 state.
//
// For each parameter p with gradient g at optimizer step t (counted per parameter, from 1), in this order
// (torch 2.x's single-tensor implementation):
//   p   <- p * (1 - lr * weight_decay)                 decoupled weight decay (Loshchilov & Hutter 2019)
//   m   <- lerp(m, g, 1 - beta1)                       exp_avg
//   v   <- v * beta2 + (1 - beta2) * g * g             exp_avg_sq
//   p   <- p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The scalars (bias corrections, step size) are computed in double as Python computes them.
//
// Precision: m and v are float32 (float64 for float64 parameters) whatever the parameter dtype. For a
// bfloat16 or float16 parameter the optimizer also keeps a float32 *master copy*: the update above runs on
// the master and the parameter receives its rounded value. Without it, updates smaller than half a
// bfloat16 ulp (2^-8 relative: lr 1e-6 on weights near 1) would be rounded away every step and such a run
// would not train. The master is created from the parameter at its first step (or given, from the
// checkpoint's float32 values: start_master_from) and is part of the saved
// state, so a resumed run continues from the unrounded values. torch.optim.AdamW keeps state in the
// parameter's dtype instead; for float32 parameters the two are the same computation.
//
// A parameter whose gradient is undefined at step() is skipped entirely (no decay, no state change), as in
// torch. Sparse gradients, amsgrad and maximize are not supported.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace prefer::train {

// transformers' names: adam_beta1, adam_beta2, adam_epsilon, weight_decay (defaults as TrainingArguments).
struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // for the single-group constructor
};

struct ParamGroup {
  std::vector<at::Tensor> params;  // each requires_grad, floating point, distinct
  double weight_decay = 0.0;
};

struct NamedParam {
  std::string name;  // as in the checkpoint: "model.layers.0.self_attn.q_proj.weight"
  at::Tensor param;
  // Optional, for a bf16/f16 param: the float32 value its master starts from (AdamW::start_master_from).
  at::Tensor initial_master;
};

// transformers' rule for which parameters decay: not biases, not normalisation weights. A name decays
// unless it ends in "bias" or contains "norm" (case-insensitive, which covers "layernorm", "LayerNorm",
// "input_layernorm", "q_norm", "rmsnorm").
bool decays(std::string_view name);

class AdamW;
// start_master_from for every parameter that brings an initial_master (which it moves out).
void start_masters(AdamW& optimizer, std::vector<NamedParam>& params);

// Two groups in this order: {decaying params, weight_decay} and {the others, 0}, each in the given order
// (so parameter indices are stable across runs with the same model). A group may be empty.
std::vector<ParamGroup> weight_decay_groups(const std::vector<NamedParam>& params, double weight_decay);

class AdamW {
 public:
  // Throws prefer::Error for a parameter that does not require grad, is not floating point, or appears
  // twice, and for betas outside [0, 1) or a negative eps / weight_decay.
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options = {});
  AdamW(std::vector<at::Tensor> params, AdamWOptions options = {});

  // Drops every gradient (torch's zero_grad(set_to_none=True), the default since torch 2.0).
  void zero_grad();
  // The float32 master of `param` (one of this optimizer's bf16/f16 parameters, not yet stepped) starts
  // from `value` instead of the parameter's rounded value: the checkpoint's float32 weight, which is
  // what autocast's float32 parameters start from. Throws prefer::Error for an unknown parameter, a
  // shape that differs, or a parameter that needs no master.
  void start_master_from(const at::Tensor& param, at::Tensor value);
  // One update of every parameter that has a gradient, under NoGradGuard.
  void step(double lr);
  // Number of step() calls since construction or since the loaded state was saved.
  int64_t steps() const { return steps_; }

  // Saves the state as safetensors: per parameter i (flat index over the groups) "<i>.exp_avg",
  // "<i>.exp_avg_sq" and, for bf16/fp16 parameters, "<i>.master"; metadata "step" (steps()),
  // "param_steps" (comma-separated per-parameter counts; a parameter never stepped has no tensors),
  // "num_params", and the hyperparameters for the record. Atomic.
  void save(const std::filesystem::path& path) const;
  // Restores a state saved by save() for the same parameters (count, shapes and dtypes are checked; an
  // error names the file and tensor). Tensors are moved to each parameter's device. A master copy in the
  // file also overwrites the parameter with its rounded value, so parameter and master agree.
  void load(const std::filesystem::path& path);

  struct ParamState {
    int64_t step = 0;     // this parameter's updates so far (0: no state yet)
    at::Tensor exp_avg;   // [param shape], float32 (float64 for float64 params)
    at::Tensor exp_avg_sq;
    at::Tensor master;    // [param shape] float32; only for bf16/fp16 parameters
  };
  size_t num_params() const { return slots_.size(); }
  const at::Tensor& param(size_t i) const { return slots_.at(i).param; }
  const ParamState& state(size_t i) const { return slots_.at(i).state; }
  // ZeRO-1 (train/trainer.cpp): a rank keeps the state of its shard only; the others are cleared, and
  // put back (gathered from their owners) just for writing a checkpoint.
  void set_state(size_t i, ParamState s) { slots_.at(i).state = std::move(s); }
  void clear_state(size_t i) { slots_.at(i).state = ParamState{}; }
  const AdamWOptions& options() const { return options_; }
  // Bytes held by moments and master copies (for memory reports).
  int64_t state_bytes() const;

 private:
  struct Slot {
    at::Tensor param;
    double weight_decay = 0;
    ParamState state;
  };
  void init_state(Slot& slot) const;

  AdamWOptions options_;
  std::vector<Slot> slots_;
  int64_t steps_ = 0;
};

}  // namespace prefer::train
