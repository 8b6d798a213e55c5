// GRPO and RLOO as online methods (TRL 1.9's GRPOTrainer and RLOOTrainer): G completions per prompt, the
// advantage of each from its group's rewards (objectives/grpo.h), no value model; the reference only
// when beta > 0 (GRPO: a per-token k3 term in the loss; RLOO: k1 summed into the reward).
#pragma once

#include "objectives/grpo.h"
#include "train/online_trainer.h"

namespace prefer::train {

struct GroupMethodOptions {
  bool rloo = false;
  objectives::GrpoConfig grpo;           // loss_type (GRPO), epsilon, epsilon_high, beta, max_completion_length
  objectives::ScaleRewards scale_rewards = objectives::ScaleRewards::kGroup;  // GRPO
  bool normalize_advantages = false;     // RLOO: a batch z-score of the advantages
  int64_t num_generations = 8;
  int64_t gradient_accumulation_steps = 1;
  // TRL: π_old is the policy's own detached log-probs (the ratio is exactly 1) when each generation
  // batch is used for one optimizer step; otherwise the sampler's log-probs.
  bool ratio_is_one = true;
  bool mask_truncated_completions = false;  // completions that never ended do not enter the loss
};

class GroupMethod : public OnlineMethod {
 public:
  explicit GroupMethod(GroupMethodOptions options);
  int64_t group_size() const override { return opt_.num_generations; }
  void prepare(OnlineUpdate& update, OnlineRoles& roles, int64_t chunk, double kl_coef) override;
  at::Tensor micro_loss(const OnlineUpdate& update, const Rollout& sub, const at::Tensor& rows, OnlineRoles& roles,
                        std::map<std::string, double>& metrics) override;
  std::string status(const std::map<std::string, double>& means) const override;

 private:
  GroupMethodOptions opt_;
};

}  // namespace prefer::train
