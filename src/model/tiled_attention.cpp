#include "model/tiled_attention.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <vector>

#include "model/attention_kernels.h"

namespace prefer::model {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct Shape {
  int64_t B, Hkv, G, Tq, Tk, D;
};

Shape shape_of(const at::Tensor& q, const at::Tensor& k) {
  return {q.size(0), k.size(1), q.size(1) / k.size(1), q.size(2), k.size(2), q.size(3)};
}

// One unit of work: rows [b0, b0 + nb), queries [t0, t0 + n), key slots [k0, k1) less the slots
// [g0, g1) that none of its queries sees (g0 == g1: none left out).
struct Tile {
  int64_t b0, nb, t0, n, k0, k1, g0 = 0, g1 = 0;
  bool gap() const { return g1 > g0; }
  int64_t nk() const { return k1 - k0 - (g1 - g0); }  // key slots read
};

// A hidden span shorter than this is read anyway: joining the two key blocks costs a copy of each.
constexpr int64_t kMinGap = 8;

// The tiles of a product: every row together, keys up to the causal bound; or, with key_spans [B, Tq, 3]
// (tiled_attention.h), one row at a time from its queries' smallest first slot, less the hidden span
// that all of them share, so a packed row's tile skips the examples before its own and a tile of
// rejected-completion queries the chosen completion.
std::vector<Tile> tiles(const Shape& s, int64_t tile, int64_t causal_offset, const at::Tensor& key_spans) {
  std::vector<Tile> out;
  for (int64_t t0 = 0; t0 < s.Tq; t0 += tile) {
    const int64_t n = std::min(tile, s.Tq - t0);
    const int64_t k1 = causal_offset < 0 ? s.Tk : std::min(s.Tk, t0 + n + causal_offset);
    if (!key_spans.defined() || key_spans.numel() == 0) {
      out.push_back({0, s.B, t0, n, 0, k1});
      continue;
    }
    auto ks = key_spans.accessor<int64_t, 3>();
    for (int64_t b = 0; b < s.B; ++b) {
      int64_t k0 = k1, g0 = 0, g1 = k1;  // the gaps' intersection [g0, g1)
      for (int64_t i = t0; i < t0 + n; ++i) {
        k0 = std::min(k0, ks[b][i][0]);
        g0 = std::max(g0, ks[b][i][1]);
        g1 = std::min(g1, ks[b][i][2]);
      }
      Tile t{b, 1, t0, n, std::min(k0, k1 - 1), k1};
      if (g1 - g0 >= kMinGap && g0 > t.k0 && g1 < k1) t.g0 = g0, t.g1 = g1;
      out.push_back(t);
    }
  }
  return out;
}

// x's key slots read by the tile along `dim`: [k0, k1), or [k0, g0) and [g1, k1) joined (a copy).
at::Tensor tile_keys(const at::Tensor& x, int64_t dim, const Tile& t) {
  if (!t.gap()) return x.narrow(dim, t.k0, t.k1 - t.k0);
  return at::cat({x.narrow(dim, t.k0, t.g0 - t.k0), x.narrow(dim, t.g1, t.k1 - t.g1)}, dim);
}

// The tile's bias [nb, 1, n, nk].
at::Tensor tile_bias(const at::Tensor& bias, const Tile& t) { return tile_keys(bias.narrow(0, t.b0, t.nb).narrow(2, t.t0, t.n), 3, t); }

// One tile's scores in the softmax dtype, bias added: [nb, Hkv, G, n, nk], from the raw product
// q k^T [nb, Hkv, G*n, nk] (overwritten). The same ops in forward and backward, so the recomputed
// probabilities are the forward's bit for bit. (The ATen path: float64, or a bias the row kernels of
// attention_kernels.h do not take.)
at::Tensor tile_scores(at::Tensor raw, const at::Tensor& bias, const Shape& s, const Tile& t, double scale) {
  const int64_t nk = t.nk();
  at::Tensor out = raw.mul_(scale).to(bias.scalar_type()).view({t.nb, s.Hkv, s.G, t.n, nk});
  return out.add_(tile_bias(bias, t).unsqueeze(2));  // [nb, 1, 1, n, nk]
}

// The raw product q k^T of a tile: [nb, Hkv, G*n, nk] in the compute dtype, contiguous.
at::Tensor tile_product(const at::Tensor& qt, const at::Tensor& kt) { return at::matmul(qt, kt.transpose(-1, -2)); }

// Softmax statistics of a tile, kept for backward: the row maximum and the sum of exp(s - max), each
// [B, Hkv, G, n]. Kept apart rather than as one log-sum-exp: a padding query that sees no key has every
// score at the dtype's lowest value, where max + log(sum) rounds back to the lowest value and
// exp(s - lse) would give 1 for every key instead of 1 / Tk.
at::Tensor probabilities(at::Tensor scores, const at::Tensor& max, const at::Tensor& sum) {
  return scores.sub_(max.unsqueeze(-1)).exp_().div_(sum.unsqueeze(-1));
}

// The query rows of a tile [nb, Hkv, G*n, D] and the tile's keys or values [nb, Hkv, nk, D].
at::Tensor tile_q(const at::Tensor& q5, const Shape& s, const Tile& t) {
  return q5.narrow(0, t.b0, t.nb).narrow(3, t.t0, t.n).reshape({t.nb, s.Hkv, s.G * t.n, s.D});
}
at::Tensor tile_kv(const at::Tensor& kv, const Tile& t) { return tile_keys(kv.narrow(0, t.b0, t.nb), 2, t); }

// dkv [B, Hkv, Tk, D] += a tile's gradient d [nb, Hkv, nk, D] at the key slots it read.
void add_to_tile_kv(at::Tensor& dkv, const Tile& t, const at::Tensor& d) {
  at::Tensor rows = dkv.narrow(0, t.b0, t.nb);
  if (!t.gap()) {
    rows.narrow(2, t.k0, t.k1 - t.k0).add_(d);
    return;
  }
  const int64_t before = t.g0 - t.k0;
  rows.narrow(2, t.k0, before).add_(d.narrow(2, 0, before));
  rows.narrow(2, t.g1, t.k1 - t.g1).add_(d.narrow(2, before, t.k1 - t.g1));
}

// q5 [B, Hkv, G, Tq, D] (contiguous). Fills out5 [B, Hkv, G, Tq, D] and, when defined, the statistics
// row_max and row_sum [B, Hkv, G, Tq].
void forward_tiles(const at::Tensor& q5, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias, const Shape& s,
                   double scale, const std::vector<Tile>& work, at::Tensor& out5, at::Tensor& row_max, at::Tensor& row_sum) {
  for (const Tile& t : work) {
    const int64_t nk = t.nk();
    at::Tensor raw = tile_product(tile_q(q5, s, t), tile_kv(k, t));  // [nb, Hkv, G*n, nk]
    at::Tensor flat = raw.view({-1, nk}), bt = tile_bias(bias, t);
    at::Tensor m, l, p;
    if (fused::attention_eligible(flat, bt)) {
      // One pass a row (attention_kernels.h): p over the scores, in the compute dtype.
      fused::attention_probs(flat, bt, scale, {t.nb, s.Hkv, s.G, t.n}, m, l, /*compute_stats=*/true, flat);
      m = m.view({t.nb, s.Hkv, s.G, t.n});
      l = l.view({t.nb, s.Hkv, s.G, t.n});
      p = raw;
    } else {
      at::Tensor sc = tile_scores(raw, bias, s, t, scale);  // [nb, Hkv, G, n, nk]
      m = std::get<0>(sc.max(-1));
      at::Tensor e = sc.sub_(m.unsqueeze(-1)).exp_();
      l = e.sum(-1);
      p = e.div_(l.unsqueeze(-1)).to(q5.scalar_type());
    }
    at::Tensor o = at::matmul(p.view({t.nb, s.Hkv, s.G * t.n, nk}), tile_kv(v, t));  // [nb, Hkv, G*n, D]
    out5.narrow(0, t.b0, t.nb).narrow(3, t.t0, t.n).copy_(o.view({t.nb, s.Hkv, s.G, t.n, s.D}));
    if (row_max.defined()) {
      row_max.narrow(0, t.b0, t.nb).narrow(3, t.t0, t.n).copy_(m);
      row_sum.narrow(0, t.b0, t.nb).narrow(3, t.t0, t.n).copy_(l);
    }
  }
}

at::Tensor to_output(const at::Tensor& out5, const Shape& s) {
  return out5.permute({0, 3, 1, 2, 4}).reshape({s.B, s.Tq, s.Hkv * s.G * s.D});  // [B, Tq, Hq*D]
}

// The whole forward: q regrouped to [B, Hkv, G, Tq, D], the output in that layout and, when asked for
// (a graph is kept), the softmax statistics.
struct Forward {
  at::Tensor q5, out5, row_max, row_sum;
};

Forward run_forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias, double scale,
                    const std::vector<Tile>& work, bool keep_stats) {
  const Shape s = shape_of(q, k);
  Forward f;
  f.q5 = q.reshape({s.B, s.Hkv, s.G, s.Tq, s.D}).contiguous();
  f.out5 = at::empty({s.B, s.Hkv, s.G, s.Tq, s.D}, q.options());
  if (keep_stats) {
    f.row_max = at::empty({s.B, s.Hkv, s.G, s.Tq}, q.options().dtype(bias.scalar_type()));
    f.row_sum = at::empty_like(f.row_max);
  }
  forward_tiles(f.q5, k, v, bias, s, scale, work, f.out5, f.row_max, f.row_sum);
  return f;
}

struct TiledAttention : public torch::autograd::Function<TiledAttention> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& bias, double scale, int64_t causal_offset, int64_t tile, const at::Tensor& key_spans) {
    Forward f = run_forward(q, k, v, bias, scale, tiles(shape_of(q, k), tile, causal_offset, key_spans), /*keep_stats=*/true);
    ctx->save_for_backward({f.q5, k, v, bias, f.out5, f.row_max, f.row_sum});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["causal_offset"] = causal_offset;
    ctx->saved_data["tile"] = tile;
    ctx->saved_data["key_spans"] = key_spans;
    return to_output(f.out5, shape_of(q, k));
  }

  // With P = softmax(S) and S = scale * q k^T + bias, per tile:
  //   dV += P^T dO;  dP = dO V^T;  dS = P * (dP - rowsum(dO * O));  dQ = scale dS K;  dK += scale dS^T Q.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &q5 = saved[0], &k = saved[1], &v = saved[2], &bias = saved[3], &out5 = saved[4];
    const at::Tensor &row_max = saved[5], &row_sum = saved[6];
    const double scale = ctx->saved_data["scale"].toDouble();
    const int64_t causal_offset = ctx->saved_data["causal_offset"].toInt();
    const int64_t tile = ctx->saved_data["tile"].toInt();
    const at::Tensor key_spans = ctx->saved_data["key_spans"].toTensor();
    const Shape s{q5.size(0), q5.size(1), q5.size(2), q5.size(3), k.size(2), q5.size(4)};
    const at::ScalarType acc = bias.scalar_type(), cdt = q5.scalar_type();
    // grads[0] [B, Tq, Hq*D] -> [B, Hkv, G, Tq, D]
    at::Tensor dO5 = grads[0].reshape({s.B, s.Tq, s.Hkv, s.G, s.D}).permute({0, 2, 3, 1, 4}).contiguous();
    at::Tensor delta = (dO5.to(acc) * out5.to(acc)).sum(-1);  // [B, Hkv, G, Tq]
    at::Tensor dq5 = at::empty_like(q5);
    at::Tensor dk = at::zeros(k.sizes(), k.options().dtype(acc));
    at::Tensor dv = at::zeros(v.sizes(), v.options().dtype(acc));
    for (const Tile& t : tiles(s, tile, causal_offset, key_spans)) {
      const int64_t nk = t.nk();
      auto rows = [&](const at::Tensor& x) { return x.narrow(0, t.b0, t.nb).narrow(3, t.t0, t.n); };  // [nb, Hkv, G, n, ...]
      at::Tensor qt = tile_q(q5, s, t), kt = tile_kv(k, t), vt = tile_kv(v, t);
      at::Tensor raw = tile_product(qt, kt), flat = raw.view({-1, nk}), bt = tile_bias(bias, t);
      at::Tensor dOt = rows(dO5).reshape({t.nb, s.Hkv, s.G * t.n, s.D});
      at::Tensor dsv;  // dS [nb, Hkv, G*n, nk] in the compute dtype
      if (fused::attention_eligible(flat, bt)) {
        at::Tensor m = rows(row_max).contiguous().view(-1), l = rows(row_sum).contiguous().view(-1);
        at::Tensor p;  // [R, nk] compute dtype, the forward's p bit for bit
        fused::attention_probs(flat, bt, scale, {t.nb, s.Hkv, s.G, t.n}, m, l, /*compute_stats=*/false, p);
        add_to_tile_kv(dv, t, at::matmul(p.view({t.nb, s.Hkv, s.G * t.n, nk}).transpose(-1, -2), dOt));
        at::Tensor dp = at::matmul(dOt, vt.transpose(-1, -2));  // [nb, Hkv, G*n, nk], overwritten by dS
        at::Tensor dpf = dp.view({-1, nk});
        fused::attention_score_grad_(dpf, flat, bt, scale, {t.nb, s.Hkv, s.G, t.n}, m, l, rows(delta).contiguous().view(-1));
        dsv = dp;
      } else {
        at::Tensor p = probabilities(tile_scores(raw, bias, s, t, scale), rows(row_max), rows(row_sum));
        add_to_tile_kv(dv, t, at::matmul(p.to(cdt).view({t.nb, s.Hkv, s.G * t.n, nk}).transpose(-1, -2), dOt));
        at::Tensor dp = at::matmul(dOt, vt.transpose(-1, -2)).to(acc).view({t.nb, s.Hkv, s.G, t.n, nk});
        dsv = p.mul_(dp.sub_(rows(delta).unsqueeze(-1))).mul_(scale).to(cdt).view({t.nb, s.Hkv, s.G * t.n, nk});
      }
      rows(dq5).copy_(at::matmul(dsv, kt).view({t.nb, s.Hkv, s.G, t.n, s.D}));
      add_to_tile_kv(dk, t, at::matmul(dsv.transpose(-1, -2), qt));
    }
    return {dq5.view({s.B, s.Hkv * s.G, s.Tq, s.D}), dk.to(k.scalar_type()), dv.to(v.scalar_type()), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor tiled_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                           double scale, int64_t causal_offset, int64_t tile, const at::Tensor& key_spans) {
  tile = std::max<int64_t>(tile, 1);
  const bool grad = at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  // An autograd input must be a defined tensor: "no key_spans" travels as an empty one.
  if (grad) return TiledAttention::apply(q, k, v, bias, scale, causal_offset, tile, key_spans.defined() ? key_spans : at::empty({0}, at::kLong));
  // No graph to keep: the same tiles, nothing saved.
  return to_output(run_forward(q, k, v, bias, scale, tiles(shape_of(q, k), tile, causal_offset, key_spans), /*keep_stats=*/false).out5,
                   shape_of(q, k));
}

}  // namespace prefer::model
