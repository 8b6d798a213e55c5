// Data parallelism on this machine, SmolLM-135M's shape (random weights), full fine-tuning in fp32
// (the largest all-reduce: every gradient), DPO, 4 pairs per global batch:
//
//   1. throughput: `prefer dpo` as 1 worker x 2 threads (the baseline) against `prefer launch` 2 workers
//      x 1 thread, the same global batch, step time from metrics.jsonl (steps 2..N);
//   2. the all-reduce alone: 2 processes over Gloo on loopback summing the model's gradients (134.5M
//      fp32 values, bucketed as the trainer does), against the step time;
//   3. an estimate for several machines: a ring all-reduce sends 2(N-1)/N of the gradient bytes per
//      worker, so at bandwidth B it takes 2(N-1)/N x bytes / B; efficiency = step / (step + all-reduce)
//      (prefer reduces after backward, without overlap).
//
//   bench_ddp_scaling [--steps 4] [--max_length 256] [--prefer PATH]
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <string>
#include <vector>

#include "bench_child.h"
#include "model/runtime.h"
#include "train/distributed.h"
#include "util/json.h"

namespace fs = std::filesystem;
using prefer::Json;

namespace {

struct Args {
  fs::path prefer;
  int steps = 4;
  int max_length = 256;
};

// Seconds per all-reduce of `numel` fp32 values between 2 processes on loopback (mean of 3 after one).
double allreduce_seconds(int64_t numel, int port) {
  std::vector<pid_t> kids;
  const fs::path out = fs::temp_directory_path() / ("prefer_bench_ar_" + std::to_string(getpid()));
  for (int r = 0; r < 2; ++r) {
    pid_t pid = fork();
    if (pid == 0) {
      prefer::train::DistEnv e;
      e.rank = r;
      e.world = 2;
      e.local_rank = r;
      e.local_world = 2;
      e.master_port = port;
      prefer::model::set_num_threads(1);
      prefer::train::Distributed& d = prefer::train::Distributed::get();
      d.init(e, std::chrono::seconds(300));
      std::vector<at::Tensor> g{at::ones({numel})};
      double total = 0;
      for (int k = 0; k < 4; ++k) {
        d.barrier();
        const auto t0 = std::chrono::steady_clock::now();
        d.allreduce_sum(g);
        if (k > 0) total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
      if (r == 0) std::ofstream(out) << total / 3;
      std::_Exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t p : kids) waitpid(p, nullptr, 0);
  double s = -1;
  std::ifstream(out) >> s;
  fs::remove(out);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  a.prefer = fs::canonical(fs::path(argv[0])).parent_path().parent_path() / "prefer";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--steps") a.steps = std::stoi(v);
    else if (k == "--max_length") a.max_length = std::stoi(v);
    else if (k == "--prefer") a.prefer = v;
  }
  const fs::path tmp = fs::temp_directory_path() / ("prefer_bench_ddp_" + std::to_string(getpid()));
  fs::create_directories(tmp);
  auto [dir, vocab] = bench_model("135m", tmp);
  if (dir.empty()) return 1;
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(fs::path(PREFER_FIXTURE_DIR) / "models/llama-tiny" / f, dir / f, fs::copy_options::overwrite_existing);
  write_long_pairs(tmp / "pairs.jsonl", 16);

  std::printf("== prefer dpo, SmolLM-135M shape, full fine-tuning fp32, 4 pairs x %d tokens per step, %d steps (cores: %u) ==\n",
              a.max_length, a.steps, std::thread::hardware_concurrency());
  auto common = [&](int per_device, const fs::path& out) {
    return " dpo --model " + dir.string() + " --data " + (tmp / "pairs.jsonl").string() + " --per_device_train_batch_size " +
           std::to_string(per_device) + " --max_length " + std::to_string(a.max_length) + " --max_prompt_length " +
           std::to_string(a.max_length / 2) + " --max_steps " + std::to_string(a.steps) +
           " --logging_steps 1 --save_steps 100000 --learning_rate 1e-5 --cache_dir " + (tmp / "cache").string() + " --output_dir " +
           out.string();
  };
  // Warm the token and reference caches once, so neither timed run pays for them.
  run_command(a.prefer.string() + " --threads 2" + common(4, tmp / "warm"));
  Ran one = run_command(a.prefer.string() + " --threads 2" + common(4, tmp / "one"));
  Ran two = run_command(a.prefer.string() + " launch --nproc_per_node 2 --master_port 29593 -- prefer --threads 1" + common(2, tmp / "two"));
  Ran zero = run_command(a.prefer.string() + " launch --nproc_per_node 2 --master_port 29595 -- prefer --threads 1" + common(2, tmp / "zero") +
                         " --zero_stage 1");
  if (one.status != 0 || two.status != 0 || zero.status != 0) {
    std::printf("a run failed:\n%s\n%s\n%s\n", one.out.c_str(), two.out.c_str(), zero.out.c_str());
    return 1;
  }
  const double s_one = mean_step_seconds(tmp / "one", a.steps), s_two = mean_step_seconds(tmp / "two", a.steps),
               s_zero = mean_step_seconds(tmp / "zero", a.steps);
  // Peak RSS: of the process for one worker, of the largest worker under the launcher (wait4's maxrss).
  std::printf("%-36s %10s %12s %14s\n", "configuration", "step s", "vs baseline", "peak MB/worker");
  std::printf("%-36s %10.2f %11.2fx %14.0f\n", "1 worker x 2 threads (baseline)", s_one, 1.0, one.peak_mb);
  std::printf("%-36s %10.2f %11.2fx %14.0f\n", "2 workers x 1 thread", s_two, s_one / s_two, two.peak_mb);
  std::printf("%-36s %10.2f %11.2fx %14.0f\n", "2 workers x 1 thread, --zero_stage 1", s_zero, s_one / s_zero, zero.peak_mb);

  int64_t numel = 0;
  {
    Json r = in_child([&] {
      prefer::model::CausalLM m(config_135m());
      int64_t n = 0;
      for (auto& [name, t] : m.named_parameters()) n += t.numel();
      return Json{{"numel", n}};
    });
    numel = r.value("numel", int64_t{0});
  }
  const double ar = allreduce_seconds(numel, 29594);
  const double bytes = 4.0 * static_cast<double>(numel);
  std::printf("\nall-reduce of the gradients (%.1fM fp32 values, %.0f MB), 2 processes over Gloo on loopback: %.3f s = %.1f%% of the "
              "2-worker step\n",
              static_cast<double>(numel) / 1e6, bytes / 1e6, ar, 100.0 * ar / s_two);

  std::printf("\nestimate for N machines, each doing this step (%.2f s) on its share: ring all-reduce 2(N-1)/N x %.0f MB per worker\n",
              s_one, bytes / 1e6);
  std::printf("%-14s %6s %14s %12s\n", "network", "N", "all-reduce s", "efficiency");
  for (double gbit : {10.0, 100.0}) {
    for (int n : {2, 4, 8, 16}) {
      const double t = 2.0 * (n - 1) / n * bytes / (gbit * 1e9 / 8);
      std::printf("%-14s %6d %14.3f %11.1f%%\n", (std::to_string(static_cast<int>(gbit)) + " Gbit/s").c_str(), n, t, 100.0 * s_one / (s_one + t));
    }
  }
  std::printf("(LoRA all-reduces only the adapter: r=16 on q/k/v/o is 1.8M values, 7 MB, so its efficiency stays near 100%%.)\n");
  fs::remove_all(tmp);
  return 0;
}
