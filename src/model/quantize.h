// Weight quantisation for a frozen base under LoRA (QLoRA), in bitsandbytes' formats:
//   nf4 / fp4  blockwise absmax (block 64): each block stores one absmax and 4-bit indices into a
//              16-value code table (NF4: the QLoRA paper's normal-float levels; FP4: bitsandbytes'
//              e2m1 table), two indices a byte, the first in the high nibble.
//   double quantisation of the absmax constants (QLoRA's "double quant"): the float32 absmax values,
//              less their mean, are quantised in blocks of 256 to 8-bit indices into bitsandbytes'
//              signed dynamic map, with one float32 absmax per 256 blocks: 0.5 + ~0.016 bytes a weight.
//   int8       row-wise absmax (LLM.int8's weight format, without its outlier decomposition):
//              W[o, :] ~ q[o, :] * absmax[o] / 127.
// A layer is dequantised to the compute dtype when it runs (quantized_linear), never kept dense.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace prefer::model {

enum class QuantType { NF4, FP4, Int8 };

// "nf4" / "fp4" / "int8"
std::string quant_type_name(QuantType t);

// The published 16-value tables, indexed by the 4-bit code.
const std::array<float, 16>& nf4_code();
const std::array<float, 16>& fp4_code();
// bitsandbytes' create_dynamic_map(signed=True): 256 sorted values in [-1, 1] (0 and 1 included), the
// code of double-quantised absmax constants.
std::vector<float> dynamic_code_map();

struct QuantizedWeight {
  QuantType type = QuantType::NF4;
  std::vector<int64_t> shape;               // the dense weight's shape, [out, in]
  at::ScalarType dtype = at::kFloat;        // the dense weight's dtype (what dequantisation restores)
  at::ScalarType compute_dtype = at::kFloat;  // bnb_4bit_compute_dtype: the matmul's dtype
  int64_t blocksize = 64;
  at::Tensor codes;   // 4-bit: uint8 [ceil(n / 2)]; int8: int8 [out, in]
  at::Tensor code;    // 4-bit: float32 [16], the table the codes index
  at::Tensor absmax;  // float32 [blocks] (int8: [out]), or uint8 [blocks] when double-quantised
  // Double quantisation (absmax is uint8): absmax[b] = nested_code[absmax[b]] * nested_absmax[b / 256] + offset.
  at::Tensor nested_absmax;  // float32 [ceil(blocks / nested_blocksize)]
  at::Tensor nested_code;    // float32 [256]
  double nested_offset = 0;
  int64_t nested_blocksize = 256;

  bool double_quant() const { return nested_absmax.defined(); }
  int64_t numel() const;
  // Bytes held (codes, constants, tables).
  uint64_t bytes() const;
  // The float32 absmax per block (int8: per row), undoing double quantisation.
  at::Tensor block_absmax() const;
  // The dense weight [out, in] in `dtype` on the codes' device.
  at::Tensor dequantize(at::ScalarType dtype) const;
  QuantizedWeight to(at::Device device) const;
};

struct QuantizeOptions {
  QuantType type = QuantType::NF4;
  bool double_quant = false;
  at::ScalarType compute_dtype = at::kFloat;
  int64_t blocksize = 64;
  int64_t nested_blocksize = 256;
};

// w [out, in] (any float dtype, any device) -> packed; quantisation runs on the CPU in float32, the
// result lives on w's device. Each value goes to the nearest code.
QuantizedWeight quantize(const at::Tensor& w, const QuantizeOptions& options);

// The same dequantisation in plain tensor ops (lookup, multiply): what non-CPU devices run, and the
// independent check of the CPU kernel behind QuantizedWeight::dequantize.
at::Tensor dequantize_reference(const QuantizedWeight& q, at::ScalarType dtype);

// y = x W^T + bias with W dequantised for this call only: x [..., in] -> [..., out] in x's dtype, the
// product in q.compute_dtype. Differentiable in x (backward dequantises again for dx = dy W); the frozen
// weight has no gradient and autograd keeps no dense copy.
at::Tensor quantized_linear(const at::Tensor& x, const QuantizedWeight& q, const at::Tensor& bias);

}  // namespace prefer::model
