// Reading linear layers that bitsandbytes already quantised (a checkpoint saved by transformers with a
// BitsAndBytesConfig; config.json names quant_method "bitsandbytes"). For a module M:
//   4-bit  M.weight uint8 (codes, two a byte, first in the high nibble), M.weight.absmax (float32, or
//          uint8 when double-quantised), M.weight.quant_map float32 [16], M.weight.nested_absmax and
//          M.weight.nested_quant_map (double quantisation), and M.weight.quant_state.bitsandbytes__nf4
//          (or __fp4): a uint8 tensor holding JSON {quant_type, blocksize, dtype, shape,
//          nested_blocksize, nested_offset}.
//   8-bit  M.weight int8 [out, in], M.SCB float32 [out] (row absmax), M.weight_format (optional).
#pragma once

#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "model/quantized_model.h"

namespace prefer::model {

// True for the tensors above other than M.weight (the loader does not expect them as weights).
bool is_bnb_state_tensor(const std::string& name);

// The quantised weight of `module` with dense shape `shape`; errors name the tensor and the file.
QuantizedWeight read_bnb_weight(const io::Checkpoint& ckpt, const std::string& module, const std::vector<int64_t>& shape,
                                at::ScalarType dtype, const QuantizationConfig& config);

}  // namespace prefer::model
