#include "model/tensor_convert.h"

#include <ATen/ATen.h>

#include <cstring>

#include "util/error.h"

namespace prefer::model {

at::ScalarType to_scalar_type(io::DType d) {
  switch (d) {
    case io::DType::Bool: return at::kBool;
    case io::DType::U8: return at::kByte;
    case io::DType::I8: return at::kChar;
    case io::DType::I16: return at::kShort;
    case io::DType::I32: return at::kInt;
    case io::DType::I64: return at::kLong;
    case io::DType::F16: return at::kHalf;
    case io::DType::BF16: return at::kBFloat16;
    case io::DType::F32: return at::kFloat;
    case io::DType::F64: return at::kDouble;
  }
  throw Error("unknown safetensors dtype");
}

io::DType to_io_dtype(at::ScalarType t) {
  switch (t) {
    case at::kBool: return io::DType::Bool;
    case at::kByte: return io::DType::U8;
    case at::kChar: return io::DType::I8;
    case at::kShort: return io::DType::I16;
    case at::kInt: return io::DType::I32;
    case at::kLong: return io::DType::I64;
    case at::kHalf: return io::DType::F16;
    case at::kBFloat16: return io::DType::BF16;
    case at::kFloat: return io::DType::F32;
    case at::kDouble: return io::DType::F64;
    default: break;
  }
  throw Error(std::string("tensor type ") + c10::toString(t) + " cannot be stored in safetensors");
}

at::ScalarType parse_dtype_name(std::string_view name, const std::string& field) {
  if (name == "float32" || name == "fp32" || name == "f32" || name == "float") return at::kFloat;
  if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
  if (name == "float16" || name == "fp16" || name == "f16" || name == "half") return at::kHalf;
  if (name == "float64" || name == "fp64" || name == "f64" || name == "double") return at::kDouble;
  throw Error("unknown dtype '" + std::string(name) + "'",
              {.field = field, .hint = "use float32, bfloat16, float16 or float64"});
}

std::string dtype_config_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    case at::kDouble: return "float64";
    default: break;
  }
  throw Error(std::string("no config.json name for tensor type ") + c10::toString(t));
}

at::Tensor tensor_from_view(const io::TensorView& view) {
  const io::TensorInfo& info = *view.info;
  at::Tensor t = at::empty(info.shape, at::TensorOptions().dtype(to_scalar_type(info.dtype)));
  if (view.nbytes != t.nbytes())
    throw Error("holds " + std::to_string(view.nbytes) + " bytes, its shape needs " + std::to_string(t.nbytes()),
                {.field = info.name});
  if (view.nbytes > 0) std::memcpy(t.data_ptr(), view.data, view.nbytes);
  return t;
}

io::TensorData tensor_data(const std::string& name, const at::Tensor& t, at::Tensor& keep) {
  keep = t.detach().to(at::kCPU).contiguous();
  io::TensorData d;
  d.name = name;
  d.dtype = to_io_dtype(keep.scalar_type());
  d.shape = keep.sizes().vec();
  d.data = keep.data_ptr();
  d.nbytes = keep.nbytes();
  return d;
}

at::ScalarType accumulate_type(at::ScalarType compute) {
  return compute == at::kDouble ? at::kDouble : at::kFloat;
}

}  // namespace prefer::model
