// Single-pass CPU kernels for the elementwise chains of a bf16 decoder layer: SiLU·up, RMSNorm, RoPE,
// the float32 residual add of mixed precision, and bf16 <-> float32 conversion. LibTorch 1.13's CPU
// bf16 elementwise kernels run at ~0.2-0.4 G elements/s on the development machines (a bf16 step
// spent over half its time in them, next to bf16 GEMMs); these read bf16, compute in float32 and
// round once to nearest even, in one pass over memory, vectorised for AVX2 and AVX-512 where the CPU
// has them (chosen at load time).
//
// Every function takes contiguous CPU tensors and says which dtypes it accepts; `eligible` tells the
// callers when to use them (otherwise they keep the ATen ops). They are not autograd functions: the
// layers' own autograd Functions call the forward and backward kernels.
#pragma once

#include <ATen/core/Tensor.h>

#include <utility>

namespace prefer::model::fused {

// Contiguous bf16 CPU tensors, all of them (undefined ones ignored).
bool eligible(std::initializer_list<at::Tensor> bf16_tensors);

// act = SiLU: out = silu(g) u, g and u [..., I] bf16 -> bf16, silu(g) rounded to bf16 first as
// PyTorch's two bf16 ops (and autocast) round it.
at::Tensor silu_mul(const at::Tensor& g, const at::Tensor& u);
// d/dg and d/du of silu(g) u for dy (bf16): dg = dy u silu'(g), du = dy silu(g), each bf16.
std::pair<at::Tensor, at::Tensor> silu_mul_backward(const at::Tensor& dy, const at::Tensor& g, const at::Tensor& u);

// RMSNorm over the last dim of x [..., H] (float32 or bf16) with weight [H] (any float dtype):
// h = x r, r = 1 / sqrt(mean(x²) + eps); y = w (h rounded to x's dtype), or (1 + w) h for plus_one,
// rounded to bf16. Returns y [..., H] bf16 and r [...] float32 (for backward).
std::pair<at::Tensor, at::Tensor> rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one);
// For dy [..., H] bf16: dx (x's dtype; undefined unless need_dx) and dw [H] float32 (undefined unless
// need_dw), with h recomputed from x and r as in forward.
std::pair<at::Tensor, at::Tensor> rms_norm_backward(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& weight,
                                                    const at::Tensor& r, bool plus_one, bool need_dx, bool need_dw);

// RoPE of x [B, T, heads, D] (bf16) by tables cos, sin [B, T, D]: the rotation, or with inverse = true
// its transpose (the backward: rotation by -angle), rounded once to bf16. With bf16 tables (pure bf16)
// the forward also rounds each product, as x cos + rotate_half(x) sin in bf16 does.
at::Tensor rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, bool inverse);

// x (float32) + y (bf16, same shape) -> float32.
at::Tensor add_float_bf16(const at::Tensor& x, const at::Tensor& y);

// Conversions of contiguous tensors (round to nearest even, NaN kept).
at::Tensor to_float(const at::Tensor& bf16);
at::Tensor to_bf16(const at::Tensor& f32);
// t.to(dtype), through the two above for contiguous CPU bf16 <-> float32.
at::Tensor convert(const at::Tensor& t, at::ScalarType dtype);

}  // namespace prefer::model::fused
