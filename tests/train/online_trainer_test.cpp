// The PPO loop's rollout-to-loss path on a fixed batch, with the roles replaced by given tensors
// (responses, log-probs, reference log-probs, values, scores): the first update's logged metrics must
// equal TRL's definitions evaluated in this file with plain loops in double. And the failure-mode checks
// of rl_monitor.h, each provoked and each silent on a healthy run.
#include "train/online_trainer.h"
#include "train/group_method.h"
#include "train/ppo_method.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>

#include "train/metrics_log.h"
#include "train/rl_monitor.h"
#include "test_util.h"

namespace prefer::train {
namespace {

using Grid = std::vector<std::vector<double>>;

at::Tensor grid_tensor(const Grid& g) {
  at::Tensor t = at::zeros({static_cast<int64_t>(g.size()), static_cast<int64_t>(g[0].size())}, at::kFloat);
  for (size_t b = 0; b < g.size(); ++b)
    for (size_t i = 0; i < g[b].size(); ++i) t[static_cast<int64_t>(b)][static_cast<int64_t>(i)] = g[b][i];
  return t;
}

// Four responses of lengths 3, 1, 4, 2 (T = 4) after prompts of different lengths.
struct FixedBatch {
  std::vector<std::vector<int64_t>> prompts = {{1, 10}, {1, 11, 12}, {1, 13}, {1, 14, 15, 16}};
  std::vector<std::vector<int64_t>> responses = {{20, 21, 4}, {22}, {23, 24, 25, 26}, {27, 4}};
  Grid old_lp = {{-1.2, -0.7, -2.0, 0}, {-0.4, 0, 0, 0}, {-1.0, -1.5, -0.3, -2.2}, {-0.9, -1.1, 0, 0}};
  Grid ref_lp = {{-1.0, -0.9, -1.7, 0}, {-0.6, 0, 0, 0}, {-1.1, -1.2, -0.5, -2.0}, {-0.8, -1.4, 0, 0}};
  Grid values = {{0.1, 0.3, -0.2, 0}, {0.5, 0, 0, 0}, {-0.1, 0.2, 0.4, 0.0}, {0.3, -0.3, 0, 0}};
  std::vector<double> scores = {1.5, -0.5, 0.8, 2.0};
  // What the "current" policy and value model return in the update (lr 0 keeps them there).
  Grid new_lp = {{-1.1, -0.8, -1.6, 0}, {-0.2, 0, 0, 0}, {-1.3, -1.4, -0.1, -2.6}, {-0.9, -0.7, 0, 0}};
  Grid new_v = {{0.2, 0.1, 0.0, 0}, {0.9, 0, 0, 0}, {-0.4, 0.3, 0.1, 0.5}, {0.3, 0.1, 0, 0}};
  int64_t len(size_t b) const { return static_cast<int64_t>(responses[b].size()); }
};

// TRL's PPOTrainer, step by step (k1 KL, score on the last response token, GAE, masked whitening with
// Bessel's correction, clipped surrogate and clipped value loss), in double.
std::map<std::string, double> trl_first_update(const FixedBatch& f, double kl_coef, double gamma, double lam, double eps, double eps_v) {
  const size_t B = f.prompts.size(), T = 4;
  Grid kl(B, std::vector<double>(T, 0)), rew = kl, adv = kl, ret = kl;
  double kl_sum = 0, nsr_sum = 0, ent_sum = 0, score_sum = 0;
  for (size_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < f.len(b); ++t) {
      kl[b][t] = f.old_lp[b][t] - f.ref_lp[b][t];
      rew[b][t] = -kl_coef * kl[b][t];
      kl_sum += kl[b][t];
      nsr_sum += rew[b][t];
      ent_sum += -f.old_lp[b][t];
    }
    rew[b][static_cast<size_t>(f.len(b) - 1)] += f.scores[b];
    score_sum += f.scores[b];
    double last = 0;
    for (int64_t t = static_cast<int64_t>(T) - 1; t >= 0; --t) {
      const double next = t < static_cast<int64_t>(T) - 1 ? f.values[b][t + 1] : 0.0;
      const double v = t < f.len(b) ? f.values[b][t] : 0.0;
      const double delta = rew[b][t] + gamma * next - v;
      last = delta + gamma * lam * last;
      adv[b][t] = last;
      ret[b][t] = last + v;
    }
  }
  double n = 0, mean = 0, var = 0;
  for (size_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < f.len(b); ++t) n += 1, mean += adv[b][t];
  mean /= n;
  for (size_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < f.len(b); ++t) var += (adv[b][t] - mean) * (adv[b][t] - mean);
  var = var / n * (n / (n - 1));
  double pg = 0, vf = 0, approx = 0, clipfrac = 0, vclipfrac = 0, ratio_sum = 0;
  for (size_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < f.len(b); ++t) {
      const double a = (adv[b][t] - mean) / std::sqrt(var + 1e-8);
      const double d = f.new_lp[b][t] - f.old_lp[b][t], ratio = std::exp(d);
      const double l1 = -a * ratio, l2 = -a * std::clamp(ratio, 1 - eps, 1 + eps);
      pg += std::max(l1, l2);
      clipfrac += l2 > l1 ? 1 : 0;
      approx += 0.5 * d * d;
      ratio_sum += ratio;
      const double vp = f.new_v[b][t], vc = std::clamp(vp, f.values[b][t] - eps_v, f.values[b][t] + eps_v);
      const double v1 = (vp - ret[b][t]) * (vp - ret[b][t]), v2 = (vc - ret[b][t]) * (vc - ret[b][t]);
      vf += std::max(v1, v2);
      vclipfrac += v2 > v1 ? 1 : 0;
    }
  return {{"objective/kl", kl_sum / B},
          {"objective/non_score_reward", nsr_sum / B},
          {"objective/rlhf_reward", nsr_sum / B + score_sum / B},
          {"objective/scores", score_sum / B},
          {"objective/entropy", ent_sum / B},
          {"loss/policy_avg", pg / n},
          {"loss/value_avg", 0.5 * vf / n},
          {"policy/approxkl_avg", approx / n},
          {"policy/clipfrac_avg", clipfrac / n},
          {"val/clipfrac_avg", vclipfrac / n},
          {"val/ratio", ratio_sum / n}};
}

// Roles that return the fixed batch's tensors; a zero-weight parameter gives the loss a gradient path.
OnlineRoles fixed_roles(const FixedBatch& f, at::Tensor& w) {
  auto rows_of = [f](const Rollout& r) {
    std::vector<int64_t> rows;
    for (const auto& p : r.prompts) rows.push_back(std::find(f.prompts.begin(), f.prompts.end(), p) - f.prompts.begin());
    return at::tensor(rows, at::kLong);
  };
  OnlineRoles roles;
  roles.sample = [f](const std::vector<std::vector<int64_t>>& prompts, uint64_t) {
    std::vector<std::vector<int64_t>> responses;
    for (const auto& p : prompts) responses.push_back(f.responses[std::find(f.prompts.begin(), f.prompts.end(), p) - f.prompts.begin()]);
    Rollout r = make_rollout(prompts, responses, 0, {4});
    std::vector<int64_t> rows;
    for (const auto& p : prompts) rows.push_back(std::find(f.prompts.begin(), f.prompts.end(), p) - f.prompts.begin());
    r.sample_logprobs = grid_tensor(f.old_lp).index_select(0, at::tensor(rows, at::kLong));
    return r;
  };
  roles.policy_logprobs = [f, rows_of, &w](const Rollout& r, at::Tensor* entropy) {
    if (entropy) *entropy = at::zeros({r.rows()});
    return grid_tensor(f.new_lp).index_select(0, rows_of(r)) + w * 0.0;
  };
  roles.ref_logprobs = [f, rows_of](const Rollout& r) { return grid_tensor(f.ref_lp).index_select(0, rows_of(r)); };
  roles.values = [f, rows_of, &w](const Rollout& r) {
    at::Tensor v = at::GradMode::is_enabled() ? grid_tensor(f.new_v) + w * 0.0 : grid_tensor(f.values);
    return v.index_select(0, rows_of(r)) * r.response_mask.to(at::kFloat);
  };
  roles.scores = [f, rows_of](const Rollout& r, std::vector<std::pair<std::string, at::Tensor>>*) {
    return at::tensor(std::vector<float>(f.scores.begin(), f.scores.end())).index_select(0, rows_of(r));
  };
  roles.trainable = [&w] { return std::vector<NamedParam>{{"w", w}}; };
  roles.set_training = [](bool) {};
  roles.save_checkpoint = roles.load_checkpoint = roles.save_final = [](const std::filesystem::path& d) {
    std::filesystem::create_directories(d);
  };
  roles.decode = [](const std::vector<int64_t>& ids) { return std::to_string(ids.size()) + " tokens"; };
  return roles;
}

TEST(PpoTrainer, FirstUpdateEqualsTrlsDefinitionsOnAFixedBatch) {
  test::TempDir tmp;
  FixedBatch f;
  at::Tensor w = at::zeros({1}, at::kFloat).set_requires_grad(true);
  OnlineArgs a;
  a.trainer.output_dir = tmp.path();
  a.trainer.learning_rate = 0;
  a.trainer.per_device_train_batch_size = 4;
  a.trainer.max_steps = 1;
  a.trainer.show_progress = false;
  a.passes = 1;
  objectives::PpoConfig c;
  c.kl_coef = 0.2;
  c.lam = 0.9;
  c.gamma = 0.97;
  a.eos_token_ids = {4};
  a.response_length = 4;
  OnlineTrainer trainer(a, fixed_roles(f, w), std::make_unique<PpoMethod>(c, 1), f.prompts, {"a", "b", "c", "d"}, Json::object());
  TrainResult r = trainer.train();
  ASSERT_EQ(r.log.size(), 1u);
  const Json& row = r.log[0];
  for (const auto& [k, want] : trl_first_update(f, 0.2, 0.97, 0.9, 0.2, 0.2)) {
    ASSERT_TRUE(row.contains(k)) << k;
    EXPECT_NEAR(row[k].get<double>(), want, 1e-5) << k;
  }
  EXPECT_EQ(row["val/num_eos_tokens"].get<double>(), 2.0);
  EXPECT_EQ(row["completions/mean_length"].get<double>(), 2.5);
  EXPECT_EQ(row["completions/clipped_ratio"].get<double>(), 0.25);  // one response of response_length 4
  EXPECT_EQ(row["episode"].get<double>(), 4.0);
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "final"));
  // completions.jsonl: what a person reads, with the score and KL of each sample.
  std::ifstream in(tmp.path() / "completions.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    Json c = Json::parse(line);
    EXPECT_EQ(c["step"], 1);
    EXPECT_TRUE(c.contains("prompt") && c.contains("completion") && c.contains("score") && c.contains("kl"));
    ++n;
  }
  EXPECT_EQ(n, 4);
}

TEST(PpoTrainer, BatchArithmeticAndErrors) {
  test::TempDir tmp;
  FixedBatch f;
  at::Tensor w = at::zeros({1}, at::kFloat).set_requires_grad(true);
  OnlineArgs a;
  a.trainer.output_dir = tmp.path();
  a.trainer.per_device_train_batch_size = 2;
  a.trainer.gradient_accumulation_steps = 1;
  a.steps_per_pass = 2;
  a.total_episodes = 9;
  auto ppo = [] { return std::make_unique<PpoMethod>(objectives::PpoConfig{}, 1); };
  OnlineTrainer t(a, fixed_roles(f, w), ppo(), f.prompts, {"a", "b", "c", "d"}, Json::object());
  EXPECT_EQ(t.rows_per_update(), 4);
  EXPECT_EQ(t.total_updates(), 3);  // ceil(9 / 4)
  a.steps_per_pass = 4;              // 8 prompts per update, only 4 given
  EXPECT_THROW(OnlineTrainer(a, fixed_roles(f, w), ppo(), f.prompts, {"a", "b", "c", "d"}, Json::object()), Error);
}

TEST(PpoTrainer, ANonFiniteRewardStopsWithTheRow) {
  test::TempDir tmp;
  FixedBatch f;
  f.scores[2] = std::nan("");
  at::Tensor w = at::zeros({1}, at::kFloat).set_requires_grad(true);
  OnlineArgs a;
  a.trainer.output_dir = tmp.path();
  a.trainer.per_device_train_batch_size = 4;
  a.trainer.show_progress = false;
  try {
    OnlineTrainer(a, fixed_roles(f, w), std::make_unique<PpoMethod>(objectives::PpoConfig{}, 1), f.prompts, {"a", "b", "c", "d"}, Json::object())
        .train();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a number"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "final"));
}

TEST(GroupTrainer, FirstStepComposesRewardsAdvantagesAndTheLossAsDefined) {
  // Two prompts x G = 2 completions of lengths 3, 1, 4, 2 with rewards 1.5, -0.5, 0.8, 2.0; the policy's
  // log-probs are the sampler's (ratio 1), so bnpo's loss is Σ_i −A_i·len_i / Σ len_i.
  test::TempDir tmp;
  FixedBatch f;
  f.prompts = {{1, 10}, {1, 10}, {1, 13}, {1, 13}};  // the repeat sampler's order: each prompt twice in a row
  at::Tensor w = at::zeros({1}, at::kFloat).set_requires_grad(true);
  OnlineRoles roles = fixed_roles(f, w);
  int calls = 0;
  roles.sample = [f, &calls](const std::vector<std::vector<int64_t>>& prompts, uint64_t) {
    ++calls;
    EXPECT_EQ(prompts[0], prompts[1]);
    EXPECT_EQ(prompts[2], prompts[3]);
    Rollout r = make_rollout(prompts, f.responses, 0, {4});
    r.sample_logprobs = grid_tensor(f.new_lp);
    return r;
  };
  roles.policy_logprobs = [f, &w](const Rollout& r, at::Tensor* entropy) {
    if (entropy) *entropy = at::zeros({r.rows()});
    std::vector<int64_t> rows;
    for (const auto& q : r.responses) rows.push_back(std::find(f.responses.begin(), f.responses.end(), q) - f.responses.begin());
    return grid_tensor(f.new_lp).index_select(0, at::tensor(rows, at::kLong)) + w * 0.0;
  };
  roles.scores = [f](const Rollout& r, std::vector<std::pair<std::string, at::Tensor>>* parts) {
    std::vector<float> s;
    for (const auto& q : r.responses) s.push_back(static_cast<float>(f.scores[std::find(f.responses.begin(), f.responses.end(), q) - f.responses.begin()]));
    at::Tensor t = at::tensor(s);
    if (parts) parts->push_back({"fixed", t});
    return t;
  };
  OnlineArgs a;
  a.trainer.output_dir = tmp.path();
  a.trainer.learning_rate = 0;
  a.trainer.per_device_train_batch_size = 4;
  a.trainer.max_steps = 1;
  a.trainer.show_progress = false;
  a.step_is_update = false;
  a.response_length = 4;
  GroupMethodOptions g{.num_generations = 2};
  g.grpo.loss_type = objectives::GrpoLossType::kBnpo;
  OnlineTrainer trainer(a, roles, std::make_unique<GroupMethod>(g), f.prompts, {"a", "a", "b", "b"}, Json::object());
  TrainResult r = trainer.train();
  ASSERT_EQ(r.log.size(), 1u);
  EXPECT_EQ(calls, 1);
  const Json& row = r.log[0];
  // Group advantages by hand: (R − mean) / (Bessel std + 1e-4) within each pair.
  std::vector<double> A(4);
  for (int g0 : {0, 2}) {
    const double m = (f.scores[g0] + f.scores[g0 + 1]) / 2;
    const double sd = std::sqrt((std::pow(f.scores[g0] - m, 2) + std::pow(f.scores[g0 + 1] - m, 2)) / 1.0);
    for (int i : {g0, g0 + 1}) A[i] = (f.scores[i] - m) / (sd + 1e-4);
  }
  double num = 0, den = 0;
  for (int i = 0; i < 4; ++i) num += -A[i] * f.len(i), den += f.len(i);
  EXPECT_NEAR(row["loss"].get<double>(), num / den, 1e-6);
  EXPECT_NEAR(row["reward"].get<double>(), (1.5 - 0.5 + 0.8 + 2.0) / 4, 1e-6);
  EXPECT_NEAR(row["rewards/fixed/mean"].get<double>(), row["reward"].get<double>(), 1e-9);
  EXPECT_EQ(row["frac_reward_zero_std"].get<double>(), 0.0);
  EXPECT_EQ(row["step"], 1);
  EXPECT_FALSE(row.contains("kl"));
}

TEST(PpoTrainer, ModeCollapseMeasures) {
  EXPECT_DOUBLE_EQ(distinct_bigram_ratio({{1, 2, 3}, {4, 5}}), 1.0);
  EXPECT_DOUBLE_EQ(distinct_bigram_ratio({{1, 2, 1, 2}, {1, 2}}), 2.0 / 4.0);  // (1,2) x3, (2,1) x1
  EXPECT_DOUBLE_EQ(duplicate_response_ratio({{1}, {2}, {3}}, {{7, 8}, {7, 8}, {9}}), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(duplicate_response_ratio({{1}, {1}}, {{7}, {7}}), 0.0);  // the same prompt twice is no collapse
  EXPECT_DOUBLE_EQ(group_duplicate_ratio({{7}, {7}, {8}, {9}}, 2), 0.5);      // groups {7, 7} and {8, 9}
}

// ---- the failure-mode checks --------------------------------------------------------------------------

std::vector<std::string> fired(const std::vector<std::map<std::string, double>>& rows, RlCheckOptions o = {}) {
  o.total_steps = static_cast<int64_t>(rows.size());
  TrainingMonitor m(o.total_steps, rl_monitor_rules(o));
  std::vector<std::string> ids;
  int64_t step = 0;
  for (const auto& v : rows) {
    MetricRow r{.step = ++step, .values = v};
    for (const auto& w : m.observe(r)) ids.push_back(w.id);
  }
  for (const auto& w : m.finish()) ids.push_back(w.id);
  return ids;
}

std::map<std::string, double> healthy(int64_t i) {
  return {{"objective/scores", 0.1 * static_cast<double>(i)}, {"objective/kl", 0.5 + 0.1 * static_cast<double>(i)},
          {"completions/mean_length", 20}, {"completions/clipped_ratio", 0.1}, {"completions/distinct_2", 0.8},
          {"completions/duplicate_ratio", 0.0}, {"loss/value_avg", 0.5}, {"policy/clipfrac_avg", 0.1}, {"val/num_eos_tokens", 6},
          {"grad_norm", 1.0}};
}

TEST(RlMonitor, GroupMethodsReadTheirOwnNames) {
  // GRPO / RLOO log reward and kl (per token), and no val/num_eos_tokens: every completion clipped = no EOS.
  RlCheckOptions o;
  o.score_key = "reward";
  o.kl_key = "kl";
  o.kl_bound = 0.2;
  o.kl_blowup = 1.0;
  std::vector<std::map<std::string, double>> rows;
  for (int i = 0; i < 10; ++i)
    rows.push_back({{"reward", 0.1 * i}, {"kl", 0.05 * i}, {"completions/clipped_ratio", 1.0}, {"grad_norm", 1.0}});
  auto ids = fired(rows, o);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "reward_hacking"), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), "no_eos"), ids.end());
  EXPECT_EQ(std::find(ids.begin(), ids.end(), "kl_blowup"), ids.end());
}

TEST(RlMonitor, AHealthyRunRaisesNothing) {
  std::vector<std::map<std::string, double>> rows;
  for (int i = 0; i < 10; ++i) rows.push_back(healthy(i));
  EXPECT_TRUE(fired(rows).empty());
}

TEST(RlMonitor, EachFailureModeFires) {
  auto run = [](const std::function<void(std::map<std::string, double>&, int)>& change, RlCheckOptions o = {}) {
    std::vector<std::map<std::string, double>> rows;
    for (int i = 0; i < 10; ++i) {
      rows.push_back(healthy(i));
      change(rows.back(), i);
    }
    return fired(rows, o);
  };
  auto has = [](const std::vector<std::string>& ids, const std::string& id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); };
  EXPECT_TRUE(has(run([](auto& r, int i) { r["objective/kl"] = 2.0 * i; }), "reward_hacking"));
  EXPECT_FALSE(has(run([](auto& r, int i) { r["objective/kl"] = 2.0 * i; r["objective/scores"] = 0.0; }), "reward_hacking"));
  EXPECT_TRUE(has(run([](auto& r, int i) { r["objective/second_scores"] = -0.1 * i; }), "reward_hacking_second_judge"));
  EXPECT_FALSE(has(run([](auto& r, int i) { r["objective/second_scores"] = 0.05 * i; }), "reward_hacking_second_judge"));
  EXPECT_TRUE(has(run([](auto& r, int i) { r["objective/kl"] = i == 9 ? 40.0 : 1.0; }), "kl_blowup"));
  EXPECT_TRUE(has(run([](auto& r, int) { r["objective/kl"] = -1.0; }), "negative_kl"));
  RlCheckOptions k3;
  k3.k1 = false;
  EXPECT_FALSE(has(run([](auto& r, int) { r["objective/kl"] = -1.0; }, k3), "negative_kl"));
  EXPECT_TRUE(has(run([](auto& r, int i) { r["completions/mean_length"] = i < 5 ? 20.0 : 2.0; }), "response_length_collapse"));
  EXPECT_TRUE(has(run([](auto& r, int i) { r["completions/clipped_ratio"] = i < 3 ? 0.1 : 1.0; }), "response_length_explosion"));
  EXPECT_TRUE(has(run([](auto& r, int i) { r["completions/distinct_2"] = i < 5 ? 0.8 : 0.1; }), "mode_collapse"));
  EXPECT_TRUE(has(run([](auto& r, int i) { r["completions/duplicate_ratio"] = i < 5 ? 0.0 : 0.9; }), "mode_collapse"));
  EXPECT_TRUE(has(run([](auto& r, int i) { r["loss/value_avg"] = 0.5 * std::pow(3.0, i); }), "value_loss_diverging"));
  EXPECT_TRUE(has(run([](auto& r, int) { r["policy/clipfrac_avg"] = 0.5; }), "clipfrac_high"));
  EXPECT_TRUE(has(run([](auto& r, int) { r["val/num_eos_tokens"] = 0; }), "no_eos"));
  EXPECT_TRUE(has(run([](auto& r, int) { r["frac_reward_zero_std"] = 0.9; }), "reward_signal_missing"));
  EXPECT_FALSE(has(run([](auto& r, int) { r["frac_reward_zero_std"] = 0.3; }), "reward_signal_missing"));
  EXPECT_TRUE(has(run([](auto& r, int i) { r["completions/group_duplicate_ratio"] = i < 5 ? 0.0 : 0.8; }), "group_collapse"));
  EXPECT_FALSE(has(run([](auto& r, int i) { r["val/num_eos_tokens"] = i == 1 ? 1 : 0; }), "no_eos"));
}

}  // namespace
}  // namespace prefer::train
