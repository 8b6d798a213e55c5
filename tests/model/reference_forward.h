// An independent, deliberately naive float64 forward pass written from
// tests/fixtures/models/README.md ("Forward pass being reproduced"): one unpadded sequence, explicit
// loops over heads, queries and keys, RoPE from the element formula, activations from their closed
// forms. Tests compare CausalLM against it for configurations the two fixtures do not cover.
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "io/hf_config.h"

namespace prefer::model::test {

using Weights = std::map<std::string, at::Tensor>;  // HF name -> tensor (any float dtype)

// inv_freq from the README formula in float64 (then rounded to float32, as HF keeps it), with rope
// scaling applied per element.
inline std::vector<double> reference_inv_freq(const io::ModelConfig& c) {
  const int64_t D = c.head_dim;
  std::vector<double> out;
  for (int64_t d = 0; d < D / 2; ++d) {
    double f = static_cast<float>(1.0 / std::pow(c.rope_theta, 2.0 * static_cast<double>(d) / static_cast<double>(D)));
    const auto& s = c.rope_scaling;
    if (s.type == "linear") {
      f = f / s.factor;
    } else if (s.type == "llama3") {
      const double wavelen = 2 * M_PI / f;
      const double lo = static_cast<double>(s.original_max_position_embeddings) / s.low_freq_factor;
      const double hi = static_cast<double>(s.original_max_position_embeddings) / s.high_freq_factor;
      if (wavelen < hi) {
      } else if (wavelen > lo) {
        f = f / s.factor;
      } else {
        const double sm = (static_cast<double>(s.original_max_position_embeddings) / wavelen - s.low_freq_factor) /
                          (s.high_freq_factor - s.low_freq_factor);
        f = (1 - sm) * f / s.factor + sm * f;
      }
    }
    out.push_back(f);
  }
  return out;
}

namespace detail {
inline at::Tensor W(const Weights& w, const std::string& name) { return w.at(name).to(at::kDouble); }
inline bool has(const Weights& w, const std::string& name) { return w.count(name) > 0; }
// x [n, N]
inline at::Tensor rmsnorm(const at::Tensor& x, const at::Tensor& w, double eps, bool plus_one) {
  at::Tensor y = x / (x.pow(2).mean(-1, true) + eps).sqrt();
  return y * (plus_one ? w + 1 : w);
}
// Rounds to `to` and back (autocast's casts around a GEMM); identity for float64.
inline at::Tensor rnd(const at::Tensor& t, at::ScalarType to) { return to == at::kDouble ? t : t.to(to).to(at::kDouble); }
inline at::Tensor lin(const Weights& w, const std::string& p, const at::Tensor& x, at::ScalarType gemm = at::kDouble) {
  at::Tensor y = at::matmul(rnd(x, gemm), rnd(W(w, p + ".weight"), gemm).t());
  if (has(w, p + ".bias")) y = y + rnd(W(w, p + ".bias"), gemm);
  return rnd(y, gemm);
}
inline at::Tensor act(const at::Tensor& x, io::Activation a) {
  switch (a) {
    case io::Activation::SiLU: return x / (1 + (-x).exp());
    case io::Activation::GeluTanh:
      return 0.5 * x * (1 + at::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x.pow(3))));
    case io::Activation::Gelu: return 0.5 * x * (1 + at::erf(x / std::sqrt(2.0)));
  }
  return x;
}
// Rotates one head vector v [D] at position p.
inline void rope_inplace(double* v, int64_t D, double p, const std::vector<double>& inv) {
  for (int64_t d = 0; d < D / 2; ++d) {
    const double a = p * inv[static_cast<size_t>(d)];
    const double x1 = v[d], x2 = v[d + D / 2];
    v[d] = x1 * std::cos(a) - x2 * std::sin(a);
    v[d + D / 2] = x2 * std::cos(a) + x1 * std::sin(a);
  }
}
}  // namespace detail

// Logits [n, V] (float64) of one unpadded sequence with positions 0..n-1. `gemm` = bf16/f16 models
// autocast: every GEMM's inputs and output are rounded to it (q and k after RoPE, v, the attention
// probabilities, the LM head), everything else stays float64.
inline at::Tensor reference_logits(const io::ModelConfig& c, const Weights& w, const std::vector<int64_t>& ids,
                                   at::ScalarType gemm = at::kDouble) {
  using namespace detail;
  const int64_t n = static_cast<int64_t>(ids.size()), D = c.head_dim, Hq = c.num_attention_heads,
                Hkv = c.num_key_value_heads, G = Hq / Hkv;
  const auto inv = reference_inv_freq(c);
  at::Tensor E = W(w, "model.embed_tokens.weight");
  at::Tensor x = E.index_select(0, at::tensor(ids, at::kLong)).clone();  // [n, H]
  if (c.scale_embeddings) x = x * std::sqrt(static_cast<double>(c.hidden_size));
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l);
    const int64_t window = c.layer_window[static_cast<size_t>(l)];
    at::Tensor h = rmsnorm(x, W(w, p + ".input_layernorm.weight"), c.rms_norm_eps, c.norm_plus_one);
    at::Tensor q = lin(w, p + ".self_attn.q_proj", h, gemm).view({n, Hq, D}).contiguous();
    at::Tensor k = lin(w, p + ".self_attn.k_proj", h, gemm).view({n, Hkv, D}).contiguous();
    at::Tensor v = lin(w, p + ".self_attn.v_proj", h, gemm).view({n, Hkv, D}).contiguous();
    if (c.qk_norm) {
      q = rmsnorm(q, W(w, p + ".self_attn.q_norm.weight"), c.rms_norm_eps, false).contiguous();
      k = rmsnorm(k, W(w, p + ".self_attn.k_norm.weight"), c.rms_norm_eps, false).contiguous();
    }
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t hh = 0; hh < Hq; ++hh) rope_inplace(q[t][hh].data_ptr<double>(), D, static_cast<double>(t), inv);
      for (int64_t hh = 0; hh < Hkv; ++hh) rope_inplace(k[t][hh].data_ptr<double>(), D, static_cast<double>(t), inv);
    }
    q = rnd(q, gemm);
    k = rnd(k, gemm);
    at::Tensor out = at::zeros({n, Hq, D}, at::kDouble);
    for (int64_t hh = 0; hh < Hq; ++hh) {
      const int64_t kv = hh / G;
      for (int64_t i = 0; i < n; ++i) {
        std::vector<double> s;
        std::vector<int64_t> js;
        for (int64_t j = 0; j <= i; ++j) {
          if (window > 0 && i - j >= window) continue;
          s.push_back((q[i][hh] * k[j][kv]).sum().item<double>() / std::sqrt(static_cast<double>(D)));
          js.push_back(j);
        }
        double mx = -1e300, z = 0;
        for (double e : s) mx = std::max(mx, e);
        for (double& e : s) z += (e = std::exp(e - mx));
        for (size_t a = 0; a < s.size(); ++a) out[i][hh] += v[js[a]][kv] * rnd(at::scalar_tensor(s[a] / z, at::kDouble), gemm);
      }
    }
    x = x + lin(w, p + ".self_attn.o_proj", rnd(out, gemm).view({n, Hq * D}), gemm);
    h = rmsnorm(x, W(w, p + ".post_attention_layernorm.weight"), c.rms_norm_eps, c.norm_plus_one);
    x = x + lin(w, p + ".mlp.down_proj", act(lin(w, p + ".mlp.gate_proj", h, gemm), c.activation) * lin(w, p + ".mlp.up_proj", h, gemm), gemm);
  }
  x = rmsnorm(x, W(w, "model.norm.weight"), c.rms_norm_eps, c.norm_plus_one);
  at::Tensor head = c.tie_word_embeddings ? E : W(w, "lm_head.weight");
  return rnd(at::matmul(rnd(x, gemm), rnd(head, gemm).t()), gemm);
}

}  // namespace prefer::model::test
