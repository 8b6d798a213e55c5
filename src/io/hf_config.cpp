#include "io/hf_config.h"

#include <cmath>

#include "util/error.h"
#include "util/strings.h"

namespace prefer::io {

namespace {

struct Family {
  ModelFamily family;
  std::string_view prefix;      // architecture name prefix
  std::string_view model_type;
  bool tie_default;             // transformers' default for tie_word_embeddings
};
constexpr Family kFamilies[] = {
    {ModelFamily::Llama, "Llama", "llama", false},   {ModelFamily::Mistral, "Mistral", "mistral", false},
    {ModelFamily::Qwen2, "Qwen2", "qwen2", false},   {ModelFamily::Qwen3, "Qwen3", "qwen3", false},
    {ModelFamily::Gemma, "Gemma", "gemma", true},
};
constexpr std::string_view kHeads[] = {"ForCausalLM", "ForSequenceClassification"};

Activation parse_activation(const std::string& name, const ErrorContext& ctx) {
  if (name == "silu" || name == "swish") return Activation::SiLU;
  if (name == "gelu_pytorch_tanh" || name == "gelu_new" || name == "gelu_fast") return Activation::GeluTanh;
  if (name == "gelu") return Activation::Gelu;
  throw Error("unsupported activation '" + name + "'", {.file = ctx.file, .field = ctx.field,
              .hint = "supported: silu, gelu_pytorch_tanh, gelu_new, gelu"});
}

// rope settings from either `rope_scaling` (4.x) or `rope_parameters` (5.x).
RopeScaling parse_rope(const Json& r, const ErrorContext& ctx) {
  RopeScaling s;
  auto type = opt_string(r, "rope_type", ctx);
  auto legacy = opt_string(r, "type", ctx);
  if (type && legacy && *type != *legacy)
    throw Error("'rope_type' is '" + *type + "' but 'type' is '" + *legacy + "'", ctx);
  s.type = type ? *type : legacy ? *legacy : "default";
  if (s.type == "default") return s;
  if (s.type != "linear" && s.type != "llama3") {
    ErrorContext c = ctx;
    c.field = ctx.field + ".rope_type";
    c.hint = "supported rope scaling types: linear, llama3";
    throw Error("unsupported rope scaling type '" + s.type + "'", c);
  }
  s.factor = require_number(r, "factor", ctx);
  if (!(s.factor > 0)) throw Error("factor must be > 0", {.file = ctx.file, .field = ctx.field + ".factor"});
  if (s.type == "llama3") {
    s.low_freq_factor = require_number(r, "low_freq_factor", ctx);
    s.high_freq_factor = require_number(r, "high_freq_factor", ctx);
    s.original_max_position_embeddings = require_int(r, "original_max_position_embeddings", ctx);
    if (!(s.high_freq_factor > s.low_freq_factor))
      throw Error("high_freq_factor must be greater than low_freq_factor",
                  {.file = ctx.file, .field = ctx.field + ".high_freq_factor"});
    if (s.original_max_position_embeddings <= 0)
      throw Error("must be > 0", {.file = ctx.file, .field = ctx.field + ".original_max_position_embeddings"});
  }
  return s;
}

int64_t positive(const Json& j, std::string_view key, const ErrorContext& ctx) {
  int64_t v = require_int(j, key, ctx);
  if (v <= 0) throw Error("must be > 0, found " + std::to_string(v), {.file = ctx.file, .field = std::string(key)});
  return v;
}

}  // namespace

std::vector<std::string> supported_architectures() {
  std::vector<std::string> out;
  for (const auto& f : kFamilies)
    for (auto h : kHeads) out.push_back(std::string(f.prefix) + std::string(h));
  return out;
}

std::string_view family_name(ModelFamily f) { return kFamilies[static_cast<int>(f)].model_type; }

std::string_view activation_name(Activation a) {
  switch (a) {
    case Activation::SiLU: return "silu";
    case Activation::GeluTanh: return "gelu_pytorch_tanh";
    case Activation::Gelu: return "gelu";
  }
  return "?";
}

ModelConfig parse_model_config(const Json& j, const std::string& file) {
  const ErrorContext ctx{.file = file};
  if (!j.is_object()) throw Error("expected a JSON object, found " + json_type_name(j), ctx);
  ModelConfig c;

  // --- architecture -------------------------------------------------------------------------------
  const Json& archs = require_field(j, "architectures", ctx);
  if (!archs.is_array() || archs.empty() || !archs[0].is_string())
    throw Error("expected a non-empty list of names", {.file = file, .field = "architectures"});
  c.architecture = archs[0].get<std::string>();
  const Family* fam = nullptr;
  for (const auto& f : kFamilies)
    for (size_t h = 0; h < std::size(kHeads); ++h)
      if (c.architecture == std::string(f.prefix) + std::string(kHeads[h])) {
        fam = &f;
        c.head = static_cast<HeadKind>(h);
      }
  if (fam == nullptr) {
    std::string hint = "supported: " + join(supported_architectures(), ", ");
    std::string near = suggest_name(c.architecture, supported_architectures());
    if (!near.empty()) hint = "did you mean " + near + "? " + hint;
    throw Error("unsupported architecture '" + c.architecture + "'", {.file = file, .field = "architectures", .hint = hint});
  }
  c.family = fam->family;
  c.model_type = opt_string(j, "model_type", ctx).value_or(std::string(fam->model_type));
  if (c.model_type != fam->model_type)
    throw Error("is '" + c.model_type + "' but architectures says " + c.architecture,
                {.file = file, .field = "model_type"});
  if (c.head == HeadKind::SequenceClassification) {
    c.num_labels = opt_int(j, "num_labels", ctx).value_or(0);
    if (c.num_labels == 0 && j.contains("id2label") && j["id2label"].is_object())
      c.num_labels = static_cast<int64_t>(j["id2label"].size());
    if (c.num_labels <= 0) c.num_labels = 2;  // transformers' PretrainedConfig default
  }

  // --- sizes ----------------------------------------------------------------------------------------
  c.vocab_size = positive(j, "vocab_size", ctx);
  c.hidden_size = positive(j, "hidden_size", ctx);
  c.intermediate_size = positive(j, "intermediate_size", ctx);
  c.num_hidden_layers = positive(j, "num_hidden_layers", ctx);
  c.num_attention_heads = positive(j, "num_attention_heads", ctx);
  c.num_key_value_heads = opt_int(j, "num_key_value_heads", ctx).value_or(c.num_attention_heads);
  if (c.num_key_value_heads <= 0 || c.num_attention_heads % c.num_key_value_heads != 0)
    throw Error("num_attention_heads (" + std::to_string(c.num_attention_heads) + ") must be a multiple of it (" +
                    std::to_string(c.num_key_value_heads) + ")",
                {.file = file, .field = "num_key_value_heads"});
  if (auto hd = opt_int(j, "head_dim", ctx)) {
    if (*hd <= 0) throw Error("must be > 0", {.file = file, .field = "head_dim"});
    c.head_dim = *hd;
  } else {
    if (c.hidden_size % c.num_attention_heads != 0)
      throw Error("hidden_size (" + std::to_string(c.hidden_size) + ") is not divisible by num_attention_heads (" +
                      std::to_string(c.num_attention_heads) + ")",
                  {.file = file, .field = "head_dim", .hint = "set head_dim explicitly"});
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) throw Error("must be even for rotary embeddings", {.file = file, .field = "head_dim"});
  c.max_position_embeddings = opt_int(j, "max_position_embeddings", ctx).value_or(c.family == ModelFamily::Mistral ? 131072 : 2048);
  c.rms_norm_eps = opt_number(j, "rms_norm_eps", ctx).value_or(1e-6);
  if (!(c.rms_norm_eps > 0)) throw Error("must be > 0", {.file = file, .field = "rms_norm_eps"});

  // --- rope -----------------------------------------------------------------------------------------
  auto theta = opt_number(j, "rope_theta", ctx);
  if (j.contains("rope_parameters") && !j["rope_parameters"].is_null()) {
    const Json& rp = j["rope_parameters"];
    ErrorContext rctx{.file = file, .field = "rope_parameters"};
    if (!rp.is_object()) throw Error("expected an object", rctx);
    auto t2 = opt_number(rp, "rope_theta", rctx);
    if (theta && t2 && *theta != *t2)
      throw Error("rope_theta is " + std::to_string(*theta) + " but rope_parameters.rope_theta is " + std::to_string(*t2),
                  {.file = file, .field = "rope_theta"});
    if (t2) theta = t2;
    c.rope_scaling = parse_rope(rp, rctx);
    if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
      RopeScaling legacy = parse_rope(j["rope_scaling"], {.file = file, .field = "rope_scaling"});
      if (legacy.type != c.rope_scaling.type || legacy.factor != c.rope_scaling.factor)
        throw Error("contradicts rope_parameters", {.file = file, .field = "rope_scaling"});
    }
  } else if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    if (!j["rope_scaling"].is_object()) throw Error("expected an object or null", {.file = file, .field = "rope_scaling"});
    c.rope_scaling = parse_rope(j["rope_scaling"], {.file = file, .field = "rope_scaling"});
  }
  c.rope_theta = theta.value_or(10000.0);  // the default of every supported config class
  if (!(c.rope_theta > 0)) throw Error("must be > 0", {.file = file, .field = "rope_theta"});

  // --- attention window -----------------------------------------------------------------------------
  // Mistral: `sliding_window` (null = full). Qwen2/Qwen3: only when `use_sliding_window` is true, and then
  // only from layer `max_window_layers` on; their configs carry a `sliding_window` value even when off.
  // Llama and Gemma (1.x) have no window. `layer_types` (transformers >= 4.53) overrides all of that.
  c.layer_window.assign(static_cast<size_t>(c.num_hidden_layers), 0);
  auto window = opt_int(j, "sliding_window", ctx);
  if (window && *window <= 0) throw Error("must be > 0 or null", {.file = file, .field = "sliding_window"});
  if (j.contains("layer_types") && j["layer_types"].is_array()) {
    const Json& lt = j["layer_types"];
    if (static_cast<int64_t>(lt.size()) != c.num_hidden_layers)
      throw Error("has " + std::to_string(lt.size()) + " entries but num_hidden_layers is " +
                      std::to_string(c.num_hidden_layers),
                  {.file = file, .field = "layer_types"});
    for (size_t i = 0; i < lt.size(); ++i) {
      std::string t = lt[i].is_string() ? lt[i].get<std::string>() : "";
      if (t == "sliding_attention") {
        if (!window) throw Error("layer_types uses sliding_attention but sliding_window is not set",
                                 {.file = file, .field = "sliding_window"});
        c.layer_window[i] = *window;
      } else if (t != "full_attention") {
        throw Error("unknown layer type '" + t + "'", {.file = file, .field = "layer_types",
                    .hint = "expected full_attention or sliding_attention"});
      }
    }
  } else if (c.family == ModelFamily::Mistral) {
    if (window) c.layer_window.assign(c.layer_window.size(), *window);
  } else if (c.family == ModelFamily::Qwen2 || c.family == ModelFamily::Qwen3) {
    if (opt_bool(j, "use_sliding_window", ctx).value_or(false) && window) {
      int64_t from = opt_int(j, "max_window_layers", ctx).value_or(c.num_hidden_layers);
      for (int64_t i = from; i < c.num_hidden_layers; ++i) c.layer_window[static_cast<size_t>(i)] = *window;
    }
  }

  // --- per-family features --------------------------------------------------------------------------
  c.tie_word_embeddings = opt_bool(j, "tie_word_embeddings", ctx).value_or(fam->tie_default);
  bool attention_bias = opt_bool(j, "attention_bias", ctx).value_or(false);
  switch (c.family) {
    case ModelFamily::Qwen2: c.qkv_bias = true; break;
    case ModelFamily::Qwen3: c.qk_norm = true; [[fallthrough]];
    case ModelFamily::Llama:
    case ModelFamily::Gemma:
      c.qkv_bias = attention_bias;
      c.o_bias = attention_bias;
      break;
    case ModelFamily::Mistral: break;
  }
  if (c.family == ModelFamily::Llama) c.mlp_bias = opt_bool(j, "mlp_bias", ctx).value_or(false);
  if (c.family == ModelFamily::Gemma) {
    c.norm_plus_one = true;
    c.scale_embeddings = true;
    // Gemma 1 checkpoints say hidden_act "gelu" but were trained with the tanh approximation, which is
    // what transformers <= 4.47 used (through `hidden_activation`, default gelu_pytorch_tanh).
    auto ha = opt_string(j, "hidden_activation", ctx);
    auto act = opt_string(j, "hidden_act", ctx);
    if (ha) {
      c.activation = parse_activation(*ha, {.file = file, .field = "hidden_activation"});
    } else if (!act || *act == "gelu") {
      c.activation = Activation::GeluTanh;
      if (act) c.warnings.push_back("config.json says hidden_act 'gelu' for Gemma; using gelu_pytorch_tanh, "
                                    "which Gemma was trained with (as transformers <= 4.47 does)");
    } else {
      c.activation = parse_activation(*act, {.file = file, .field = "hidden_act"});
    }
  } else {
    c.activation = parse_activation(opt_string(j, "hidden_act", ctx).value_or("silu"), {.file = file, .field = "hidden_act"});
  }

  // --- dtype and token ids --------------------------------------------------------------------------
  auto td = opt_string(j, "torch_dtype", ctx);
  auto d5 = opt_string(j, "dtype", ctx);
  if (td && d5 && *td != *d5)
    throw Error("torch_dtype is '" + *td + "' but dtype is '" + *d5 + "'", {.file = file, .field = "dtype"});
  c.torch_dtype = d5 ? *d5 : td.value_or("");
  c.bos_token_id = opt_int(j, "bos_token_id", ctx);
  c.eos_token_ids = opt_int_list(j, "eos_token_id", ctx);
  c.pad_token_id = opt_int(j, "pad_token_id", ctx);
  auto check_id = [&](int64_t id, const char* field) {
    if (id < 0 || id >= c.vocab_size)
      throw Error("token id " + std::to_string(id) + " is outside the vocabulary (vocab_size " +
                      std::to_string(c.vocab_size) + ")",
                  {.file = file, .field = field});
  };
  if (c.bos_token_id) check_id(*c.bos_token_id, "bos_token_id");
  for (int64_t id : c.eos_token_ids) check_id(id, "eos_token_id");
  if (c.pad_token_id) check_id(*c.pad_token_id, "pad_token_id");
  return c;
}

ModelConfig read_model_config(const std::filesystem::path& path) {
  return parse_model_config(read_json_file(path), path.string());
}

}  // namespace prefer::io
