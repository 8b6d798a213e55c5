#include "model/weight_map.h"

#include <span>
#include <string_view>

namespace prefer::model {

namespace {

// Symbolic dimensions, resolved against a config.
enum class Dim : uint8_t { None, Vocab, Hidden, Inter, QOut, KvOut, HeadDim, Labels };
// When a row applies; every row of a family table is checked against the config flags io/ set for it.
enum class When : uint8_t { Always, QkvBias, OBias, MlpBias, QkNorm, Untied, ClsHead };

struct Row {
  std::string_view name;  // "{}" stands for the layer index in per-layer rows
  Slot slot;
  Dim d0, d1;
  When when;
};

// Rows every supported architecture has: the Llama layout.
constexpr Row kCommon[] = {
    {"model.embed_tokens.weight", Slot::Embed, Dim::Vocab, Dim::Hidden, When::Always},
    {"model.layers.{}.input_layernorm.weight", Slot::InputNorm, Dim::Hidden, Dim::None, When::Always},
    {"model.layers.{}.self_attn.q_proj.weight", Slot::QProj, Dim::QOut, Dim::Hidden, When::Always},
    {"model.layers.{}.self_attn.k_proj.weight", Slot::KProj, Dim::KvOut, Dim::Hidden, When::Always},
    {"model.layers.{}.self_attn.v_proj.weight", Slot::VProj, Dim::KvOut, Dim::Hidden, When::Always},
    {"model.layers.{}.self_attn.o_proj.weight", Slot::OProj, Dim::Hidden, Dim::QOut, When::Always},
    {"model.layers.{}.post_attention_layernorm.weight", Slot::PostNorm, Dim::Hidden, Dim::None, When::Always},
    {"model.layers.{}.mlp.gate_proj.weight", Slot::GateProj, Dim::Inter, Dim::Hidden, When::Always},
    {"model.layers.{}.mlp.up_proj.weight", Slot::UpProj, Dim::Inter, Dim::Hidden, When::Always},
    {"model.layers.{}.mlp.down_proj.weight", Slot::DownProj, Dim::Hidden, Dim::Inter, When::Always},
    {"model.norm.weight", Slot::FinalNorm, Dim::Hidden, Dim::None, When::Always},
    {"lm_head.weight", Slot::LmHead, Dim::Vocab, Dim::Hidden, When::Untied},
    {"score.weight", Slot::Score, Dim::Labels, Dim::Hidden, When::ClsHead},
};

// Per-architecture rows on top of kCommon.
constexpr Row kLlama[] = {  // attention_bias: q, k, v and o; mlp_bias: the MLP
    {"model.layers.{}.self_attn.q_proj.bias", Slot::QBias, Dim::QOut, Dim::None, When::QkvBias},
    {"model.layers.{}.self_attn.k_proj.bias", Slot::KBias, Dim::KvOut, Dim::None, When::QkvBias},
    {"model.layers.{}.self_attn.v_proj.bias", Slot::VBias, Dim::KvOut, Dim::None, When::QkvBias},
    {"model.layers.{}.self_attn.o_proj.bias", Slot::OBias, Dim::Hidden, Dim::None, When::OBias},
    {"model.layers.{}.mlp.gate_proj.bias", Slot::GateBias, Dim::Inter, Dim::None, When::MlpBias},
    {"model.layers.{}.mlp.up_proj.bias", Slot::UpBias, Dim::Inter, Dim::None, When::MlpBias},
    {"model.layers.{}.mlp.down_proj.bias", Slot::DownBias, Dim::Hidden, Dim::None, When::MlpBias},
};
constexpr std::span<const Row> kMistral{};  // no biases, no extra norms
constexpr Row kQwen2[] = {  // q/k/v always biased, o never
    {"model.layers.{}.self_attn.q_proj.bias", Slot::QBias, Dim::QOut, Dim::None, When::Always},
    {"model.layers.{}.self_attn.k_proj.bias", Slot::KBias, Dim::KvOut, Dim::None, When::Always},
    {"model.layers.{}.self_attn.v_proj.bias", Slot::VBias, Dim::KvOut, Dim::None, When::Always},
};
constexpr Row kQwen3[] = {  // RMSNorm over head_dim on each q and k head; attention_bias as Llama
    {"model.layers.{}.self_attn.q_proj.bias", Slot::QBias, Dim::QOut, Dim::None, When::QkvBias},
    {"model.layers.{}.self_attn.k_proj.bias", Slot::KBias, Dim::KvOut, Dim::None, When::QkvBias},
    {"model.layers.{}.self_attn.v_proj.bias", Slot::VBias, Dim::KvOut, Dim::None, When::QkvBias},
    {"model.layers.{}.self_attn.o_proj.bias", Slot::OBias, Dim::Hidden, Dim::None, When::OBias},
    {"model.layers.{}.self_attn.q_norm.weight", Slot::QNorm, Dim::HeadDim, Dim::None, When::QkNorm},
    {"model.layers.{}.self_attn.k_norm.weight", Slot::KNorm, Dim::HeadDim, Dim::None, When::QkNorm},
};
constexpr Row kGemma[] = {  // attention_bias on q, k, v and o
    {"model.layers.{}.self_attn.q_proj.bias", Slot::QBias, Dim::QOut, Dim::None, When::QkvBias},
    {"model.layers.{}.self_attn.k_proj.bias", Slot::KBias, Dim::KvOut, Dim::None, When::QkvBias},
    {"model.layers.{}.self_attn.v_proj.bias", Slot::VBias, Dim::KvOut, Dim::None, When::QkvBias},
    {"model.layers.{}.self_attn.o_proj.bias", Slot::OBias, Dim::Hidden, Dim::None, When::OBias},
};

std::span<const Row> family_rows(io::ModelFamily f) {
  switch (f) {
    case io::ModelFamily::Llama: return kLlama;
    case io::ModelFamily::Mistral: return kMistral;
    case io::ModelFamily::Qwen2: return kQwen2;
    case io::ModelFamily::Qwen3: return kQwen3;
    case io::ModelFamily::Gemma: return kGemma;
  }
  return {};
}

bool applies(When w, const io::ModelConfig& c) {
  const bool causal = c.head == io::HeadKind::CausalLM;
  switch (w) {
    case When::Always: return true;
    case When::QkvBias: return c.qkv_bias;
    case When::OBias: return c.o_bias;
    case When::MlpBias: return c.mlp_bias;
    case When::QkNorm: return c.qk_norm;
    case When::Untied: return causal && !c.tie_word_embeddings;
    case When::ClsHead: return !causal;
  }
  return false;
}

int64_t resolve(Dim d, const io::ModelConfig& c) {
  switch (d) {
    case Dim::None: return 0;
    case Dim::Vocab: return c.vocab_size;
    case Dim::Hidden: return c.hidden_size;
    case Dim::Inter: return c.intermediate_size;
    case Dim::QOut: return c.num_attention_heads * c.head_dim;
    case Dim::KvOut: return c.num_key_value_heads * c.head_dim;
    case Dim::HeadDim: return c.head_dim;
    case Dim::Labels: return c.num_labels;
  }
  return 0;
}

std::string fill_layer(std::string_view pattern, int64_t layer) {
  std::string s(pattern);
  auto at = s.find("{}");
  if (at != std::string::npos) s.replace(at, 2, std::to_string(layer));
  return s;
}

void add_row(const Row& r, const io::ModelConfig& c, int64_t layer, std::vector<WeightSpec>& out) {
  if (!applies(r.when, c)) return;
  WeightSpec w;
  w.name = fill_layer(r.name, layer);
  w.slot = r.slot;
  w.layer = is_per_layer(r.slot) ? layer : -1;
  w.shape.push_back(resolve(r.d0, c));
  if (r.d1 != Dim::None) w.shape.push_back(resolve(r.d1, c));
  out.push_back(std::move(w));
}

}  // namespace

bool is_per_layer(Slot s) { return s >= Slot::InputNorm; }

std::vector<WeightSpec> weight_specs(const io::ModelConfig& c) {
  std::vector<WeightSpec> out;
  std::span<const Row> extra = family_rows(c.family);
  for (const Row& r : kCommon)
    if (!is_per_layer(r.slot) && r.slot == Slot::Embed) add_row(r, c, -1, out);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    for (const Row& r : kCommon)
      if (is_per_layer(r.slot)) add_row(r, c, l, out);
    for (const Row& r : extra) add_row(r, c, l, out);
  }
  for (const Row& r : kCommon)
    if (!is_per_layer(r.slot) && r.slot != Slot::Embed) add_row(r, c, -1, out);
  return out;
}

const std::vector<Slot>& layer_linear_slots() {
  static const std::vector<Slot> slots = {Slot::QProj,    Slot::KProj,  Slot::VProj,   Slot::OProj,
                                          Slot::GateProj, Slot::UpProj, Slot::DownProj};
  return slots;
}

std::string linear_short_name(Slot s) {
  switch (s) {
    case Slot::QProj: return "q_proj";
    case Slot::KProj: return "k_proj";
    case Slot::VProj: return "v_proj";
    case Slot::OProj: return "o_proj";
    case Slot::GateProj: return "gate_proj";
    case Slot::UpProj: return "up_proj";
    case Slot::DownProj: return "down_proj";
    case Slot::LmHead: return "lm_head";
    case Slot::Score: return "score";
    default: return "";
  }
}

std::string linear_module_name(Slot s, int64_t layer) {
  std::string shortname = linear_short_name(s);
  if (shortname.empty()) return "";
  if (!is_per_layer(s)) return shortname;
  const bool attn = s == Slot::QProj || s == Slot::KProj || s == Slot::VProj || s == Slot::OProj;
  return "model.layers." + std::to_string(layer) + (attn ? ".self_attn." : ".mlp.") + shortname;
}

bool is_ignored_checkpoint_tensor(const std::string& name) {
  static constexpr std::string_view kSuffix = "rotary_emb.inv_freq";
  return name.size() >= kSuffix.size() && name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

}  // namespace prefer::model
