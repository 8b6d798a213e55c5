#include "objectives/kl_penalty.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>

#include "objectives/option_names.h"

namespace prefer::objectives {

namespace {

constexpr std::array<OptionName<KlEstimator>, 3> kKlEstimatorNames{{
    {"k1", KlEstimator::kK1},
    {"k2", KlEstimator::kK2},
    {"k3", KlEstimator::kK3},
}};

}  // namespace

KlEstimator parse_kl_estimator(std::string_view name) { return parse_option(name, kKlEstimatorNames, "kl_estimator"); }

std::string to_string(KlEstimator estimator) { return option_name(estimator, kKlEstimatorNames); }

at::Tensor kl_penalty(const at::Tensor& logprobs, const at::Tensor& ref_logprobs, KlEstimator estimator) {
  at::Tensor logr = ref_logprobs - logprobs;
  switch (estimator) {
    case KlEstimator::kK1:
      return -logr;
    case KlEstimator::kK2:
      return 0.5 * logr * logr;
    case KlEstimator::kK3:
      // expm1 keeps (r − 1) accurate when r is close to 1, where the two terms nearly cancel.
      return at::expm1(logr) - logr;
  }
  return -logr;
}

double AdaptiveKlController::update(double current_kl, int64_t n_steps) {
  const double error = std::clamp(current_kl / target - 1.0, -0.2, 0.2);
  value *= 1.0 + error * static_cast<double>(n_steps) / horizon;
  return value;
}

}  // namespace prefer::objectives
