// GRPO's and RLOO's advantages and every loss type on fixed rewards and log-probs, against the
// definitions (TRL 1.9, ../shared/REFERENCE.md §10) written out with loops in double.
#include "objectives/grpo.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace prefer::objectives {
namespace {

using Grid = std::vector<std::vector<double>>;

at::Tensor tensor_of(const Grid& g) {
  at::Tensor t = at::zeros({static_cast<int64_t>(g.size()), static_cast<int64_t>(g[0].size())}, at::kDouble);
  for (size_t i = 0; i < g.size(); ++i)
    for (size_t j = 0; j < g[i].size(); ++j) t[static_cast<int64_t>(i)][static_cast<int64_t>(j)] = g[i][j];
  return t;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
double bessel_std(const std::vector<double>& v) {
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

TEST(GrpoAdvantages, GroupBatchAndNoneScalingByHand) {
  const std::vector<double> r = {1.0, 0.0, 0.5, 2.0, 2.0, 2.0};  // two groups of 3; the second has no spread
  at::Tensor R = at::tensor(r, at::kDouble);
  const std::vector<double> g0(r.begin(), r.begin() + 3), g1(r.begin() + 3, r.end());
  GroupAdvantages grp = grpo_advantages(R, 3, ScaleRewards::kGroup);
  GroupAdvantages bat = grpo_advantages(R, 3, ScaleRewards::kBatch);
  GroupAdvantages non = grpo_advantages(R, 3, ScaleRewards::kNone);
  for (int i = 0; i < 6; ++i) {
    const auto& g = i < 3 ? g0 : g1;
    const double centred = r[i] - mean(g);
    EXPECT_NEAR(grp.advantages[i].item<double>(), centred / (bessel_std(g) + 1e-4), 1e-12);
    EXPECT_NEAR(bat.advantages[i].item<double>(), centred / (bessel_std(r) + 1e-4), 1e-12);
    EXPECT_NEAR(non.advantages[i].item<double>(), centred, 1e-12);
  }
  EXPECT_NEAR(metric_value(grp.metrics, "reward"), mean(r), 1e-12);
  EXPECT_NEAR(metric_value(grp.metrics, "reward_std"), bessel_std(r), 1e-12);
  EXPECT_NEAR(metric_value(grp.metrics, "frac_reward_zero_std"), 0.5, 1e-12);
  EXPECT_NEAR(metric_value(bat.metrics, "frac_reward_zero_std"), 0.0, 1e-12);  // TRL: the batch std, once per group
  EXPECT_THROW(grpo_advantages(R, 4, ScaleRewards::kGroup), Error);
  EXPECT_THROW(grpo_advantages(R, 1, ScaleRewards::kGroup), Error);
  EXPECT_EQ(parse_scale_rewards("true"), ScaleRewards::kGroup);
  EXPECT_EQ(parse_scale_rewards("false"), ScaleRewards::kNone);
}

TEST(RlooAdvantages, LeaveOneOutWithTheKlInTheReward) {
  const std::vector<double> r = {1.0, 0.0, 0.5, 3.0}, kl = {0.2, -0.1, 0.4, 0.0};
  const double beta = 0.5;
  GroupAdvantages a = rloo_advantages(at::tensor(r, at::kDouble), at::tensor(kl, at::kDouble), beta, 2, /*normalize=*/false);
  std::vector<double> R(4), A(4);
  for (int i = 0; i < 4; ++i) R[i] = r[i] - beta * kl[i];
  for (int i = 0; i < 4; ++i) {
    const int other = i % 2 == 0 ? i + 1 : i - 1;  // groups of 2: the baseline is the other completion
    A[i] = R[i] - R[other];
    EXPECT_NEAR(a.advantages[i].item<double>(), A[i], 1e-12);
  }
  GroupAdvantages z = rloo_advantages(at::tensor(r, at::kDouble), at::tensor(kl, at::kDouble), beta, 2, /*normalize=*/true);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(z.advantages[i].item<double>(), (A[i] - mean(A)) / (bessel_std(A) + 1e-4), 1e-12);
  // G = 3: A = R − mean of the other two = G/(G−1)·(R − mean).
  GroupAdvantages g3 = rloo_advantages(at::tensor(std::vector<double>{1, 2, 6}, at::kDouble), at::Tensor(), 0.0, 3, false);
  EXPECT_NEAR(g3.advantages[0].item<double>(), 1.5 * (1 - 3), 1e-12);
}

// The fixed micro-batch: 3 completions of lengths 3, 2, 4 (T = 4).
struct Batch {
  Grid lp = {{-1.0, -0.5, -2.0, 0}, {-0.3, -1.2, 0, 0}, {-0.8, -0.9, -1.5, -0.2}};
  Grid old = {{-1.3, -0.4, -1.6, 0}, {-0.3, -1.0, 0, 0}, {-0.7, -1.4, -1.1, -0.6}};
  Grid ref = {{-1.1, -0.6, -1.8, 0}, {-0.5, -1.1, 0, 0}, {-0.9, -1.0, -1.3, -0.4}};
  std::vector<double> adv = {0.9, -1.2, 0.4};
  std::vector<int> len = {3, 2, 4};
  Grid mask() const {
    Grid m(3, std::vector<double>(4, 0));
    for (int b = 0; b < 3; ++b)
      for (int t = 0; t < len[b]; ++t) m[b][t] = 1;
    return m;
  }
  GrpoLossInputs inputs(double num_items, int64_t ga) const {
    return {.logprobs = tensor_of(lp), .old_logprobs = tensor_of(old), .ref_logprobs = tensor_of(ref),
            .advantages = at::tensor(adv, at::kDouble), .mask = tensor_of(mask()), .num_items_in_batch = num_items,
            .gradient_accumulation_steps = ga};
  }
};

double by_hand(const Batch& x, GrpoLossType type, double eps, double high, double beta, double num_items, double ga, int64_t max_len) {
  std::vector<double> row_sum(3, 0);
  for (int b = 0; b < 3; ++b) {
    const double A = x.adv[b];
    double mean_diff = 0;
    for (int t = 0; t < x.len[b]; ++t) mean_diff += x.lp[b][t] - x.old[b][t];
    const double w = std::exp(mean_diff / x.len[b]);
    for (int t = 0; t < x.len[b]; ++t) {
      const double r = std::exp(x.lp[b][t] - x.old[b][t]);
      double l;
      if (type == GrpoLossType::kCispo) l = -std::min(r, high) * A * x.lp[b][t];
      else if (type == GrpoLossType::kSapo) {
        const double tau = A > 0 ? 1.0 : 1.05;
        l = -(1 / (1 + std::exp(-tau * (r - 1)))) * (4 / tau) * A;
      } else if (type == GrpoLossType::kVespo) {
        const double k = A >= 0 ? 2 : 3, lam = A >= 0 ? 3 : 2;
        l = -std::exp(lam + k * std::log(w) - lam * w) * A * x.lp[b][t];
      } else {
        l = -std::min(r * A, std::clamp(r, 1 - eps, 1 + high) * A);
      }
      const double d = x.ref[b][t] - x.lp[b][t];
      l += beta * (std::exp(d) - d - 1);
      row_sum[b] += l;
    }
  }
  double total = 0, per_row_mean = 0, tokens = 0;
  for (int b = 0; b < 3; ++b) total += row_sum[b], per_row_mean += row_sum[b] / x.len[b], tokens += x.len[b];
  switch (type) {
    case GrpoLossType::kGrpo:
    case GrpoLossType::kSapo: return per_row_mean / 3 / ga;
    case GrpoLossType::kBnpo: return total / tokens / ga;
    case GrpoLossType::kDrGrpo: return total / (3.0 * static_cast<double>(max_len)) / ga;
    case GrpoLossType::kLuspo: return total / 3 / ga;
    default: return total / num_items;
  }
}

TEST(GrpoLoss, EveryLossTypeEqualsItsDefinition) {
  Batch x;
  for (const char* name : {"grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo", "luspo", "vespo"}) {
    for (const double beta : {0.0, 0.04}) {
      GrpoConfig c{.loss_type = parse_grpo_loss_type(name), .epsilon = 0.2, .epsilon_high = 0.28, .beta = beta, .max_completion_length = 6};
      GrpoLossOutput o = grpo_loss(x.inputs(/*num_items=*/20, /*ga=*/2), c);
      EXPECT_NEAR(o.loss.item<double>(), by_hand(x, c.loss_type, 0.2, 0.28, beta, 20, 2, 6), 1e-12) << name << " beta " << beta;
      EXPECT_EQ(o.metrics.count("kl"), beta > 0 ? 1u : 0u);
    }
  }
}

TEST(GrpoLoss, ClipRatiosAndKlMetrics) {
  Batch x;
  GrpoConfig c{.loss_type = GrpoLossType::kDapo, .epsilon = 0.2, .beta = 0.1};
  GrpoLossOutput o = grpo_loss(x.inputs(9, 1), c);
  double low = 0, high = 0, kl = 0, tokens = 0, low_min = 1, high_max = 0;
  for (int b = 0; b < 3; ++b) {
    double lo_b = 0, hi_b = 0;
    for (int t = 0; t < x.len[b]; ++t) {
      const double r = std::exp(x.lp[b][t] - x.old[b][t]), d = x.ref[b][t] - x.lp[b][t];
      lo_b += (r < 0.8 && x.adv[b] < 0) ? 1 : 0;
      hi_b += (r > 1.2 && x.adv[b] > 0) ? 1 : 0;
      kl += std::exp(d) - d - 1;
      tokens += 1;
    }
    low += lo_b, high += hi_b;
    low_min = std::min(low_min, lo_b / x.len[b]);
    high_max = std::max(high_max, hi_b / x.len[b]);
  }
  EXPECT_NEAR(metric_value(o.metrics, "clip_ratio/low_mean"), low / tokens, 1e-12);
  EXPECT_NEAR(metric_value(o.metrics, "clip_ratio/high_mean"), high / tokens, 1e-12);
  EXPECT_NEAR(metric_value(o.metrics, "clip_ratio/low_min"), low_min, 1e-12);
  EXPECT_NEAR(metric_value(o.metrics, "clip_ratio/high_max"), high_max, 1e-12);
  EXPECT_NEAR(metric_value(o.metrics, "clip_ratio/region_mean"), (low + high) / tokens, 1e-12);
  EXPECT_NEAR(metric_value(o.metrics, "kl"), kl / tokens, 1e-12);
  EXPECT_GT(high + low, 0) << "the fixture should clip some tokens";
}

TEST(GrpoLoss, CispoGradientStopsAtTheCappedRatio) {
  // d/d logπ of −sg(min(r, ε_h))·A·logπ / N is −min(r, ε_h)·A / N: the ratio carries no gradient.
  Batch x;
  GrpoLossInputs in = x.inputs(10, 1);
  in.logprobs.set_requires_grad(true);
  GrpoConfig c{.loss_type = GrpoLossType::kCispo, .epsilon = 0.2, .epsilon_high = 1.1};
  grpo_loss(in, c).loss.backward();
  for (int b = 0; b < 3; ++b)
    for (int t = 0; t < 4; ++t) {
      const double r = std::exp(x.lp[b][t] - x.old[b][t]);
      const double want = t < x.len[b] ? -std::min(r, 1.1) * x.adv[b] / 10 : 0.0;
      EXPECT_NEAR(in.logprobs.grad()[b][t].item<double>(), want, 1e-12);
    }
}

TEST(GrpoLoss, Float32LogprobsKeepTheirGradient) {
  Batch x;
  GrpoLossInputs in = x.inputs(10, 1);
  in.logprobs = in.logprobs.to(at::kFloat).set_requires_grad(true);
  in.old_logprobs = in.logprobs.detach();  // TRL's ratio-is-one case
  GrpoLossOutput o = grpo_loss(in, {.loss_type = GrpoLossType::kDapo});
  EXPECT_EQ(o.loss.scalar_type(), at::kFloat);
  o.loss.backward();
  // r = 1: the gradient of −r·A is −A per token, over num_items.
  EXPECT_NEAR(in.logprobs.grad()[1][0].item<double>(), 1.2 / 10, 1e-6);
}

TEST(RlooLoss, OneRatioPerCompletion) {
  Batch x;
  GrpoLossOutput o = rloo_loss(x.inputs(0, 2), 0.2, 0.2);
  double loss = 0, low = 0, high = 0;
  for (int b = 0; b < 3; ++b) {
    double s = 0;
    for (int t = 0; t < x.len[b]; ++t) s += x.lp[b][t] - x.old[b][t];
    const double rho = std::exp(s), A = x.adv[b];
    loss += -std::min(rho * A, std::clamp(rho, 0.8, 1.2) * A);
    low += (rho < 0.8 && A < 0) ? 1 : 0;
    high += (rho > 1.2 && A > 0) ? 1 : 0;
  }
  EXPECT_NEAR(o.loss.item<double>(), loss / 3 / 2, 1e-12);
  EXPECT_NEAR(metric_value(o.metrics, "clip_ratio/low_mean"), low / 3, 1e-12);
  EXPECT_NEAR(metric_value(o.metrics, "clip_ratio/high_mean"), high / 3, 1e-12);
}

TEST(GrpoLoss, ConfigErrorsNameTheOption) {
  Batch x;
  EXPECT_THROW(grpo_loss(x.inputs(0, 1), {.loss_type = GrpoLossType::kDapo}), Error);  // dapo needs the batch's tokens
  GrpoLossInputs no_ref = x.inputs(9, 1);
  no_ref.ref_logprobs = at::Tensor();
  EXPECT_THROW(grpo_loss(no_ref, {.beta = 0.1}), Error);
  EXPECT_THROW(parse_grpo_loss_type("ppo"), Error);
  EXPECT_THROW((GrpoConfig{.epsilon = 1.5}.validate()), Error);
}

}  // namespace
}  // namespace prefer::objectives
