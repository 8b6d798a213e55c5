#include "model/fused_kernels.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "model/fused_math.h"
#include "model/intra_op.h"
#include "util/error.h"

namespace prefer::model::fused {

namespace {

using namespace detail;

// ------------------------------------------------------------------------------------------- loops
PREFER_CLONES void silu_mul_loop(const bf16_t* g, const bf16_t* u, bf16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = load(g[i]);
    out[i] = to_bf(round_as(x * sigmoid(x), out) * load(u[i]));
  }
}

PREFER_CLONES void silu_mul_backward_loop(const bf16_t* dy, const bf16_t* g, const bf16_t* u, bf16_t* dg, bf16_t* du, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = load(g[i]), d = load(dy[i]), s = sigmoid(x);
    du[i] = to_bf(d * round_as(x * s, du));
    dg[i] = to_bf(round_as(d * load(u[i]), dg) * s * (1.0f + x * (1.0f - s)));
  }
}

template <class In>
PREFER_INLINE void rms_rows(const In* x, const float* w, bf16_t* y, float* r, int64_t rows, int64_t H, float eps, bool plus_one) {
  for (int64_t row = 0; row < rows; ++row) {
    const In* xr = x + row * H;
    bf16_t* yr = y + row * H;
    const float rr = 1.0f / std::sqrt(dot(xr, xr, H) / static_cast<float>(H) + eps);
    r[row] = rr;
    if (plus_one) {
      for (int64_t i = 0; i < H; ++i) yr[i] = to_bf(load(xr[i]) * rr * (w[i] + 1.0f));
    } else {
      for (int64_t i = 0; i < H; ++i) yr[i] = to_bf(w[i] * round_as(load(xr[i]) * rr, static_cast<In*>(nullptr)));
    }
  }
}
PREFER_CLONES void rms_rows_f32(const float* x, const float* w, bf16_t* y, float* r, int64_t rows, int64_t H, float eps, bool p1) {
  rms_rows(x, w, y, r, rows, H, eps, p1);
}
PREFER_CLONES void rms_rows_bf16(const bf16_t* x, const float* w, bf16_t* y, float* r, int64_t rows, int64_t H, float eps, bool p1) {
  rms_rows(x, w, y, r, rows, H, eps, p1);
}

// g = dy w'; dx = r (g - h mean(g h)); dw += dy hv (hv = h, rounded to x's dtype unless plus_one).
template <class In>
PREFER_INLINE void rms_backward_rows(const bf16_t* dy, const In* x, const float* w, const float* r, In* dx, float* dw,
                                     int64_t rows, int64_t H, bool plus_one) {
  for (int64_t row = 0; row < rows; ++row) {
    const bf16_t* dyr = dy + row * H;
    const In* xr = x + row * H;
    const float rr = r[row];
    if (dx) {
      float acc[16] = {};
      int64_t i = 0;
      for (; i + 16 <= H; i += 16)
        for (int k = 0; k < 16; ++k) acc[k] += load(dyr[i + k]) * (w[i + k] + (plus_one ? 1.0f : 0.0f)) * load(xr[i + k]) * rr;
      float s = 0;
      for (; i < H; ++i) s += load(dyr[i]) * (w[i] + (plus_one ? 1.0f : 0.0f)) * load(xr[i]) * rr;
      for (int k = 0; k < 16; ++k) s += acc[k];
      const float mean = s / static_cast<float>(H);
      In* dxr = dx + row * H;
      for (int64_t j = 0; j < H; ++j) {
        const float h = load(xr[j]) * rr, g = load(dyr[j]) * (w[j] + (plus_one ? 1.0f : 0.0f));
        store(dxr + j, rr * (g - h * mean));
      }
    }
    if (dw) {
      if (plus_one) {
        for (int64_t j = 0; j < H; ++j) dw[j] += load(dyr[j]) * load(xr[j]) * rr;
      } else {
        for (int64_t j = 0; j < H; ++j) dw[j] += load(dyr[j]) * round_as(load(xr[j]) * rr, static_cast<In*>(nullptr));
      }
    }
  }
}
PREFER_CLONES void rms_backward_f32(const bf16_t* dy, const float* x, const float* w, const float* r, float* dx, float* dw,
                                    int64_t rows, int64_t H, bool p1) {
  rms_backward_rows(dy, x, w, r, dx, dw, rows, H, p1);
}
PREFER_CLONES void rms_backward_bf16(const bf16_t* dy, const bf16_t* x, const float* w, const float* r, bf16_t* dx, float* dw,
                                     int64_t rows, int64_t H, bool p1) {
  rms_backward_rows(dy, x, w, r, dx, dw, rows, H, p1);
}

// rows of [heads, D] sharing one table row [D].
PREFER_CLONES void rope_rows(const bf16_t* x, const float* cos, const float* sin, bf16_t* out, int64_t rows, int64_t heads,
                             int64_t D, bool inverse, bool round_products) {
  const int64_t half = D / 2;
  for (int64_t row = 0; row < rows; ++row) {
    const float* c = cos + row * D;
    const float* s = sin + row * D;
    for (int64_t h = 0; h < heads; ++h) {
      const bf16_t* xr = x + (row * heads + h) * D;
      bf16_t* o = out + (row * heads + h) * D;
      if (!inverse && round_products) {
        for (int64_t d = 0; d < half; ++d) {
          const float x1 = load(xr[d]), x2 = load(xr[d + half]);
          o[d] = to_bf(round_as(x1 * c[d], o) - round_as(x2 * s[d], o));
          o[d + half] = to_bf(round_as(x2 * c[d + half], o) + round_as(x1 * s[d + half], o));
        }
      } else if (!inverse) {
        for (int64_t d = 0; d < half; ++d) {
          const float x1 = load(xr[d]), x2 = load(xr[d + half]);
          o[d] = to_bf(x1 * c[d] - x2 * s[d]);
          o[d + half] = to_bf(x2 * c[d + half] + x1 * s[d + half]);
        }
      } else {
        for (int64_t d = 0; d < half; ++d) {
          const float y1 = load(xr[d]), y2 = load(xr[d + half]);
          o[d] = to_bf(y1 * c[d] + y2 * s[d + half]);
          o[d + half] = to_bf(y2 * c[d + half] - y1 * s[d]);
        }
      }
    }
  }
}

PREFER_CLONES void add_loop(const float* x, const bf16_t* y, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] + load(y[i]);
}
PREFER_CLONES void to_float_loop(const bf16_t* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = load(x[i]);
}
PREFER_CLONES void to_bf16_loop(const float* x, bf16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = to_bf(x[i]);
}

// ------------------------------------------------------------------------------------------ helpers
constexpr int64_t kGrain = 1 << 14;  // elements per task: big enough to amortise a thread's start

bf16_t* bf(const at::Tensor& t) { return reinterpret_cast<bf16_t*>(t.data_ptr<at::BFloat16>()); }
const bf16_t* cbf(const at::Tensor& t) { return reinterpret_cast<const bf16_t*>(t.data_ptr<at::BFloat16>()); }

void require(bool ok, const char* what) {
  if (!ok) throw Error(std::string("fused kernel: ") + what);
}

// Rows of length H, split into tasks of about kGrain elements.
template <class F>
void for_rows(int64_t rows, int64_t H, F f) {
  at::parallel_for(0, rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(H, 1)), f);
}

}  // namespace

bool eligible(std::initializer_list<at::Tensor> ts) {
  for (const at::Tensor& t : ts)
    if (t.defined() && (t.device().type() != at::kCPU || t.scalar_type() != at::kBFloat16 || !t.is_contiguous())) return false;
  return true;
}

at::Tensor silu_mul(const at::Tensor& g, const at::Tensor& u) {
  require(eligible({g, u}) && g.sizes() == u.sizes(), "silu_mul needs contiguous bf16 g and u of one shape");
  at::Tensor out = at::empty_like(g);
  const bf16_t *pg = cbf(g), *pu = cbf(u);
  bf16_t* po = bf(out);
  at::parallel_for(0, g.numel(), kGrain, [&](int64_t b, int64_t e) { silu_mul_loop(pg + b, pu + b, po + b, e - b); });
  return out;
}

std::pair<at::Tensor, at::Tensor> silu_mul_backward(const at::Tensor& dy_in, const at::Tensor& g, const at::Tensor& u) {
  at::Tensor dy = dy_in.to(at::kBFloat16).contiguous();
  require(eligible({g, u}) && g.sizes() == u.sizes() && dy.sizes() == g.sizes(), "silu_mul_backward shapes");
  at::Tensor dg = at::empty_like(g), du = at::empty_like(u);
  const bf16_t *pd = cbf(dy), *pg = cbf(g), *pu = cbf(u);
  bf16_t *pdg = bf(dg), *pdu = bf(du);
  at::parallel_for(0, g.numel(), kGrain,
                   [&](int64_t b, int64_t e) { silu_mul_backward_loop(pd + b, pg + b, pu + b, pdg + b, pdu + b, e - b); });
  return {dg, du};
}

std::pair<at::Tensor, at::Tensor> rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one) {
  require(x.is_contiguous() && x.device().type() == at::kCPU && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16),
          "rms_norm needs a contiguous float32 or bf16 x");
  const int64_t H = x.size(-1), rows = x.numel() / std::max<int64_t>(H, 1);
  at::Tensor w = weight.to(at::kFloat).contiguous();
  at::Tensor y = at::empty(x.sizes(), x.options().dtype(at::kBFloat16));
  std::vector<int64_t> rshape(x.sizes().begin(), x.sizes().end() - 1);
  at::Tensor r = at::empty(rshape, x.options().dtype(at::kFloat));
  const float* pw = w.data_ptr<float>();
  bf16_t* py = bf(y);
  float* pr = r.data_ptr<float>();
  const float e = static_cast<float>(eps);
  for_rows(rows, H, [&](int64_t b, int64_t end) {
    if (x.scalar_type() == at::kFloat) rms_rows_f32(x.data_ptr<float>() + b * H, pw, py + b * H, pr + b, end - b, H, e, plus_one);
    else rms_rows_bf16(cbf(x) + b * H, pw, py + b * H, pr + b, end - b, H, e, plus_one);
  });
  return {y, r};
}

std::pair<at::Tensor, at::Tensor> rms_norm_backward(const at::Tensor& dy_in, const at::Tensor& x, const at::Tensor& weight,
                                                    const at::Tensor& r, bool plus_one, bool need_dx, bool need_dw) {
  at::Tensor dy = dy_in.to(at::kBFloat16).contiguous();
  const int64_t H = x.size(-1), rows = x.numel() / std::max<int64_t>(H, 1);
  require(dy.sizes() == x.sizes() && r.numel() == rows && r.scalar_type() == at::kFloat, "rms_norm_backward shapes");
  at::Tensor w = weight.to(at::kFloat).contiguous();
  at::Tensor dx = need_dx ? at::empty_like(x) : at::Tensor();
  // dw: one partial sum per task, added up at the end (no shared writes).
  const int64_t tasks = std::max<int64_t>(1, std::min<int64_t>(rows, at::get_num_threads()));
  at::Tensor partial = need_dw ? at::zeros({tasks, H}, x.options().dtype(at::kFloat)) : at::Tensor();
  const int64_t per = (rows + tasks - 1) / tasks;
  at::parallel_for(0, tasks, 1, [&](int64_t tb, int64_t te) {
    for (int64_t t = tb; t < te; ++t) {
      const int64_t b = t * per, n = std::min(rows, b + per) - b;
      if (n <= 0) continue;
      float* pdw = need_dw ? partial.data_ptr<float>() + t * H : nullptr;
      const float* pr = r.data_ptr<float>() + b;
      if (x.scalar_type() == at::kFloat)
        rms_backward_f32(cbf(dy) + b * H, x.data_ptr<float>() + b * H, w.data_ptr<float>(), pr,
                         need_dx ? dx.data_ptr<float>() + b * H : nullptr, pdw, n, H, plus_one);
      else
        rms_backward_bf16(cbf(dy) + b * H, cbf(x) + b * H, w.data_ptr<float>(), pr, need_dx ? bf(dx) + b * H : nullptr, pdw, n, H,
                          plus_one);
    }
  });
  return {dx, need_dw ? partial.sum(0) : at::Tensor()};
}

at::Tensor rope(const at::Tensor& x, const at::Tensor& cos_in, const at::Tensor& sin_in, bool inverse) {
  require(eligible({x}) && x.dim() == 4, "rope needs a contiguous bf16 x [B, T, heads, D]");
  const int64_t B = x.size(0), T = x.size(1), heads = x.size(2), D = x.size(3);
  // bf16 tables (pure bf16): each product rounded as the bf16 ops x cos + rotate_half(x) sin round it.
  const bool round_products = cos_in.scalar_type() == at::kBFloat16;
  at::Tensor c = cos_in.to(at::kFloat).expand({B, T, D}).contiguous();
  at::Tensor s = sin_in.to(at::kFloat).expand({B, T, D}).contiguous();
  at::Tensor out = at::empty_like(x);
  const bf16_t* px = cbf(x);
  bf16_t* po = bf(out);
  const float *pc = c.data_ptr<float>(), *ps = s.data_ptr<float>();
  for_rows(B * T, heads * D, [&](int64_t b, int64_t e) {
    rope_rows(px + b * heads * D, pc + b * D, ps + b * D, po + b * heads * D, e - b, heads, D, inverse, round_products);
  });
  return out;
}

at::Tensor add_float_bf16(const at::Tensor& x, const at::Tensor& y) {
  require(x.scalar_type() == at::kFloat && x.is_contiguous() && eligible({y}) && x.sizes() == y.sizes(), "add_float_bf16 shapes");
  at::Tensor out = at::empty_like(x);
  const float* px = x.data_ptr<float>();
  const bf16_t* py = cbf(y);
  float* po = out.data_ptr<float>();
  at::parallel_for(0, x.numel(), kGrain, [&](int64_t b, int64_t e) { add_loop(px + b, py + b, po + b, e - b); });
  return out;
}

at::Tensor to_float(const at::Tensor& t) {
  require(eligible({t}), "to_float needs a contiguous bf16 tensor");
  at::Tensor out = at::empty(t.sizes(), t.options().dtype(at::kFloat));
  const bf16_t* p = cbf(t);
  float* o = out.data_ptr<float>();
  at::parallel_for(0, t.numel(), kGrain, [&](int64_t b, int64_t e) { to_float_loop(p + b, o + b, e - b); });
  return out;
}

at::Tensor to_bf16(const at::Tensor& t) {
  require(t.scalar_type() == at::kFloat && t.is_contiguous() && t.device().type() == at::kCPU, "to_bf16 needs a contiguous float32 tensor");
  at::Tensor out = at::empty(t.sizes(), t.options().dtype(at::kBFloat16));
  const float* p = t.data_ptr<float>();
  bf16_t* o = bf(out);
  at::parallel_for(0, t.numel(), kGrain, [&](int64_t b, int64_t e) { to_bf16_loop(p + b, o + b, e - b); });
  return out;
}

at::Tensor convert(const at::Tensor& t, at::ScalarType dtype) {
  if (t.scalar_type() == dtype || t.device().type() != at::kCPU || !t.is_contiguous()) return t.to(dtype);
  if (t.scalar_type() == at::kBFloat16 && dtype == at::kFloat) return to_float(t);
  if (t.scalar_type() == at::kFloat && dtype == at::kBFloat16) return to_bf16(t);
  return t.to(dtype);
}

}  // namespace prefer::model::fused
