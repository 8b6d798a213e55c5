// What the training-step benchmarks share: each side in its own process (so each peak RSS is its own),
// the LoRA configuration both sides train, and the mean step time after the warm-up step.
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "bench_models.h"
#include "bench_util.h"
#include "model/lora.h"
#include "util/json.h"

// Runs `f` in a child process; its JSON result comes back with the child's peak RSS (VmHWM) in MB, or
// {"error": ...}.
inline prefer::Json in_child(const std::function<prefer::Json()>& f) {
  namespace fs = std::filesystem;
  const fs::path out = fs::temp_directory_path() / ("prefer_bench_child_" + std::to_string(getpid()) + ".json");
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    prefer::Json r;
    try {
      r = f();
    } catch (const std::exception& e) {
      r = {{"error", e.what()}};
    }
    r["peak_mb"] = double(status_kb("VmHWM:")) / 1024.0;
    std::ofstream(out) << r.dump();
    std::_Exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  prefer::Json r = fs::exists(out) ? prefer::read_json_file(out) : prefer::Json{{"error", "the child died"}};
  fs::remove(out);
  return r;
}

// r 16, alpha 32 on the attention projections, no dropout: the baselines' LoRA layers.
inline prefer::model::LoraConfig bench_lora() {
  return {.r = 16, .lora_alpha = 32, .lora_dropout = 0, .target_modules = {"q_proj", "k_proj", "v_proj", "o_proj"}};
}

// The mean of a JSON array of step times after the first (warm-up) one.
inline double mean_after_first(const prefer::Json& s) {
  double sum = 0;
  for (size_t i = 1; i < s.size(); ++i) sum += s[i].get<double>();
  return sum / static_cast<double>(s.size() - 1);
}

// The model both sides train: "tiny" is the llama-tiny fixture; otherwise a bench_config shape (135m,
// 360m, 1b) with random weights, written to <tmp>/model by a child process (its memory does not count).
// Returns the folder and the vocabulary size, or prints why not and returns an empty path.
inline std::pair<std::filesystem::path, int64_t> bench_model(const std::string& name, const std::filesystem::path& tmp) {
  if (name == "tiny") return {std::filesystem::path(PREFER_FIXTURE_DIR) / "models/llama-tiny", 320};
  const std::filesystem::path dir = tmp / "model";
  prefer::Json r = in_child([&] {
    write_random_model(bench_config(name), dir);
    return prefer::Json::object();
  });
  if (r.contains("error")) {
    std::fprintf(stderr, "preparing the model failed: %s\n", r["error"].get<std::string>().c_str());
    return {};
  }
  return {dir, bench_config(name).vocab_size};
}

// Whether `python` can import torch (the baselines' only dependency); says how to get it when not.
inline bool baseline_python_ok(const std::string& python) {
  if (std::system((python + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0) return true;
  std::fprintf(stderr, "the baseline needs PyTorch for %s: apt-get install -y python3-torch (or pass --no_baseline)\n", python.c_str());
  return false;
}

// Runs a command; its stdout, and its peak RSS in MB and wall seconds through wait4.
struct Ran {
  std::string out;
  double peak_mb = 0, seconds = 0;
  int status = 0;
};
inline Ran run_command(const std::string& cmd) {
  Ran r;
  const auto t0 = std::chrono::steady_clock::now();
  const std::filesystem::path out = std::filesystem::temp_directory_path() / ("prefer_bench_out_" + std::to_string(getpid()));
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", (cmd + " > " + out.string() + " 2>&1").c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  struct rusage ru {};
  wait4(pid, &r.status, 0, &ru);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.peak_mb = static_cast<double>(ru.ru_maxrss) / 1024.0;  // of the largest descendant: prefer itself
  std::ifstream f(out);
  std::stringstream ss;
  ss << f.rdbuf();
  r.out = ss.str();
  std::filesystem::remove(out);
  return r;
}

// Preference rows whose prompts and completions are longer than 256 tokens each, so truncation makes
// every row 256 + 256.
inline void write_long_pairs(const std::filesystem::path& file, int pairs) {
  std::ofstream f(file);
  for (int i = 0; i < pairs; ++i) {
    std::string p, c, r;
    for (int k = 0; k < 300; ++k) {
      p += "word" + std::to_string((i * 7 + k) % 97) + " ";
      c += "yes" + std::to_string((i + k) % 89) + " ";
      r += "no" + std::to_string((i * 3 + k) % 83) + " ";
    }
    f << prefer::Json{{"prompt", p}, {"chosen", c}, {"rejected", r}}.dump() << "\n";
  }
}

// A `prefer` run's mean seconds per step over steps 2..`last` (step 1 warms up), from metrics.jsonl's
// cumulative seconds (num_tokens / tokens_per_second); -1 when the rows are missing.
inline double mean_step_seconds(const std::filesystem::path& run, int last) {
  double s1 = -1, sn = -1;
  std::ifstream mf(run / "metrics.jsonl");
  std::string line;
  while (std::getline(mf, line)) {
    prefer::Json j = prefer::Json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("tokens_per_second") || !j.contains("step")) continue;
    const double secs = j["num_tokens"].get<double>() / j["tokens_per_second"].get<double>();
    if (j["step"].get<int>() == 1) s1 = secs;
    if (j["step"].get<int>() == last) sn = secs;
  }
  return s1 >= 0 && sn >= 0 && last > 1 ? (sn - s1) / (last - 1) : -1;
}
