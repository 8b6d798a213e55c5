#include "model/attention.h"
#include "model/tiled_attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "model/torch_compat.h"
#include "util/error.h"

namespace prefer::model {

namespace {
double lowest_finite(at::ScalarType dtype) {
  switch (dtype) {
    case at::kDouble: return std::numeric_limits<double>::lowest();
    case at::kBFloat16: return -3.3895313892515355e38;  // largest finite bfloat16
    case at::kHalf: return -65504.0;
    default: return std::numeric_limits<float>::lowest();
  }
}
}  // namespace

at::Tensor attention_bias(const at::Tensor& key_mask, const at::Tensor& visibility, const at::Tensor& q_pos,
                          const at::Tensor& k_pos, int64_t q_offset, int64_t window, at::ScalarType dtype) {
  const int64_t B = q_pos.size(0), Tq = q_pos.size(1), Tk = k_pos.size(1);
  const auto device = q_pos.device();
  at::Tensor visible;  // [B, Tq, Tk] bool
  if (visibility.defined()) {
    if (visibility.dim() != 3 || visibility.size(0) != B || visibility.size(1) != Tq || visibility.size(2) != Tk)
      throw Error("visibility must be [" + std::to_string(B) + ", " + std::to_string(Tq) + ", " + std::to_string(Tk) +
                      "], found " + c10::str(visibility.sizes()),
                  {.field = "attention.visibility"});
    visible = visibility.to(device, at::kBool);
  } else {
    at::Tensor qi = at::arange(q_offset, q_offset + Tq, at::TensorOptions().dtype(at::kLong).device(device));
    at::Tensor kj = at::arange(Tk, at::TensorOptions().dtype(at::kLong).device(device));
    visible = kj.unsqueeze(0).le(qi.unsqueeze(1)).unsqueeze(0).expand({B, Tq, Tk});
  }
  if (key_mask.defined()) visible = visible.logical_and(key_mask.to(device, at::kBool).unsqueeze(1));
  if (window > 0) {
    at::Tensor dist = q_pos.unsqueeze(2) - k_pos.unsqueeze(1);  // [B, Tq, Tk]
    visible = visible.logical_and(dist.lt(window));
  }
  const double lowest = lowest_finite(dtype);
  at::Tensor bias = at::zeros({B, 1, Tq, Tk}, at::TensorOptions().dtype(dtype).device(device));
  bias.masked_fill_(visible.logical_not().unsqueeze(1), lowest);
  return bias;
}

at::Tensor visible_key_spans(const at::Tensor& bias, double min_saving) {
  const at::Tensor visible = bias.select(1, 0).eq(0).to(at::kCPU).contiguous();  // [B, Tq, Tk] bool
  const int64_t rows = visible.size(0) * visible.size(1), Tk = visible.size(2);
  at::Tensor spans = at::zeros({visible.size(0), visible.size(1), 3}, at::kLong);
  const bool* vis = visible.data_ptr<bool>();
  int64_t* out = spans.data_ptr<int64_t>();
  double skipped = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const bool* v = vis + r * Tk;
    int64_t first = -1, last = -1, gap_begin = 0, gap_end = 0;
    for (int64_t j = 0; j < Tk; ++j) {
      if (!v[j]) continue;
      if (first < 0) first = j;
      else if (j - last - 1 > gap_end - gap_begin) gap_begin = last + 1, gap_end = j;
      last = j;
    }
    first = std::max<int64_t>(first, 0);
    out[3 * r] = first, out[3 * r + 1] = gap_begin, out[3 * r + 2] = gap_end;
    skipped += static_cast<double>(first + gap_end - gap_begin);
  }
  const double total = static_cast<double>(rows) * static_cast<double>(Tk) / 2.0;  // causal half
  if (total <= 0 || skipped < min_saving * total) return at::Tensor();
  return spans;
}

bool attention_reads_key_spans(const at::Device& device) { return !(PREFER_HAS_FUSED_SDPA && device.is_cuda()); }

at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias, double scale,
                  int64_t causal_offset, const at::Tensor& key_spans) {
#if PREFER_HAS_FUSED_SDPA
  if (q.is_cuda()) {
    const int64_t B = q.size(0), Hq = q.size(1), Tq = q.size(2), D = q.size(3);
    const int64_t Hkv = k.size(1), Tk = k.size(2), G = Hq / Hkv;
    // Fused kernels want every query head's K/V and a mask in q's dtype (clamped, so a fully masked row
    // stays finite).
    at::Tensor kr = k.unsqueeze(2).expand({B, Hkv, G, Tk, D}).reshape({B, Hq, Tk, D});
    at::Tensor vr = v.unsqueeze(2).expand({B, Hkv, G, Tk, D}).reshape({B, Hq, Tk, D});
    at::Tensor mask = bias.clamp_min(lowest_finite(q.scalar_type())).to(q.scalar_type());
    return compat::fused_attention(q, kr, vr, mask, scale).transpose(1, 2).reshape({B, Tq, Hq * D});
  }
#endif
  // Memory-efficient and causal-aware: model/tiled_attention.h.
  return tiled_attention(q, k, v, bias, scale, causal_offset, 64, key_spans);
}

}  // namespace prefer::model
