// DPO hyperparameters with TRL's DPOConfig names and defaults, the loss types as an enum, and the one
// validate() that checks them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "objectives/f_divergence.h"

namespace prefer::objectives {

// TRL's DPOConfig.loss_type values (v1.9.0). "aot_pair" is accepted as v0.28.0's deprecated alias of
// "aot_unpaired".
enum class DpoLossType {
  kSigmoid,
  kHinge,
  kIpo,
  kExoPair,
  kNcaPair,
  kRobust,
  kBcoPair,
  kSppoHard,
  kAot,
  kAotUnpaired,
  kApoZero,
  kApoDown,
  kDiscopop,
  kSft,
  kSigmoidNorm,
};

DpoLossType parse_dpo_loss_type(std::string_view name);
std::vector<DpoLossType> parse_dpo_loss_types(const std::vector<std::string>& names);
std::string to_string(DpoLossType type);

// Whose semantics the DPO loss follows where TRL releases differ (docs/objectives.md lists every
// difference). v1.9.0 is the default; v0.28.0 is the last release with DPOTrainer.dpo_loss().
enum class TrlVersion { kV1_9, kV0_28 };

// "v1.9.0" / "v0.28.0" (also "1.9.0", "v1.9", "1.9", and the same for 0.28).
TrlVersion parse_trl_version(std::string_view name);
std::string to_string(TrlVersion version);

struct DpoConfig {
  double beta = 0.1;                                          // β, the KL temperature (> 0)
  std::vector<DpoLossType> loss_type = {DpoLossType::kSigmoid};
  std::vector<double> loss_weights;                           // empty: 1 for every loss type
  double label_smoothing = 0.0;                               // ε in [0, 0.5): robust, exo_pair, aot*, (v0.28 sigmoid)
  bool use_weighting = false;                                 // WPO pair weights (needs *_wpo_log_weights)
  std::optional<double> ld_alpha;                             // LD-DPO verbose-token weight in [0, 1]
  FDivergenceType f_divergence_type = FDivergenceType::kReverseKl;
  double f_alpha_divergence_coef = 0.5;                       // a of alpha_divergence (> 0)
  double discopop_tau = 0.05;                                 // τ of discopop (> 0)
  std::optional<double> rpo_alpha;                            // older TRL: adds rpo_alpha · NLL (= loss_type "sft")
  TrlVersion trl_version = TrlVersion::kV1_9;

  // Throws prefer::Error naming the offending option, one sentence per rule.
  void validate() const;

  // The weighted loss terms: loss_type with loss_weights (default 1), then ("sft", rpo_alpha) when
  // rpo_alpha is set.
  std::vector<std::pair<DpoLossType, double>> terms() const;
  bool has(DpoLossType type) const;
  // Inputs the configuration needs besides the four sequence log-probs.
  bool needs_lengths() const;  // ipo, sigmoid_norm
  bool needs_nll() const;      // sft, rpo_alpha
};

}  // namespace prefer::objectives
