#include "model/quantized_model.h"

#include <ATen/ATen.h>

#include "model/tensor_convert.h"
#include "model/weight_map.h"
#include "util/error.h"
#include "util/strings.h"

namespace prefer::model {

void QuantizationConfig::validate() const {
  if (load_in_4bit && load_in_8bit)
    throw Error("load_in_4bit and load_in_8bit are both set; choose one", {.field = "load_in_8bit"});
  if (bnb_4bit_quant_type == QuantType::Int8) throw Error("must be nf4 or fp4", {.field = "bnb_4bit_quant_type"});
  if (bnb_4bit_compute_dtype != at::kFloat && bnb_4bit_compute_dtype != at::kBFloat16 && bnb_4bit_compute_dtype != at::kHalf)
    throw Error("must be float32, bfloat16 or float16", {.field = "bnb_4bit_compute_dtype"});
}

bool QuantizationConfig::quantizes(const std::string& module) const {
  if (!enabled()) return false;
  for (const std::string& k : llm_int8_skip_modules) {
    if (k.empty()) continue;
    if (module == k || module.rfind(k + ".", 0) == 0) return false;  // the module or a parent of it
    if (module.size() > k.size() && module.compare(module.size() - k.size() - 1, k.size() + 1, "." + k) == 0) return false;
  }
  return true;
}

QuantizeOptions QuantizationConfig::options(at::ScalarType model_dtype) const {
  QuantizeOptions o;
  if (load_in_8bit) {
    o.type = QuantType::Int8;
    o.compute_dtype = model_dtype;
  } else {
    o.type = bnb_4bit_quant_type;
    o.double_quant = bnb_4bit_use_double_quant;
    o.compute_dtype = bnb_4bit_compute_dtype;
  }
  return o;
}

std::string QuantizationConfig::describe() const {
  if (load_in_8bit) return "8-bit int8 (row-wise absmax)";
  if (!load_in_4bit) return "none";
  return "4-bit " + quant_type_name(bnb_4bit_quant_type) + (bnb_4bit_use_double_quant ? " + double quant" : "") +
         ", compute " + dtype_config_name(bnb_4bit_compute_dtype);
}

double QuantizationConfig::bytes_per_weight() const {
  if (load_in_8bit) return 1.0;  // plus one float per row, negligible
  if (!load_in_4bit) return 0;
  // Half a byte of codes; one float32 absmax per 64 values, or one byte per 64 plus a float per 64 * 256.
  return 0.5 + (bnb_4bit_use_double_quant ? 1.0 / 64 + 4.0 / (64 * 256) : 4.0 / 64);
}

QuantizationConfig checkpoint_quantization(const Json& raw, const std::filesystem::path& file) {
  QuantizationConfig c;
  if (!raw.is_object() || !raw.contains("quantization_config") || raw["quantization_config"].is_null()) return c;
  const Json& q = raw["quantization_config"];
  const std::string method = q.is_object() && q.contains("quant_method") && q["quant_method"].is_string()
                                 ? q["quant_method"].get<std::string>()
                                 : std::string("(unnamed)");
  if (method != "bitsandbytes")
    throw Error("the checkpoint is quantised with '" + method +
                    "'; prefer reads bitsandbytes 4-bit (nf4, fp4) and 8-bit checkpoints, not " + method,
                {.file = file.string(), .field = "quantization_config.quant_method",
                 .hint = "load the unquantised model and pass --load_in_4bit (or --load_in_8bit)"});
  auto flag = [&](const char* k) { return q.contains(k) && q[k].is_boolean() && q[k].get<bool>(); };
  c.load_in_4bit = flag("load_in_4bit");
  c.load_in_8bit = flag("load_in_8bit");
  c.bnb_4bit_use_double_quant = flag("bnb_4bit_use_double_quant");
  if (q.contains("bnb_4bit_quant_type") && q["bnb_4bit_quant_type"].is_string()) {
    const std::string t = q["bnb_4bit_quant_type"].get<std::string>();
    if (t != "nf4" && t != "fp4")
      throw Error("must be nf4 or fp4, found '" + t + "'", {.file = file.string(), .field = "quantization_config.bnb_4bit_quant_type"});
    c.bnb_4bit_quant_type = t == "nf4" ? QuantType::NF4 : QuantType::FP4;
  }
  if (q.contains("bnb_4bit_compute_dtype") && q["bnb_4bit_compute_dtype"].is_string())
    c.bnb_4bit_compute_dtype = parse_dtype_name(q["bnb_4bit_compute_dtype"].get<std::string>(), "quantization_config.bnb_4bit_compute_dtype");
  if (q.contains("llm_int8_skip_modules") && q["llm_int8_skip_modules"].is_array())
    for (const Json& m : q["llm_int8_skip_modules"])
      if (m.is_string()) c.llm_int8_skip_modules.push_back(m.get<std::string>());
  if (!c.enabled())
    throw Error("a bitsandbytes quantization_config with neither load_in_4bit nor load_in_8bit", {.file = file.string(), .field = "quantization_config"});
  c.prequantized = true;
  c.validate();
  return c;
}

namespace {

template <typename F>
void for_each_linear(CausalLM& m, F f) {
  for (int64_t l = 0; l < m.config().num_hidden_layers; ++l)
    for (Slot s : layer_linear_slots()) f(linear_module_name(s, l), *m.linear(s, l));
}

}  // namespace

void quantize_model(CausalLM& m, const QuantizationConfig& c) {
  if (!c.enabled()) return;
  c.validate();
  at::NoGradGuard ng;
  const QuantizeOptions o = c.options(m.dtype());
  for_each_linear(m, [&](const std::string& module, Linear& lin) {
    if (lin.quant || !c.quantizes(module)) return;
    lin.quant = std::make_shared<const QuantizedWeight>(quantize(lin.weight, o));
    lin.weight = at::Tensor();
  });
}

void dequantize_model(CausalLM& m) {
  at::NoGradGuard ng;
  for_each_linear(m, [](const std::string&, Linear& lin) {
    if (!lin.quant) return;
    lin.weight = lin.dense_weight();
    lin.quant.reset();
  });
}

bool is_quantized(const CausalLM& model) { return quantized_bytes(model) > 0; }

uint64_t quantized_bytes(const CausalLM& model) {
  uint64_t b = 0;
  for_each_linear(const_cast<CausalLM&>(model), [&](const std::string&, Linear& lin) {
    if (lin.quant) b += lin.quant->bytes();
  });
  return b;
}

}  // namespace prefer::model
