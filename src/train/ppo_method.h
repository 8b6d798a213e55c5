// PPO as an online method (TRL's PPOTrainer): per-token KL penalty + score, a value model, GAE and
// whitened advantages (objectives/ppo.h), then the clipped policy and value losses per micro-batch.
#pragma once

#include "objectives/ppo.h"
#include "train/online_trainer.h"

namespace prefer::train {

class PpoMethod : public OnlineMethod {
 public:
  PpoMethod(objectives::PpoConfig config, int64_t gradient_accumulation_steps);
  void prepare(OnlineUpdate& update, OnlineRoles& roles, int64_t chunk, double kl_coef) override;
  at::Tensor micro_loss(const OnlineUpdate& update, const Rollout& sub, const at::Tensor& rows, OnlineRoles& roles,
                        std::map<std::string, double>& metrics) override;
  std::vector<std::pair<std::string, std::string>> micro_metric_names() const override;
  double next_kl_coef(const OnlineUpdate& update, double kl_coef) override;
  double initial_kl_coef() const override { return config_.kl_coef; }
  std::string status(const std::map<std::string, double>& means) const override;

 private:
  objectives::PpoConfig config_;
  int64_t ga_;
};

}  // namespace prefer::train
