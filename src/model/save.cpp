#include "model/save.h"

#include <ATen/ATen.h>

#include "io/checkpoint.h"
#include "io/model_folder.h"
#include "model/causal_lm.h"
#include "model/tensor_convert.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace prefer::model {

namespace fs = std::filesystem;

namespace {

// config.json fields from the struct, with transformers' 4.x names.
Json config_from_struct(const io::ModelConfig& c) {
  Json j;
  j["architectures"] = {c.architecture};
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  if (c.rope_scaling.type == "default") {
    j["rope_scaling"] = nullptr;
  } else {
    Json r = {{"rope_type", c.rope_scaling.type}, {"factor", c.rope_scaling.factor}};
    if (c.rope_scaling.type == "llama3") {
      r["low_freq_factor"] = c.rope_scaling.low_freq_factor;
      r["high_freq_factor"] = c.rope_scaling.high_freq_factor;
      r["original_max_position_embeddings"] = c.rope_scaling.original_max_position_embeddings;
    }
    j["rope_scaling"] = r;
  }
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["hidden_act"] = std::string(io::activation_name(c.activation));
  if (c.family == io::ModelFamily::Gemma) j["hidden_activation"] = std::string(io::activation_name(c.activation));
  if (c.family != io::ModelFamily::Qwen2 && c.family != io::ModelFamily::Mistral) j["attention_bias"] = c.qkv_bias;
  if (c.family == io::ModelFamily::Llama) j["mlp_bias"] = c.mlp_bias;
  // Windows: one value for every windowed layer (all supported families have at most one).
  int64_t window = 0, first = -1, windowed = 0;
  for (size_t i = 0; i < c.layer_window.size(); ++i)
    if (c.layer_window[i] > 0) {
      window = c.layer_window[i];
      if (first < 0) first = static_cast<int64_t>(i);
      ++windowed;
    }
  if (window > 0) {
    j["sliding_window"] = window;
    if (c.family == io::ModelFamily::Qwen2 || c.family == io::ModelFamily::Qwen3) {
      j["use_sliding_window"] = true;
      j["max_window_layers"] = first;
    }
    const bool simple = c.family == io::ModelFamily::Mistral ? windowed == c.num_hidden_layers
                                                             : windowed == c.num_hidden_layers - first;
    if (!simple) {  // any other pattern: transformers >= 4.53's layer_types says it exactly
      Json types = Json::array();
      for (int64_t w : c.layer_window) types.push_back(w > 0 ? "sliding_attention" : "full_attention");
      j["layer_types"] = types;
    }
  } else if (c.family == io::ModelFamily::Mistral) {
    j["sliding_window"] = nullptr;
  } else if (c.family == io::ModelFamily::Qwen2 || c.family == io::ModelFamily::Qwen3) {
    j["use_sliding_window"] = false;
  }
  if (c.bos_token_id) j["bos_token_id"] = *c.bos_token_id;
  if (!c.eos_token_ids.empty())
    j["eos_token_id"] = c.eos_token_ids.size() == 1 ? Json(c.eos_token_ids[0]) : Json(c.eos_token_ids);
  if (c.pad_token_id) j["pad_token_id"] = *c.pad_token_id;
  return j;
}

Json generation_config_from(const io::ModelConfig& c) {
  Json g = Json::object();
  if (c.bos_token_id) g["bos_token_id"] = *c.bos_token_id;
  if (!c.eos_token_ids.empty())
    g["eos_token_id"] = c.eos_token_ids.size() == 1 ? Json(c.eos_token_ids[0]) : Json(c.eos_token_ids);
  if (c.pad_token_id) g["pad_token_id"] = *c.pad_token_id;
  return g;
}

// The weight a linear layer computes with, adapters folded in: [out, in].
// A quantised base is written dequantised to its dtype (a lossy merge: see quantized_model.h).
at::Tensor effective_weight(const Linear& lin) {
  const at::Tensor w = lin.dense_weight();
  if (!lin.lora) return w;
  const at::ScalarType acc = accumulate_type(w.scalar_type());
  return (w.to(acc) + at::matmul(lin.lora->B.to(acc), lin.lora->A.to(acc)) * lin.lora->scale).to(w.scalar_type());
}

}  // namespace

Json model_config_json(const CausalLM& model, at::ScalarType saved_dtype) {
  const io::ModelConfig& c = model.config();
  Json j = model.raw_config().is_object() && !model.raw_config().empty() ? model.raw_config() : config_from_struct(c);
  j["architectures"] = {c.architecture};
  // Keep whichever dtype key the source used (4.x torch_dtype, 5.x dtype).
  const std::string dtype_key = j.contains("dtype") && !j.contains("torch_dtype") ? "dtype" : "torch_dtype";
  j[dtype_key] = dtype_config_name(saved_dtype);
  if (c.head == io::HeadKind::SequenceClassification) {
    j["num_labels"] = c.num_labels;
    Json id2label = Json::object(), label2id = Json::object();
    for (int64_t i = 0; i < c.num_labels; ++i) {
      id2label[std::to_string(i)] = "LABEL_" + std::to_string(i);
      label2id["LABEL_" + std::to_string(i)] = i;
    }
    j["id2label"] = id2label;
    j["label2id"] = label2id;
  } else {
    j.erase("num_labels");
    j.erase("id2label");
    j.erase("label2id");
  }
  return j;
}

void save_pretrained(const CausalLM& model, const fs::path& dir, const SaveOptions& options) {
  const at::ScalarType dtype = options.dtype.value_or(model.dtype());
  if (dtype != at::kFloat && dtype != at::kBFloat16 && dtype != at::kHalf && dtype != at::kDouble)
    throw Error("weights can be saved as float32, bfloat16, float16 or float64", {.field = "dtype"});
  if (!dir.parent_path().empty()) fs::create_directories(dir.parent_path());
  AtomicDirectory out(dir);
  const fs::path& stage = out.staging();

  write_json_file(stage / "config.json", model_config_json(model, dtype));

  // Weights under their HF names, adapters merged, in the requested dtype.
  at::NoGradGuard ng;
  CausalLM& m = const_cast<CausalLM&>(model);  // linear() hands out the layer; nothing is modified
  std::vector<at::Tensor> keep;
  std::vector<io::TensorData> data;
  const auto specs = model.weight_specs();
  keep.resize(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const WeightSpec& w = specs[i];
    const Linear* lin = m.linear(w.slot, w.layer);
    at::Tensor t = lin ? effective_weight(*lin) : model.slot(w.slot, w.layer);
    data.push_back(tensor_data(w.name, t.to(dtype), keep[i]));
  }
  io::write_checkpoint(stage, data, options.max_shard_bytes);

  // generation_config.json and tokenizer files from the source folder.
  const fs::path from = options.tokenizer_from.empty() ? model.source_dir() : options.tokenizer_from;
  if (!from.empty() && fs::exists(from / "generation_config.json")) {
    fs::copy_file(from / "generation_config.json", stage / "generation_config.json");
  } else {
    write_json_file(stage / "generation_config.json", generation_config_from(model.config()));
  }
  if (!from.empty() && fs::is_directory(from)) copy_tokenizer_files(from, stage);
  out.commit();
}

void copy_tokenizer_files(const fs::path& from, const fs::path& to) {
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                           "chat_template.json", "tokenizer.model", "vocab.json", "merges.txt"})
    if (fs::exists(from / name)) fs::copy_file(from / name, to / name, fs::copy_options::overwrite_existing);
}

}  // namespace prefer::model
