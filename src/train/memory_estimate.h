// A rough estimate of a training run's peak memory, by component, for the pre-flight check and for
// `prefer dpo`'s start-up summary. Rough means: right within a factor of about 1.5 for decoder-only
// models trained with AdamW; allocator overhead, fragmentation and temporary buffers are not counted.
//
// With P parameters of which T are trainable, w bytes per weight and a bytes per activation:
//   weights      P * w
//   reference    P * w when a frozen reference copy is kept (not with precompute_ref_log_probs, nor
//                with LoRA, where the reference is the base model with the adapter switched off)
//   optimizer    T * (4 + 4 + m): AdamW's two float32 moments, plus m = 4 for a float32 master copy when
//                w < 4 (optimizer.h)
//   gradients    T * w
//   activations  N * L * (12 h + 6 i) * a for N tokens per micro-batch (policy forward: chosen and rejected
//                rows), L layers, hidden size h and MLP size i (default 4 h). Per token and layer, backward
//                keeps norm inputs and their float32 upcasts, q, k, v, the attention output, LoRA's dropped-out
//                inputs and residuals (about 12 h) and gate, up, the activation, the product and their
//                temporaries (about 6 i). The coefficients are measured, not derived: bench_qlora_memory's
//                135M DPO runs (bf16, fp32, 8-bit and 4-bit LoRA, full fine-tuning) put the peak RSS within
//                about 10% of this estimate (docs/performance.md, "QLoRA"). With gradient checkpointing only
//                each layer's input is kept (N * L * h * a) plus one layer's activations recomputed at a time.
//   logits       R * V * (a + 4 + 4) for R rows of logits alive at once (V the vocabulary): the logits, their
//                float32 log-softmax, and the float32 gradient in backward. The scorer computes response
//                positions in chunks (R = the chunk); R = N is the unchunked worst case.
// The peak is the sum, except that gradients and activations are not at their largest together: the
// trainer frees gradients after each optimizer step, so the forward's activations peak with no gradient
// held, and backward fills the gradients as it frees the activations. The total counts the larger of the two.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "util/memory.h"

namespace prefer::train {

struct MemoryInputs {
  int64_t parameters = 0;            // P
  int64_t trainable_parameters = 0;  // T (LoRA: the adapter's parameters)
  int weight_bytes = 2;              // w: 2 for bfloat16 / float16, 4 for float32
  int activation_bytes = 0;          // a: 0 = weight_bytes
  bool reference_copy = false;       // a second full model as the frozen reference
  int64_t batch_tokens = 0;          // N
  int64_t logits_tokens = 0;         // R; 0 = batch_tokens
  int64_t vocab_size = 0;            // V
  int64_t hidden_size = 0;           // h
  int64_t intermediate_size = 0;     // i; 0 = 4 h
  int64_t num_layers = 0;            // L
  bool gradient_checkpointing = false;
  // QLoRA and the plan (prefer plan): a quantised base's bytes replace P * w (-1 = not quantised), LoRA
  // adapters are float32 masters (their gradients too), the largest linear layer is dequantised for
  // each call (a transient of that many values in the compute dtype), rollouts keep a KV cache, and the
  // process itself (LibTorch, allocator, tokenizer, data) takes a fixed amount.
  double base_weight_bytes = -1;
  bool lora = false;
  int64_t dequantized_values = 0;     // values of the largest quantised linear layer; 0 = none
  int compute_bytes = 4;              // the dequantised layer's dtype size
  int64_t kv_cache_tokens = 0;        // rows x (prompt + response) of one rollout batch
  int64_t kv_heads = 0, head_dim = 0;
  uint64_t runtime_bytes = 0;
  int reference_models = 1;           // frozen copies when reference_copy (PPO: reference and reward)
};

struct MemoryEstimate {
  uint64_t weights = 0;
  uint64_t reference = 0;
  uint64_t optimizer = 0;
  uint64_t gradients = 0;
  uint64_t activations = 0;
  uint64_t logits = 0;
  uint64_t adapters = 0;      // LoRA masters (float32)
  uint64_t dequantized = 0;   // one quantised layer restored for its matmul
  uint64_t kv_cache = 0;
  uint64_t runtime = 0;

  uint64_t total() const {
    return weights + reference + optimizer + std::max(gradients, activations) + logits + adapters + dequantized + kv_cache + runtime;
  }
  // "weights 1.0 GB, optimizer ..., total 3.4 GB"
  std::string describe() const;
  // The non-zero optional components and the always-shown ones, in the order of the seed's table.
  std::vector<std::pair<std::string, uint64_t>> rows() const;
};

// Throws prefer::Error for negative counts or byte sizes outside {1, 2, 4, 8}.
MemoryEstimate estimate_memory(const MemoryInputs& in);

// Physical memory of this machine (sysconf), 0 when unknown.
inline uint64_t physical_memory_bytes() { return prefer::physical_memory_bytes(); }

}  // namespace prefer::train
