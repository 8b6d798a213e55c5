#include "train/memory_estimate.h"

#include <algorithm>

#include "util/error.h"
#include "util/strings.h"

namespace prefer::train {

namespace {

void check_bytes(int b, const char* field) {
  if (b != 1 && b != 2 && b != 4 && b != 8) throw Error("must be 1, 2, 4 or 8 bytes", {.field = field});
}

uint64_t u(int64_t v) { return static_cast<uint64_t>(v); }

}  // namespace

std::string MemoryEstimate::describe() const {
  std::string s;
  for (const auto& [name, v] : rows()) s += (s.empty() ? "" : ", ") + name + " " + format_bytes(static_cast<double>(v));
  return s + ", total " + format_bytes(static_cast<double>(total()));
}

std::vector<std::pair<std::string, uint64_t>> MemoryEstimate::rows() const {
  std::vector<std::pair<std::string, uint64_t>> r = {{"weights", weights}};
  if (adapters) r.emplace_back("adapters", adapters);
  r.insert(r.end(), {{"optimizer", optimizer}, {"gradients", gradients}, {"activations", activations}, {"logits", logits},
                     {"reference", reference}});
  if (dequantized) r.emplace_back("dequantized layer", dequantized);
  if (kv_cache) r.emplace_back("kv cache", kv_cache);
  if (runtime) r.emplace_back("runtime", runtime);
  return r;
}

MemoryEstimate estimate_memory(const MemoryInputs& in) {
  for (auto [v, field] : {std::pair{in.parameters, "parameters"}, {in.trainable_parameters, "trainable_parameters"},
                          {in.batch_tokens, "batch_tokens"}, {in.logits_tokens, "logits_tokens"},
                          {in.vocab_size, "vocab_size"}, {in.hidden_size, "hidden_size"},
                          {in.intermediate_size, "intermediate_size"}, {in.num_layers, "num_layers"}})
    if (v < 0) throw Error("must be >= 0", {.field = field});
  if (in.trainable_parameters > in.parameters)
    throw Error("exceeds the number of parameters", {.field = "trainable_parameters"});
  check_bytes(in.weight_bytes, "weight_bytes");
  const int a = in.activation_bytes > 0 ? in.activation_bytes : in.weight_bytes;
  check_bytes(a, "activation_bytes");
  const uint64_t w = u(in.weight_bytes), ab = u(a);
  const uint64_t h = u(in.hidden_size), i = in.intermediate_size > 0 ? u(in.intermediate_size) : 4 * h;
  const uint64_t n = u(in.batch_tokens), layers = u(in.num_layers);
  const uint64_t per_token_layer = (12 * h + 6 * i) * ab;  // calibrated: see the header

  MemoryEstimate e;
  e.weights = in.base_weight_bytes >= 0 ? static_cast<uint64_t>(in.base_weight_bytes) : u(in.parameters) * w;
  e.reference = in.reference_copy ? e.weights * static_cast<uint64_t>(std::max(1, in.reference_models)) : 0;
  const uint64_t t = u(in.trainable_parameters);
  e.adapters = in.lora ? t * 4 : 0;
  e.optimizer = t * (8 + (w < 4 && !in.lora ? 4 : 0));
  e.gradients = t * (in.lora ? 4 : w);
  e.dequantized = u(in.dequantized_values) * u(in.compute_bytes);
  e.kv_cache = 2 * u(in.num_layers) * u(in.kv_heads) * u(in.head_dim) * u(in.kv_cache_tokens) * ab;
  e.runtime = in.runtime_bytes;
  e.activations = in.gradient_checkpointing ? n * layers * h * ab + n * per_token_layer : n * layers * per_token_layer;
  const uint64_t rows = in.logits_tokens > 0 ? u(in.logits_tokens) : n;
  e.logits = rows * u(in.vocab_size) * (ab + 4 + 4);
  return e;
}

}  // namespace prefer::train
