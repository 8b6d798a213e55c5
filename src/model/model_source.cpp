#include "model/model_source.h"

#include <set>

#include "model/lora.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/json.h"

namespace prefer::model {
namespace fs = std::filesystem;

namespace {

bool is_adapter(const fs::path& d) { return fs::exists(d / "adapter_config.json") && !fs::exists(d / "config.json"); }

// A run folder (prefer's output_dir) stands for its final/.
fs::path through_run_folder(const fs::path& d) {
  if (!fs::exists(d / "config.json") && !fs::exists(d / "adapter_config.json") && fs::exists(d / "final")) return d / "final";
  return d;
}

fs::path adapter_base(const fs::path& adapter, const std::string& field) {
  LoraConfig c = read_adapter_config(adapter);
  const std::string hint = "pass the base model with --model BASE --adapter " + adapter.string();
  if (c.base_model_name_or_path.empty())
    throw Error("is a LoRA adapter whose adapter_config.json names no base_model_name_or_path", {.file = adapter.string(), .field = field, .hint = hint});
  fs::path b = c.base_model_name_or_path;
  for (const fs::path& cand : {b, adapter / b}) {
    fs::path r = through_run_folder(cand);
    if (fs::exists(r / "config.json") || is_adapter(r)) return r;  // an adapter trained on an adapter: resolved in turn
  }
  throw Error("is a LoRA adapter whose base model '" + c.base_model_name_or_path +
                  "' is not a folder here (tried it relative to the working directory and to the adapter folder)",
              {.file = adapter.string(), .field = field, .hint = hint});
}

}  // namespace

std::string ModelSource::describe() const {
  std::string s = base.string();
  for (const auto& a : adapters) s += " + adapter " + a.string();
  return s;
}

namespace {
// The base and the adapters below `model`, innermost first (a LoRA DPO run on a LoRA SFT run's output
// names that output as its base).
void resolve_chain(const fs::path& model, const std::string& field, ModelSource& s, int depth) {
  fs::path m = through_run_folder(model);
  if (!fs::exists(m)) throw Error("no such folder", {.file = model.string(), .field = field});
  if (!is_adapter(m)) {
    s.base = m;
    return;
  }
  if (depth >= 8) throw Error("is a chain of more than 8 adapters (or a cycle)", {.file = m.string(), .field = field});
  resolve_chain(adapter_base(m, field), field, s, depth + 1);
  s.adapters.push_back(m);
}
}  // namespace

ModelSource resolve_model_source(const fs::path& model, const std::optional<fs::path>& adapter, const std::string& field) {
  ModelSource s;
  resolve_chain(model, field, s, 0);
  if (adapter) {
    fs::path a = through_run_folder(*adapter);
    if (!fs::exists(a / "adapter_config.json"))
      throw Error("is not a PEFT adapter folder (no adapter_config.json)", {.file = a.string(), .field = "adapter"});
    s.adapters.push_back(a);
  }
  s.tokenizer = s.base;
  for (const auto& a : s.adapters)
    if (fs::exists(a / "tokenizer.json")) s.tokenizer = a;
  return s;
}

CausalLM load_model_source(const ModelSource& source, const LoadOptions& options, LoadReport* report) {
  if (source.adapters.empty()) return load_model(source.base, options, report);
  // Adapters merge into the dense base; the merged model is quantised afterwards.
  LoadOptions dense = options;
  dense.quantization = {};
  dense.keep_full_precision = false;  // the merged weights are computed in the model's dtype
  CausalLM m = load_model(source.base, dense, report);
  for (const auto& a : source.adapters) {
    load_adapter(m, a);
    merge_lora(m);
  }
  quantize_model(m, options.quantization);
  return m;
}

uint64_t model_folder_hash(const fs::path& dir) {
  Hasher h;
  for (const char* f : {"config.json", "model.safetensors", "model.safetensors.index.json", "adapter_config.json",
                        "adapter_model.safetensors"})
    if (fs::exists(dir / f)) h.update(std::string(f) + ":" + hex64(hash_file(dir / f)));
  if (fs::exists(dir / "model.safetensors.index.json")) {
    Json index = read_json_file(dir / "model.safetensors.index.json");
    std::set<std::string> shards;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) shards.insert(it.value().get<std::string>());
    for (const auto& s : shards) h.update(hex64(hash_file(dir / s)));
  }
  return h.digest();
}

uint64_t model_source_hash(const ModelSource& source) {
  Hasher h;
  h.update(hex64(model_folder_hash(source.base)));
  for (const auto& a : source.adapters) h.update(hex64(model_folder_hash(a)));
  return h.digest();
}

}  // namespace prefer::model
