#include "objectives/f_divergence.h"

#include <ATen/ATen.h>

#include <array>
#include <cmath>

#include "objectives/option_names.h"

namespace prefer::objectives {

namespace {

constexpr std::array<OptionName<FDivergenceType>, 4> kFDivergenceNames{{
    {"reverse_kl", FDivergenceType::kReverseKl},
    {"forward_kl", FDivergenceType::kForwardKl},
    {"js_divergence", FDivergenceType::kJsDivergence},
    {"alpha_divergence", FDivergenceType::kAlphaDivergence},
}};

constexpr double kAlphaExpClamp = 80.0;

}  // namespace

FDivergenceType parse_f_divergence_type(std::string_view name) {
  return parse_option(name, kFDivergenceNames, "f_divergence_type");
}

std::string to_string(FDivergenceType type) { return option_name(type, kFDivergenceNames); }

at::Tensor f_divergence_score(const at::Tensor& x, FDivergenceType type, double alpha_coef) {
  switch (type) {
    case FDivergenceType::kReverseKl:
      return x;
    case FDivergenceType::kForwardKl:
      return -at::exp(-x);
    case FDivergenceType::kJsDivergence:
      return at::log_sigmoid(x);
    case FDivergenceType::kAlphaDivergence: {
      if (std::abs(alpha_coef - 1.0) < 1e-6) return x;  // the limit a → 1 is reverse KL
      const double a1 = alpha_coef - 1.0;
      return at::exp(at::clamp_max(x * a1, kAlphaExpClamp)) / a1;
    }
  }
  return x;
}

}  // namespace prefer::objectives
