// Generation throughput: tokens/s with the KV cache against re-running the whole sequence every step
// (no cache), greedy, on a randomly initialised Llama-style model, same prompts, same process.
// Usage: bench_generate_throughput [batch prompt_len new_tokens hidden layers threads]
// (threads default 1: decoding a few rows is a chain of small ops, where extra threads mostly wait.)
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "bench_models.h"
#include "model/causal_lm.h"
#include "model/generation.h"
#include "model/runtime.h"

int main(int argc, char** argv) {
  int64_t B = 4, prompt = 64, fresh = 64, hidden = 256, layers = 4, threads = 1;
  int64_t* fields[] = {&B, &prompt, &fresh, &hidden, &layers, &threads};
  for (int i = 1; i < argc && i <= 6; ++i) *fields[i - 1] = std::atoll(argv[i]);
  prefer::model::set_num_threads(static_cast<int>(threads));
  prefer::model::CausalLM m = random_llama(4096, hidden, layers);
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int64_t> p;
    for (int64_t t = 0; t < prompt - b * 3; ++t) p.push_back(3 + (b * 131 + t * 17) % 4000);  // ragged: left padding
    prompts.push_back(p);
  }
  std::printf("generation throughput, greedy, float32 on CPU (%d threads)\n", prefer::model::num_threads());
  std::printf("model: Llama-style, hidden %lld, %lld layers, vocab 4096; batch %lld, prompts of up to %lld tokens, %lld new tokens\n\n",
              (long long)hidden, (long long)layers, (long long)B, (long long)prompt, (long long)fresh);
  double rate[2];
  std::vector<prefer::model::GenerationResult> out[2];
  for (int cached = 1; cached >= 0; --cached) {
    prefer::model::GenerationOptions o{.max_new_tokens = fresh, .use_cache = cached == 1};
    generate(m, prompts, {.max_new_tokens = 2, .use_cache = cached == 1});  // warm-up
    auto t0 = std::chrono::steady_clock::now();
    out[cached] = generate(m, prompts, o);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int64_t n = 0;
    for (auto& r : out[cached]) n += static_cast<int64_t>(r.ids.size());
    rate[cached] = static_cast<double>(n) / secs;
    std::printf("%-22s %8lld tokens %8.3f s %10.1f tokens/s\n", cached ? "KV cache" : "no cache (full rerun)",
                (long long)n, secs, rate[cached]);
  }
  bool same = true;
  for (size_t i = 0; i < out[0].size(); ++i) same &= out[0][i].ids == out[1][i].ids;
  std::printf("\nspeed-up cached / uncached: %.2fx (same tokens: %s)\n", rate[1] / rate[0], same ? "yes" : "no");
  return same ? 0 : 1;
}
