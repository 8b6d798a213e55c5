// prefer's ORPO, SimPO and KTO training steps against eager PyTorch steps that compute what TRL's
// ORPOTrainer, CPOTrainer (loss_type simpo) and KTOTrainer compute (bench/baseline/trl_preference_step.py),
// on the same machine, in one invocation, with the same threads, model folder and examples. Each side
// runs in its own process, so each peak RSS is its own.
//
// prefer runs each command's defaults through its recipe: train::PairRecipe (prefix-shared rows, the LM
// head on scored tokens only, in chunks; ORPO also scores the chosen prompts for its NLL) and
// train::KtoRecipe (reference log-probs of the rows and the KL rows precomputed once into a table, so a
// step runs the policy on the rows with gradient and on the KL rows without; the one-time table pass is
// timed and reported on its own). The baseline does TRL's defaults: concatenated rows, full [R, T, V]
// logits, and for KTO a live reference on the rows and the KL rows every step. Then clip_grad_norm and
// AdamW on both sides. Step 1 is the warm-up and the equality check (its loss against the baseline's),
// steps 2..K are timed.
//
// Usage: bench_preference_step [--model tiny|135m] [--methods orpo,simpo,kto] [--mode lora|full|both]
//          [--precision fp32|bf16|both] [--pairs 4] [--prompt_len 128] [--completion_min 64]
//          [--completion_max 128] [--steps 3] [--threads 0] [--no_baseline] [--python /usr/bin/python3]
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <functional>
#include <string>
#include <vector>

#include "bench_child.h"
#include "bench_models.h"
#include "bench_util.h"
#include "data/sampler.h"
#include "data/unpaired.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/runtime.h"
#include "train/grad_clip.h"
#include "train/kto_recipe.h"
#include "train/optimizer.h"
#include "train/pair_recipe.h"
#include "train/reference.h"
#include "util/json.h"
#include "util/timer.h"

namespace fs = std::filesystem;
using namespace prefer;

namespace {

struct Args {
  std::string model = "135m", methods = "orpo,simpo,kto", mode = "both", precision = "both", python = "/usr/bin/python3";
  int64_t pairs = 4, prompt_len = 128, completion_min = 64, completion_max = 128, steps = 3;
  int threads = 0;
  bool baseline = true;
};

constexpr double kBeta = 0.1, kGamma = 0.5;

Json prefer_side(const Args& a, const std::string& method, const fs::path& model_dir, const data::TokenizedDataset& pairs,
                 const fs::path& cache, bool use_lora, bool bf16) {
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
  // As prefer orpo / simpo / cpo / kto run by default (padding_free).
  data::BatchOptions batch{.layout = data::BatchLayout::PrefixShared, .tokens_multiple_of = 64, .padding_free = true};

  Json r = {{"losses", Json::array()}, {"seconds", Json::array()}};
  std::function<train::MicroStep()> step;
  std::vector<size_t> all(pairs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  std::optional<train::PairRecipe> pair;
  std::optional<train::Reference> ref;
  std::optional<train::KtoRecipe> kto;
  data::TokenizedDataset unpaired;
  std::vector<size_t> block;
  if (method == "kto") {
    unpaired = data::unpair(pairs);
    ref.emplace(m, nullptr, 1024);
    kto.emplace(m, *ref, train::KtoRecipeOptions{.kto = {.beta = kBeta}, .batch = batch});
    const int64_t n = static_cast<int64_t>(unpaired.size());
    block = kto->prepare(unpaired, n, 0, "batch").blocks[0];  // one block: the whole step
    Stopwatch sw;
    ref->use_policy_as_reference(true);  // the untrained policy is the starting model
    ref->precompute(unpaired, batch, 1, cache, n);
    ref->precompute(kto->blocks(unpaired).kl, batch, 1, cache, n);
    ref->use_policy_as_reference(false);
    r["table_seconds"] = sw.seconds();
    step = [&] { return kto->step(unpaired, block, true); };
  } else {
    batch.score_chosen_prompt = method == "orpo";
    objectives::CpoConfig simpo{.beta = kBeta, .loss_type = objectives::CpoLossType::kSimpo, .cpo_alpha = 0, .simpo_gamma = kGamma};
    pair.emplace(m, method == "orpo" ? train::orpo_objective({.beta = kBeta}) : train::cpo_objective(simpo),
                 train::PairRecipeOptions{.batch = batch});
    step = [&] { return pair->step(pairs, all, true); };
  }
  int64_t tokens = 0;
  for (int64_t s = 0; s < a.steps; ++s) {
    Stopwatch sw;
    train::MicroStep st = step();
    (st.loss_sum / st.weight).backward();
    train::clip_grad_norm(params, 1.0);
    adam.step(use_lora ? 1e-4 : 1e-5);
    adam.zero_grad();
    r["seconds"].push_back(sw.seconds());
    r["losses"].push_back(st.loss_sum.item<double>() / st.weight);
    tokens = st.tokens;
  }
  r["tokens"] = tokens;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--model") a.model = val();
    else if (k == "--methods") a.methods = val();
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
      std::fprintf(stderr, "unknown flag %s (see the comment at the top of bench/preference_step.cpp)\n", k.c_str());
      return 2;
    }
  }
  bench_startup(argv);
  if (a.baseline && !baseline_python_ok(a.python)) return 1;
  if (a.threads <= 0) a.threads = int(sysconf(_SC_NPROCESSORS_ONLN));
  const fs::path tmp = fs::temp_directory_path() / ("prefer_bench_pref_" + std::to_string(getpid()));
  fs::create_directories(tmp);
  const auto [model_dir, vocab] = bench_model(a.model, tmp);
  if (model_dir.empty()) return 1;
  // Pairs with one prompt length and completions of mixed lengths, fixed by a seed; the KTO examples are
  // the same pairs unpaired (chosen desirable, rejected undesirable), as both sides do.
  const RandomPairs made = random_pairs(a.pairs, a.prompt_len, a.completion_min, a.completion_max, vocab, 13, /*bos_first=*/true);
  const data::TokenizedDataset& pairs = made.data;
  const Json& pj = made.json;
  Json uj = Json::array();
  data::TokenizedDataset unpaired = data::unpair(pairs);
  for (size_t i = 0; i < unpaired.size(); ++i) {
    auto p = unpaired.prompt(i), c = unpaired.chosen(i);
    uj.push_back({{"prompt_ids", std::vector<int32_t>(p.begin(), p.end())}, {"completion_ids", std::vector<int32_t>(c.begin(), c.end())},
                  {"label", unpaired.row(i).label == 1}});
  }
  const fs::path batch = tmp / "batch.json";

  std::printf("Preference steps: prefer against eager PyTorch TRL-style steps (bench/baseline/trl_preference_step.py)\n");
  std::printf("model %s, %d threads both sides, %lld pairs/step (KTO: %lld examples), prompts %lld tokens, completions %lld-%lld, "
              "%lld steps (1 warm-up)\n\n",
              a.model.c_str(), a.threads, (long long)a.pairs, (long long)(2 * a.pairs), (long long)a.prompt_len,
              (long long)a.completion_min, (long long)a.completion_max, (long long)a.steps);
  std::printf("%-6s %-5s %-5s %-9s %10s %10s %9s %9s %8s %12s\n", "method", "mode", "prec", "side", "step s", "tokens/s", "peak MB",
              "speed x", "mem x", "loss1 diff");
  std::vector<std::string> methods;
  for (std::stringstream ss(a.methods); ss.good();) {
    std::string m;
    std::getline(ss, m, ',');
    if (!m.empty()) methods.push_back(m);
  }
  for (const std::string& method : methods) {
    Json batch_json = {{"pairs", pj}, {"unpaired", uj}, {"step_batch", Json::array()}};
    const int64_t n = method == "kto" ? 2 * a.pairs : a.pairs;
    for (int64_t i = 0; i < n; ++i) batch_json["step_batch"].push_back(i);
    std::ofstream(batch) << batch_json.dump();
    for (const std::string mode : {"lora", "full"}) {
      if (a.mode != "both" && a.mode != mode) continue;
      for (const std::string prec : {"fp32", "bf16"}) {
        if (a.precision != "both" && a.precision != prec) continue;
        Json base;
        if (a.baseline) {
          const fs::path out = tmp / "baseline.json";
          std::string cmd = a.python + " " + std::string(PREFER_SOURCE_DIR) + "/bench/baseline/trl_preference_step.py --model " +
                            model_dir.string() + " --batch " + batch.string() + " --method " + method + " --threads " +
                            std::to_string(a.threads) + " --precision " + prec + " --mode " + mode + " --steps " + std::to_string(a.steps) +
                            " --lr " + (mode == "lora" ? "1e-4" : "1e-5") + fmt::format(" --beta {} --gamma {}", kBeta, kGamma) + " > " +
                            out.string();
          if (std::system(cmd.c_str()) != 0) {
            std::fprintf(stderr, "the baseline failed: %s\n", cmd.c_str());
            return 1;
          }
          base = read_json_file(out);
        }
        Json r = in_child([&] { return prefer_side(a, method, model_dir, pairs, tmp / ("cache-" + mode + "-" + prec), mode == "lora", prec == "bf16"); });
        if (r.contains("error")) {
          std::fprintf(stderr, "prefer failed: %s\n", r["error"].get<std::string>().c_str());
          return 1;
        }
        const double s = mean_after_first(r["seconds"]);
        const double tokens = double(r["tokens"].get<int64_t>());
        std::string speed, mem, diff;
        if (a.baseline) {
          const double bs = mean_after_first(base["step_seconds"]);
          std::printf("%-6s %-5s %-5s %-9s %10.3f %10.0f %9.0f %9s %8s %12s\n", method.c_str(), mode.c_str(), prec.c_str(), "baseline", bs,
                      tokens / bs, base["peak_rss_mb"].get<double>(), "1.00", "1.00", "");
          speed = fmt::format("{:.2f}", bs / s);
          mem = fmt::format("{:.2f}", r["peak_mb"].get<double>() / base["peak_rss_mb"].get<double>());
          diff = fmt::format("{:.1e}", std::abs(r["losses"][0].get<double>() - base["steps"][0]["loss"].get<double>()));
        }
        std::printf("%-6s %-5s %-5s %-9s %10.3f %10.0f %9.0f %9s %8s %12s%s\n", method.c_str(), mode.c_str(), prec.c_str(), "prefer", s, tokens / s,
                    r["peak_mb"].get<double>(), speed.c_str(), mem.c_str(), diff.c_str(),
                    r.contains("table_seconds") ? fmt::format("  (reference table once: {:.2f} s)", r["table_seconds"].get<double>()).c_str()
                                                : "");
      }
    }
  }
  fs::remove_all(tmp);
  return 0;
}
