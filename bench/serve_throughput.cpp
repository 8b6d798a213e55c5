// Serving throughput: tokens/s of prefer serve's decoding queue (serve::Scheduler, the part below HTTP)
// with 1, 4 and 16 requests in flight, batched (up to 16 rows), against the same requests decoded one
// at a time (a batch of one), same model and process. Greedy on a randomly initialised Llama-style
// model with the llama-tiny fixture's tokenizer; no EOS, so every request makes all its tokens.
// Usage: bench_serve_throughput [new_tokens hidden layers threads]
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "bench_models.h"
#include "data/pipeline.h"
#include "model/causal_lm.h"
#include "model/runtime.h"
#include "serve/scheduler.h"

namespace {

// Submits `n` requests at once; returns tokens/s until the last completes.
double run(prefer::serve::Scheduler& s, int64_t n, int64_t fresh) {
  std::vector<std::future<std::vector<prefer::serve::RowResult>>> done;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; ++i) {
    auto job = std::make_shared<prefer::serve::Job>();
    std::vector<int64_t> prompt;
    for (int64_t t = 0; t < 24 + i % 7; ++t) prompt.push_back(3 + (i * 131 + t * 17) % 300);
    job->rows.push_back({.prompt_ids = prompt, .max_new_tokens = fresh, .temperature = 0});
    done.push_back(job->result.get_future());
    if (!s.submit(job)) std::abort();
  }
  int64_t tokens = 0;
  for (auto& f : done) tokens += static_cast<int64_t>(f.get()[0].ids.size());
  return static_cast<double>(tokens) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int64_t fresh = 32, hidden = 256, layers = 4, threads = 1;
  int64_t* fields[] = {&fresh, &hidden, &layers, &threads};
  for (int i = 1; i < argc && i <= 4; ++i) *fields[i - 1] = std::atoll(argv[i]);
  prefer::model::set_num_threads(static_cast<int>(threads));
  prefer::data::TextModel text = prefer::data::TextModel::load(PREFER_FIXTURE_DIR "/models/llama-tiny");
  const int64_t vocab = static_cast<int64_t>(text.tokenizer.vocab_size());
  prefer::model::CausalLM m = random_llama(vocab, hidden, layers);
  std::printf("serve throughput, greedy, float32 on CPU (%d threads)\n", prefer::model::num_threads());
  std::printf("model: Llama-style, hidden %lld, %lld layers, vocab %lld; prompts of 24-30 tokens, %lld new tokens each\n\n",
              (long long)hidden, (long long)layers, (long long)vocab, (long long)fresh);
  prefer::serve::Scheduler one(m, text.tokenizer, {.max_batch_rows = 1, .max_queue = 64});
  prefer::serve::Scheduler batched(m, text.tokenizer, {.max_batch_rows = 16, .max_queue = 64});
  run(one, 2, 4);  // warm-up
  run(batched, 2, 4);
  std::printf("%-12s %16s %16s %8s\n", "in flight", "one at a time", "batched", "ratio");
  for (int64_t n : {1, 4, 16}) {
    const double base = run(one, n, fresh), fast = run(batched, n, fresh);
    std::printf("%-12lld %12.1f t/s %12.1f t/s %7.2fx\n", (long long)n, base, fast, fast / base);
  }
  return 0;
}
