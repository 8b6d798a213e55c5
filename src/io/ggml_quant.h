// Tensor data in ggml's encodings, as llama.cpp's reference implementations write them
// (ggml-quants.c: quantize_row_q8_0_ref, quantize_row_q4_0_ref; ggml.c: fp32 -> fp16 / bf16):
//   f32, f16 (round to nearest even), bf16 (round to nearest even, NaN kept quiet),
//   q8_0: blocks of 32: float16 d = max|x| / 127, int8 q = round(x / d); x ~ q * d
//   q4_0: blocks of 32: float16 d = m / -8 with m the value of largest magnitude, 4-bit q =
//         min(15, trunc(x / d + 8.5)), byte j = q[j] | q[j + 16] << 4; x ~ (q - 8) * d
// and back to float32 (for tests and for the drift bound of a quantised export).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf.h"

namespace prefer::io {

// `n` values (a multiple of 32 for the block types) -> bytes.
std::string ggml_encode(GgmlType type, const float* x, int64_t n);
std::vector<float> ggml_decode(GgmlType type, const std::string& bytes, int64_t n);

}  // namespace prefer::io
