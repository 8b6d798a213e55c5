// Learning-rate schedules by transformers' names (`lr_scheduler_type`), with its exact formulas.
//
// transformers builds each schedule as a torch LambdaLR: lr(step) = learning_rate * multiplier(step), with
// `step` the number of optimizer steps taken so far. The trainer therefore uses lr(k - 1) for its k-th
// optimizer step (k = 1, 2, ...; the first step of a warmup runs at lr 0, as in transformers), and the
// `learning_rate` it logs after global step s is lr(s) (what `lr_scheduler.get_last_lr()` returns there).
//
// Multipliers, with W warmup steps and T total steps (transformers/optimization.py):
//   warmup (every type but `constant`):  s < W: s / max(1, W)
//   constant                              1
//   constant_with_warmup                  1
//   linear                                max(0, (T - s) / max(1, T - W))
//   cosine                                p = (s - W) / max(1, T - W); max(0, 0.5 (1 + cos(pi * c * 2 p))), c = 0.5
//   cosine_with_min_lr                    the cosine factor f, then max(0, f (1 - r) + r), r = min_lr_rate
//   cosine_with_restarts                  p >= 1: 0; else max(0, 0.5 (1 + cos(pi * ((c p) mod 1)))), c = 1
//   polynomial                            s > T: end / lr0;
//                                         else ((lr0 - end) (1 - (s - W) / (T - W))^power + end) / lr0
//   inverse_sqrt                          1 / sqrt((s + t - W) / t), t = timescale (default W, or 10000 if W = 0)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prefer::train {

enum class ScheduleType {
  Linear,
  Cosine,
  CosineWithMinLr,
  CosineWithRestarts,
  Polynomial,
  Constant,
  ConstantWithWarmup,
  InverseSqrt,
};

// transformers' names: "linear", "cosine", "cosine_with_min_lr", "cosine_with_restarts", "polynomial",
// "constant", "constant_with_warmup", "inverse_sqrt".
const std::vector<std::string>& schedule_type_names();
std::string_view schedule_type_name(ScheduleType t);
// Throws prefer::Error (field `lr_scheduler_type`) listing the valid names and suggesting the nearest.
ScheduleType parse_schedule_type(std::string_view name);

// transformers' TrainingArguments.get_warmup_steps for both generations of its options:
//   warmup_steps >= 1:        that many steps (a count; a fraction above 1 is truncated, as int() does)
//   0 < warmup_steps < 1:     ceil(total_steps * warmup_steps)   (transformers 5: a ratio given as steps)
//   otherwise:                ceil(total_steps * warmup_ratio)   (transformers 4's `warmup_ratio`)
// The product is taken in double as Python does, so ceil(100 * 0.07) = 8 there and here.
// Negative values and a ratio above 1 throw prefer::Error naming the option.
int64_t resolve_warmup_steps(int64_t total_steps, double warmup_steps, double warmup_ratio = 0.0);

struct ScheduleOptions {
  ScheduleType type = ScheduleType::Linear;
  int64_t total_steps = 0;   // T: the number of optimizer steps of the run (> 0)
  int64_t warmup_steps = 0;  // W (resolve_warmup_steps)
  // lr_scheduler_kwargs. num_cycles defaults to 0.5 for the cosines and 1 for cosine_with_restarts.
  std::optional<double> num_cycles;
  double lr_end = 1e-7;                  // polynomial; must be below the base learning rate
  double power = 1.0;                    // polynomial
  std::optional<int64_t> timescale;      // inverse_sqrt
  std::optional<double> min_lr_rate;     // cosine_with_min_lr: one of min_lr_rate / min_lr is required
  std::optional<double> min_lr;          //   (min_lr_rate = min_lr / learning_rate)
};

class LrSchedule {
 public:
  // Validates the options against `learning_rate` (the peak, transformers' `learning_rate`); throws
  // prefer::Error naming the option.
  LrSchedule(ScheduleOptions options, double learning_rate);

  // The LambdaLR multiplier at `step` (>= 0; steps past total_steps are allowed, as in transformers).
  double multiplier(int64_t step) const;
  // learning_rate * multiplier(step).
  double lr(int64_t step) const { return learning_rate_ * multiplier(step); }

  const ScheduleOptions& options() const { return options_; }
  double learning_rate() const { return learning_rate_; }

 private:
  ScheduleOptions options_;
  double learning_rate_;
  double num_cycles_;
  double min_lr_rate_ = 0;
};

}  // namespace prefer::train
