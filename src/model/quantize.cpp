#include "model/quantize.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>

#include "model/intra_op.h"
#include "util/error.h"

namespace prefer::model {

std::string quant_type_name(QuantType t) {
  switch (t) {
    case QuantType::NF4: return "nf4";
    case QuantType::FP4: return "fp4";
    case QuantType::Int8: return "int8";
  }
  return "?";
}

const std::array<float, 16>& nf4_code() {
  // QLoRA (Dettmers et al. 2023), appendix E; bitsandbytes' dDequantizeNF4.
  static const std::array<float, 16> t = {-1.0f,
                                          -0.6961928009986877f,
                                          -0.5250730514526367f,
                                          -0.39491748809814453f,
                                          -0.28444138169288635f,
                                          -0.18477343022823334f,
                                          -0.09105003625154495f,
                                          0.0f,
                                          0.07958029955625534f,
                                          0.16093020141124725f,
                                          0.24611230194568634f,
                                          0.33791524171829224f,
                                          0.44070982933044434f,
                                          0.5626170039176941f,
                                          0.7229568362236023f,
                                          1.0f};
  return t;
}

const std::array<float, 16>& fp4_code() {
  // bitsandbytes' dDequantizeFP4Tree: bit 3 is the sign, bits 0-2 index the magnitudes below (e2m1
  // with the largest value 12 scaled to 1).
  static const std::array<float, 16> t = [] {
    const float mag[8] = {0.0f, 0.005208333333f, 0.66666667f, 1.0f, 0.33333333f, 0.5f, 0.16666667f, 0.25f};
    std::array<float, 16> a{};
    for (int i = 0; i < 8; ++i) {
      a[static_cast<size_t>(i)] = mag[i];
      a[static_cast<size_t>(i + 8)] = -mag[i];
    }
    return a;
  }();
  return t;
}

std::vector<float> dynamic_code_map() {
  // 7 exponent decades 1e-6 .. 1; decade i holds the 2^i midpoints of linspace(0.1, 1, 2^i + 1) scaled
  // by 10^(i - 6), with both signs; then 0 and 1: 2 * 127 + 2 = 256 values.
  std::vector<float> v;
  for (int i = 0; i < 7; ++i) {
    const int items = (1 << i) + 1;
    for (int k = 0; k + 1 < items; ++k) {
      const float a = 0.1f + 0.9f * static_cast<float>(k) / static_cast<float>(items - 1);
      const float b = 0.1f + 0.9f * static_cast<float>(k + 1) / static_cast<float>(items - 1);
      const float m = static_cast<float>(std::pow(10.0, i - 6)) * ((a + b) / 2.0f);
      v.push_back(m);
      v.push_back(-m);
    }
  }
  v.push_back(0.0f);
  v.push_back(1.0f);
  std::sort(v.begin(), v.end());
  return v;
}

namespace {

// Nearest-value search over a table: sorted values, the midpoints between them and, per sorted
// position, the code that holds the value.
struct NearestCode {
  std::vector<float> mid;
  std::vector<uint8_t> code;

  explicit NearestCode(const std::vector<float>& table) {
    std::vector<std::pair<float, uint8_t>> s;
    for (size_t i = 0; i < table.size(); ++i) s.emplace_back(table[i], static_cast<uint8_t>(i));
    // -0.0 (FP4's code 8) sorts equal to 0.0; stable_sort keeps code 0 first, the one nearest picks.
    std::stable_sort(s.begin(), s.end(), [](auto& a, auto& b) { return a.first < b.first; });
    for (size_t i = 0; i < s.size(); ++i) {
      code.push_back(s[i].second);
      if (i + 1 < s.size()) mid.push_back((s[i].first + s[i + 1].first) / 2.0f);
    }
  }
  // A value exactly between two codes goes to the lower one.
  uint8_t operator()(float x) const {
    return code[static_cast<size_t>(std::lower_bound(mid.begin(), mid.end(), x) - mid.begin())];
  }
};

at::Tensor float_tensor(const std::vector<float>& v) {
  return at::from_blob(const_cast<float*>(v.data()), {static_cast<int64_t>(v.size())}, at::kFloat).clone();
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Blockwise absmax and nearest codes of `x` (float32 contiguous, n values): codes packed two a byte
// (4-bit tables) or one a byte (the 256-value dynamic map).
void quantize_blocks(const float* x, int64_t n, int64_t bs, const NearestCode& nearest, bool pack, uint8_t* codes,
                     float* absmax) {
  at::parallel_for(0, ceil_div(n, bs), 64, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t s = b * bs, e = std::min(n, s + bs);
      float a = 0;
      for (int64_t i = s; i < e; ++i) a = std::max(a, std::fabs(x[i]));
      absmax[b] = a;
      const float inv = a > 0 ? 1.0f / a : 0.0f;
      for (int64_t i = s; i < e; ++i) {
        const uint8_t c = nearest(x[i] * inv);
        if (!pack) {
          codes[i] = c;
        } else if ((i & 1) == 0) {
          codes[i >> 1] = static_cast<uint8_t>(c << 4);
        } else {
          codes[i >> 1] |= c;
        }
      }
    }
  });
}

template <typename T>
void dequantize4_cpu(const uint8_t* codes, const float* table, const float* absmax, int64_t n, int64_t bs, T* out) {
  at::parallel_for(0, ceil_div(n, bs), 16, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const float a = absmax[b];
      const int64_t s = b * bs, e = std::min(n, s + bs);
      for (int64_t i = s; i < e; ++i) {
        const uint8_t byte = codes[i >> 1];
        out[i] = static_cast<T>(table[(i & 1) ? (byte & 15) : (byte >> 4)] * a);
      }
    }
  });
}

template <typename T>
void dequantize8_cpu(const int8_t* q, const float* absmax, int64_t rows, int64_t cols, T* out) {
  at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float s = absmax[r] / 127.0f;
      for (int64_t j = 0; j < cols; ++j) out[r * cols + j] = static_cast<T>(static_cast<float>(q[r * cols + j]) * s);
    }
  });
}

}  // namespace

int64_t QuantizedWeight::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

uint64_t QuantizedWeight::bytes() const {
  uint64_t b = 0;
  for (const at::Tensor* t : {&codes, &code, &absmax, &nested_absmax, &nested_code})
    if (t->defined()) b += static_cast<uint64_t>(t->numel()) * t->element_size();
  return b;
}

at::Tensor QuantizedWeight::block_absmax() const {
  if (!double_quant()) return absmax;
  const int64_t blocks = absmax.numel();
  at::Tensor idx = absmax.to(at::kLong);
  at::Tensor scale = nested_absmax.repeat_interleave(nested_blocksize).slice(0, 0, blocks);
  return nested_code.index_select(0, idx) * scale + nested_offset;
}

at::Tensor dequantize_reference(const QuantizedWeight& q, at::ScalarType dtype) {
  const int64_t n = q.numel();
  at::Tensor a = q.block_absmax();
  if (q.type == QuantType::Int8) return (q.codes.to(at::kFloat) * (a / 127.0f).unsqueeze(1)).to(dtype);
  at::Tensor hi = at::bitwise_and(at::__rshift__(q.codes, 4), 15);
  at::Tensor lo = at::bitwise_and(q.codes, 15);
  at::Tensor idx = at::stack({hi, lo}, 1).view({-1}).slice(0, 0, n).to(at::kLong);
  at::Tensor scale = a.repeat_interleave(q.blocksize).slice(0, 0, n);
  return (q.code.index_select(0, idx) * scale).view(q.shape).to(dtype);
}

at::Tensor QuantizedWeight::dequantize(at::ScalarType dt) const {
  if (!codes.device().is_cpu()) return dequantize_reference(*this, dt);
  at::Tensor a = block_absmax().contiguous();
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(dt));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, dt, "dequantize", [&] {
    if (type == QuantType::Int8) {
      dequantize8_cpu<scalar_t>(codes.data_ptr<int8_t>(), a.data_ptr<float>(), shape[0], shape[1], out.data_ptr<scalar_t>());
    } else {
      dequantize4_cpu<scalar_t>(codes.data_ptr<uint8_t>(), code.data_ptr<float>(), a.data_ptr<float>(), numel(), blocksize,
                                out.data_ptr<scalar_t>());
    }
  });
  return out;
}

QuantizedWeight QuantizedWeight::to(at::Device device) const {
  QuantizedWeight q = *this;
  for (at::Tensor* t : {&q.codes, &q.code, &q.absmax, &q.nested_absmax, &q.nested_code})
    if (t->defined()) *t = t->to(device);
  return q;
}

QuantizedWeight quantize(const at::Tensor& w, const QuantizeOptions& o) {
  if (w.dim() != 2) throw Error("only 2-D linear weights are quantised, found " + c10::str(w.sizes()));
  if (o.blocksize <= 0 || o.blocksize % 2 != 0) throw Error("must be a positive even number", {.field = "blocksize"});
  at::Tensor x = w.detach().to(at::kCPU, at::kFloat).contiguous();
  const float* px = x.data_ptr<float>();
  const int64_t n = x.numel(), rows = x.size(0), cols = x.size(1);
  QuantizedWeight q;
  q.type = o.type;
  q.shape = {rows, cols};
  q.dtype = w.scalar_type();
  q.compute_dtype = o.compute_dtype;
  q.blocksize = o.type == QuantType::Int8 ? cols : o.blocksize;
  if (o.type == QuantType::Int8) {
    q.codes = at::empty({rows, cols}, at::kChar);
    q.absmax = at::empty({rows}, at::kFloat);
    int8_t* pc = q.codes.data_ptr<int8_t>();
    float* pa = q.absmax.data_ptr<float>();
    at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float a = 0;
        for (int64_t j = 0; j < cols; ++j) a = std::max(a, std::fabs(px[r * cols + j]));
        pa[r] = a;
        const float inv = a > 0 ? 127.0f / a : 0.0f;
        for (int64_t j = 0; j < cols; ++j) pc[r * cols + j] = static_cast<int8_t>(std::nearbyint(px[r * cols + j] * inv));
      }
    });
  } else {
    const auto& table = o.type == QuantType::NF4 ? nf4_code() : fp4_code();
    const std::vector<float> tv(table.begin(), table.end());
    q.code = float_tensor(tv);
    q.codes = at::empty({ceil_div(n, 2)}, at::kByte);
    q.absmax = at::empty({ceil_div(n, o.blocksize)}, at::kFloat);
    quantize_blocks(px, n, o.blocksize, NearestCode(tv), true, q.codes.data_ptr<uint8_t>(), q.absmax.data_ptr<float>());
  }
  if (o.double_quant) {
    if (o.nested_blocksize <= 0) throw Error("must be positive", {.field = "nested_blocksize"});
    at::Tensor a = q.absmax;
    q.nested_offset = a.to(at::kDouble).mean().item<double>();
    at::Tensor centered = (a - static_cast<float>(q.nested_offset)).contiguous();
    const std::vector<float> dyn = dynamic_code_map();
    q.nested_code = float_tensor(dyn);
    q.nested_blocksize = o.nested_blocksize;
    q.absmax = at::empty({a.numel()}, at::kByte);
    q.nested_absmax = at::empty({ceil_div(a.numel(), o.nested_blocksize)}, at::kFloat);
    quantize_blocks(centered.data_ptr<float>(), a.numel(), o.nested_blocksize, NearestCode(dyn), false,
                    q.absmax.data_ptr<uint8_t>(), q.nested_absmax.data_ptr<float>());
  }
  return w.device().is_cpu() ? q : q.to(w.device());
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The packed weight travels through the autograd context as saved tensors plus its scalar fields, so
// backward can dequantise again; no dense [out, in] tensor outlives the forward.
struct QuantizedLinearFn : public torch::autograd::Function<QuantizedLinearFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const QuantizedWeight* q) {
    ctx->save_for_backward({q->codes, q->code, q->absmax, q->nested_absmax, q->nested_code});
    ctx->saved_data["type"] = static_cast<int64_t>(q->type);
    ctx->saved_data["shape"] = q->shape;
    ctx->saved_data["dtype"] = static_cast<int64_t>(q->dtype);
    ctx->saved_data["compute"] = static_cast<int64_t>(q->compute_dtype);
    ctx->saved_data["blocksize"] = q->blocksize;
    ctx->saved_data["nested_offset"] = q->nested_offset;
    ctx->saved_data["nested_blocksize"] = q->nested_blocksize;
    at::Tensor w = q->dequantize(q->compute_dtype);
    return at::linear(x.to(q->compute_dtype), w).to(x.scalar_type());
  }

  // dx = dy W, with W dequantised again.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = ctx->get_saved_variables();
    QuantizedWeight q;
    q.codes = s[0];
    q.code = s[1];
    q.absmax = s[2];
    q.nested_absmax = s[3];
    q.nested_code = s[4];
    q.type = static_cast<QuantType>(ctx->saved_data["type"].toInt());
    q.shape = ctx->saved_data["shape"].toIntVector();
    q.dtype = static_cast<at::ScalarType>(ctx->saved_data["dtype"].toInt());
    q.compute_dtype = static_cast<at::ScalarType>(ctx->saved_data["compute"].toInt());
    q.blocksize = ctx->saved_data["blocksize"].toInt();
    q.nested_offset = ctx->saved_data["nested_offset"].toDouble();
    q.nested_blocksize = ctx->saved_data["nested_blocksize"].toInt();
    const at::Tensor& dy = grads[0];
    at::Tensor dx = at::matmul(dy.to(q.compute_dtype), q.dequantize(q.compute_dtype)).to(dy.scalar_type());
    return {dx, at::Tensor()};
  }
};

}  // namespace

at::Tensor quantized_linear(const at::Tensor& x, const QuantizedWeight& q, const at::Tensor& bias) {
  at::Tensor y;
  if (at::GradMode::is_enabled() && x.requires_grad()) {
    y = QuantizedLinearFn::apply(x, &q);
  } else {
    y = at::linear(x.to(q.compute_dtype), q.dequantize(q.compute_dtype)).to(x.scalar_type());
  }
  return bias.defined() ? y + bias : y;
}

}  // namespace prefer::model
