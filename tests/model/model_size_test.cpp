// Weight sizes from config.json alone, against published parameter counts.
#include "model/model_size.h"

#include <gtest/gtest.h>

#include "io/hf_config.h"
#include "util/json.h"

namespace prefer::model {
namespace {

io::ModelConfig llama2_7b() {
  return io::parse_model_config(Json{{"architectures", {"LlamaForCausalLM"}}, {"hidden_size", 4096}, {"intermediate_size", 11008},
                                     {"num_hidden_layers", 32}, {"num_attention_heads", 32}, {"num_key_value_heads", 32},
                                     {"vocab_size", 32000}, {"rms_norm_eps", 1e-5}, {"tie_word_embeddings", false}});
}

TEST(ModelSizeTest, Llama2SevenBParameterCount) {
  // Meta's Llama-2-7b: 6,738,415,616 parameters (the count transformers reports).
  const WeightBytes b = weight_bytes(llama2_7b(), at::kBFloat16, {});
  EXPECT_DOUBLE_EQ(b.parameters, 6738415616.0);
  EXPECT_DOUBLE_EQ(b.total(), 2 * 6738415616.0);
  EXPECT_DOUBLE_EQ(b.linear_parameters, 32.0 * (4 * 4096 * 4096 + 3 * 4096 * 11008));
}

TEST(ModelSizeTest, QuantisedLayersAtPackedSize) {
  QuantizationConfig q;
  q.load_in_4bit = true;
  q.bnb_4bit_use_double_quant = true;
  const WeightBytes b = weight_bytes(llama2_7b(), at::kBFloat16, q);
  const double linear = 32.0 * (4 * 4096 * 4096 + 3 * 4096 * 11008);
  // Half a byte a weight, one uint8 absmax per 64, one float32 per 64 x 256.
  EXPECT_NEAR(b.quantized, linear * (0.5 + 1.0 / 64 + 4.0 / 16384), 1.0);
  EXPECT_DOUBLE_EQ(b.dense, (6738415616.0 - linear) * 2);
  EXPECT_LT(b.total() / 1e9, 3.9);  // the seed's "base ~4 GB"
}

}  // namespace
}  // namespace prefer::model
