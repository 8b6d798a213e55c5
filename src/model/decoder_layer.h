// One transformer block: pre-norm self-attention and pre-norm gated MLP, each with a residual.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "io/hf_config.h"
#include "model/linear.h"
#include "model/mlp.h"
#include "model/rope.h"

namespace prefer::model {

class KvCache;

struct SelfAttention {
  Linear q, k, v, o;   // q [Hq*D, hidden], k/v [Hkv*D, hidden], o [hidden, Hq*D]
  at::Tensor q_norm;   // [D] (Qwen3), undefined otherwise
  at::Tensor k_norm;   // [D] (Qwen3)
};

struct DecoderLayer {
  at::Tensor input_norm;  // [hidden]
  SelfAttention attn;
  at::Tensor post_norm;   // [hidden]
  Mlp mlp;
  int64_t window = 0;     // sliding window of this layer, 0 = full attention
};

// What every layer of one forward shares.
struct LayerInputs {
  const io::ModelConfig* config = nullptr;
  const RopeTables* rope = nullptr;  // [B, Tq, D] for the new tokens
  const at::Tensor* bias = nullptr;  // [B, 1, Tq, Tk] for this layer's window
  const at::Tensor* key_spans = nullptr;  // [B, Tq, 3] the keys each query sees, or null / undefined (attend())
  KvCache* cache = nullptr;          // null: no cache; keys are the new tokens only
  int64_t index = 0;                 // the layer's index (for the cache)
  int64_t causal_offset = -1;        // >= 0: no query i sees a key slot past i + causal_offset (attend())
  ForwardMode mode;
  // The linear layers' dtype; under mixed precision the residual stream x is float32 and each norm's
  // output is rounded to this before the GEMMs read it.
  at::ScalarType compute = at::kFloat;
};

// x [B, Tq, hidden] -> [B, Tq, hidden]
at::Tensor decoder_layer_forward(const DecoderLayer& layer, const at::Tensor& x, const LayerInputs& in);

}  // namespace prefer::model
