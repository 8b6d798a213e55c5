// How much memory a model's weights take, from config.json alone (before anything is allocated), and
// the check that refuses a config whose weights cannot fit this machine with an error naming the field
// to blame instead of an allocation failure deep inside.
#pragma once

#include <ATen/core/ScalarType.h>

#include <filesystem>

#include "io/hf_config.h"
#include "model/quantized_model.h"

namespace prefer::model {

struct WeightBytes {
  double dense = 0;      // embeddings, norms, heads and the linear layers left dense
  double quantized = 0;  // the quantised linear layers' packed storage
  double parameters = 0;            // every weight counted
  double linear_parameters = 0;     // the decoder's linear layers (LoRA's candidates)
  double total() const { return dense + quantized; }
};

// Bytes of the weights in `dtype`, with the layers `quant` selects at their packed size. Computed in
// double: a config with absurd sizes gives a huge number, never an overflow.
WeightBytes weight_bytes(const io::ModelConfig& config, at::ScalarType dtype, const QuantizationConfig& quant);

// Values of the largest linear layer (the dequantisation transient of a quantised base).
int64_t largest_linear_values(const io::ModelConfig& config);

// Throws when the weights alone exceed twice this machine's physical memory, naming the config field
// most out of the ordinary (hidden_size, intermediate_size, vocab_size, num_hidden_layers, ...) and
// the memory it implies.
void check_model_size(const io::ModelConfig& config, at::ScalarType dtype, const QuantizationConfig& quant,
                      const std::filesystem::path& config_file);

}  // namespace prefer::model
