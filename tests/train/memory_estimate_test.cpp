#include "train/memory_estimate.h"

#include "test_util.h"

namespace prefer::train {

// A Qwen2.5-0.5B-sized full fine-tune in bfloat16 with a frozen reference copy: P = 494,032,768,
// h = 896, i = 4864, L = 24, V = 151,936, 2,048 tokens per micro-batch. By hand:
//   weights     = P * 2                          =   988,065,536
//   optimizer   = P * (4 + 4 + 4)                = 5,928,393,216
//   activations = 2048 * 24 * (12*896 + 6*4864) * 2 = 2048 * 24 * 39,936 * 2 = 3,925,868,544
//   total: gradients (0.99 GB) and activations are not at their peak together; the larger counts
//   logits      = 2048 * 151,936 * (2 + 4 + 4)   = 3,111,649,280
TEST(MemoryEstimate, FullFineTuneByComponent) {
  MemoryEstimate e = estimate_memory({.parameters = 494032768, .trainable_parameters = 494032768, .weight_bytes = 2,
                                      .reference_copy = true, .batch_tokens = 2048, .vocab_size = 151936,
                                      .hidden_size = 896, .intermediate_size = 4864, .num_layers = 24});
  EXPECT_EQ(e.weights, 988065536u);
  EXPECT_EQ(e.reference, 988065536u);
  EXPECT_EQ(e.optimizer, 5928393216u);
  EXPECT_EQ(e.gradients, 988065536u);
  EXPECT_EQ(e.activations, 3925868544u);
  EXPECT_EQ(e.logits, 3111649280u);
  EXPECT_EQ(e.total(), 988065536u * 2 + 5928393216u + 3925868544u + 3111649280u);
  EXPECT_NE(e.describe().find("optimizer 5.9 GB"), std::string::npos) << e.describe();
}

// Gradient checkpointing keeps each layer's input plus one layer: 2048*24*896*2 + 2048*39,936*2 = 251,658,240.
// LoRA: only the adapter has optimizer state and gradients; no reference copy.
TEST(MemoryEstimate, CheckpointingAndLora) {
  MemoryEstimate e = estimate_memory({.parameters = 494032768, .trainable_parameters = 1000000, .weight_bytes = 2,
                                      .batch_tokens = 2048, .logits_tokens = 128, .vocab_size = 1000,
                                      .hidden_size = 896, .intermediate_size = 4864, .num_layers = 24,
                                      .gradient_checkpointing = true});
  EXPECT_EQ(e.activations, 251658240u);
  EXPECT_EQ(e.reference, 0u);
  EXPECT_EQ(e.optimizer, 12000000u);
  EXPECT_EQ(e.gradients, 2000000u);
  EXPECT_EQ(e.logits, 128u * 1000 * 10);
}

// float32 weights need no master copy; the default MLP size is 4 h:
// activations = 1000 * 64 * (12*64 + 6*256) * 4 = 589,824,000.
TEST(MemoryEstimate, Float32Defaults) {
  MemoryEstimate e = estimate_memory({.parameters = 1000, .trainable_parameters = 1000, .weight_bytes = 4,
                                      .batch_tokens = 1000, .hidden_size = 64, .num_layers = 64});
  EXPECT_EQ(e.optimizer, 8000u);
  EXPECT_EQ(e.activations, 589824000u);
  EXPECT_EQ(e.logits, 0u);
  EXPECT_ERROR_WITH(estimate_memory({.weight_bytes = 3}), "weight_bytes");
  EXPECT_ERROR_WITH(estimate_memory({.parameters = 1, .trainable_parameters = 2}), "trainable_parameters");
  EXPECT_GT(physical_memory_bytes(), 0u);
}

// QLoRA: the packed base replaces P * w; LoRA masters are float32 (adapters 4 bytes, gradients 4, AdamW
// 8, no master copy); one layer dequantised at a time; a KV cache of 2 L H_kv D tokens a; the runtime.
//   adapters  = 1,000,000 * 4 = 4,000,000; optimizer = 8,000,000; gradients = 4,000,000
//   dequantized = 4096 * 11008 * 2 = 90,177,536
//   kv cache = 2 * 24 * 2 * 64 * 1000 tokens * 2 = 12,288,000
TEST(MemoryEstimate, QuantisedBaseLoraKvCacheAndRuntime) {
  MemoryInputs in{.parameters = 494032768, .trainable_parameters = 1000000, .weight_bytes = 2, .batch_tokens = 0,
                  .hidden_size = 896, .intermediate_size = 4864, .num_layers = 24};
  in.base_weight_bytes = 300e6;
  in.lora = true;
  in.dequantized_values = 4096 * 11008;
  in.compute_bytes = 2;
  in.kv_cache_tokens = 1000;
  in.kv_heads = 2;
  in.head_dim = 64;
  in.runtime_bytes = 1000;
  MemoryEstimate e = estimate_memory(in);
  EXPECT_EQ(e.weights, 300000000u);
  EXPECT_EQ(e.adapters, 4000000u);
  EXPECT_EQ(e.optimizer, 8000000u);
  EXPECT_EQ(e.gradients, 4000000u);
  EXPECT_EQ(e.dequantized, 90177536u);
  EXPECT_EQ(e.kv_cache, 12288000u);
  EXPECT_EQ(e.runtime, 1000u);
  EXPECT_EQ(e.total(), 300000000u + 4000000u + 8000000u + 4000000u + 90177536u + 12288000u + 1000u);
  EXPECT_NE(e.describe().find("dequantized layer 90.2 MB"), std::string::npos) << e.describe();
}

}  // namespace prefer::train
