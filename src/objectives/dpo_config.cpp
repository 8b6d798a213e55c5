#include "objectives/dpo_config.h"

#include <array>
#include <cmath>

#include "objectives/option_names.h"
#include "util/error.h"

namespace prefer::objectives {

namespace {

constexpr std::array<OptionName<DpoLossType>, 16> kLossNames{{
    {"sigmoid", DpoLossType::kSigmoid},
    {"hinge", DpoLossType::kHinge},
    {"ipo", DpoLossType::kIpo},
    {"exo_pair", DpoLossType::kExoPair},
    {"nca_pair", DpoLossType::kNcaPair},
    {"robust", DpoLossType::kRobust},
    {"bco_pair", DpoLossType::kBcoPair},
    {"sppo_hard", DpoLossType::kSppoHard},
    {"aot", DpoLossType::kAot},
    {"aot_unpaired", DpoLossType::kAotUnpaired},
    {"apo_zero", DpoLossType::kApoZero},
    {"apo_down", DpoLossType::kApoDown},
    {"discopop", DpoLossType::kDiscopop},
    {"sft", DpoLossType::kSft},
    {"sigmoid_norm", DpoLossType::kSigmoidNorm},
    {"aot_pair", DpoLossType::kAotUnpaired},  // v0.28.0's deprecated alias
}};

constexpr std::array<OptionName<TrlVersion>, 8> kVersionNames{{
    {"v1.9.0", TrlVersion::kV1_9},
    {"v0.28.0", TrlVersion::kV0_28},
    {"1.9.0", TrlVersion::kV1_9},
    {"v1.9", TrlVersion::kV1_9},
    {"1.9", TrlVersion::kV1_9},
    {"0.28.0", TrlVersion::kV0_28},
    {"v0.28", TrlVersion::kV0_28},
    {"0.28", TrlVersion::kV0_28},
}};

void fail(const std::string& field, const std::string& message, const std::string& hint = "") {
  throw Error(message, {.field = field, .hint = hint});
}

}  // namespace

DpoLossType parse_dpo_loss_type(std::string_view name) { return parse_option(name, kLossNames, "loss_type"); }

std::vector<DpoLossType> parse_dpo_loss_types(const std::vector<std::string>& names) {
  std::vector<DpoLossType> out;
  out.reserve(names.size());
  for (const auto& n : names) out.push_back(parse_dpo_loss_type(n));
  return out;
}

std::string to_string(DpoLossType type) { return option_name(type, kLossNames); }

TrlVersion parse_trl_version(std::string_view name) { return parse_option(name, kVersionNames, "trl_version"); }

std::string to_string(TrlVersion version) { return option_name(version, kVersionNames); }

bool DpoConfig::has(DpoLossType type) const {
  for (auto t : loss_type)
    if (t == type) return true;
  return false;
}

std::vector<std::pair<DpoLossType, double>> DpoConfig::terms() const {
  std::vector<std::pair<DpoLossType, double>> out;
  for (size_t i = 0; i < loss_type.size(); ++i)
    out.emplace_back(loss_type[i], loss_weights.empty() ? 1.0 : loss_weights[i]);
  if (rpo_alpha) out.emplace_back(DpoLossType::kSft, *rpo_alpha);
  return out;
}

bool DpoConfig::needs_lengths() const { return has(DpoLossType::kIpo) || has(DpoLossType::kSigmoidNorm); }

bool DpoConfig::needs_nll() const { return has(DpoLossType::kSft) || rpo_alpha.has_value(); }

void DpoConfig::validate() const {
  if (!(beta > 0.0) || !std::isfinite(beta)) fail("beta", "must be a positive number.");
  if (loss_type.empty()) fail("loss_type", "must name at least one loss type.");
  if (!loss_weights.empty() && loss_weights.size() != loss_type.size())
    fail("loss_weights",
         "must have one weight per loss type (" + std::to_string(loss_type.size()) + "), got " +
             std::to_string(loss_weights.size()) + ".");
  for (double w : loss_weights)
    if (!std::isfinite(w)) fail("loss_weights", "every weight must be a finite number.");
  if (!(label_smoothing >= 0.0 && label_smoothing < 0.5))
    fail("label_smoothing", "must lie in [0, 0.5).");
  if (has(DpoLossType::kExoPair) && label_smoothing == 0.0 && trl_version == TrlVersion::kV1_9)
    fail("label_smoothing", "must be greater than 0 for loss_type 'exo_pair'.",
         "the EXO paper recommends 1e-3; trl_version v0.28.0 substitutes 1e-3 silently");
  if (!(discopop_tau > 0.0) || !std::isfinite(discopop_tau)) fail("discopop_tau", "must be a positive number.");
  if (ld_alpha && !(*ld_alpha >= 0.0 && *ld_alpha <= 1.0)) fail("ld_alpha", "must lie in [0, 1].");
  if (!(f_alpha_divergence_coef > 0.0) || !std::isfinite(f_alpha_divergence_coef))
    fail("f_alpha_divergence_coef", "must be a positive number.");
  if (rpo_alpha && (!(*rpo_alpha >= 0.0) || !std::isfinite(*rpo_alpha)))
    fail("rpo_alpha", "must be a non-negative number.");
  if (use_weighting && (has(DpoLossType::kAot) || has(DpoLossType::kAotUnpaired)))
    fail("use_weighting", "cannot be combined with 'aot' or 'aot_unpaired', which sort the batch and so misalign the pair weights.");
  if (trl_version == TrlVersion::kV0_28) {
    if (f_divergence_type != FDivergenceType::kReverseKl)
      fail("f_divergence_type", "only 'reverse_kl' is available with trl_version v0.28.0.",
           "TRL v0.28.0 silently ignored the other f-divergences; use trl_version v1.9.0");
    if (has(DpoLossType::kSigmoidNorm))
      fail("loss_type", "'sigmoid_norm' does not exist in TRL v0.28.0.", "use trl_version v1.9.0");
  }
}

}  // namespace prefer::objectives
