// The options of a quantised base (transformers' BitsAndBytesConfig names) and of gradient
// checkpointing, for the trainers (OptionSet) and for the commands that only run a model (generate,
// logprobs, score, eval, serve: CLI11 flags).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "cli/option_set.h"
#include "model/quantized_model.h"

namespace prefer::cli {

// --load_in_4bit, --load_in_8bit, --bnb_4bit_quant_type, --bnb_4bit_use_double_quant,
// --bnb_4bit_compute_dtype, --llm_int8_skip_modules.
void add_quantization_options(OptionSet& s);
model::QuantizationConfig quantization_config(const Json& o);

struct QuantizationFlags {
  bool load_in_4bit = false, load_in_8bit = false, double_quant = false;
  std::string quant_type = "nf4", compute_dtype = "float32";
  std::vector<std::string> skip_modules;
  void add_to(CLI::App* cmd);
  model::QuantizationConfig config() const;
};

}  // namespace prefer::cli
