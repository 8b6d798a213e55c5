#include "data/gguf_export.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>
#include <map>

#include "data/gguf_vocab.h"
#include "io/ggml_quant.h"
#include "model/rope.h"
#include "util/error.h"

namespace prefer::data {
namespace fs = std::filesystem;

namespace {

std::string arch_of(const io::ModelConfig& c) {
  switch (c.family) {
    case io::ModelFamily::Llama:
    case io::ModelFamily::Mistral: return "llama";
    case io::ModelFamily::Qwen2: return "qwen2";
    case io::ModelFamily::Qwen3: return "qwen3";
    case io::ModelFamily::Gemma: return "gemma";
  }
  return "";
}

// HF name -> GGUF name ("" for a tensor llama.cpp has no place for).
std::string gguf_name(const std::string& hf) {
  static const std::map<std::string, std::string> top = {
      {"model.embed_tokens.weight", "token_embd.weight"}, {"model.norm.weight", "output_norm.weight"}, {"lm_head.weight", "output.weight"}};
  static const std::map<std::string, std::string> layer = {
      {"input_layernorm", "attn_norm"}, {"post_attention_layernorm", "ffn_norm"}, {"self_attn.q_proj", "attn_q"},
      {"self_attn.k_proj", "attn_k"},   {"self_attn.v_proj", "attn_v"},           {"self_attn.o_proj", "attn_output"},
      {"self_attn.q_norm", "attn_q_norm"}, {"self_attn.k_norm", "attn_k_norm"},   {"mlp.gate_proj", "ffn_gate"},
      {"mlp.up_proj", "ffn_up"},        {"mlp.down_proj", "ffn_down"}};
  if (auto it = top.find(hf); it != top.end()) return it->second;
  const std::string prefix = "model.layers.";
  if (hf.rfind(prefix, 0) != 0) return "";
  const size_t dot = hf.find('.', prefix.size());
  const size_t last = hf.rfind('.');
  if (dot == std::string::npos || last <= dot) return "";
  auto it = layer.find(hf.substr(dot + 1, last - dot - 1));
  if (it == layer.end()) return "";
  return "blk." + hf.substr(prefix.size(), dot - prefix.size()) + "." + it->second + hf.substr(last);
}

// HF's q/k rows hold each head as [first half | second half] of the rotated pairs (rotate_half);
// llama.cpp's llama architecture rotates adjacent pairs: rows (h, half, i) -> (h, i, half).
at::Tensor permute_rope_rows(const at::Tensor& w, int64_t heads) {
  const int64_t rows = w.size(0);
  std::vector<int64_t> shape = {heads, 2, rows / heads / 2};
  for (int64_t d = 1; d < w.dim(); ++d) shape.push_back(w.size(d));
  return w.reshape(shape).transpose(1, 2).reshape(w.sizes()).contiguous();
}

uint32_t file_type(io::GgmlType t) {
  switch (t) {
    case io::GgmlType::F32: return 0;
    case io::GgmlType::F16: return 1;
    case io::GgmlType::Q4_0: return 2;
    case io::GgmlType::Q8_0: return 7;
    case io::GgmlType::BF16: return 32;
  }
  return 0;
}

io::GgufTensor tensor(const std::string& name, const at::Tensor& t, io::GgmlType type) {
  const at::Tensor f = t.detach().to(at::kCPU, at::kFloat).contiguous();
  io::GgufTensor g{.name = name, .type = type};
  for (int64_t d = f.dim() - 1; d >= 0; --d) g.ne.push_back(f.size(d));
  g.data = io::ggml_encode(type, f.data_ptr<float>(), f.numel());
  return g;
}

void check_representable(const io::ModelConfig& c, const std::string& arch, const fs::path& cfg) {
  const std::string file = cfg.string();
  if (c.head != io::HeadKind::CausalLM)
    throw Error("GGUF export is for causal LMs; this is a " + c.architecture, {.file = file, .field = "architectures"});
  for (int64_t w : c.layer_window)
    if (w > 0 && w < c.max_position_embeddings)
      throw Error(fmt::format("a sliding window of {} tokens, shorter than the context ({}): llama.cpp's {} architecture attends to the "
                              "whole context, so the exported model would not compute what this one does",
                              w, c.max_position_embeddings, arch),
                  {.file = file, .field = "sliding_window",
                   .hint = "export is possible once sliding_window is at least max_position_embeddings (or null)"});
  const bool gemma = c.family == io::ModelFamily::Gemma;
  if (gemma ? c.activation == io::Activation::SiLU : c.activation != io::Activation::SiLU)
    throw Error("llama.cpp's " + arch + " architecture uses " + (gemma ? "GELU" : "SiLU") + ", this model " +
                    std::string(io::activation_name(c.activation)),
                {.file = file, .field = "hidden_act"});
  if ((c.family == io::ModelFamily::Qwen3 || gemma) && (c.qkv_bias || c.o_bias))
    throw Error("llama.cpp's " + arch + " architecture has no attention biases", {.file = file, .field = "attention_bias"});
  if (c.family != io::ModelFamily::Llama && c.family != io::ModelFamily::Mistral && c.mlp_bias)
    throw Error("llama.cpp's " + arch + " architecture has no MLP biases", {.file = file, .field = "mlp_bias"});
}

// The GGUF tensor a weight becomes, with llama's rope permutation where the architecture needs it:
// rows of q/k weights (and of a LoRA B that writes into them).
at::Tensor for_gguf(const std::string& gguf, at::Tensor w, const io::ModelConfig& c) {
  if (arch_of(c) != "llama") return w;
  if (gguf.find(".attn_q.") != std::string::npos) return permute_rope_rows(w, c.num_attention_heads);
  if (gguf.find(".attn_k.") != std::string::npos) return permute_rope_rows(w, c.num_key_value_heads);
  return w;
}

void add_architecture_metadata(GgufExport& out, const io::ModelConfig& c, const std::string& name) {
  auto& md = out.file.metadata;
  md.emplace_back("general.architecture", arch_of(c));
  md.emplace_back("general.name", name);
}

}  // namespace

GgufExport gguf_lora_from_model(const model::CausalLM& m, const model::LoraConfig& lc, const std::string& name) {
  const io::ModelConfig& c = m.config();
  check_representable(c, arch_of(c), m.source_dir() / "config.json");
  if (lc.task_type != "CAUSAL_LM")
    throw Error("GGUF LoRA adapters are for causal LMs; this adapter is " + lc.task_type, {.field = "task_type"});
  GgufExport out;
  add_architecture_metadata(out, c, name);
  auto& md = out.file.metadata;
  md.emplace_back("general.type", std::string("adapter"));
  md.emplace_back("adapter.type", std::string("lora"));
  const double alpha = lc.use_rslora ? lc.lora_alpha * std::sqrt(static_cast<double>(lc.r)) : lc.lora_alpha;
  md.emplace_back("adapter.lora.alpha", static_cast<float>(alpha));
  at::NoGradGuard ng;
  const std::string head = "base_model.model.";
  for (const auto& [peft, t] : model::lora_parameters(m, lc)) {
    // base_model.model.<module>.lora_A.weight -> <module>.weight -> blk.N.<tensor>.weight.lora_a
    const size_t part = peft.rfind(".lora_");
    if (peft.rfind(head, 0) != 0 || part == std::string::npos)
      throw Error("'" + peft + "' is not a LoRA matrix of the decoder (GGUF adapters hold only those)", {.field = peft});
    const std::string gguf = gguf_name(peft.substr(head.size(), part - head.size()) + ".weight");
    if (gguf.empty()) throw Error("no GGUF tensor for the module of '" + peft + "'", {.field = peft});
    const bool a = peft.compare(part, 7, ".lora_A") == 0;
    at::Tensor w = t.detach().to(at::kFloat);
    if (!a) w = for_gguf(gguf, w, c);  // B's rows are the base weight's rows
    out.file.tensors.push_back(tensor(gguf + (a ? ".lora_a" : ".lora_b"), w, io::GgmlType::F32));
  }
  return out;
}

io::GgmlType parse_outtype(const std::string& n) {
  if (n == "f32") return io::GgmlType::F32;
  if (n == "f16") return io::GgmlType::F16;
  if (n == "bf16") return io::GgmlType::BF16;
  if (n == "q8_0") return io::GgmlType::Q8_0;
  if (n == "q4_0") return io::GgmlType::Q4_0;
  throw Error("must be f32, f16, bf16, q8_0 or q4_0, not '" + n + "'", {.field = "outtype"});
}

GgufExport gguf_from_model(const model::CausalLM& m, const fs::path& tokenizer_dir, const GgufExportOptions& o) {
  const io::ModelConfig& c = m.config();
  const std::string arch = arch_of(c);
  check_representable(c, arch, m.source_dir() / "config.json");
  GgufExport out;
  auto& md = out.file.metadata;
  const bool quantized = o.outtype == io::GgmlType::Q8_0 || o.outtype == io::GgmlType::Q4_0;
  add_architecture_metadata(out, c, o.name.empty() ? m.source_dir().filename().string() : o.name);
  md.emplace_back("general.file_type", file_type(o.outtype));
  if (quantized) md.emplace_back("general.quantization_version", uint32_t{2});
  auto u = [&](const std::string& k, int64_t v) { md.emplace_back(arch + "." + k, static_cast<uint32_t>(v)); };
  u("context_length", c.max_position_embeddings);
  u("embedding_length", c.hidden_size);
  u("block_count", c.num_hidden_layers);
  u("feed_forward_length", c.intermediate_size);
  u("attention.head_count", c.num_attention_heads);
  u("attention.head_count_kv", c.num_key_value_heads);
  u("attention.key_length", c.head_dim);
  u("attention.value_length", c.head_dim);
  u("rope.dimension_count", c.head_dim);
  u("vocab_size", c.vocab_size);
  md.emplace_back(arch + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  md.emplace_back(arch + ".rope.freq_base", static_cast<float>(c.rope_theta));
  if (c.rope_scaling.type == "linear") {
    md.emplace_back(arch + ".rope.scaling.type", std::string("linear"));
    md.emplace_back(arch + ".rope.scaling.factor", static_cast<float>(c.rope_scaling.factor));
  }

  GgufVocab vocab = gguf_vocab(tokenizer_dir, c.vocab_size);
  out.warnings = vocab.warnings;
  md.insert(md.end(), vocab.metadata.begin(), vocab.metadata.end());

  at::NoGradGuard ng;
  for (const auto& [hf, t] : m.named_parameters()) {
    const std::string name = gguf_name(hf);
    if (name.empty()) throw Error("no GGUF tensor for '" + hf + "'", {.field = hf});
    at::Tensor w = for_gguf(name, t.detach().to(at::kFloat), c);
    if (c.norm_plus_one && name.find("norm.weight") != std::string::npos) w = w + 1;  // llama.cpp's gemma multiplies by w
    io::GgmlType type = w.dim() == 1 ? io::GgmlType::F32 : o.outtype;
    if (io::ggml_block_size(type) > 1 && w.size(-1) % io::ggml_block_size(type) != 0) type = io::GgmlType::F16;
    out.file.tensors.push_back(tensor(name, w, type));
  }
  if (c.rope_scaling.type == "llama3") {
    // llama.cpp divides each rotary frequency by rope_freqs[i]: the unscaled over the scaled inv_freq.
    io::ModelConfig plain = c;
    plain.rope_scaling = {};
    out.file.tensors.push_back(tensor("rope_freqs.weight", model::rope_inv_freq(plain) / model::rope_inv_freq(c), io::GgmlType::F32));
  }
  return out;
}

}  // namespace prefer::data
