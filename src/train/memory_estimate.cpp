#include "train/memory_estimate.h"

#include <unistd.h>

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
  return "weights " + format_bytes(static_cast<double>(weights)) + ", reference " +
         format_bytes(static_cast<double>(reference)) + ", optimizer " + format_bytes(static_cast<double>(optimizer)) +
         ", gradients " + format_bytes(static_cast<double>(gradients)) + ", activations " +
         format_bytes(static_cast<double>(activations)) + ", logits " + format_bytes(static_cast<double>(logits)) +
         ", total " + format_bytes(static_cast<double>(total()));
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
  const uint64_t per_token_layer = (8 * h + 4 * i) * ab;

  MemoryEstimate e;
  e.weights = u(in.parameters) * w;
  e.reference = in.reference_copy ? u(in.parameters) * w : 0;
  e.optimizer = u(in.trainable_parameters) * (8 + (w < 4 ? 4 : 0));
  e.gradients = u(in.trainable_parameters) * w;
  e.activations = in.gradient_checkpointing ? n * layers * h * ab + n * per_token_layer : n * layers * per_token_layer;
  const uint64_t rows = in.logits_tokens > 0 ? u(in.logits_tokens) : n;
  e.logits = rows * u(in.vocab_size) * (ab + 4 + 4);
  return e;
}

uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

}  // namespace prefer::train
