#include "model/lora.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <map>
#include <regex>
#include <set>

#include "io/safetensors.h"
#include "model/causal_lm.h"
#include "model/tensor_convert.h"
#include "util/error.h"
#include "util/json.h"
#include "util/strings.h"

namespace prefer::model {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "base_model.model.";

// Every adaptable linear layer of the decoder: (module name, layer, slot).
struct Target {
  std::string module;
  int64_t layer;
  Slot slot;
};
std::vector<Target> all_linears(const CausalLM& m) {
  std::vector<Target> out;
  for (int64_t l = 0; l < m.config().num_hidden_layers; ++l)
    for (Slot s : layer_linear_slots()) out.push_back({linear_module_name(s, l), l, s});
  return out;
}

bool matches(const LoraConfig& c, const std::string& module) {
  if (!c.target_regex.empty()) return std::regex_match(module, std::regex(c.target_regex));
  std::vector<std::string> names = c.target_modules;
  if (names.empty()) names = {"q_proj", "v_proj"};
  for (const std::string& n : names) {
    if (n == "all-linear") return true;
    if (module == n) return true;
    if (module.size() > n.size() && module.compare(module.size() - n.size(), n.size(), n) == 0 &&
        module[module.size() - n.size() - 1] == '.')
      return true;
  }
  return false;
}

// The adapters of `m` with their module names, in module order.
std::vector<std::pair<std::string, Linear*>> adapted(CausalLM& m) {
  std::vector<std::pair<std::string, Linear*>> out;
  for (const Target& t : all_linears(m)) {
    Linear* lin = m.linear(t.slot, t.layer);
    if (lin && lin->lora) out.emplace_back(t.module, lin);
  }
  return out;
}

at::ScalarType adapter_dtype(const CausalLM& m) {
  // bf16/f16 bases keep adapters in float32 (PEFT's autocast_adapter_dtype), float64 stays float64.
  return m.dtype() == at::kDouble ? at::kDouble : at::kFloat;
}

// Short names of the adapted modules, sorted: what PEFT writes for target_modules.
std::vector<std::string> adapted_short_names(CausalLM& m) {
  std::set<std::string> names;
  for (auto& [module, lin] : adapted(m)) names.insert(module.substr(module.rfind('.') + 1));
  return {names.begin(), names.end()};
}

}  // namespace

double LoraConfig::scale() const { return use_rslora ? lora_alpha / std::sqrt(static_cast<double>(r)) : lora_alpha / static_cast<double>(r); }

std::vector<std::string> add_lora(CausalLM& m, const LoraConfig& c, uint64_t seed) {
  if (c.r <= 0) throw Error("must be > 0, found " + std::to_string(c.r), {.field = "r"});
  if (c.lora_dropout < 0 || c.lora_dropout >= 1) throw Error("must be in [0, 1)", {.field = "lora_dropout"});
  if (c.task_type != "CAUSAL_LM" && c.task_type != "SEQ_CLS")
    throw Error("unsupported task_type '" + c.task_type + "'", {.field = "task_type", .hint = "CAUSAL_LM or SEQ_CLS"});
  if (has_lora(m)) throw Error("the model already has LoRA adapters", {.hint = "merge or remove them first"});
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::ScalarType dtype = adapter_dtype(m);
  std::vector<std::string> names;
  for (const Target& t : all_linears(m)) {
    if (!matches(c, t.module)) continue;
    Linear* lin = m.linear(t.slot, t.layer);
    const int64_t out = lin->out_features(), in = lin->in_features();
    auto a = std::make_shared<LoraAdapter>();
    // kaiming_uniform_(a=sqrt(5)): bound = sqrt(6 / ((1 + 5) fan_in)) = 1 / sqrt(fan_in).
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    a->A = at::empty({c.r, in}, at::kDouble).uniform_(-bound, bound, gen).to(m.device(), dtype).set_requires_grad(true);
    a->B = at::zeros({out, c.r}, at::TensorOptions().dtype(dtype).device(m.device())).set_requires_grad(true);
    a->scale = c.scale();
    a->dropout = c.lora_dropout;
    lin->lora = std::move(a);
    names.push_back(t.module);
  }
  if (names.empty()) {
    std::string asked = c.target_regex.empty() ? join(c.target_modules, ", ") : c.target_regex;
    throw Error("no linear layer matches target_modules '" + asked + "'",
                {.field = "target_modules",
                 .hint = "use module names such as q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, or all-linear"});
  }
  return names;
}

bool has_lora(const CausalLM& m) {
  for (const DecoderLayer& L : m.layers())
    for (const Linear* lin : {&L.attn.q, &L.attn.k, &L.attn.v, &L.attn.o, &L.mlp.gate, &L.mlp.up, &L.mlp.down})
      if (lin->lora) return true;
  return false;
}

std::vector<std::pair<std::string, at::Tensor>> lora_parameters(const CausalLM& model, const LoraConfig& c) {
  CausalLM& m = const_cast<CausalLM&>(model);  // read-only walk; adapted() hands out pointers
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (auto& [module, lin] : adapted(m)) {
    out.emplace_back(kPrefix + module + ".lora_A.weight", lin->lora->A);
    out.emplace_back(kPrefix + module + ".lora_B.weight", lin->lora->B);
  }
  if (c.task_type == "SEQ_CLS" && m.config().head == io::HeadKind::SequenceClassification)
    out.emplace_back(std::string(kPrefix) + "score.weight", m.slot(Slot::Score));
  return out;
}

void save_adapter(const CausalLM& model, const LoraConfig& c, const fs::path& dir) {
  CausalLM& m = const_cast<CausalLM&>(model);
  if (!has_lora(m)) throw Error("the model has no LoRA adapters to save", {.file = dir.string()});
  fs::create_directories(dir);
  Json j;
  j["alpha_pattern"] = Json::object();
  j["auto_mapping"] = nullptr;
  j["base_model_name_or_path"] = c.base_model_name_or_path.empty() ? Json(nullptr) : Json(c.base_model_name_or_path);
  j["bias"] = "none";
  j["fan_in_fan_out"] = false;
  j["inference_mode"] = true;
  j["init_lora_weights"] = true;
  j["layers_pattern"] = nullptr;
  j["layers_to_transform"] = nullptr;
  j["lora_alpha"] = c.lora_alpha;
  j["lora_dropout"] = c.lora_dropout;
  j["modules_to_save"] = c.task_type == "SEQ_CLS" ? Json({"classifier", "score"}) : Json(nullptr);
  j["peft_type"] = "LORA";
  j["r"] = c.r;
  j["rank_pattern"] = Json::object();
  j["revision"] = nullptr;
  j["target_modules"] = c.target_regex.empty() ? Json(adapted_short_names(m)) : Json(c.target_regex);
  j["task_type"] = c.task_type;
  j["use_dora"] = false;
  j["use_rslora"] = c.use_rslora;
  write_json_file(dir / "adapter_config.json", j);

  auto params = lora_parameters(m, c);
  std::vector<at::Tensor> keep(params.size());
  std::vector<io::TensorData> data;
  for (size_t i = 0; i < params.size(); ++i) data.push_back(tensor_data(params[i].first, params[i].second, keep[i]));
  io::write_safetensors(dir / "adapter_model.safetensors", data);
}

LoraConfig read_adapter_config(const fs::path& dir) {
  const fs::path file = dir / "adapter_config.json";
  if (!fs::exists(file))
    throw Error("no adapter_config.json in the adapter folder", {.file = dir.string(), .field = "adapter_config.json",
                .hint = "point at the folder PEFT's save_pretrained (or prefer) wrote"});
  const Json j = read_json_file(file);
  const ErrorContext ctx{.file = file.string()};
  auto fail = [&](const std::string& field, const std::string& msg, const std::string& hint = "") {
    throw Error(msg, {.file = file.string(), .field = field, .hint = hint});
  };
  const std::string peft_type = require_string(j, "peft_type", ctx);
  if (peft_type != "LORA") fail("peft_type", "unsupported PEFT type '" + peft_type + "'", "only LORA adapters are supported");
  LoraConfig c;
  c.task_type = opt_string(j, "task_type", ctx).value_or("CAUSAL_LM");
  if (c.task_type != "CAUSAL_LM" && c.task_type != "SEQ_CLS") fail("task_type", "unsupported task_type '" + c.task_type + "'", "CAUSAL_LM or SEQ_CLS");
  c.r = opt_int(j, "r", ctx).value_or(8);
  c.lora_alpha = opt_number(j, "lora_alpha", ctx).value_or(8.0);
  c.lora_dropout = opt_number(j, "lora_dropout", ctx).value_or(0.0);
  c.use_rslora = opt_bool(j, "use_rslora", ctx).value_or(false);
  c.base_model_name_or_path = opt_string(j, "base_model_name_or_path", ctx).value_or("");
  if (j.contains("target_modules") && j["target_modules"].is_string()) {
    c.target_regex = j["target_modules"].get<std::string>();
  } else if (j.contains("target_modules") && j["target_modules"].is_array()) {
    for (const Json& t : j["target_modules"]) {
      if (!t.is_string()) fail("target_modules", "expected a list of module names");
      c.target_modules.push_back(t.get<std::string>());
    }
  }
  if (opt_bool(j, "use_dora", ctx).value_or(false)) fail("use_dora", "DoRA adapters are not supported");
  if (opt_string(j, "bias", ctx).value_or("none") != "none") fail("bias", "adapters that train biases are not supported", "bias must be \"none\"");
  for (const char* k : {"rank_pattern", "alpha_pattern"})
    if (j.contains(k) && !j[k].is_null() && !j[k].empty()) fail(k, "per-module ranks or alphas are not supported");
  if (j.contains("layers_to_transform") && !j["layers_to_transform"].is_null())
    fail("layers_to_transform", "adapters on a subset of layers are not supported");
  if (opt_bool(j, "fan_in_fan_out", ctx).value_or(false)) fail("fan_in_fan_out", "fan_in_fan_out adapters (GPT-2 Conv1D) are not supported");
  return c;
}

LoraConfig load_adapter(CausalLM& m, const fs::path& dir, at::Tensor* score_head) {
  LoraConfig c = read_adapter_config(dir);
  const fs::path file = dir / "adapter_model.safetensors";
  if (!fs::exists(file))
    throw Error("no adapter_model.safetensors in the adapter folder", {.file = dir.string(), .field = "adapter_model.safetensors"});
  io::SafetensorsFile st(file);
  const bool separate_head = score_head != nullptr && c.task_type == "SEQ_CLS";
  if (c.task_type == "SEQ_CLS" && !separate_head && m.config().head != io::HeadKind::SequenceClassification)
    m.set_head(io::HeadKind::SequenceClassification, m.config().num_labels);
  add_lora(m, c);
  std::set<std::string> seen;
  std::vector<std::string> missing, problems;
  if (separate_head) {
    const std::string name = std::string(kPrefix) + "score.weight";
    if (const io::TensorInfo* info = st.find(name)) {
      seen.insert(name);
      if (info->shape.size() != 2 || info->shape[1] != m.config().hidden_size)
        problems.push_back("'" + name + "' has shape " + c10::str(at::IntArrayRef(info->shape)) + ", the model needs [n, " +
                           std::to_string(m.config().hidden_size) + "]");
      else
        *score_head = tensor_from_view(st.view(*info)).to(m.device(), m.dtype()).clone();
    } else {
      missing.push_back(name);
    }
  }
  for (auto& [name, tensor] : lora_parameters(m, c)) {
    const io::TensorInfo* info = st.find(name);
    if (!info) {
      missing.push_back(name);
      continue;
    }
    seen.insert(name);
    if (info->shape != tensor.sizes().vec()) {
      problems.push_back("'" + name + "' has shape " + c10::str(at::IntArrayRef(info->shape)) + ", the model needs " +
                         c10::str(tensor.sizes()));
      continue;
    }
    at::NoGradGuard ng;
    tensor.copy_(tensor_from_view(st.view(*info)).to(tensor.device(), tensor.scalar_type()));
  }
  std::vector<std::string> unexpected;
  for (const io::TensorInfo& t : st.tensors())
    if (!seen.count(t.name)) unexpected.push_back(t.name);
  if (!missing.empty()) problems.push_back("missing " + std::to_string(missing.size()) + " tensor(s): " + join(missing, ", "));
  if (!unexpected.empty())
    problems.push_back("unexpected " + std::to_string(unexpected.size()) + " tensor(s): " + join(unexpected, ", "));
  if (!problems.empty()) {
    remove_lora(m);
    throw Error("the adapter does not fit this model: " + join(problems, "; "),
                {.file = file.string(), .field = !missing.empty() ? missing.front() : !unexpected.empty() ? unexpected.front() : "",
                 .hint = "check that the adapter was trained on this base model and that adapter_config.json belongs to it"});
  }
  return c;
}

bool lora_targets(const LoraConfig& c, const std::string& module) { return matches(c, module); }

void merge_lora(CausalLM& m) {
  at::NoGradGuard ng;
  for (auto& [module, lin] : adapted(m)) {
    const LoraAdapter& a = *lin->lora;
    if (lin->quant) {  // merging into a 4/8-bit base is lossy: the base is restored to its dtype first
      lin->weight = lin->dense_weight();
      lin->quant.reset();
    }
    const at::ScalarType acc = accumulate_type(lin->weight.scalar_type());
    at::Tensor delta = at::matmul(a.B.to(acc), a.A.to(acc)) * a.scale;  // [out, in]
    const bool rg = lin->weight.requires_grad();
    lin->weight = (lin->weight.to(acc) + delta).to(lin->weight.scalar_type()).detach();
    if (rg) lin->weight.set_requires_grad(true);
    lin->lora.reset();
  }
}

void remove_lora(CausalLM& m) {
  for (auto& [module, lin] : adapted(m)) lin->lora.reset();
}

}  // namespace prefer::model
