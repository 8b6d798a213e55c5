#include "cli/quantization_options.h"

#include "cli/command.h"
#include "cli/train_options.h"
#include "model/tensor_convert.h"
#include "util/error.h"

namespace prefer::cli {

namespace {

model::QuantizationConfig make_config(bool four, bool eight, const std::string& type, bool double_quant, const std::string& compute,
                                      std::vector<std::string> skip) {
  model::QuantizationConfig c;
  c.load_in_4bit = four;
  c.load_in_8bit = eight;
  if (type != "nf4" && type != "fp4") throw Error("must be nf4 or fp4, not '" + type + "'", {.field = "bnb_4bit_quant_type"});
  c.bnb_4bit_quant_type = type == "nf4" ? model::QuantType::NF4 : model::QuantType::FP4;
  c.bnb_4bit_use_double_quant = double_quant;
  c.bnb_4bit_compute_dtype = model::parse_dtype_name(compute, "bnb_4bit_compute_dtype");
  c.llm_int8_skip_modules = std::move(skip);
  c.validate();
  return c;
}

constexpr const char* kSkipHelp = "Linear modules kept unquantised (names or last components); the LM head and embeddings always are";

}  // namespace

void add_quantization_options(OptionSet& s) {
  using T = OptType;
  s.add("load_in_4bit", T::Bool, false, "Quantise the frozen base to 4 bits (QLoRA; needs use_peft)");
  s.add("load_in_8bit", T::Bool, false, "Quantise the frozen base to 8 bits, row-wise absmax (needs use_peft)");
  s.add("bnb_4bit_quant_type", T::String, "nf4", "nf4 (normal float, QLoRA's) or fp4");
  s.add("bnb_4bit_use_double_quant", T::Bool, false, "Quantise the 4-bit absmax constants too (~0.4 bits a weight saved)");
  s.add("bnb_4bit_compute_dtype", T::String, "float32", "float32, bfloat16 or float16: the dtype 4-bit layers multiply in");
  s.add("llm_int8_skip_modules", T::StringList, nullptr, kSkipHelp);
}

model::QuantizationConfig quantization_config(const Json& o) {
  std::vector<std::string> skip;
  if (auto v = opt<std::vector<std::string>>(o, "llm_int8_skip_modules")) skip = *v;
  return make_config(get<bool>(o, "load_in_4bit"), get<bool>(o, "load_in_8bit"), get<std::string>(o, "bnb_4bit_quant_type"),
                     get<bool>(o, "bnb_4bit_use_double_quant"), get<std::string>(o, "bnb_4bit_compute_dtype"), skip);
}

void QuantizationFlags::add_to(CLI::App* cmd) {
  add_bool_option(cmd, "load_in_4bit", load_in_4bit, "Quantise the model's linear layers to 4 bits");
  add_bool_option(cmd, "load_in_8bit", load_in_8bit, "Quantise the model's linear layers to 8 bits");
  cmd->add_option("--bnb_4bit_quant_type", quant_type, "nf4 or fp4")->capture_default_str();
  add_bool_option(cmd, "bnb_4bit_use_double_quant", double_quant, "Quantise the 4-bit absmax constants too");
  cmd->add_option("--bnb_4bit_compute_dtype", compute_dtype, "float32, bfloat16 or float16")->capture_default_str();
  cmd->add_option("--llm_int8_skip_modules", skip_modules, kSkipHelp)->delimiter(',');
}

model::QuantizationConfig QuantizationFlags::config() const {
  return make_config(load_in_4bit, load_in_8bit, quant_type, double_quant, compute_dtype, skip_modules);
}

}  // namespace prefer::cli
