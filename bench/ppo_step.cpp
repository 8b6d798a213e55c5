// prefer's PPO update (rollout + scoring + optimisation) against an eager PyTorch update that computes
// what TRL's PPOTrainer computes (bench/baseline/trl_ppo_step.py: HF-style generate with a dynamic KV
// cache, four separate models, full logits), on the same machine, in one invocation, with the same thread
// count, model folder and prompts.
//
// Both sides: local batch = --prompts prompts of --prompt_len tokens, --response_length sampled tokens at
// temperature 0.7, one PPO epoch of micro-batches of --micro rows (one AdamW step each), k1 KL 0.05,
// GAE (1, 0.95), clip 0.2. Updates 2.. are timed (update 1 warms up). Reported per side: rollout seconds
// (sampling + reference + values + scores + advantages) and generated tokens/s, optimisation seconds and
// trained tokens/s, and the process's peak RSS.
//
// prefer's roles: "lora" is prefer ppo --use_peft's layout, one base for the four roles (policy and value
// adapters trained, a reward adapter, the reference = adapters off), and "prefer-4x" the same adapters on
// four copies of the base (--share_base false): what sharing saves; TRL's is a LoRA policy (reference =
// adapters off) plus a full value model and a full reward model. "full" is four copies on both sides.
// The phases mirror train::OnlineTrainer's update with train::PpoMethod (the same calls: sample_rollout, response_logprobs,
// response_values, read_scores, objectives::ppo_rollout, ppo_loss, AdamW).
//
// Usage: bench_ppo_step [--model tiny|135m] [--mode lora|full|both] [--prompts 8] [--prompt_len 64]
//          [--response_length 53] [--micro 8] [--updates 3] [--threads 0] [--no_baseline]
//          [--python /usr/bin/python3]
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "bench_child.h"
#include "bench_models.h"
#include "bench_util.h"
#include "data/sampler.h"
#include "model/adapter_bank.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/runtime.h"
#include "objectives/ppo.h"
#include "train/grad_clip.h"
#include "train/optimizer.h"
#include "train/rollout.h"
#include "util/json.h"
#include "util/timer.h"

namespace fs = std::filesystem;
using namespace prefer;

namespace {

struct Args {
  std::string model = "135m", mode = "both", python = "/usr/bin/python3";
  int64_t prompts = 8, prompt_len = 64, response_length = 53, micro = 8, updates = 3;
  int threads = 0;
  bool baseline = true;
};

at::Tensor head_param(int64_t hidden, uint64_t seed, bool trainable) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor h = at::normal(0.0, 0.02, {1, hidden}, gen);
  if (trainable) h.set_requires_grad(true);
  return h;
}

// `separate` (with lora): each role's adapter on its own copy of the base (prefer ppo --share_base false).
Json prefer_side(const Args& a, const fs::path& dir, const std::vector<std::vector<int64_t>>& prompts, bool lora, bool separate) {
  model::set_num_threads(a.threads);
  const int64_t H = io::read_model_config(dir / "config.json").hidden_size;
  // ---- the four roles ----
  model::CausalLM policy = model::load_model(dir);
  std::optional<model::CausalLM> ref, value, reward;
  std::unique_ptr<model::AdapterBank> bank;
  std::vector<at::Tensor> params;
  const at::Tensor value_head = head_param(H, 3, true), reward_head = head_param(H, 4, false);
  if (lora && separate) {
    policy.set_requires_grad(false);
    model::add_lora(policy, bench_lora(), 1);
    for (auto& [n, t] : model::lora_parameters(policy, bench_lora())) params.push_back(t);
    ref.emplace(model::load_model(dir));
    value.emplace(model::load_model(dir));
    reward.emplace(model::load_model(dir));
    for (model::CausalLM* m : {&*ref, &*value, &*reward}) m->set_requires_grad(false);
    model::add_lora(*value, bench_lora(), 2);
    model::add_lora(*reward, bench_lora(), 2);
    for (auto& [n, t] : model::lora_parameters(*value, bench_lora())) params.push_back(t);
  } else if (lora) {
    policy.set_requires_grad(false);
    bank = std::make_unique<model::AdapterBank>(policy);
    for (const char* set : {"reward", "value", "policy"}) {
      bank->clear();
      model::add_lora(policy, bench_lora(), std::string(set) == "policy" ? 1 : 2);
      bank->keep(set);
      if (std::string(set) != "reward")
        for (auto& [n, t] : model::lora_parameters(policy, bench_lora())) params.push_back(t);
    }
  } else {
    policy.set_requires_grad(true);
    for (auto& [n, t] : policy.named_parameters()) params.push_back(t);
    ref.emplace(model::load_model(dir));
    value.emplace(model::load_model(dir));
    value->set_requires_grad(true);
    for (auto& [n, t] : value->named_parameters()) params.push_back(t);
    reward.emplace(model::load_model(dir));
  }
  params.push_back(value_head);
  train::AdamW opt(params);
  auto with = [&](const char* set, const std::function<at::Tensor()>& f) {
    if (!bank) return f();
    if (std::string(set).empty()) {
      model::AdaptersDisabled off(policy);
      return f();
    }
    model::ActiveAdapter on(*bank, set);
    return f();
  };
  model::CausalLM& ref_m = bank ? policy : *ref;
  model::CausalLM& value_m = bank ? policy : *value;
  model::CausalLM& reward_m = bank ? policy : *reward;
  objectives::PpoConfig cfg;
  train::RolloutOptions ro{.response_length = a.response_length, .temperature = 0.7, .eos_token_ids = {2}, .pad_token_id = 0,
                           .forward_batch_size = 64};
  Json r = {{"rollout_seconds", Json::array()}, {"update_seconds", Json::array()}, {"generated_tokens", Json::array()},
            {"update_tokens", Json::array()}};
  for (int64_t u = 0; u < a.updates; ++u) {
    Stopwatch clock;
    train::Rollout roll;
    objectives::PpoRollout pr;
    {
      at::NoGradGuard ng;
      ro.seed = static_cast<uint64_t>(u + 1);
      if (bank) bank->activate("policy");
      roll = train::sample_rollout(policy, prompts, ro);
      at::Tensor ref_lp = with("", [&] { return train::response_logprobs(ref_m, train::rollout_hidden(ref_m, roll), roll, 0.7); });
      at::Tensor vals = with("value", [&] { return train::response_values(train::rollout_hidden(value_m, roll), value_head, roll); });
      at::Tensor scores = with("reward", [&] {
        return train::read_scores(train::rollout_hidden(reward_m, roll), reward_head, roll, train::ScoreRead::kLastToken, 0);
      });
      pr = objectives::ppo_rollout({.logprobs = roll.sample_logprobs, .ref_logprobs = ref_lp, .values = vals, .scores = scores,
                                    .response_mask = roll.response_mask, .contains_eos = roll.contains_eos},
                                   cfg);
    }
    const double rollout_s = clock.seconds();
    Stopwatch upd;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(u + 7));
    at::Tensor perm = at::randperm(roll.rows(), gen, at::kLong);
    int64_t trained = 0;
    for (int64_t s = 0; s < roll.rows(); s += a.micro) {
      std::vector<int64_t> rows;
      for (int64_t i = s; i < std::min(roll.rows(), s + a.micro); ++i) rows.push_back(perm[i].item<int64_t>());
      train::Rollout sub = roll.select(rows);
      at::Tensor idx = at::tensor(rows, at::kLong);
      at::Tensor lp = with("policy", [&] { return train::response_logprobs(policy, train::rollout_hidden(policy, sub), sub, 0.7); });
      at::Tensor v = with("value", [&] { return train::response_values(train::rollout_hidden(value_m, sub), value_head, sub); });
      objectives::PpoLossOutput lo = objectives::ppo_loss(
          {.logprobs = lp, .old_logprobs = roll.sample_logprobs.index_select(0, idx), .advantages = pr.advantages.index_select(0, idx),
           .values = v, .old_values = pr.values.index_select(0, idx), .returns = pr.returns.index_select(0, idx),
           .response_mask = sub.response_mask, .value_mask = pr.value_mask.index_select(0, idx)},
          cfg);
      lo.loss.backward();
      train::clip_grad_norm(params, 1.0);
      opt.step(1e-5);
      opt.zero_grad();
      trained += sub.mask.sum().item<int64_t>();
    }
    int64_t generated = 0;
    for (const auto& q : roll.responses) generated += static_cast<int64_t>(q.size());
    r["rollout_seconds"].push_back(rollout_s);
    r["update_seconds"].push_back(upd.seconds());
    r["generated_tokens"].push_back(generated);
    r["update_tokens"].push_back(trained);
  }
  return r;
}

double mean_rate(const Json& tokens, const Json& seconds) {
  double t = 0, s = 0;
  for (size_t i = 1; i < seconds.size(); ++i) t += tokens[i].get<double>(), s += seconds[i].get<double>();
  return s > 0 ? t / s : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--model") a.model = val();
    else if (k == "--mode") a.mode = val();
    else if (k == "--prompts") a.prompts = std::stoll(val());
    else if (k == "--prompt_len") a.prompt_len = std::stoll(val());
    else if (k == "--response_length") a.response_length = std::stoll(val());
    else if (k == "--micro") a.micro = std::stoll(val());
    else if (k == "--updates") a.updates = std::max<int64_t>(2, std::stoll(val()));
    else if (k == "--threads") a.threads = std::stoi(val());
    else if (k == "--no_baseline") a.baseline = false;
    else if (k == "--python") a.python = val();
    else {
      std::fprintf(stderr, "unknown flag %s (see the comment at the top of bench/ppo_step.cpp)\n", k.c_str());
      return 2;
    }
  }
  bench_startup(argv);
  if (a.baseline && !baseline_python_ok(a.python)) return 1;
  if (a.threads <= 0) a.threads = int(sysconf(_SC_NPROCESSORS_ONLN));
  const fs::path tmp = fs::temp_directory_path() / ("prefer_bench_ppo_" + std::to_string(getpid()));
  fs::create_directories(tmp);
  const auto [model_dir, vocab] = bench_model(a.model, tmp);
  if (model_dir.empty()) return 1;
  data::SplitMix64 rng(5);
  std::vector<std::vector<int64_t>> prompts;
  Json pj = Json::array();
  for (int64_t i = 0; i < a.prompts; ++i) {
    std::vector<int64_t> p{1};
    for (int64_t t = 1; t < a.prompt_len - (i % 4); ++t) p.push_back(3 + int64_t(rng.below(uint64_t(vocab - 3))));
    pj.push_back(p);
    prompts.push_back(std::move(p));
  }
  const fs::path batch = tmp / "prompts.json";
  std::ofstream(batch) << Json({{"prompts", pj}}).dump();

  std::printf("PPO update: prefer against an eager PyTorch TRL-style update (bench/baseline/trl_ppo_step.py)\n");
  std::printf("model %s, %d threads both sides, %lld prompts of ~%lld tokens, %lld sampled tokens each, micro-batches of %lld, "
              "%lld updates (1 warm-up)\n\n",
              a.model.c_str(), a.threads, (long long)a.prompts, (long long)a.prompt_len, (long long)a.response_length, (long long)a.micro,
              (long long)a.updates);
  std::printf("%-5s %-9s %10s %12s %10s %12s %9s %10s %10s %8s\n", "mode", "side", "rollout s", "gen tok/s", "update s", "train tok/s",
              "peak MB", "rollout x", "update x", "mem x");
  for (const std::string mode : {"lora", "full"}) {
    if (a.mode != "both" && a.mode != mode) continue;
    Json base;
    if (a.baseline) {
      const fs::path out = tmp / "baseline.json";
      std::string cmd = a.python + " " + std::string(PREFER_SOURCE_DIR) + "/bench/baseline/trl_ppo_step.py --model " + model_dir.string() +
                        " --batch " + batch.string() + " --threads " + std::to_string(a.threads) + " --mode " + mode + " --updates " +
                        std::to_string(a.updates) + " --response_length " + std::to_string(a.response_length) + " --micro " +
                        std::to_string(a.micro) + " > " + out.string();
      if (std::system(cmd.c_str()) != 0) {
        std::fprintf(stderr, "the baseline failed: %s\n", cmd.c_str());
        return 1;
      }
      base = read_json_file(out);
      std::printf("%-5s %-9s %10.3f %12.0f %10.3f %12.0f %9.0f %10s %10s %8s   (kv-cache check %.1e)\n", mode.c_str(), "baseline",
                  mean_after_first(base["rollout_seconds"]), mean_rate(base["generated_tokens"], base["rollout_seconds"]),
                  mean_after_first(base["update_seconds"]), mean_rate(base["update_tokens"], base["update_seconds"]),
                  base["peak_rss_mb"].get<double>(), "1.00", "1.00", "1.00", base["kv_cache_check"].get<double>());
    }
    for (const bool separate : {false, true}) {
    if (separate && mode != "lora") continue;
    Json r = in_child([&] { return prefer_side(a, model_dir, prompts, mode == "lora", separate); });
    if (r.contains("error")) {
      std::fprintf(stderr, "prefer failed: %s\n", r["error"].get<std::string>().c_str());
      return 1;
    }
    const double gen_rate = mean_rate(r["generated_tokens"], r["rollout_seconds"]), upd_rate = mean_rate(r["update_tokens"], r["update_seconds"]);
    std::string rx, ux, mx;
    if (a.baseline) {
      rx = fmt::format("{:.2f}", gen_rate / mean_rate(base["generated_tokens"], base["rollout_seconds"]));
      ux = fmt::format("{:.2f}", upd_rate / mean_rate(base["update_tokens"], base["update_seconds"]));
      mx = fmt::format("{:.2f}", r["peak_mb"].get<double>() / base["peak_rss_mb"].get<double>());
    }
    std::printf("%-5s %-9s %10.3f %12.0f %10.3f %12.0f %9.0f %10s %10s %8s\n", mode.c_str(), separate ? "prefer-4x" : "prefer",
                mean_after_first(r["rollout_seconds"]), gen_rate, mean_after_first(r["update_seconds"]), upd_rate, r["peak_mb"].get<double>(),
                rx.c_str(), ux.c_str(), mx.c_str());
    }
  }
  fs::remove_all(tmp);
  return 0;
}
