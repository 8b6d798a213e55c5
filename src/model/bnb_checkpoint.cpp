#include "model/bnb_checkpoint.h"

#include <ATen/ATen.h>

#include "model/tensor_convert.h"
#include "util/error.h"

namespace prefer::model {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

at::Tensor read(const io::Checkpoint& ckpt, const std::string& name, at::ScalarType want, const std::string& field) {
  if (!ckpt.contains(name))
    throw Error("the bitsandbytes checkpoint has no tensor '" + name + "'", {.field = name, .hint = field});
  at::Tensor t = tensor_from_view(ckpt.view(name));
  if (t.scalar_type() != want)
    throw Error("'" + name + "' is " + std::string(c10::toString(t.scalar_type())) + ", bitsandbytes stores it as " +
                    std::string(c10::toString(want)),
                {.file = ckpt.file_of(name).string(), .field = name});
  return t.contiguous().clone();  // own the bytes: the checkpoint's mapping may close
}

}  // namespace

bool is_bnb_state_tensor(const std::string& n) {
  for (const char* s : {".weight.absmax", ".weight.quant_map", ".weight.nested_absmax", ".weight.nested_quant_map",
                        ".weight.quant_state.bitsandbytes__nf4", ".weight.quant_state.bitsandbytes__fp4", ".SCB", ".weight_format"})
    if (ends_with(n, s)) return true;
  return false;
}

QuantizedWeight read_bnb_weight(const io::Checkpoint& ckpt, const std::string& module, const std::vector<int64_t>& shape,
                                at::ScalarType dtype, const QuantizationConfig& c) {
  const std::string w = module + ".weight";
  QuantizedWeight q;
  q.shape = shape;
  q.dtype = dtype;
  const int64_t n = shape[0] * shape[1];
  if (c.load_in_8bit) {
    q.type = QuantType::Int8;
    q.compute_dtype = dtype;
    q.blocksize = shape[1];
    q.codes = read(ckpt, w, at::kChar, "an 8-bit layer stores int8 codes").view(shape);
    q.absmax = read(ckpt, module + ".SCB", at::kFloat, "an 8-bit layer stores its row absmax as SCB");
    if (q.codes.numel() != n || q.absmax.numel() != shape[0])
      throw Error("'" + w + "' does not hold a [" + std::to_string(shape[0]) + ", " + std::to_string(shape[1]) + "] int8 weight",
                  {.file = ckpt.file_of(w).string(), .field = w});
    return q;
  }
  const std::string kind = c.bnb_4bit_quant_type == QuantType::NF4 ? "nf4" : "fp4";
  const std::string state_name = w + ".quant_state.bitsandbytes__" + kind;
  at::Tensor state = read(ckpt, state_name, at::kByte, "a 4-bit layer stores its quant_state");
  Json st;
  try {
    st = Json::parse(std::string(reinterpret_cast<const char*>(state.data_ptr<uint8_t>()), static_cast<size_t>(state.numel())));
  } catch (const std::exception& e) {
    throw Error(std::string("is not JSON: ") + e.what(), {.file = ckpt.file_of(state_name).string(), .field = state_name});
  }
  q.type = c.bnb_4bit_quant_type;
  q.compute_dtype = c.bnb_4bit_compute_dtype;
  q.blocksize = st.value("blocksize", int64_t{64});
  if (st.contains("shape") && st["shape"].get<std::vector<int64_t>>() != shape)
    throw Error("quant_state shape differs from the config's " + c10::str(at::IntArrayRef(shape)),
                {.file = ckpt.file_of(state_name).string(), .field = state_name});
  q.codes = read(ckpt, w, at::kByte, "a 4-bit layer stores uint8 codes").view({-1});
  q.code = read(ckpt, w + ".quant_map", at::kFloat, "a 4-bit layer stores its quant_map");
  const int64_t blocks = (n + q.blocksize - 1) / q.blocksize;
  if (q.codes.numel() != (n + 1) / 2 || q.code.numel() != 16 || q.blocksize <= 0 || q.blocksize % 2)
    throw Error("'" + w + "' does not hold " + std::to_string(n) + " 4-bit codes in blocks of " + std::to_string(q.blocksize),
                {.file = ckpt.file_of(w).string(), .field = w});
  if (ckpt.contains(w + ".nested_absmax")) {
    q.absmax = read(ckpt, w + ".absmax", at::kByte, "a double-quantised absmax is uint8");
    q.nested_absmax = read(ckpt, w + ".nested_absmax", at::kFloat, "nested_absmax is float32");
    q.nested_code = read(ckpt, w + ".nested_quant_map", at::kFloat, "nested_quant_map is float32");
    q.nested_blocksize = st.value("nested_blocksize", int64_t{256});
    q.nested_offset = st.value("nested_offset", 0.0);
  } else {
    q.absmax = read(ckpt, w + ".absmax", at::kFloat, "absmax is float32");
  }
  if (q.absmax.numel() != blocks)
    throw Error("has " + std::to_string(q.absmax.numel()) + " absmax values, " + std::to_string(blocks) + " blocks need one each",
                {.file = ckpt.file_of(w).string(), .field = w + ".absmax"});
  return q;
}

}  // namespace prefer::model
