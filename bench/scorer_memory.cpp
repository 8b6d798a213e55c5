// Peak memory and time of the scorer (LM head on response positions only, in chunks, with a
// recomputing backward) against the naive path (full [B, T, V] logits, log_softmax, gather), both
// forward + backward, as in a training step.
//
// Method: each path runs in a forked child process. The child builds its inputs, resets its peak RSS
// (writing 5 to /proc/self/clear_refs), records VmRSS, runs the path, and reports VmHWM - VmRSS: the
// extra resident memory the path needed at its peak. LibTorch's CPU allocator returns large blocks to
// the system, so this is the path's own peak. Usage: bench_scorer_memory [B T H V response_len chunk]
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "bench_util.h"
#include "model/runtime.h"
#include "model/scorer.h"

namespace {

struct Result {
  double peak_mb = 0;
  double seconds = 0;
  double checksum = 0;
};

struct Sizes {
  int64_t B = 4, T = 512, H = 512, V = 32000, response = 256, chunk = 1024;
};

// Runs `naive` or the chunked path in a child; returns its peak extra memory and time.
Result run_child(const Sizes& s, bool naive) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
    at::Tensor hidden = at::randn({s.B, s.T, s.H}, gen).requires_grad_(true);
    at::Tensor w = (at::randn({s.V, s.H}, gen) * 0.02).requires_grad_(true);
    at::Tensor ids = at::randint(s.V, {s.B, s.T}, gen, at::kLong);
    at::Tensor mask = at::zeros({s.B, s.T}, at::kBool);
    mask.narrow(1, s.T - s.response, s.response).fill_(true);
    {
      std::ofstream clear("/proc/self/clear_refs");
      clear << "5";
    }
    const int64_t base = status_kb("VmRSS:");
    auto t0 = std::chrono::steady_clock::now();
    at::Tensor total;
    if (naive) {
      at::Tensor logits = at::matmul(hidden, w.t()).to(at::kFloat);  // [B, T, V]
      at::Tensor logp = at::log_softmax(logits, -1).narrow(1, 0, s.T - 1);
      at::Tensor tok = logp.gather(2, ids.narrow(1, 1, s.T - 1).unsqueeze(-1)).squeeze(-1);
      total = (tok * mask.narrow(1, 1, s.T - 1).to(at::kFloat)).sum();
    } else {
      total = prefer::model::score(hidden, w, ids, mask, {.chunk_tokens = s.chunk}).sum.sum();
    }
    total.backward();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Result r{static_cast<double>(status_kb("VmHWM:") - base) / 1024.0, secs,
             total.item<double>() + w.grad().sum().item<double>()};
    if (write(fds[1], &r, sizeof r) != sizeof r) std::_Exit(2);
    std::_Exit(0);
  }
  close(fds[1]);
  Result r;
  if (read(fds[0], &r, sizeof r) != sizeof r) {
    std::fprintf(stderr, "child failed\n");
    std::exit(1);
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Sizes s;
  int64_t* fields[] = {&s.B, &s.T, &s.H, &s.V, &s.response, &s.chunk};
  for (int i = 1; i < argc && i <= 6; ++i) *fields[i - 1] = std::atoll(argv[i]);
  prefer::model::set_num_threads(0);
  std::printf("scorer peak memory, forward + backward, float32 on CPU (%d threads)\n", prefer::model::num_threads());
  std::printf("batch %lld x %lld tokens, hidden %lld, vocab %lld, %lld response tokens per row, chunk %lld\n",
              (long long)s.B, (long long)s.T, (long long)s.H, (long long)s.V, (long long)s.response, (long long)s.chunk);
  std::printf("method: forked child per path; peak RSS (VmHWM after clear_refs) minus RSS before the path\n\n");
  Result naive = run_child(s, true);
  Result chunked = run_child(s, false);
  const double full_logits_mb = double(s.B * s.T * s.V) * 4 / (1 << 20);
  std::printf("%-34s %12s %10s\n", "path", "peak MiB", "seconds");
  std::printf("%-34s %12.1f %10.3f\n", "naive: full [B,T,V] logits", naive.peak_mb, naive.seconds);
  std::printf("%-34s %12.1f %10.3f\n", "prefer: response rows, chunked", chunked.peak_mb, chunked.seconds);
  std::printf("\none [B,T,V] float32 logits tensor is %.1f MiB\n", full_logits_mb);
  std::printf("peak memory ratio naive / chunked: %.1fx; time ratio naive / chunked: %.2fx\n", naive.peak_mb / chunked.peak_mb,
              naive.seconds / chunked.seconds);
  std::printf("checksums (equal up to float32 rounding): %.6g vs %.6g\n", naive.checksum, chunked.checksum);
  return 0;
}
