#include "cli/policy.h"

#include <ATen/ATen.h>

#include "cli/quantization_options.h"
#include "cli/train_options.h"
#include "model/loader.h"
#include "model/model_size.h"
#include "model/save.h"
#include "util/error.h"

namespace prefer::cli {
namespace fs = std::filesystem;

namespace {

model::CausalLM load(const PolicyOptions& o) {
  if (o.quantization.enabled() && !o.use_peft)
    throw Error("a " + o.quantization.describe() + " base is frozen: only LoRA adapters train on it",
                {.field = o.quantization.load_in_8bit ? "load_in_8bit" : "load_in_4bit", .hint = "add --use_peft"});
  model::LoadOptions lo;
  lo.dtype = o.dtype;
  lo.quantization = o.quantization;
  lo.mixed_precision = o.mixed_precision;
  lo.keep_full_precision = !o.use_peft;  // full fine-tuning: the optimizer's masters start from them
  if (o.classifier) {
    // A causal LM becomes a classifier with a new head; a classifier stays one.
    io::ModelConfig cfg = io::read_model_config(o.source.base / "config.json");
    if (cfg.head != io::HeadKind::SequenceClassification) {
      lo.head = io::HeadKind::SequenceClassification;
      lo.num_labels = 1;
      lo.head_seed = o.seed;
    }
  }
  at::manual_seed(static_cast<int64_t>(o.seed));
  model::CausalLM m = model::load_model_source(o.source, lo);
  if (o.vocab_size > m.config().vocab_size) m.resize_token_embeddings(o.vocab_size);
  if (o.classifier && m.config().head != io::HeadKind::SequenceClassification) m.set_head(io::HeadKind::SequenceClassification, 1);
  if (o.classifier && m.config().num_labels != 1)
    throw Error("a reward model has one output, this classifier has num_labels " + std::to_string(m.config().num_labels),
                {.file = (o.source.base / "config.json").string(), .field = "num_labels"});
  if (o.classifier && o.pad_token_id) {
    // transformers' classifier pools at the first pad token; without pad_token_id it refuses batches.
    Json raw = m.raw_config();
    if (!raw.is_object()) raw = Json::object();
    if (!raw.contains("pad_token_id") || raw["pad_token_id"].is_null()) raw["pad_token_id"] = *o.pad_token_id;
    m.set_raw_config(raw);
  }
  return m;
}

}  // namespace

PolicyOptions policy_options(const Json& o, const model::ModelSource& source) {
  PolicyOptions p;
  p.source = source;
  p.dtype = get<bool>(o, "bf16") ? at::kBFloat16 : at::kFloat;
  p.use_peft = get<bool>(o, "use_peft");
  p.lora = lora_config(o, get<std::string>(o, "model"));
  p.seed = static_cast<uint64_t>(get<int64_t>(o, "seed"));
  p.merge = get<bool>(o, "merge");
  p.quantization = quantization_config(o);
  p.gradient_checkpointing = get<bool>(o, "gradient_checkpointing");
  p.mixed_precision = !get<bool>(o, "pure_bf16");
  return p;
}

Policy::Policy(PolicyOptions options) : opt_(std::move(options)), model_(load(opt_)) {
  model_.set_gradient_checkpointing(opt_.gradient_checkpointing);
  if (model::is_quantized(model_) && !opt_.use_peft)  // a checkpoint bitsandbytes quantised
    throw Error("the model is quantised (" + model::checkpoint_quantization(model_.raw_config(), opt_.source.base / "config.json").describe() +
                    "): only LoRA adapters train on it",
                {.file = (opt_.source.base / "config.json").string(), .field = "quantization_config", .hint = "add --use_peft"});
  if (opt_.use_peft) {
    model_.set_requires_grad(false);
    if (opt_.classifier) opt_.lora.task_type = "SEQ_CLS";
    model::add_lora(model_, opt_.lora, opt_.seed);
    if (opt_.classifier) model_.slot(model::Slot::Score).set_requires_grad(true);  // PEFT's modules_to_save
  } else {
    model_.set_requires_grad(true);
  }
}

std::vector<train::NamedParam> Policy::trainable() const {
  std::vector<train::NamedParam> p;
  if (opt_.use_peft) {
    for (auto& [n, t] : model::lora_parameters(model_, opt_.lora)) p.push_back({n, t});
  } else {
    for (auto& [n, t] : model_.named_parameters()) p.push_back({n, t});
  }
  return p;
}

int64_t Policy::trainable_parameters() const {
  int64_t n = 0;
  for (const auto& p : trainable()) n += p.param.numel();
  return n;
}

int64_t Policy::total_parameters() const { return model_.parameter_count(); }

train::MemoryInputs Policy::memory_inputs(int64_t batch_tokens, int64_t chunk_tokens) const {
  const auto& cfg = model_.config();
  train::MemoryInputs mi{.parameters = total_parameters(), .trainable_parameters = trainable_parameters(),
                         .weight_bytes = opt_.dtype == at::kBFloat16 ? 2 : 4, .batch_tokens = batch_tokens,
                         .logits_tokens = std::min(batch_tokens, chunk_tokens), .vocab_size = cfg.vocab_size,
                         .hidden_size = cfg.hidden_size, .intermediate_size = cfg.intermediate_size, .num_layers = cfg.num_hidden_layers,
                         .gradient_checkpointing = model_.gradient_checkpointing()};
  mi.lora = opt_.use_peft;
  if (model::is_quantized(model_)) {
    const model::WeightBytes wb = model::weight_bytes(cfg, model_.dtype(), opt_.quantization);
    mi.base_weight_bytes = wb.dense + static_cast<double>(model::quantized_bytes(model_));
    mi.dequantized_values = model::largest_linear_values(cfg);
  }
  return mi;
}

void Policy::save_checkpoint(const fs::path& dir) const {
  if (opt_.use_peft) model::save_adapter(model_, opt_.lora, dir);
  else model::save_pretrained(model_, dir / "model");
}

void Policy::load_checkpoint(const fs::path& dir) {
  model_.drop_full_precision();  // the run continues from the checkpoint's weights and masters
  if (opt_.use_peft) {
    model::remove_lora(model_);
    model::load_adapter(model_, dir);
    if (opt_.classifier) model_.slot(model::Slot::Score).set_requires_grad(true);
    return;
  }
  model::LoadOptions lo;
  lo.dtype = model_.dtype();
  model::CausalLM saved = model::load_model(dir / "model", lo);
  std::map<std::string, at::Tensor> src;
  for (auto& [n, t] : saved.named_parameters()) src[n] = t;
  at::NoGradGuard g;
  for (auto& [n, t] : model_.named_parameters()) {
    auto it = src.find(n);
    if (it == src.end()) throw Error("the checkpoint has no weight '" + n + "'", {.file = (dir / "model").string(), .field = n});
    if (it->second.sizes() != t.sizes())
      throw Error("'" + n + "' has shape " + c10::str(it->second.sizes()) + " in the checkpoint, the model needs " + c10::str(t.sizes()),
                  {.file = (dir / "model").string(), .field = n});
    t.copy_(it->second);
  }
}

void Policy::save_final(const fs::path& dir) const {
  if (opt_.use_peft) {
    model::save_adapter(model_, opt_.lora, dir);
    model::copy_tokenizer_files(opt_.source.tokenizer, dir);
    if (opt_.merge) model::save_pretrained(model_, dir / "merged", {.tokenizer_from = opt_.source.tokenizer});
  } else {
    model::save_pretrained(model_, dir, {.tokenizer_from = opt_.source.tokenizer});
  }
}

void Policy::install(train::TrainingTask& task) {
  task.trainable = [this] {
    std::vector<train::NamedParam> p = trainable();
    for (train::NamedParam& x : p) x.initial_master = model_.take_full_precision(x.param);
    model_.drop_full_precision();
    return p;
  };
  task.save_checkpoint = [this](const fs::path& d) { save_checkpoint(d); };
  task.load_checkpoint = [this](const fs::path& d) { load_checkpoint(d); };
  task.save_final = [this](const fs::path& d) { save_final(d); };
}

}  // namespace prefer::cli
