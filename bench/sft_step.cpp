// prefer's SFT step against an eager PyTorch step that computes what TRL's SFTTrainer computes
// (bench/baseline/trl_sft_step.py: padded rows, full [B, T, V] logits, cross-entropy), on the same machine,
// in one invocation, with the same threads, model folder and examples (prompts and completions of mixed
// lengths). Each side runs in its own process, so each peak RSS is its own.
//
// prefer variants: "unpacked" (one example per row, padded; the LM head on completion tokens only, in
// chunks) and "packed" (best-fit decreasing into rows of --max_length, padding-free: each example keeps
// its positions and attends only to itself). Both run train::SftRecipe::step, then clip_grad_norm and
// prefer's AdamW. Step 1 is the warm-up and the equality check (its loss against the baseline's), steps
// 2..K are timed. Reported: tokens/s (real tokens per step / mean step time) and peak memory, as ratios.
//
// Usage: bench_sft_step [--model tiny|135m] [--mode lora|full|both] [--precision fp32|bf16|both]
//          [--examples 16] [--prompt_min 16] [--prompt_max 128] [--completion_min 16] [--completion_max 384]
//          [--max_length 1024] [--steps 3] [--threads 0] [--no_baseline] [--python /usr/bin/python3]
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "bench_child.h"
#include "bench_models.h"
#include "bench_util.h"
#include "data/packing.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/runtime.h"
#include "train/grad_clip.h"
#include "train/optimizer.h"
#include "train/sft_recipe.h"
#include "util/json.h"
#include "util/timer.h"

namespace fs = std::filesystem;
using namespace prefer;

namespace {

struct Args {
  std::string model = "135m", mode = "both", precision = "both", python;
  int64_t examples = 16, prompt_min = 16, prompt_max = 128, completion_min = 16, completion_max = 384, max_length = 1024, steps = 3;
  int threads = 0;
  bool baseline = true;
};

Json prefer_side(const Args& a, const fs::path& model_dir, const data::TokenizedDataset& d, bool use_lora, bool bf16, bool packing) {
  model::set_num_threads(a.threads);
  model::CausalLM m = model::load_model(model_dir, {.dtype = bf16 ? at::kBFloat16 : at::kFloat});
  std::vector<at::Tensor> params;
  if (use_lora) {
    m.set_requires_grad(false);
    model::add_lora(m, bench_lora(), 0);
    for (auto& [n, t] : model::lora_parameters(m, bench_lora())) params.push_back(t);
  } else {
    m.set_requires_grad(true);
    for (auto& [n, t] : m.named_parameters()) params.push_back(t);
  }
  std::vector<train::NamedParam> named;
  for (size_t i = 0; i < params.size(); ++i) named.push_back({std::to_string(i), params[i]});
  train::AdamW adam(train::weight_decay_groups(named, 0.0), {});
  train::SftRecipe recipe(m, {.batch = {.tokens_multiple_of = 64}, .completion_only_loss = true, .packing = packing, .max_length = a.max_length});
  std::vector<size_t> all(d.size());
  for (size_t i = 0; i < d.size(); ++i) all[i] = i;
  // A step is every example: packed, the micro-batch lists whole packed rows (packed_epoch_batches order).
  std::vector<size_t> step_examples = packing ? recipe.batches(d, {.batch_size = 1 << 20, .shuffle = false}, 0)[0] : all;
  Json r = {{"losses", Json::array()}, {"seconds", Json::array()}};
  int64_t tokens = 0, rows = 0;
  for (int64_t s = 0; s < a.steps; ++s) {
    Stopwatch sw;
    train::MicroStep st = recipe.step(d, step_examples, true);
    (st.loss_sum / st.weight).backward();
    train::clip_grad_norm(params, 1.0);
    adam.step(use_lora ? 1e-4 : 1e-5);
    adam.zero_grad();
    r["seconds"].push_back(sw.seconds());
    r["losses"].push_back(st.loss_sum.item<double>() / st.weight);
    tokens = st.tokens;
  }
  rows = static_cast<int64_t>(recipe.rows(d, step_examples).size());
  r["tokens"] = tokens;
  r["rows"] = rows;
  return r;
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
    else if (k == "--examples") a.examples = std::stoll(val());
    else if (k == "--prompt_min") a.prompt_min = std::stoll(val());
    else if (k == "--prompt_max") a.prompt_max = std::stoll(val());
    else if (k == "--completion_min") a.completion_min = std::stoll(val());
    else if (k == "--completion_max") a.completion_max = std::stoll(val());
    else if (k == "--max_length") a.max_length = std::stoll(val());
    else if (k == "--steps") a.steps = std::max<int64_t>(2, std::stoll(val()));
    else if (k == "--threads") a.threads = std::stoi(val());
    else if (k == "--no_baseline") a.baseline = false;
    else if (k == "--python") a.python = val();
    else {
      std::fprintf(stderr, "unknown flag %s (see the comment at the top of bench/sft_step.cpp)\n", k.c_str());
      return 2;
    }
  }
  bench_startup(argv);
  if (a.python.empty()) a.python = "/usr/bin/python3";
  if (a.baseline && !baseline_python_ok(a.python)) return 1;
  if (a.threads <= 0) a.threads = int(sysconf(_SC_NPROCESSORS_ONLN));
  const fs::path tmp = fs::temp_directory_path() / ("prefer_bench_sft_" + std::to_string(getpid()));
  fs::create_directories(tmp);
  const auto [model_dir, vocab] = bench_model(a.model, tmp);
  if (model_dir.empty()) return 1;
  // Examples of mixed lengths (uniform in the ranges), fixed by a seed.
  data::SplitMix64 rng(11);
  data::TokenizedDataset d;
  Json ex = Json::array();
  int64_t real = 0;
  for (int64_t i = 0; i < a.examples; ++i) {
    data::TokenizedExample e;
    const int64_t p = a.prompt_min + int64_t(rng.below(uint64_t(a.prompt_max - a.prompt_min + 1)));
    const int64_t c = a.completion_min + int64_t(rng.below(uint64_t(a.completion_max - a.completion_min + 1)));
    e.prompt_ids.push_back(1);
    for (int64_t t = 1; t < p; ++t) e.prompt_ids.push_back(int32_t(3 + rng.below(uint64_t(vocab - 3))));
    for (int64_t t = 0; t < c; ++t) e.chosen.completion_ids.push_back(int32_t(3 + rng.below(uint64_t(vocab - 3))));
    real += p + c;
    ex.push_back({{"prompt_ids", e.prompt_ids}, {"completion_ids", e.chosen.completion_ids}});
    d.add(e);
  }
  const fs::path batch = tmp / "batch.json";
  Json all = Json::array();
  for (int64_t i = 0; i < a.examples; ++i) all.push_back(i);
  std::ofstream(batch) << Json({{"examples", ex}, {"step_batch", all}}).dump();

  std::printf("SFT step: prefer against an eager PyTorch TRL-style step (bench/baseline/trl_sft_step.py)\n");
  std::printf("model %s, %d threads both sides, %lld examples/step (prompts %lld-%lld, completions %lld-%lld tokens), %lld real tokens/step, "
              "%lld steps (1 warm-up)\n\n", a.model.c_str(), a.threads, (long long)a.examples, (long long)a.prompt_min, (long long)a.prompt_max,
              (long long)a.completion_min, (long long)a.completion_max, (long long)real, (long long)a.steps);
  std::printf("%-5s %-5s %-9s %10s %10s %9s %9s %8s %12s\n", "mode", "prec", "side", "step s", "tokens/s", "peak MB", "speed x", "mem x",
              "loss1 diff");
  for (const std::string mode : {"lora", "full"}) {
    if (a.mode != "both" && a.mode != mode) continue;
    for (const std::string prec : {"fp32", "bf16"}) {
      if (a.precision != "both" && a.precision != prec) continue;
      Json base;
      if (a.baseline) {
        const fs::path out = tmp / "baseline.json";
        std::string cmd = a.python + " " + std::string(PREFER_SOURCE_DIR) + "/bench/baseline/trl_sft_step.py --model " + model_dir.string() +
                          " --batch " + batch.string() + " --threads " + std::to_string(a.threads) + " --precision " + prec + " --mode " +
                          mode + " --steps " + std::to_string(a.steps) + " --lr " + (mode == "lora" ? "1e-4" : "1e-5") + " > " + out.string();
        if (std::system(cmd.c_str()) != 0) {
          std::fprintf(stderr, "the baseline failed: %s\n", cmd.c_str());
          return 1;
        }
        base = read_json_file(out);
        const double s = mean_after_first(base["step_seconds"]);
        std::printf("%-5s %-5s %-9s %10.3f %10.0f %9.0f %9s %8s %12s\n", mode.c_str(), prec.c_str(), "baseline", s, double(real) / s,
                    base["peak_rss_mb"].get<double>(), "1.00", "1.00", "");
      }
      for (bool packing : {false, true}) {
        Json r = in_child([&] { return prefer_side(a, model_dir, d, mode == "lora", prec == "bf16", packing); });
        if (r.contains("error")) {
          std::fprintf(stderr, "prefer failed: %s\n", r["error"].get<std::string>().c_str());
          return 1;
        }
        const double s = mean_after_first(r["seconds"]);
        std::string speed = "", mem = "", diff = "";
        if (a.baseline) {
          speed = fmt::format("{:.2f}", mean_after_first(base["step_seconds"]) / s);
          mem = fmt::format("{:.2f}", r["peak_mb"].get<double>() / base["peak_rss_mb"].get<double>());
          diff = fmt::format("{:.1e}", std::abs(r["losses"][0].get<double>() - base["steps"][0]["loss"].get<double>()));
        }
        std::printf("%-5s %-5s %-9s %10.3f %10.0f %9.0f %9s %8s %12s\n", mode.c_str(), prec.c_str(), packing ? "packed" : "unpacked", s,
                    double(r["tokens"].get<int64_t>()) / s, r["peak_mb"].get<double>(), speed.c_str(), mem.c_str(), diff.c_str());
      }
    }
  }
  fs::remove_all(tmp);
  return 0;
}
