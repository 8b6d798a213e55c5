#include "train/group_method.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "util/error.h"

namespace prefer::train {

GroupMethod::GroupMethod(GroupMethodOptions o) : opt_(std::move(o)) {
  opt_.grpo.validate();
  if (opt_.num_generations < 2)
    throw Error("must be at least 2: a group needs another completion to compare with", {.field = "num_generations"});
}

void GroupMethod::prepare(OnlineUpdate& u, OnlineRoles& roles, int64_t chunk, double) {
  const Rollout& ro = u.rollout;
  // The rewards: the weighted sum, and each function's own column for its metrics.
  std::vector<std::pair<std::string, std::vector<at::Tensor>>> parts;
  const at::Tensor total = chunked_rows(ro, chunk, [&](const Rollout& part) {
    std::vector<std::pair<std::string, at::Tensor>> cols;
    at::Tensor t = roles.scores(part, &cols);
    for (size_t k = 0; k < cols.size(); ++k) {
      if (parts.size() <= k) parts.push_back({cols[k].first, {}});
      parts[k].second.push_back(cols[k].second.to(at::kCPU));
    }
    return t;
  });
  at::Tensor R = total.to(at::kDouble);
  u.scores = R.to(at::kFloat);
  at::Tensor mask = ro.response_mask.to(at::kDouble);
  if (opt_.mask_truncated_completions) mask = mask * ro.contains_eos.to(at::kDouble).unsqueeze(1);
  const double beta = opt_.grpo.beta;
  if (beta > 0) {
    if (!roles.ref_logprobs) throw Error("beta > 0 needs a reference model", {.field = "beta"});
    at::Tensor ref = chunked_rows(ro, chunk, roles.ref_logprobs).to(at::kDouble);
    u.tensors["ref_logprobs"] = ref;
    u.kl = ((ro.sample_logprobs.to(at::kDouble) - ref) * mask).sum(1);  // k1 per completion
  }
  objectives::GroupAdvantages a = opt_.rloo ? objectives::rloo_advantages(R, u.kl, beta, opt_.num_generations, opt_.normalize_advantages)
                                            : objectives::grpo_advantages(R, opt_.num_generations, opt_.scale_rewards);
  u.tensors["advantages"] = a.advantages;
  u.tensors["mask"] = mask;
  u.tensors["num_items"] = mask.sum();
  for (const char* k : {"reward", "reward_std", "frac_reward_zero_std"}) u.metrics.push_back({k, scalar_value(a.metrics.at(k))});
  for (const auto& [name, cols] : parts) {
    at::Tensor c = at::cat(cols).to(at::kDouble);
    u.metrics.push_back({"rewards/" + name + "/mean", scalar_value(c.mean())});
    u.metrics.push_back({"rewards/" + name + "/std", c.numel() > 1 ? scalar_value(c.std(true)) : 0.0});
  }
  if (opt_.rloo && beta > 0) u.metrics.push_back({"kl", scalar_value(u.kl.sum() / mask.sum().clamp_min(1))});  // token-mean k1
}

at::Tensor GroupMethod::micro_loss(const OnlineUpdate& u, const Rollout& sub, const at::Tensor& rows, OnlineRoles& roles,
                                   std::map<std::string, double>& m) {
  at::Tensor entropy;
  at::Tensor lp = roles.policy_logprobs(sub, &entropy);
  const at::Device d = lp.device();
  auto pick = [&](const at::Tensor& t) { return t.index_select(0, rows).to(d); };
  objectives::GrpoLossInputs in{.logprobs = lp,
                                .old_logprobs = opt_.ratio_is_one && !opt_.rloo ? lp.detach() : pick(u.rollout.sample_logprobs),
                                .ref_logprobs = u.tensors.count("ref_logprobs") ? pick(u.tensors.at("ref_logprobs")) : at::Tensor(),
                                .advantages = pick(u.tensors.at("advantages")),
                                .mask = pick(u.tensors.at("mask")),
                                .num_items_in_batch = scalar_value(u.tensors.at("num_items")),
                                .gradient_accumulation_steps = opt_.gradient_accumulation_steps};
  objectives::GrpoLossOutput lo = opt_.rloo ? objectives::rloo_loss(in, opt_.grpo.epsilon, opt_.grpo.high()) : objectives::grpo_loss(in, opt_.grpo);
  for (const auto& [k, v] : lo.metrics)
    if (!(opt_.rloo && k == "kl")) m[k] = scalar_value(v);
  // entropy: the token mean over the micro-batch's completions.
  at::Tensor len = sub.response_mask.to(at::kDouble).sum(1).to(entropy.device());
  m["entropy"] = scalar_value((entropy.to(at::kDouble) * len).sum() / len.sum().clamp_min(1));
  const double loss = scalar_value(lo.loss);
  // HF's logged loss is the optimizer step's: the micro-batches' scaled losses summed.
  m["loss"] = loss * static_cast<double>(opt_.gradient_accumulation_steps);
  return lo.loss;
}

std::string GroupMethod::status(const std::map<std::string, double>& m) const {
  return fmt::format("reward {:.3f} zero-std {:.2f}", m.count("reward") ? m.at("reward") : 0.0,
                     m.count("frac_reward_zero_std") ? m.at("frac_reward_zero_std") : 0.0);
}

}  // namespace prefer::train
