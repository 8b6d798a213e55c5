#include "cli/memory_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "cli/quantization_options.h"
#include "cli/train_options.h"
#include "io/hf_config.h"
#include "model/lora.h"
#include "model/model_size.h"
#include "model/model_source.h"
#include "model/weight_map.h"
#include "util/error.h"
#include "util/strings.h"

namespace prefer::cli {

namespace {

// What a process of prefer holds before any model: LibTorch's code and allocator arenas, the tokenizer,
// the data (measured: bench/qlora_memory.cpp, the checkpointed 4-bit run, whose other rows are small).
constexpr uint64_t kRuntimeBytes = 350ull << 20;

bool is_pair_method(const std::string& t) { return t == "dpo" || t == "reward" || t == "orpo" || t == "cpo"; }
bool is_online(const std::string& t) { return t == "ppo" || t == "grpo" || t == "rloo"; }

// LoRA parameters: r (in + out) per adapted linear layer.
int64_t lora_parameters(const io::ModelConfig& c, const model::LoraConfig& lc) {
  const int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim,
                i = c.intermediate_size;
  int64_t n = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l)
    for (model::Slot s : model::layer_linear_slots()) {
      if (!model::lora_targets(lc, model::linear_module_name(s, l))) continue;
      int64_t in = h, out = h;
      switch (s) {
        case model::Slot::QProj: out = q; break;
        case model::Slot::KProj:
        case model::Slot::VProj: out = kv; break;
        case model::Slot::OProj: in = q; break;
        case model::Slot::GateProj:
        case model::Slot::UpProj: out = i; break;
        case model::Slot::DownProj: in = i; break;
        default: break;
      }
      n += lc.r * (in + out);
    }
  return n;
}

int64_t option_or(const Json& o, const char* k, int64_t fallback) {
  auto v = opt<int64_t>(o, k);
  return v && *v > 0 ? *v : fallback;
}

}  // namespace

train::MemoryInputs planned_inputs(const std::string& trainer, const Json& o) {
  require(o, "model", "the model folder");
  const model::ModelSource src = model::resolve_model_source(get<std::string>(o, "model"), opt<std::string>(o, "adapter"));
  const io::ModelConfig cfg = io::read_model_config(src.base / "config.json");
  const at::ScalarType dtype = get<bool>(o, "bf16") ? at::kBFloat16 : at::kFloat;
  const model::QuantizationConfig quant = quantization_config(o);
  const bool peft = get<bool>(o, "use_peft");
  const model::WeightBytes wb = model::weight_bytes(cfg, dtype, quant);

  train::MemoryInputs mi;
  mi.parameters = static_cast<int64_t>(wb.parameters);
  mi.weight_bytes = static_cast<int>(c10::elementSize(dtype));
  mi.lora = peft;
  mi.trainable_parameters = peft ? lora_parameters(cfg, lora_config(o, get<std::string>(o, "model"))) : mi.parameters;
  if (quant.enabled()) {
    mi.base_weight_bytes = wb.total();
    mi.dequantized_values = model::largest_linear_values(cfg);
    mi.compute_bytes = quant.load_in_8bit ? mi.weight_bytes : static_cast<int>(c10::elementSize(quant.bnb_4bit_compute_dtype));
  }
  mi.hidden_size = cfg.hidden_size;
  mi.intermediate_size = cfg.intermediate_size;
  mi.num_layers = cfg.num_hidden_layers;
  mi.kv_heads = cfg.num_key_value_heads;
  mi.head_dim = cfg.head_dim;
  mi.gradient_checkpointing = get<bool>(o, "gradient_checkpointing");
  mi.runtime_bytes = kRuntimeBytes;

  // Tokens of the worst micro-batch.
  const int64_t b = get<int64_t>(o, "per_device_train_batch_size");
  int64_t tokens = 0;
  if (is_online(trainer)) {
    const int64_t prompt = option_or(o, "max_prompt_length", 512);
    const int64_t response = option_or(o, "response_length", option_or(o, "max_completion_length", 256));
    tokens = b * (prompt + response);
    mi.kv_cache_tokens = option_or(o, "local_rollout_forward_batch_size", b) * (prompt + response);
  } else {
    const int64_t m = option_or(o, "max_length", 1024);
    const int64_t p = std::min(m, option_or(o, "max_prompt_length", 0));
    const bool shared = o.contains("batch_layout") && get<std::string>(o, "batch_layout") == "prefix_shared" && p > 0;
    tokens = !is_pair_method(trainer) ? b * m : shared ? b * (p + 2 * (m - p)) : 2 * b * m;
  }
  mi.batch_tokens = tokens;
  mi.vocab_size = trainer == "reward" ? 0 : cfg.vocab_size;
  mi.logits_tokens = std::min(tokens, option_or(o, "chunk_tokens", 1024));

  // A frozen copy: DPO/KTO without LoRA and without precomputed reference log-probs, or --ref_model;
  // PPO's reference (without LoRA) and its reward model.
  const bool precompute = o.contains("precompute_ref_log_probs") && get<bool>(o, "precompute_ref_log_probs");
  if (trainer == "dpo" || trainer == "kto") mi.reference_copy = opt<std::string>(o, "ref_model").has_value() || (!peft && !precompute);
  if (is_online(trainer)) {
    mi.reference_copy = true;
    const bool reward_model = o.contains("reward_model") && !o.at("reward_model").is_null() &&
                              !(o.at("reward_model").is_array() && o.at("reward_model").empty());
    mi.reference_models = (peft ? 0 : 1) + (reward_model ? 1 : 0);
    if (mi.reference_models == 0) mi.reference_copy = false;
  }
  return mi;
}

uint64_t parse_memory_size(const std::string& text) {
  std::string s;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) s += c;
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(s, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  std::string unit = s.substr(pos);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::vector<std::pair<std::string, double>> units = {
      {"", 1},         {"B", 1},        {"KB", 1e3},          {"MB", 1e6},          {"GB", 1e9},          {"TB", 1e12},
      {"KIB", 1024.0}, {"MIB", 1 << 20}, {"GIB", 1ull << 30}, {"TIB", 1ull << 40}, {"K", 1e3},  {"M", 1e6}, {"G", 1e9}};
  for (const auto& [u, f] : units)
    if (pos > 0 && unit == u && v > 0) return static_cast<uint64_t>(v * f);
  throw Error("must be a size such as 12GB, 12GiB, 800MB or a number of bytes, not '" + text + "'", {.field = "max_memory"});
}

namespace {

struct PlanDecision {
  Json options;
  train::MemoryEstimate estimate;
  std::vector<std::string> notes;  // what was changed and why
};

uint64_t memory_limit(const Json& o) {
  if (auto m = opt<std::string>(o, "max_memory")) return parse_memory_size(*m);
  return train::physical_memory_bytes();
}

std::string what_to_change(const train::MemoryInputs& mi) {
  std::vector<std::string> s;
  if (!mi.gradient_checkpointing) s.push_back("--gradient_checkpointing");
  s.push_back("a smaller --per_device_train_batch_size (or --auto_batch_size)");
  s.push_back("a smaller --max_length");
  if (!mi.lora) s.push_back("--use_peft");
  if (mi.base_weight_bytes < 0) s.push_back("--load_in_4bit (with --use_peft)");
  if (mi.reference_copy) s.push_back("--precompute_ref_log_probs or --use_peft (no frozen reference copy)");
  return join(s, ", ");
}

PlanDecision decide(const std::string& trainer, Json o) {
  PlanDecision d;
  const uint64_t limit = memory_limit(o);
  auto estimate = [&](const Json& opts) { return train::estimate_memory(planned_inputs(trainer, opts)); };
  auto fits = [&](const Json& opts) { return limit == 0 || estimate(opts).total() <= limit; };
  const bool auto_batch = o.contains("auto_batch_size") && get<bool>(o, "auto_batch_size");
  const std::string limit_text = format_bytes(static_cast<double>(limit));

  if (auto_batch) {
    const int64_t b0 = get<int64_t>(o, "per_device_train_batch_size"), ga0 = get<int64_t>(o, "gradient_accumulation_steps");
    const int64_t effective = b0 * ga0;
    auto largest = [&](Json opts) -> int64_t {
      for (int64_t b = effective; b >= 1; --b) {
        opts["per_device_train_batch_size"] = b;
        if (fits(opts)) return b;
      }
      return 0;
    };
    int64_t b = largest(o);
    if (b == 0 && !get<bool>(o, "gradient_checkpointing")) {
      o["gradient_checkpointing"] = true;
      b = largest(o);
      if (b > 0) d.notes.push_back("gradient checkpointing turned on: no micro-batch fits " + limit_text + " without it");
    }
    if (b > 0) {
      const int64_t ga = std::max<int64_t>(1, effective / b);
      o["per_device_train_batch_size"] = b;
      o["gradient_accumulation_steps"] = ga;
      d.notes.push_back(effective % b == 0
                            ? fmt::format("auto_batch_size: micro-batch {} x {} accumulation = effective batch {} (as asked)", b, ga, effective)
                            : fmt::format("auto_batch_size: micro-batch {} x {} accumulation = effective batch {}, the nearest below the "
                                          "asked {} ({} does not divide it)",
                                          b, ga, b * ga, effective, b));
    }
  } else if (!fits(o) && !get<bool>(o, "gradient_checkpointing")) {
    Json with = o;
    with["gradient_checkpointing"] = true;
    if (fits(with)) {
      o = with;
      d.notes.push_back("gradient checkpointing turned on: the run needs more than " + limit_text + " without it");
    }
  }
  d.estimate = estimate(o);
  d.options = std::move(o);
  return d;
}

std::string table(const train::MemoryEstimate& e) {
  std::string s;
  for (const auto& [name, v] : e.rows())
    s += fmt::format("  {:<18} {:>10}\n", name, format_bytes(static_cast<double>(v)));
  return s + fmt::format("  {:<18} {:>10}\n", "predicted peak", format_bytes(static_cast<double>(e.total())));
}

}  // namespace

Json apply_memory_plan(const std::string& trainer, Json o, std::ostream& out) {
  PlanDecision d = decide(trainer, std::move(o));
  for (const auto& n : d.notes) out << "memory plan: " << n << "\n";
  const model::QuantizationConfig quant = quantization_config(d.options);
  if (quant.enabled() && d.options.contains("merge") && get<bool>(d.options, "merge"))
    out << "note: --merge on a " << quant.describe() << " base: final/merged holds the base dequantised to "
        << (get<bool>(d.options, "bf16") ? "bfloat16" : "float32")
        << " plus the adapter; the quantisation error stays in it (merging into a quantised base is lossy)\n";
  const uint64_t limit = memory_limit(d.options);
  if (limit > 0 && d.estimate.total() > limit)
    throw Error("the run is predicted to need " + format_bytes(static_cast<double>(d.estimate.total())) + " at its peak, more than the " +
                    format_bytes(static_cast<double>(limit)) + " available (" +
                    (opt<std::string>(d.options, "max_memory") ? "--max_memory" : "this machine's RAM") + "):\n" + table(d.estimate),
                {.field = "max_memory", .hint = "try " + what_to_change(planned_inputs(trainer, d.options)) +
                                                    " (prefer plan " + trainer + " shows the plan)"});
  return d.options;
}

void print_memory_plan(const std::string& trainer, const Json& o, std::ostream& out) {
  PlanDecision d = decide(trainer, o);
  const train::MemoryInputs mi = planned_inputs(trainer, d.options);
  out << fmt::format("memory plan for prefer {}: micro-batch {} x {} accumulation, {} tokens per micro-batch{}{}\n", trainer,
                     get<int64_t>(d.options, "per_device_train_batch_size"), get<int64_t>(d.options, "gradient_accumulation_steps"),
                     mi.batch_tokens, mi.gradient_checkpointing ? ", gradient checkpointing" : "",
                     quantization_config(d.options).enabled() ? ", base " + quantization_config(d.options).describe() : "");
  out << table(d.estimate);
  for (const auto& n : d.notes) out << "memory plan: " << n << "\n";
  const uint64_t limit = memory_limit(d.options);
  if (limit > 0)
    out << (d.estimate.total() <= limit ? "fits in " : "does NOT fit in ") << format_bytes(static_cast<double>(limit))
        << (d.estimate.total() <= limit ? "" : "; try " + what_to_change(mi)) << "\n";
}

}  // namespace prefer::cli
