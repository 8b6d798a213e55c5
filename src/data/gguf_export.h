// A causal LM as a GGUF file that llama.cpp (and Ollama, LM Studio) loads, as llama.cpp's own
// convert_hf_to_gguf.py lays it out:
//   architecture  llama (Llama, Mistral), qwen2, qwen3, gemma; hyperparameters under "<arch>.";
//   tensors       token_embd, output_norm, output (absent when tied), blk.N.attn_norm / attn_q / attn_k /
//                 attn_v / attn_output (+ .bias, attn_q_norm / attn_k_norm), ffn_norm, ffn_gate / ffn_up
//                 / ffn_down; rope_freqs for Llama 3 rope scaling;
//   transforms    llama's q/k rows permuted from HF's rotate-half layout to ggml's interleaved rope
//                 pairs; Gemma's norm weights stored as 1 + w (llama.cpp multiplies by w);
//   types         vectors f32; matrices in the outtype (q8_0/q4_0 fall back to f16 for a row length
//                 that is not a multiple of 32);
// with the tokenizer's metadata (gguf_vocab.h). What llama.cpp cannot represent is an error naming
// the config field: a sliding window shorter than the context (llama.cpp's llama and qwen2
// architectures attend to the whole context), biases or activations its graphs do not have.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/causal_lm.h"
#include "model/lora.h"

namespace prefer::data {

struct GgufExportOptions {
  io::GgmlType outtype = io::GgmlType::F32;
  std::string name;  // general.name; default: the model folder's name
};

struct GgufExport {
  io::GgufFile file;
  std::vector<std::string> warnings;
};

// `model` dense (no quantised layers, adapters merged); its tokenizer files in `tokenizer_dir`.
GgufExport gguf_from_model(const model::CausalLM& model, const std::filesystem::path& tokenizer_dir, const GgufExportOptions& options);

// A LoRA adapter (the one `model` carries, `config` as read from adapter_config.json) as a GGUF adapter
// file that llama.cpp applies on top of the base model's GGUF (llama_adapter_lora_init; `--lora` of
// llama-cli): general.type "adapter", adapter.type "lora", adapter.lora.alpha (llama.cpp scales by
// alpha / r, so rsLoRA's alpha / sqrt(r) is written as alpha * sqrt(r)), and per adapted matrix
// "<tensor>.lora_a" [r, in] and "<tensor>.lora_b" [out, r] in f32, with llama's q/k rows of B permuted
// as the base's are. A classifier adapter (modules_to_save) is an error.
GgufExport gguf_lora_from_model(const model::CausalLM& model, const model::LoraConfig& config, const std::string& name);

// "f32", "f16", "bf16", "q8_0", "q4_0" -> type; anything else an error naming `outtype`.
io::GgmlType parse_outtype(const std::string& name);

}  // namespace prefer::data
