// prefer's reward-model step (train::RewardRecipe, what `prefer reward` runs) against an eager PyTorch
// step that computes what TRL's RewardTrainer computes (bench/baseline/trl_reward_step.py: chosen and
// rejected rows stacked into one right-padded batch, the sequence classifier's score at every position,
// pooled at each row's last real token, -logsigmoid(r_c - r_r) averaged over pairs), on the same machine,
// in one invocation, with the same threads, model folder (SmolLM-135M's shape with a score head, random
// weights) and pairs. Each side runs in its own process, so each peak RSS is its own.
//
// prefer runs its defaults: the concatenated layout with rows x T a multiple of 64, bf16 as mixed
// precision (float32 embeddings, norms and residual stream) with float32 AdamW masters started from the
// checkpoint in full fine-tuning; LoRA r 16 / alpha 32 on q/k/v/o with the score head trained whole
// (PEFT's SEQ_CLS modules_to_save) on both sides. Then clip_grad_norm(1.0) and AdamW. Step 1 is the
// warm-up; steps 2..K are timed. Equality: step 1's loss against the baseline's, and in full fine-tuning
// step K's too (the updates agree); LoRA's A starts from each side's own draw, so only step 1 there.
//
// Usage: bench_reward_step [--model tiny|135m] [--mode lora|full|both] [--precision fp32|bf16|both]
//          [--pairs 4] [--prompt_len 256] [--completion_min 128] [--completion_max 256] [--steps 3]
//          [--threads 0] [--no_baseline] [--python /usr/bin/python3]
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bench_child.h"
#include "bench_models.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/runtime.h"
#include "model/save.h"
#include "train/grad_clip.h"
#include "train/optimizer.h"
#include "train/reward_recipe.h"
#include "util/json.h"
#include "util/timer.h"

namespace fs = std::filesystem;
using namespace prefer;

namespace {

struct Args {
  std::string model = "135m", mode = "both", precision = "both", python = "/usr/bin/python3";
  int64_t pairs = 4, prompt_len = 256, completion_min = 128, completion_max = 256, steps = 3;
  int threads = 0;
  bool baseline = true;
};

Json prefer_side(const Args& a, const fs::path& model_dir, const data::TokenizedDataset& d, bool lora, bool bf16) {
  model::set_num_threads(a.threads);
  model::LoadOptions lo{.dtype = bf16 ? at::kBFloat16 : at::kFloat, .mixed_precision = bf16, .keep_full_precision = bf16 && !lora};
  model::CausalLM m = model::load_model(model_dir, lo);
  std::vector<at::Tensor> params;
  if (lora) {
    model::LoraConfig c = bench_lora();
    c.task_type = "SEQ_CLS";
    m.set_requires_grad(false);
    model::add_lora(m, c, 0);
    m.slot(model::Slot::Score).set_requires_grad(true);
    for (auto& [n, t] : model::lora_parameters(m, c)) params.push_back(t);
  } else {
    m.set_requires_grad(true);
    for (auto& [n, t] : m.named_parameters()) params.push_back(t);
  }
  train::AdamW adam(params);
  for (const at::Tensor& t : params)
    if (at::Tensor full = m.take_full_precision(t); full.defined()) adam.start_master_from(t, full);
  train::RewardRecipe recipe(m, {.batch = {.tokens_multiple_of = 64}});
  std::vector<size_t> all(d.size());
  for (size_t i = 0; i < d.size(); ++i) all[i] = i;
  Json r = {{"losses", Json::array()}, {"seconds", Json::array()}};
  for (int64_t s = 0; s < a.steps; ++s) {
    Stopwatch sw;
    train::MicroStep st = recipe.step(d, all, true);
    (st.loss_sum / st.weight).backward();
    train::clip_grad_norm(params, 1.0);
    adam.step(lora ? 1e-4 : 1e-5);
    adam.zero_grad();
    r["seconds"].push_back(sw.seconds());
    r["losses"].push_back(st.loss_sum.item<double>() / st.weight);
    r["tokens"] = st.tokens;
  }
  return r;
}

// The benchmark's model as a sequence classifier: the random 135M-shaped (or fixture) causal LM with a
// new score head (normal(0, 0.02), seed 0), saved as an HF XForSequenceClassification folder.
fs::path classifier_folder(const fs::path& causal, const fs::path& tmp) {
  const fs::path dir = tmp / "reward_model";
  Json r = in_child([&] {
    model::CausalLM m = model::load_model(causal, {.head = io::HeadKind::SequenceClassification});
    model::save_pretrained(m, dir, {.dtype = at::kFloat});
    return Json::object();
  });
  if (r.contains("error")) {
    std::fprintf(stderr, "preparing the reward model failed: %s\n", r["error"].get<std::string>().c_str());
    return {};
  }
  return dir;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--model") a.model = val();
    else if (k == "--mode") a.mode = val();
    else if (k == "--precision") a.precision = val();
    else if (k == "--pairs") a.pairs = std::stoll(val());
    else if (k == "--prompt_len") a.prompt_len = std::stoll(val());
    else if (k == "--completion_min") a.completion_min = std::stoll(val());
    else if (k == "--completion_max") a.completion_max = std::stoll(val());
    else if (k == "--steps") a.steps = std::max<int64_t>(2, std::stoll(val()));
    else if (k == "--threads") a.threads = std::stoi(val());
    else if (k == "--no_baseline") a.baseline = false;
    else if (k == "--python") a.python = val();
    else {
      std::fprintf(stderr, "unknown flag %s (see the comment at the top of bench/reward_step.cpp)\n", k.c_str());
      return 2;
    }
  }
  bench_startup(argv);
  if (a.baseline && !baseline_python_ok(a.python)) return 1;
  if (a.threads <= 0) a.threads = int(sysconf(_SC_NPROCESSORS_ONLN));
  const fs::path tmp = fs::temp_directory_path() / ("prefer_bench_reward_" + std::to_string(getpid()));
  fs::create_directories(tmp);
  const auto [causal_dir, vocab] = bench_model(a.model, tmp);
  if (causal_dir.empty()) return 1;
  const fs::path model_dir = classifier_folder(causal_dir, tmp);
  if (model_dir.empty()) return 1;

  // Pairs: a fixed-length prompt, completions of mixed lengths (uniform in the range), fixed by a seed.
  const RandomPairs pairs = random_pairs(a.pairs, a.prompt_len, a.completion_min, a.completion_max, vocab, 1234);
  const data::TokenizedDataset& d = pairs.data;
  const int64_t real = pairs.tokens;
  const fs::path batch = tmp / "batch.json";
  std::ofstream(batch) << Json({{"pairs", pairs.json}}).dump();

  std::printf("Reward-model step: prefer against an eager PyTorch TRL-style step (bench/baseline/trl_reward_step.py)\n");
  std::printf("model %s + score head, %d threads both sides, %lld pairs/step (prompts %lld, completions %lld-%lld tokens), "
              "%lld real tokens/step, %lld steps (1 warm-up)\n\n",
              a.model.c_str(), a.threads, (long long)a.pairs, (long long)a.prompt_len, (long long)a.completion_min,
              (long long)a.completion_max, (long long)real, (long long)a.steps);
  std::printf("%-5s %-5s %-9s %10s %10s %9s %9s %8s %16s\n", "mode", "prec", "side", "step s", "tokens/s", "peak MB", "speed x", "mem x",
              "loss diff 1/K");
  for (const std::string mode : {"lora", "full"}) {
    if (a.mode != "both" && a.mode != mode) continue;
    for (const std::string prec : {"fp32", "bf16"}) {
      if (a.precision != "both" && a.precision != prec) continue;
      Json base;
      if (a.baseline) {
        const Ran ran = run_command(a.python + " " + std::string(PREFER_SOURCE_DIR) + "/bench/baseline/trl_reward_step.py --model " +
                                    model_dir.string() + " --batch " + batch.string() + " --threads " + std::to_string(a.threads) +
                                    " --precision " + prec + " --mode " + mode + " --steps " + std::to_string(a.steps) + " --lr " +
                                    (mode == "lora" ? "1e-4" : "1e-5"));
        base = Json::parse(ran.out, nullptr, false);
        if (ran.status != 0 || !base.is_object()) {
          std::fprintf(stderr, "the baseline failed:\n%s\n", ran.out.c_str());
          return 1;
        }
        const double s = mean_after_first(base["step_seconds"]);
        std::printf("%-5s %-5s %-9s %10.3f %10.0f %9.0f %9s %8s %12s\n", mode.c_str(), prec.c_str(), "baseline", s, double(real) / s,
                    base["peak_rss_mb"].get<double>(), "1.00", "1.00", "");
      }
      Json r = in_child([&] { return prefer_side(a, model_dir, d, mode == "lora", prec == "bf16"); });
      if (r.contains("error")) {
        std::fprintf(stderr, "prefer failed: %s\n", r["error"].get<std::string>().c_str());
        return 1;
      }
      const double s = mean_after_first(r["seconds"]);
      std::string speed, mem, diff;
      if (a.baseline) {
        speed = fmt::format("{:.2f}", mean_after_first(base["step_seconds"]) / s);
        mem = fmt::format("{:.2f}", r["peak_mb"].get<double>() / base["peak_rss_mb"].get<double>());
        // Step K's loss agrees only in full fine-tuning: LoRA's A starts from each side's own random draw.
        auto loss_diff = [&](size_t k) { return std::abs(r["losses"][k].get<double>() - base["steps"][k]["loss"].get<double>()); };
        const size_t K = r["losses"].size() - 1;
        diff = mode == "full" ? fmt::format("{:.1e}/{:.1e}", loss_diff(0), loss_diff(K)) : fmt::format("{:.1e}/-", loss_diff(0));
      }
      std::printf("%-5s %-5s %-9s %10.3f %10.0f %9.0f %9s %8s %16s\n", mode.c_str(), prec.c_str(), "prefer", s, double(real) / s,
                  r["peak_mb"].get<double>(), speed.c_str(), mem.c_str(), diff.c_str());
    }
  }
  fs::remove_all(tmp);
  return 0;
}
