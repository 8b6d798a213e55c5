// Hugging Face model folder -> CausalLM: config.json, then every tensor of the (single or sharded)
// safetensors checkpoint, checked against the architecture's weight table.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/model_folder.h"
#include "model/causal_lm.h"
#include "model/quantized_model.h"

namespace prefer::model {

struct LoadOptions {
  at::ScalarType dtype = at::kFloat;  // compute dtype; weights stored as F32, BF16 or F16 are converted
  at::Device device = at::kCPU;
  // Load a causal LM's weights under a sequence-classification head (reward or value model from an
  // SFT model): lm_head.weight is then not used and score.weight [num_labels, hidden] is initialised
  // from normal(0, initializer_range) with `head_seed`, as transformers does for a new head.
  std::optional<io::HeadKind> head;
  int64_t num_labels = 1;
  uint64_t head_seed = 0;
  // Quantise the decoder's linear layers as they are read (each dense weight lives only while it is
  // quantised, so a 4-bit model never exists in full precision). A checkpoint that bitsandbytes
  // quantised already is read as it is (config.json's quantization_config); asking for another
  // quantisation of it is an error.
  QuantizationConfig quantization;
  // bf16/f16: the embeddings and norm weights are read as float32 (CausalLM::set_mixed_precision), so
  // a float32 checkpoint keeps their full precision as autocast does.
  bool mixed_precision = false;
  // bf16/f16 weights read from a float32/float64 checkpoint also keep their float32 values, for the
  // optimizer's masters of a full fine-tuning run (CausalLM::keep_full_precision; 4 bytes a weight until
  // the optimizer takes them).
  bool keep_full_precision = false;
};

// What loading did besides filling weights (shown to the user as warnings).
struct LoadReport {
  std::vector<std::string> ignored;      // tensors in the checkpoint the model does not use (allowed ones)
  std::vector<std::string> initialized;  // weights not in the checkpoint, freshly initialised (new heads)
};

// Reads the folder and its weights. Errors name the file and tensor: a missing tensor, an unexpected
// one, a shape that differs from the config's, a non-float dtype. All problems are listed at once.
CausalLM load_model(const std::filesystem::path& dir, const LoadOptions& options = {}, LoadReport* report = nullptr);
CausalLM load_model(const io::ModelFolder& folder, const LoadOptions& options = {}, LoadReport* report = nullptr);

// Fills `model`'s weights from `checkpoint` (same checks as load_model).
void load_weights(CausalLM& model, const io::Checkpoint& checkpoint, LoadReport* report = nullptr);

}  // namespace prefer::model
