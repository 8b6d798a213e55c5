#include "train/ppo_method.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace prefer::train {

PpoMethod::PpoMethod(objectives::PpoConfig config, int64_t ga) : config_(config), ga_(ga) { config_.validate(); }

void PpoMethod::prepare(OnlineUpdate& u, OnlineRoles& roles, int64_t chunk, double kl_coef) {
  const Rollout& ro = u.rollout;
  at::Tensor ref = chunked_rows(ro, chunk, roles.ref_logprobs);
  at::Tensor values = chunked_rows(ro, chunk, roles.values);
  at::Tensor scores = chunked_rows(ro, chunk, [&](const Rollout& r) { return roles.scores(r, nullptr); });
  objectives::PpoRollout pr = objectives::ppo_rollout({.logprobs = ro.sample_logprobs, .ref_logprobs = ref, .values = values,
                                                       .scores = scores, .response_mask = ro.response_mask, .contains_eos = ro.contains_eos},
                                                      config_, config_.adap_kl_ctrl ? kl_coef : config_.kl_coef);
  u.scores = scores.isfinite().all().item<bool>() ? pr.scores : scores;  // a NaN reward is reported as such
  u.kl = pr.kl.sum(1);
  for (const char* k : {"objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward", "objective/scores"})
    u.metrics.push_back({k, scalar_value(pr.metrics.at(k))});
  u.tensors = {{"advantages", pr.advantages}, {"values", pr.values}, {"returns", pr.returns}, {"value_mask", pr.value_mask}};
}

at::Tensor PpoMethod::micro_loss(const OnlineUpdate& u, const Rollout& sub, const at::Tensor& rows, OnlineRoles& roles,
                                 std::map<std::string, double>& m) {
  at::Tensor entropy;
  at::Tensor new_lp = roles.policy_logprobs(sub, &entropy);
  at::Tensor new_v = roles.values(sub);
  const at::Device d = new_lp.device();
  auto pick = [&](const at::Tensor& t) { return t.index_select(0, rows).to(d); };
  objectives::PpoLossOutput lo = objectives::ppo_loss(
      {.logprobs = new_lp, .old_logprobs = pick(u.rollout.sample_logprobs), .advantages = pick(u.tensors.at("advantages")),
       .values = new_v, .old_values = pick(u.tensors.at("values")), .returns = pick(u.tensors.at("returns")),
       .response_mask = pick(u.rollout.response_mask), .value_mask = pick(u.tensors.at("value_mask"))},
      config_);
  for (const auto& [k, v] : lo.metrics) m[k] = scalar_value(v);
  m["policy/entropy"] = scalar_value(entropy.mean());
  return lo.loss / static_cast<double>(ga_);
}

std::vector<std::pair<std::string, std::string>> PpoMethod::micro_metric_names() const {
  // TRL logs the means over every micro-batch of the update under *_avg names.
  return {{"policy/approxkl_avg", "policy/approxkl"}, {"policy/clipfrac_avg", "policy/clipfrac"}, {"loss/policy_avg", "loss/policy"},
          {"loss/value_avg", "loss/value"},          {"val/clipfrac_avg", "val/clipfrac"},   {"policy/entropy_avg", "policy/entropy"},
          {"val/ratio", "val/ratio"},                {"val/ratio_var", "val/ratio_var"}};
}

double PpoMethod::next_kl_coef(const OnlineUpdate& u, double kl_coef) {
  if (!config_.adap_kl_ctrl) return kl_coef;
  objectives::AdaptiveKlController c = config_.make_kl_controller();
  c.value = kl_coef;
  double kl = 0;
  for (const auto& [k, v] : u.metrics)
    if (k == "objective/kl") kl = v;
  return c.update(kl, u.rollout.rows());
}

std::string PpoMethod::status(const std::map<std::string, double>& m) const {
  return fmt::format("score {:.3f} kl {:.3f}", m.count("objective/scores") ? m.at("objective/scores") : 0.0,
                     m.count("objective/kl") ? m.at("objective/kl") : 0.0);
}

}  // namespace prefer::train
