#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "util/error.h"
#include "util/strings.h"

namespace prefer::train {

namespace {

struct NamedType {
  const char* name;
  ScheduleType type;
};
constexpr NamedType kTypes[] = {
    {"linear", ScheduleType::Linear},
    {"cosine", ScheduleType::Cosine},
    {"cosine_with_min_lr", ScheduleType::CosineWithMinLr},
    {"cosine_with_restarts", ScheduleType::CosineWithRestarts},
    {"polynomial", ScheduleType::Polynomial},
    {"constant", ScheduleType::Constant},
    {"constant_with_warmup", ScheduleType::ConstantWithWarmup},
    {"inverse_sqrt", ScheduleType::InverseSqrt},
};

Error option_error(const std::string& field, const std::string& message, std::string hint = "") {
  return Error(message, {.field = field, .hint = std::move(hint)});
}

}  // namespace

const std::vector<std::string>& schedule_type_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const NamedType& t : kTypes) v.emplace_back(t.name);
    return v;
  }();
  return names;
}

std::string_view schedule_type_name(ScheduleType type) {
  for (const NamedType& t : kTypes)
    if (t.type == type) return t.name;
  return "?";
}

ScheduleType parse_schedule_type(std::string_view name) {
  for (const NamedType& t : kTypes)
    if (name == t.name) return t.type;
  // Strings are built by appending: GCC 12 warns falsely (-Wstringop-overflow) on "literal" + std::string.
  std::string hint;
  if (std::string near = suggest_name(name, schedule_type_names()); !near.empty())
    hint.append("did you mean '").append(near).append("'?");
  else if (name == "reduce_lr_on_plateau" || name == "warmup_stable_decay")
    hint.append("'").append(name).append("' is a transformers schedule that prefer does not implement");
  std::string message = "unknown value '";
  message.append(name).append("'; valid values: ").append(join(schedule_type_names(), ", "));
  throw option_error("lr_scheduler_type", message, hint);
}

int64_t resolve_warmup_steps(int64_t total_steps, double warmup_steps, double warmup_ratio) {
  if (!(warmup_steps >= 0)) throw option_error("warmup_steps", "must be >= 0");
  if (!(warmup_ratio >= 0 && warmup_ratio <= 1)) throw option_error("warmup_ratio", "must lie in [0, 1]");
  if (warmup_steps >= 1) return static_cast<int64_t>(warmup_steps);
  const double ratio = warmup_steps > 0 ? warmup_steps : warmup_ratio;
  return static_cast<int64_t>(std::ceil(static_cast<double>(total_steps) * ratio));
}

LrSchedule::LrSchedule(ScheduleOptions options, double learning_rate)
    : options_(std::move(options)), learning_rate_(learning_rate) {
  const ScheduleOptions& o = options_;
  if (!(learning_rate >= 0) || !std::isfinite(learning_rate))
    throw option_error("learning_rate", "must be a finite number >= 0");
  if (o.total_steps <= 0)
    throw option_error("max_steps", "the schedule needs the run's number of optimizer steps (> 0), got " +
                                        std::to_string(o.total_steps));
  if (o.warmup_steps < 0) throw option_error("warmup_steps", "must be >= 0");
  num_cycles_ = o.num_cycles.value_or(o.type == ScheduleType::CosineWithRestarts ? 1.0 : 0.5);
  if (!std::isfinite(num_cycles_) || num_cycles_ < 0) throw option_error("num_cycles", "must be a finite number >= 0");

  switch (o.type) {
    case ScheduleType::Polynomial:
      // transformers raises the same: the decay interpolates from learning_rate down to lr_end.
      if (!(learning_rate > o.lr_end))
        throw option_error("lr_end", "must be smaller than learning_rate (" + std::to_string(learning_rate) + ")");
      if (o.warmup_steps >= o.total_steps)
        throw option_error("warmup_steps", "polynomial decay needs warmup_steps < the number of steps");
      break;
    case ScheduleType::CosineWithMinLr:
      if (o.min_lr && o.min_lr_rate)
        throw option_error("min_lr_rate", "give only one of min_lr and min_lr_rate");
      if (!o.min_lr && !o.min_lr_rate)
        throw option_error("min_lr_rate", "cosine_with_min_lr needs min_lr or min_lr_rate",
                           "set it in lr_scheduler_kwargs, e.g. {\"min_lr_rate\": 0.1}");
      min_lr_rate_ = o.min_lr_rate ? *o.min_lr_rate : *o.min_lr / learning_rate;
      if (!std::isfinite(min_lr_rate_)) throw option_error("min_lr", "min_lr needs a learning_rate > 0");
      break;
    case ScheduleType::InverseSqrt:
      if (o.timescale && *o.timescale <= 0) throw option_error("timescale", "must be > 0");
      break;
    default:
      break;
  }
}

double LrSchedule::multiplier(int64_t step) const {
  const ScheduleOptions& o = options_;
  const int64_t warmup = o.warmup_steps, total = o.total_steps;
  if (o.type == ScheduleType::Constant) return 1.0;
  // Python: float(current_step) / float(max(1, num_warmup_steps)).
  if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  const double progress =
      static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
  constexpr double pi = std::numbers::pi;
  switch (o.type) {
    case ScheduleType::Constant:
    case ScheduleType::ConstantWithWarmup:
      return 1.0;
    case ScheduleType::Linear:
      return std::max(0.0, static_cast<double>(total - step) /
                               static_cast<double>(std::max<int64_t>(1, total - warmup)));
    case ScheduleType::Cosine:
      return std::max(0.0, 0.5 * (1.0 + std::cos(pi * num_cycles_ * 2.0 * progress)));
    case ScheduleType::CosineWithMinLr: {
      const double factor = 0.5 * (1.0 + std::cos(pi * num_cycles_ * 2.0 * progress));
      return std::max(0.0, factor * (1 - min_lr_rate_) + min_lr_rate_);
    }
    case ScheduleType::CosineWithRestarts:
      if (progress >= 1.0) return 0.0;
      // Python's % on floats: the result takes the sign of the divisor (1.0), so it lies in [0, 1).
      return std::max(0.0, 0.5 * (1.0 + std::cos(pi * std::fmod(num_cycles_ * progress, 1.0))));
    case ScheduleType::Polynomial: {
      const double lr_init = learning_rate_;
      if (step > total) return o.lr_end / lr_init;
      const double lr_range = lr_init - o.lr_end;
      const auto decay_steps = static_cast<double>(total - warmup);
      const double pct_remaining = 1 - static_cast<double>(step - warmup) / decay_steps;
      const double decay = lr_range * std::pow(pct_remaining, o.power) + o.lr_end;
      return decay / lr_init;
    }
    case ScheduleType::InverseSqrt: {
      const int64_t timescale = o.timescale.value_or(warmup > 0 ? warmup : 10000);
      const int64_t shift = timescale - warmup;
      return 1.0 / std::sqrt(static_cast<double>(step + shift) / static_cast<double>(timescale));
    }
  }
  return 1.0;
}

}  // namespace prefer::train
