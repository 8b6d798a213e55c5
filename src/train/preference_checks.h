// What can go wrong in a KTO, ORPO or CPO run that DPO's checks do not cover, in plain words: the
// pre-flight checks of each command (step 0) and the monitor rule of the methods with an NLL term.
//   kto_class_imbalance           (desirable_weight x #desirable) / (undesirable_weight x #undesirable)
//                                 outside [1, 4/3] (KTO paper, eq. 8; TRL warns the same way): suggests
//                                 either weight's range, as TRL does
//   simpo_with_nll_term           cpo loss_type simpo with cpo_alpha > 0 is CPO-SimPO, not SimPO
//   chosen_not_in_template_format the NLL term trains on plain-text chosen responses while the model has
//                                 a chat template: the model learns them outside its assistant turns
//   chosen_nll_rising             nll_loss (the SFT part of ORPO / CPO) rose by > 10% of its first logged
//                                 value, at >= 20% of the steps or at the end
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "objectives/cpo.h"
#include "train/monitor.h"
#include "train/training_warning.h"

namespace prefer::train {

std::optional<TrainingWarning> kto_class_balance(int64_t desirable, int64_t undesirable, double desirable_weight,
                                                 double undesirable_weight);

std::optional<TrainingWarning> simpo_nll_check(const objectives::CpoConfig& config);

// `method` names the command ("ORPO", "CPO"); `conversational` says whether the data were messages.
std::optional<TrainingWarning> template_format_check(const std::string& method, bool has_chat_template, bool conversational);

MonitorRule chosen_nll_rising_rule(int64_t total_steps);

// Monitor thresholds for methods whose rewards are β x per-token AVERAGE log-probs (ORPO, SimPO, IPO,
// AlphaPO): DPO's thresholds are in units of β x summed log-probs, about 100 times larger. The gains
// asked for become 0.05 nats per token (times β), and the rejected log-probs collapse below -5 per token.
MonitorOptions average_logp_thresholds(MonitorOptions options, double beta);

}  // namespace prefer::train
