// Conversions between io/'s torch-free tensor descriptions (safetensors views, TensorData) and
// at::Tensor, plus dtype names as HF writes them in config.json ("float32", "bfloat16" ...).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <string_view>

#include "io/dtype.h"
#include "io/safetensors.h"

namespace prefer::model {

at::ScalarType to_scalar_type(io::DType d);
io::DType to_io_dtype(at::ScalarType t);  // throws for types safetensors cannot hold

// "float32" / "bfloat16" / "float16" / "float64" (also "fp32", "bf16", "fp16", "f32" ...).
at::ScalarType parse_dtype_name(std::string_view name, const std::string& field = "dtype");
std::string dtype_config_name(at::ScalarType t);  // "float32", "bfloat16", ...

// Copies the bytes of a safetensors view into a new CPU tensor of the stored dtype and shape. Views may
// be unaligned (see io/safetensors.h), so this never aliases the mapping.
at::Tensor tensor_from_view(const io::TensorView& view);

// The tensor's row-major bytes as TensorData for io::write_safetensors / io::write_checkpoint. `keep`
// must stay alive until the write is done: it holds the contiguous CPU copy the data points into.
io::TensorData tensor_data(const std::string& name, const at::Tensor& t, at::Tensor& keep);

// The dtype in which fp32-sensitive steps run (norms, softmax, log-softmax): float32, or float64 for
// a float64 model (finite-difference checks must not lose precision there).
at::ScalarType accumulate_type(at::ScalarType compute);

}  // namespace prefer::model
