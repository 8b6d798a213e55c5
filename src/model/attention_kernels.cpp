#include "model/attention_kernels.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "model/fused_math.h"
#include "model/intra_op.h"
#include "util/error.h"

namespace prefer::model::fused {

namespace {

using namespace detail;

// s_j = (x_j * scale rounded to T) + bias_j, into s [n] (float32). For bf16 the scale is rounded to
// bf16 first, as LibTorch 1.13's `scores * scale` on a bf16 tensor does (eager attention's product).
template <class T>
PREFER_INLINE void scaled_scores(const T* x, const float* bias, float scale, float* s, int64_t n) {
  const float sc = round_as(scale, static_cast<T*>(nullptr));
  for (int64_t j = 0; j < n; ++j) s[j] = round_as(load(x[j]) * sc, static_cast<T*>(nullptr)) + bias[j];
}

PREFER_INLINE float max_of(const float* s, int64_t n) {
  float m[16];
  for (float& v : m) v = -std::numeric_limits<float>::infinity();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    for (int k = 0; k < 16; ++k) m[k] = m[k] < s[j + k] ? s[j + k] : m[k];
  float mm = -std::numeric_limits<float>::infinity();
  for (; j < n; ++j) mm = mm < s[j] ? s[j] : mm;
  for (float v : m) mm = mm < v ? v : mm;
  return mm;
}

// s_j <- exp(s_j - m); returns their sum.
PREFER_INLINE float exp_sum(float* s, int64_t n, float m) {
  float acc[16] = {};
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    for (int k = 0; k < 16; ++k) {
      s[j + k] = exp_approx(s[j + k] - m);
      acc[k] += s[j + k];
    }
  float t = 0;
  for (; j < n; ++j) {
    s[j] = exp_approx(s[j] - m);
    t += s[j];
  }
  for (float v : acc) t += v;
  return t;
}

// One row of probabilities: into out (T), and with stats its max and sum.
template <class T>
PREFER_INLINE void probs_row(const T* x, const float* bias, float scale, float* s, int64_t n, bool stats, float* m, float* l, T* out) {
  scaled_scores(x, bias, scale, s, n);
  if (stats) {
    *m = max_of(s, n);
    *l = exp_sum(s, n, *m);
  } else {
    for (int64_t j = 0; j < n; ++j) s[j] = exp_approx(s[j] - *m);
  }
  const float sum = *l;
  for (int64_t j = 0; j < n; ++j) store(out + j, s[j] / sum);
}
PREFER_CLONES void probs_f32(const float* x, const float* bias, float scale, float* s, int64_t n, bool stats, float* m, float* l,
                             float* out) {
  probs_row(x, bias, scale, s, n, stats, m, l, out);
}
PREFER_CLONES void probs_bf16(const bf16_t* x, const float* bias, float scale, float* s, int64_t n, bool stats, float* m, float* l,
                              bf16_t* out) {
  probs_row(x, bias, scale, s, n, stats, m, l, out);
}

// dp_j <- (p_j (dp_j - delta)) scale, p_j recomputed as probs_row's.
template <class T>
PREFER_INLINE void grad_row(T* dp, const T* x, const float* bias, float scale, float* s, int64_t n, float m, float l, float delta) {
  scaled_scores(x, bias, scale, s, n);
  for (int64_t j = 0; j < n; ++j) store(dp + j, (exp_approx(s[j] - m) / l) * (load(dp[j]) - delta) * scale);
}
PREFER_CLONES void grad_f32(float* dp, const float* x, const float* bias, float scale, float* s, int64_t n, float m, float l, float d) {
  grad_row(dp, x, bias, scale, s, n, m, l, d);
}
PREFER_CLONES void grad_bf16(bf16_t* dp, const bf16_t* x, const float* bias, float scale, float* s, int64_t n, float m, float l,
                             float d) {
  grad_row(dp, x, bias, scale, s, n, m, l, d);
}

void require(bool ok, const char* what) {
  if (!ok) throw Error(std::string("attention kernel: ") + what);
}

// Calls f(row, bias row) for rows [0, R) over the threads, with a float scratch row of nk per task.
template <class F>
void for_tile_rows(const TileRows& r, const at::Tensor& bias, int64_t nk, F f) {
  const int64_t R = r.nb * r.hkv * r.g * r.n;
  const float* base = bias.data_ptr<float>();
  const int64_t s0 = bias.stride(0), s2 = bias.stride(2);
  at::parallel_for(0, R, std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(nk, 1)), [&](int64_t b, int64_t e) {
    std::vector<float> scratch(static_cast<size_t>(nk));
    for (int64_t row = b; row < e; ++row) {
      const int64_t i = row / (r.hkv * r.g * r.n), t = row % r.n;
      f(row, base + i * s0 + t * s2, scratch.data());
    }
  });
}

void check(const at::Tensor& scores, const at::Tensor& bias, const TileRows& r) {
  require(attention_eligible(scores, bias), "needs contiguous float32 or bf16 scores [R, nk] and a float32 bias [nb, 1, n, nk]");
  require(scores.size(0) == r.nb * r.hkv * r.g * r.n && bias.size(0) == r.nb && bias.size(2) == r.n && bias.size(3) == scores.size(1),
          "tile shapes disagree");
}

}  // namespace

bool attention_eligible(const at::Tensor& scores, const at::Tensor& bias) {
  return scores.defined() && bias.defined() && scores.device().type() == at::kCPU && scores.dim() == 2 && scores.is_contiguous() &&
         (scores.scalar_type() == at::kFloat || scores.scalar_type() == at::kBFloat16) && bias.device().type() == at::kCPU &&
         bias.scalar_type() == at::kFloat && bias.dim() == 4 && bias.size(1) == 1 && (bias.size(3) <= 1 || bias.stride(3) == 1);
}

void attention_probs(const at::Tensor& scores, const at::Tensor& bias, double scale_in, const TileRows& r, at::Tensor& max,
                     at::Tensor& sum, bool compute_stats, at::Tensor& out) {
  check(scores, bias, r);
  const int64_t R = scores.size(0), nk = scores.size(1);
  if (compute_stats) {
    max = at::empty({R}, scores.options().dtype(at::kFloat));
    sum = at::empty({R}, scores.options().dtype(at::kFloat));
  }
  require(max.scalar_type() == at::kFloat && max.is_contiguous() && max.numel() == R && sum.scalar_type() == at::kFloat &&
              sum.is_contiguous() && sum.numel() == R,
          "needs row max and sum [R] float32");
  if (!out.defined()) out = at::empty_like(scores);
  require(out.sizes() == scores.sizes() && out.scalar_type() == scores.scalar_type() && out.is_contiguous(), "out must be like scores");
  const float scale = static_cast<float>(scale_in);
  float *pm = max.data_ptr<float>(), *pl = sum.data_ptr<float>();
  if (scores.scalar_type() == at::kFloat) {
    const float* x = scores.data_ptr<float>();
    float* o = out.data_ptr<float>();
    for_tile_rows(r, bias, nk, [&](int64_t row, const float* b, float* s) {
      probs_f32(x + row * nk, b, scale, s, nk, compute_stats, pm + row, pl + row, o + row * nk);
    });
  } else {
    const bf16_t* x = reinterpret_cast<const bf16_t*>(scores.data_ptr<at::BFloat16>());
    bf16_t* o = reinterpret_cast<bf16_t*>(out.data_ptr<at::BFloat16>());
    for_tile_rows(r, bias, nk, [&](int64_t row, const float* b, float* s) {
      probs_bf16(x + row * nk, b, scale, s, nk, compute_stats, pm + row, pl + row, o + row * nk);
    });
  }
}

void attention_score_grad_(at::Tensor& dp, const at::Tensor& scores, const at::Tensor& bias, double scale_in, const TileRows& r,
                           const at::Tensor& max, const at::Tensor& sum, const at::Tensor& delta) {
  check(scores, bias, r);
  const int64_t R = scores.size(0), nk = scores.size(1);
  require(dp.sizes() == scores.sizes() && dp.scalar_type() == scores.scalar_type() && dp.is_contiguous(), "dp must be like scores");
  for (const at::Tensor* t : {&max, &sum, &delta})
    require(t->scalar_type() == at::kFloat && t->is_contiguous() && t->numel() == R, "needs max, sum and delta [R] float32");
  const float scale = static_cast<float>(scale_in);
  const float *pm = max.data_ptr<float>(), *pl = sum.data_ptr<float>(), *pd = delta.data_ptr<float>();
  if (scores.scalar_type() == at::kFloat) {
    const float* x = scores.data_ptr<float>();
    float* d = dp.data_ptr<float>();
    for_tile_rows(r, bias, nk, [&](int64_t row, const float* b, float* s) {
      grad_f32(d + row * nk, x + row * nk, b, scale, s, nk, pm[row], pl[row], pd[row]);
    });
  } else {
    const bf16_t* x = reinterpret_cast<const bf16_t*>(scores.data_ptr<at::BFloat16>());
    bf16_t* d = reinterpret_cast<bf16_t*>(dp.data_ptr<at::BFloat16>());
    for_tile_rows(r, bias, nk, [&](int64_t row, const float* b, float* s) {
      grad_bf16(d + row * nk, x + row * nk, b, scale, s, nk, pm[row], pl[row], pd[row]);
    });
  }
}

}  // namespace prefer::model::fused
