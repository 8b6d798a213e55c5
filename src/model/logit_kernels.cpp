#include "model/logit_kernels.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "model/fused_math.h"
#include "model/intra_op.h"
#include "util/error.h"

namespace prefer::model::fused {

namespace {

using namespace detail;

constexpr int64_t kBlock = 2048;  // elements per float partial sum (128 per lane); blocks add up in double

// Sums over one row, filled by the two passes.
struct RowSums {
  float max = 0;
  double sum_x = 0;    // Σ x (stats only)
  double sum_e = 0;    // Σ e, e = exp(x - max)
  double sum_ex = 0;   // Σ e x (stats only)
  double sum_ee = 0;   // Σ e² (stats only)
};

// Pass 1: the row's max (NaNs skipped here; pass 2 turns them into a NaN sum) and, with stats, Σ x.
template <class In>
PREFER_INLINE void max_pass(const In* x, int64_t n, bool stats, RowSums& r) {
  float m[16];
  for (float& v : m) v = -std::numeric_limits<float>::infinity();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) m[k] = m[k] < load(x[i + k]) ? load(x[i + k]) : m[k];
  float mm = -std::numeric_limits<float>::infinity();
  for (; i < n; ++i) mm = mm < load(x[i]) ? load(x[i]) : mm;
  for (float v : m) mm = mm < v ? v : mm;
  r.max = mm;
  if (!stats) return;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    float s[16] = {};
    int64_t j = b;
    for (; j + 16 <= e; j += 16)
      for (int k = 0; k < 16; ++k) s[k] += load(x[j + k]);
    float t = 0;
    for (; j < e; ++j) t += load(x[j]);
    for (float v : s) t += v;
    r.sum_x += t;
  }
}

// Pass 2: Σ exp(x - max), and with stats Σ e x and Σ e².
template <class In>
PREFER_INLINE void exp_pass(const In* x, int64_t n, bool stats, RowSums& r) {
  const float m = r.max;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t end = std::min(n, b + kBlock);
    float s[16] = {}, sx[16] = {}, se[16] = {};
    int64_t i = b;
    if (stats) {
      for (; i + 16 <= end; i += 16)
        for (int k = 0; k < 16; ++k) {
          const float v = load(x[i + k]), e = exp_approx(v - m);
          s[k] += e;
          sx[k] += e * v;
          se[k] += e * e;
        }
    } else {
      for (; i + 16 <= end; i += 16)
        for (int k = 0; k < 16; ++k) s[k] += exp_approx(load(x[i + k]) - m);
    }
    for (; i < end; ++i) {
      const float v = load(x[i]), e = exp_approx(v - m);
      s[0] += e;
      sx[0] += e * v;
      se[0] += e * e;
    }
    float ts = 0, tx = 0, te = 0;
    for (int k = 0; k < 16; ++k) {
      ts += s[k];
      tx += sx[k];
      te += se[k];
    }
    r.sum_e += ts;
    r.sum_ex += tx;
    r.sum_ee += te;
  }
}

PREFER_CLONES void sums_f32(const float* x, int64_t n, bool stats, RowSums* r) {
  max_pass(x, n, stats, *r);
  exp_pass(x, n, stats, *r);
}
PREFER_CLONES void sums_bf16(const bf16_t* x, int64_t n, bool stats, RowSums* r) {
  max_pass(x, n, stats, *r);
  exp_pass(x, n, stats, *r);
}

// x_v <- g (onehot(t)_v - exp(x_v - lse)), rounded to x's type once.
template <class T>
PREFER_INLINE void grad_row(T* x, int64_t n, float lse, float g, int64_t t) {
  const float pt = exp_approx(load(x[t]) - lse);
  for (int64_t i = 0; i < n; ++i) store(x + i, -g * exp_approx(load(x[i]) - lse));
  store(x + t, g - g * pt);
}
PREFER_CLONES void grad_f32(float* x, int64_t n, float lse, float g, int64_t t) { grad_row(x, n, lse, g, t); }
PREFER_CLONES void grad_bf16(bf16_t* x, int64_t n, float lse, float g, int64_t t) { grad_row(x, n, lse, g, t); }

// Whether t is the first index of the row's maximum m (torch.argmax's choice among ties).
template <class In>
bool first_argmax_is(const In* x, int64_t t, float m) {
  if (!(load(x[t]) == m)) return false;
  for (int64_t i = 0; i < t; ++i)
    if (load(x[i]) == m) return false;
  return true;
}

void require(bool ok, const char* what) {
  if (!ok) throw Error(std::string("logit kernel: ") + what);
}

void check_targets(const at::Tensor& logits, const at::Tensor& targets) {
  require(logits_eligible(logits), "needs contiguous float32 or bf16 CPU logits [rows, vocab]");
  require(targets.scalar_type() == at::kLong && targets.is_contiguous() && targets.dim() == 1 &&
              targets.size(0) == logits.size(0),
          "needs contiguous int64 targets, one per row");
  if (targets.numel() > 0) {
    const int64_t V = logits.size(1);
    const int64_t lo = targets.min().item<int64_t>(), hi = targets.max().item<int64_t>();
    if (lo < 0 || hi >= V)
      throw Error("target token id " + std::to_string(lo < 0 ? lo : hi) + " is outside the vocabulary of " +
                  std::to_string(V) + " entries");
  }
}

}  // namespace

bool logits_eligible(const at::Tensor& logits) {
  return logits.defined() && logits.device().type() == at::kCPU && logits.dim() == 2 && logits.is_contiguous() &&
         (logits.scalar_type() == at::kFloat || logits.scalar_type() == at::kBFloat16);
}

LogitRowStats logit_row_stats(const at::Tensor& logits, const at::Tensor& targets, bool stats) {
  check_targets(logits, targets);
  const int64_t rows = logits.size(0), V = logits.size(1);
  require(V > 0, "needs a non-empty vocabulary");
  const auto f32 = logits.options().dtype(at::kFloat);
  LogitRowStats out;
  out.lse = at::empty({rows}, f32);
  out.target_logit = at::empty({rows}, f32);
  if (stats) {
    out.entropy = at::empty({rows}, f32);
    out.mean_logit = at::empty({rows}, f32);
    out.hit = at::empty({rows}, f32);
    out.log_sum_p_sq = at::empty({rows}, f32);
  }
  const bool bf = logits.scalar_type() == at::kBFloat16;
  const float* xf = bf ? nullptr : logits.data_ptr<float>();
  const bf16_t* xb = bf ? reinterpret_cast<const bf16_t*>(logits.data_ptr<at::BFloat16>()) : nullptr;
  const int64_t* tg = targets.data_ptr<int64_t>();
  at::parallel_for(0, rows, 1, [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      RowSums r;
      const int64_t t = tg[row];
      float xt;
      bool hit = false;
      if (bf) {
        sums_bf16(xb + row * V, V, stats, &r);
        xt = load(xb[row * V + t]);
        if (stats) hit = first_argmax_is(xb + row * V, t, r.max);
      } else {
        sums_f32(xf + row * V, V, stats, &r);
        xt = xf[row * V + t];
        if (stats) hit = first_argmax_is(xf + row * V, t, r.max);
      }
      const double log_s = std::log(r.sum_e);
      const double lse = r.max + log_s;
      out.lse.data_ptr<float>()[row] = static_cast<float>(lse);
      out.target_logit.data_ptr<float>()[row] = xt;
      if (!stats) continue;
      out.entropy.data_ptr<float>()[row] = static_cast<float>(lse - r.sum_ex / r.sum_e);
      out.mean_logit.data_ptr<float>()[row] = static_cast<float>(r.sum_x / static_cast<double>(V));
      out.hit.data_ptr<float>()[row] = hit ? 1.0f : 0.0f;
      out.log_sum_p_sq.data_ptr<float>()[row] = static_cast<float>(std::log(r.sum_ee) - 2 * log_s);
    }
  });
  return out;
}

void target_logprob_grad_(at::Tensor& logits, const at::Tensor& lse_in, const at::Tensor& g_in, const at::Tensor& targets) {
  check_targets(logits, targets);
  const int64_t rows = logits.size(0), V = logits.size(1);
  at::Tensor lse = lse_in.to(at::kFloat).contiguous(), g = g_in.to(at::kFloat).contiguous();
  require(lse.numel() == rows && g.numel() == rows, "needs lse and g with one value per row");
  const float *pl = lse.data_ptr<float>(), *pg = g.data_ptr<float>();
  const int64_t* tg = targets.data_ptr<int64_t>();
  const bool bf = logits.scalar_type() == at::kBFloat16;
  float* xf = bf ? nullptr : logits.data_ptr<float>();
  bf16_t* xb = bf ? reinterpret_cast<bf16_t*>(logits.data_ptr<at::BFloat16>()) : nullptr;
  at::parallel_for(0, rows, 1, [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      if (bf) grad_bf16(xb + row * V, V, pl[row], pg[row], tg[row]);
      else grad_f32(xf + row * V, V, pl[row], pg[row], tg[row]);
    }
  });
}

}  // namespace prefer::model::fused
