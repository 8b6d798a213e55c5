// QLoRA's memory and speed, and the memory plan's predictions against measured peaks.
//
// --part 7b  The seed's budget: a Llama-2-7B-shaped model (random weights, each linear layer quantised as
//            it is drawn, so no dense copy of the model ever exists), 4-bit NF4 + double quant, LoRA r=16
//            on q/k/v/o, gradient checkpointing, one DPO step (policy forward/backward, reference
//            forward with adapters off, AdamW on the adapters) at 2 pairs x (256 prompt + 256
//            completion) in concatenated rows. Runs in a child process: its peak RSS (VmHWM) is the
//            measurement; `prefer plan dpo` on the same shape and options is the prediction.
// --part 135m  `prefer dpo` itself on SmolLM-135M's shape (random weights), max_steps 3, for fp32, bf16,
//            8-bit and 4-bit bases (LoRA r=16 on q/k/v/o), with and without gradient checkpointing: each
//            run's peak RSS (wait4's ru_maxrss) and mean step time against `prefer plan dpo` with the same
//            options; the ratio baseline is the bf16 LoRA run of the same invocation. Then the eager
//            PyTorch TRL-style step (bench/baseline/trl_dpo_step.py, bf16 LoRA) on the same shape: 4
//            pairs of 256 prompt + 256 completion token ids, its step time and peak RSS.
//
// Usage: bench_qlora_memory [--part 7b|135m|both] [--prefer build/prefer] [--layers 32] [--threads 0]
//          [--python /usr/bin/python3] [--no_baseline 1]
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "bench_child.h"
#include "model/causal_lm.h"
#include "model/lora.h"
#include "model/quantized_model.h"
#include "model/runtime.h"
#include "model/scorer.h"
#include "util/json.h"

namespace fs = std::filesystem;
using prefer::Json;

namespace {

struct Args {
  std::string part = "both";
  fs::path prefer;
  int64_t layers = 32;
  int threads = 0;
  std::string python = "/usr/bin/python3";
  bool baseline = true;
};

Json llama2_7b_config(int64_t layers) {
  // meta-llama/Llama-2-7b-hf config.json's shape.
  return {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", 4096},
          {"intermediate_size", 11008}, {"num_hidden_layers", layers}, {"num_attention_heads", 32},
          {"num_key_value_heads", 32}, {"vocab_size", 32000}, {"max_position_embeddings", 4096},
          {"rms_norm_eps", 1e-5}, {"rope_theta", 10000.0}, {"tie_word_embeddings", false}, {"hidden_act", "silu"},
          {"bos_token_id", 1}, {"eos_token_id", 2}, {"torch_dtype", "bfloat16"}};
}

// "predicted peak   7.41 GB" in `prefer plan` output -> MB.
double predicted_mb(const std::string& plan) {
  std::smatch m;
  if (!std::regex_search(plan, m, std::regex(R"(predicted peak\s+([0-9.]+) (B|KB|MB|GB|TB))"))) return -1;
  const double v = std::stod(m[1]);
  const std::string u = m[2];
  const double f = u == "GB" ? 1e9 : u == "MB" ? 1e6 : u == "KB" ? 1e3 : u == "TB" ? 1e12 : 1;
  return v * f / (1 << 20);
}

void part_7b(const Args& a, const fs::path& tmp) {
  const fs::path cfg_dir = tmp / "llama2-7b-shape";
  fs::create_directories(cfg_dir);
  prefer::write_json_file(cfg_dir / "config.json", llama2_7b_config(a.layers));
  const std::string opts = " --model " + cfg_dir.string() +
                           " --data x --output_dir x --use_peft --lora_r 16 --lora_alpha 32 --lora_target_modules q_proj,k_proj,v_proj,o_proj"
                           " --load_in_4bit --bnb_4bit_use_double_quant --bnb_4bit_compute_dtype bfloat16 --bf16 --gradient_checkpointing"
                           " --per_device_train_batch_size 2 --max_length 512 --max_prompt_length 256 --batch_layout concatenated";
  Ran plan = run_command(a.prefer.string() + " plan dpo" + opts);
  std::printf("== 7B shape (%lld layers), NF4 + double quant, bf16 compute, LoRA r=16 q/k/v/o, checkpointing, 2 pairs x 512 ==\n%s",
              static_cast<long long>(a.layers), plan.out.c_str());

  Json r = in_child([&] {
    using namespace prefer;
    io::ModelConfig cfg = io::parse_model_config(llama2_7b_config(a.layers));
    model::CausalLM m(cfg, {.dtype = at::kBFloat16, .allocate = false});
    model::QuantizationConfig qc;
    qc.load_in_4bit = true;
    qc.bnb_4bit_use_double_quant = true;
    qc.bnb_4bit_compute_dtype = at::kBFloat16;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
    at::NoGradGuard ng;
    const auto t0 = std::chrono::steady_clock::now();
    for (const model::WeightSpec& w : m.weight_specs()) {
      at::Tensor t = w.name.find("norm") != std::string::npos ? at::ones(w.shape, at::kBFloat16)
                                                                : at::normal(0.0, 0.02, w.shape, gen).to(at::kBFloat16);
      model::Linear* lin = m.linear(w.slot, w.layer);
      if (lin && &m.slot(w.slot, w.layer) == &lin->weight) {
        model::QuantizedWeight q = model::quantize(t, qc.options(at::kBFloat16));
        lin->quant = std::make_shared<const model::QuantizedWeight>(std::move(q));
      } else {
        m.slot(w.slot, w.layer) = t;
      }
    }
    const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double after_load_mb = double(status_kb("VmRSS:")) / 1024.0;
    model::LoraConfig lc = bench_lora();
    model::add_lora(m, lc, 3);
    m.set_gradient_checkpointing(true);
    std::vector<at::Tensor> params;
    for (auto& [n, t] : model::lora_parameters(m, lc)) params.push_back(t);
    std::vector<at::Tensor> m1, m2;
    for (auto& p : params) {
      m1.push_back(at::zeros_like(p));
      m2.push_back(at::zeros_like(p));
    }
    // 4 rows (chosen, rejected per pair) of 256 prompt + 256 completion tokens.
    at::Tensor ids = at::randint(3, cfg.vocab_size, {4, 512}, gen);
    at::Tensor pos = at::arange(512).unsqueeze(0).expand({4, 512}).contiguous();
    at::Tensor resp = at::cat({at::zeros({4, 256}), at::ones({4, 256})}, 1).to(at::kBool);
    const auto t1 = std::chrono::steady_clock::now();
    at::Tensor ref;
    {
      model::AdaptersDisabled off(m);
      ref = model::score(m, ids, pos, {}, resp).sum;
    }
    at::Tensor loss;
    {
      at::AutoGradMode on(true);
      at::Tensor pol = model::score(m, ids, pos, {}, resp).sum;  // [4]
      at::Tensor d = (pol - ref).view({2, 2});
      loss = -at::log_sigmoid(0.1 * (d.select(1, 0) - d.select(1, 1))).mean();
      loss.backward();
    }
    for (size_t i = 0; i < params.size(); ++i) {  // AdamW, step 1
      at::Tensor g = params[i].grad();
      m1[i].mul_(0.9).add_(g, 0.1);
      m2[i].mul_(0.999).addcmul_(g, g, 0.001);
      params[i].add_(m1[i] / 0.1 / ((m2[i] / 0.001).sqrt() + 1e-8), -1e-4);
    }
    const double step_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    return Json{{"loss", loss.item<double>()}, {"build_s", build_s}, {"step_s", step_s}, {"after_load_mb", after_load_mb},
                {"quantized_mb", double(model::quantized_bytes(m)) / (1 << 20)}};
  });
  if (r.contains("error")) {
    std::printf("7B step failed: %s\n", r["error"].get<std::string>().c_str());
    return;
  }
  const double pred = predicted_mb(plan.out), peak = r["peak_mb"].get<double>();
  std::printf("measured: peak %.0f MB (after building the quantised model %.0f MB, of which packed linear layers %.0f MB), "
              "loss %.4f (ln 2 = 0.6931), quantise %.0f s, step %.0f s\n",
              peak, r["after_load_mb"].get<double>(), r["quantized_mb"].get<double>(), r["loss"].get<double>(),
              r["build_s"].get<double>(), r["step_s"].get<double>());
  std::printf("plan %.0f MB vs measured %.0f MB: %+.1f%%\n\n", pred, peak, 100.0 * (pred - peak) / peak);
}

// The eager PyTorch TRL-style bf16 LoRA step on the same shape (4 pairs x (256 + 256) random ids): a row
// of the same table, its step time the mean after the warm-up step.
void eager_baseline(const Args& a, const fs::path& tmp, const fs::path& model, int64_t vocab, double base_step) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  auto ids = [&](int64_t n) {
    at::Tensor t = at::randint(3, vocab, {n}, gen);
    return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + n);
  };
  Json pairs = Json::array();
  for (int i = 0; i < 4; ++i) pairs.push_back({{"prompt_ids", ids(256)}, {"chosen_ids", ids(256)}, {"rejected_ids", ids(256)}});
  prefer::write_json_file(tmp / "batch.json", Json{{"pairs", pairs}, {"step_batch", {0, 1, 2, 3}}});
  const int threads = a.threads > 0 ? a.threads : int(sysconf(_SC_NPROCESSORS_ONLN));
  Ran b = run_command(a.python + " " + PREFER_SOURCE_DIR + "/bench/baseline/trl_dpo_step.py --model " + model.string() +
                      " --batch " + (tmp / "batch.json").string() + " --threads " + std::to_string(threads) +
                      " --precision bf16 --mode lora --steps 3 --lora_r 16 --lora_alpha 32 --lr 1e-5");
  std::string last;
  std::istringstream ls(b.out);
  for (std::string line; std::getline(ls, line);)
    if (!line.empty() && line[0] == '{') last = line;
  if (b.status != 0 || last.empty()) {
    std::printf("%-42s failed:\n%s\n", "eager PyTorch bf16 LoRA", b.out.c_str());
    return;
  }
  Json j = Json::parse(last);
  const double step = mean_after_first(j["step_seconds"]);
  std::printf("%-42s %10s %10.0f %8s %10.2f %7.2fx\n", "eager PyTorch bf16 LoRA (TRL-style)", "-", j["peak_rss_mb"].get<double>(), "-",
              step, base_step > 0 ? base_step / step : 0.0);
}

void part_135m(const Args& a, const fs::path& tmp) {
  auto [dir, vocab] = bench_model("135m", tmp);
  if (dir.empty()) return;
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(fs::path(PREFER_FIXTURE_DIR) / "models/llama-tiny" / f, dir / f, fs::copy_options::overwrite_existing);
  write_long_pairs(tmp / "pairs.jsonl", 12);
  struct Config {
    const char* name;
    std::string flags;
  };
  const std::string lora = " --use_peft --lora_r 16 --lora_alpha 32 --lora_target_modules q_proj,k_proj,v_proj,o_proj";
  const std::vector<Config> configs = {
      {"bf16 LoRA (baseline)", lora + " --bf16"},
      {"fp32 LoRA", lora},
      {"8-bit LoRA, bf16", lora + " --bf16 --load_in_8bit"},
      {"4-bit NF4+DQ LoRA, bf16 compute", lora + " --bf16 --load_in_4bit --bnb_4bit_use_double_quant --bnb_4bit_compute_dtype bfloat16"},
      {"4-bit NF4+DQ LoRA, fp32", lora + " --load_in_4bit --bnb_4bit_use_double_quant"},
      {"4-bit NF4+DQ LoRA, bf16, checkpointing",
       lora + " --bf16 --load_in_4bit --bnb_4bit_use_double_quant --bnb_4bit_compute_dtype bfloat16 --gradient_checkpointing"},
      {"bf16 full fine-tuning", " --bf16"},
  };
  std::printf("== prefer dpo on SmolLM-135M's shape: 4 pairs x (256 + 256), 3 steps ==\n");
  std::printf("%-42s %10s %10s %8s %10s %8s\n", "config", "plan MB", "peak MB", "plan err", "step s", "vs bf16");
  double base_step = 0;
  for (const Config& c : configs) {
    const std::string common = " --model " + dir.string() + " --data " + (tmp / "pairs.jsonl").string() +
                               " --per_device_train_batch_size 4 --max_length 512 --max_prompt_length 256 --max_steps 3"
                               " --logging_steps 1 --save_steps 100000 --learning_rate 1e-5 --cache_dir " +
                               (tmp / "cache").string() + c.flags;
    const fs::path out = tmp / ("run" + std::to_string(&c - configs.data()));
    Ran plan = run_command(a.prefer.string() + " plan dpo" + common + " --output_dir " + out.string());
    Ran run = run_command(a.prefer.string() + " dpo" + common + " --output_dir " + out.string());
    if (run.status != 0) {
      std::printf("%-42s failed:\n%s\n", c.name, run.out.c_str());
      continue;
    }
    const double step = mean_step_seconds(out, 3);
    if (base_step == 0) base_step = step;
    const double pred = predicted_mb(plan.out);
    std::printf("%-42s %10.0f %10.0f %+7.1f%% %10.2f %7.2fx\n", c.name, pred, run.peak_mb, 100.0 * (pred - run.peak_mb) / run.peak_mb,
                step, base_step > 0 && step > 0 ? base_step / step : 0.0);
  }
  if (a.baseline && baseline_python_ok(a.python)) eager_baseline(a, tmp, dir, vocab, base_step);
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  a.prefer = fs::canonical(fs::path(argv[0])).parent_path().parent_path() / "prefer";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--part") a.part = v;
    else if (k == "--prefer") a.prefer = v;
    else if (k == "--layers") a.layers = std::stoll(v);
    else if (k == "--threads") a.threads = std::stoi(v);
    else if (k == "--python") a.python = v;
    else if (k == "--no_baseline") a.baseline = v == "0";
  }
  if (a.threads > 0) prefer::model::set_num_threads(a.threads);
  const fs::path tmp = fs::temp_directory_path() / ("prefer_bench_qlora_" + std::to_string(getpid()));
  fs::create_directories(tmp);
  if (a.part == "135m" || a.part == "both") part_135m(a, tmp);
  if (a.part == "7b" || a.part == "both") part_7b(a, tmp);
  fs::remove_all(tmp);
  return 0;
}
