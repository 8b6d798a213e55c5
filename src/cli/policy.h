// The trained model of every training command, in one place: load (a model folder, run folder or
// adapter, with --adapter merged in), LoRA or full fine-tuning, the trainable parameters, checkpoints
// (matched by name with a shape check) and final/ (an HF folder, or a PEFT adapter with the tokenizer
// files beside it).
#pragma once

#include <filesystem>
#include <optional>

#include "io/hf_config.h"
#include "model/causal_lm.h"
#include "model/lora.h"
#include "model/model_source.h"
#include "model/quantized_model.h"
#include "train/memory_estimate.h"
#include "train/training_task.h"
#include "util/json.h"

namespace prefer::cli {

struct PolicyOptions {
  model::ModelSource source;
  at::ScalarType dtype = at::kFloat;
  bool use_peft = false;
  model::LoraConfig lora;       // with use_peft; task_type SEQ_CLS for reward models
  uint64_t seed = 42;           // LoRA and new-head initialisation
  bool merge = false;           // with use_peft: also write final/merged
  // Reward / value models: a sequence-classification head with one output (added when the source is
  // a causal LM), and the pad token id written into its config.json.
  bool classifier = false;
  std::optional<int64_t> pad_token_id;
  // New special tokens: the embeddings (and an untied LM head) grow to this many rows; 0 = as loaded.
  int64_t vocab_size = 0;
  // A quantised frozen base (needs use_peft) and gradient checkpointing.
  model::QuantizationConfig quantization;
  bool gradient_checkpointing = false;
  // bf16/f16: embeddings, norms and the residual stream in float32 as autocast does (CausalLM::
  // set_mixed_precision); false: every weight in the compute dtype (--pure_bf16).
  bool mixed_precision = true;
};

// The options every training command reads the same way: --bf16 / --pure_bf16, --use_peft and the LoRA
// flags, --seed, --merge, --load_in_4bit / --load_in_8bit and --gradient_checkpointing. The caller sets
// what is its own (classifier, pad_token_id, vocab_size). Throws for bad LoRA or quantisation flags.
PolicyOptions policy_options(const Json& o, const model::ModelSource& source);

class Policy {
 public:
  explicit Policy(PolicyOptions options);

  model::CausalLM& model() { return model_; }
  const PolicyOptions& options() const { return opt_; }
  int64_t trainable_parameters() const;
  int64_t total_parameters() const;
  // What the memory estimate needs of this model: parameters, trainable parameters, weight bytes and
  // sizes, for micro-batches of `batch_tokens` tokens scored `chunk_tokens` positions at a time.
  train::MemoryInputs memory_inputs(int64_t batch_tokens, int64_t chunk_tokens) const;
  // Fills the task's trainable / save_checkpoint / load_checkpoint / save_final. trainable (called once,
  // when the optimizer is made) hands over the checkpoint's float32 values of bf16 weights with them.
  void install(train::TrainingTask& task);

 private:
  std::vector<train::NamedParam> trainable() const;
  void save_checkpoint(const std::filesystem::path& dir) const;
  void load_checkpoint(const std::filesystem::path& dir);
  void save_final(const std::filesystem::path& dir) const;

  PolicyOptions opt_;
  model::CausalLM model_;
};

}  // namespace prefer::cli
