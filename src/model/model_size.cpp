#include "model/model_size.h"

#include <ATen/core/Tensor.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "model/tensor_convert.h"
#include "util/error.h"
#include "util/memory.h"
#include "util/strings.h"

namespace prefer::model {

WeightBytes weight_bytes(const io::ModelConfig& c, at::ScalarType dtype, const QuantizationConfig& quant) {
  const double el = static_cast<double>(c10::elementSize(dtype));
  const double h = static_cast<double>(c.hidden_size), i = static_cast<double>(c.intermediate_size);
  const double d = static_cast<double>(c.head_dim), q = static_cast<double>(c.num_attention_heads) * d,
               kv = static_cast<double>(c.num_key_value_heads) * d;
  const double layers = static_cast<double>(c.num_hidden_layers), vocab = static_cast<double>(c.vocab_size);
  // Per layer: q, k, v, o and gate, up, down; norms (2 h, plus q/k norms); biases are negligible.
  const double linear = (h * q + 2 * h * kv + q * h) + 3 * h * i;
  const double norms = 2 * h + (c.qk_norm ? 2 * d : 0);
  const double heads = c.head == io::HeadKind::SequenceClassification ? static_cast<double>(c.num_labels) * h
                       : c.tie_word_embeddings                        ? 0
                                                                      : vocab * h;
  WeightBytes b;
  b.linear_parameters = layers * linear;
  b.parameters = vocab * h + layers * (linear + norms) + h + heads;
  // Every linear layer is quantised unless skipped; skipping whole module kinds is rare, so the plan
  // counts them all (a skip list makes the estimate high, never low by more than the skipped layers).
  const double qb = quant.bytes_per_weight();
  b.quantized = qb > 0 ? b.linear_parameters * qb : 0;
  b.dense = (b.parameters - (qb > 0 ? b.linear_parameters : 0)) * el;
  return b;
}

int64_t largest_linear_values(const io::ModelConfig& c) {
  const int64_t q = c.num_attention_heads * c.head_dim;
  return std::max({c.hidden_size * q, c.hidden_size * c.intermediate_size});
}

void check_model_size(const io::ModelConfig& c, at::ScalarType dtype, const QuantizationConfig& quant,
                      const std::filesystem::path& config_file) {
  const double bytes = weight_bytes(c, dtype, quant).total();
  const double ram = static_cast<double>(physical_memory_bytes());
  if (ram <= 0 || bytes <= 2 * ram) return;
  // The field furthest above the sizes real checkpoints use.
  const std::vector<std::pair<const char*, double>> fields = {
      {"hidden_size", static_cast<double>(c.hidden_size) / 16384},
      {"intermediate_size", static_cast<double>(c.intermediate_size) / 65536},
      {"vocab_size", static_cast<double>(c.vocab_size) / 262144},
      {"num_hidden_layers", static_cast<double>(c.num_hidden_layers) / 128},
      {"num_attention_heads", static_cast<double>(c.num_attention_heads) / 128},
      {"head_dim", static_cast<double>(c.head_dim) / 256}};
  std::pair<const char*, double> worst = fields.front();
  for (const auto& f : fields)
    if (f.second > worst.second) worst = f;
  throw Error("the weights this config describes need " + format_bytes(bytes) + " (" + dtype_config_name(dtype) +
                  (quant.enabled() ? ", " + quant.describe() : std::string()) + "), this machine has " + format_bytes(ram) +
                  " of RAM; " + worst.first + " is the size out of the ordinary",
              {.file = config_file.string(), .field = worst.first,
               .hint = "check config.json; a model this large needs a bigger machine (or --load_in_4bit)"});
}

}  // namespace prefer::model
