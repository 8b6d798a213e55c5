#include "cli/rl_models.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <cstdlib>

#include "data/tokenize.h"
#include "eval/program_protocol.h"
#include "model/quantized_model.h"
#include "model/lora.h"
#include "model/scalar_head.h"
#include "train/state_file.h"
#include "util/error.h"
#include "util/file.h"

namespace prefer::cli {
namespace fs = std::filesystem;

namespace {

int64_t tensor_bytes(const at::Tensor& t) { return t.defined() ? t.numel() * static_cast<int64_t>(t.element_size()) : 0; }

int64_t base_bytes(const model::CausalLM& m) {
  int64_t n = 0;
  for (const auto& [name, t] : m.named_parameters()) n += tensor_bytes(t);
  return n + static_cast<int64_t>(model::quantized_bytes(m));  // a quantised base's packed layers
}

std::string mib(int64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0)); }

// Whether the two folders hold the same tokenizer (files compared byte for byte).
bool same_tokenizer(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (fs::equivalent(a, b, ec)) return true;
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    const bool ea = fs::exists(a / f), eb = fs::exists(b / f);
    if (ea != eb) return false;
    if (ea && read_file(a / f) != read_file(b / f)) return false;
  }
  return true;
}

// A fresh value head [1, H] (transformers' initialisation of a new score head: normal(0, 0.02)).
at::Tensor fresh_head(const model::CausalLM& m, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::normal(0.0, 0.02, {1, m.config().hidden_size}, gen).to(m.device(), m.dtype());
}

model::CausalLM load_classifier(const model::ModelSource& s, at::ScalarType dtype, bool mixed = false);  // below

at::Tensor trainable(at::Tensor t) {
  t = t.detach().clone();
  t.set_requires_grad(true);
  return t;
}

}  // namespace

at::Tensor RlModels::Role::hidden(const train::Rollout& r) const {
  std::optional<model::ActiveAdapter> on;
  std::optional<model::AdaptersDisabled> off;
  if (bank && !set.empty()) on.emplace(*bank, set);
  if (bank && set.empty()) off.emplace(*model);
  return train::rollout_hidden(*model, r);
}

RlModels::RlModels(RlModelOptions options, const data::TextModel& text, const std::vector<PromptRow>& rows)
    : opt_(std::move(options)), text_(text), rows_(rows) {
  for (size_t i = 0; i < rows_.size(); ++i) row_index_.emplace(rows_[i].ids, i);
  if (!opt_.reward_source && opt_.reward_command.empty())
    throw Error("needs a reward: --reward_model DIR or --reward_command CMD", {.field = "reward_model"});
  const size_t functions = (opt_.reward_source ? 1 : 0) + opt_.more_reward_sources.size() + (opt_.reward_command.empty() ? 0 : 1);
  if (!opt_.reward_weights.empty() && opt_.reward_weights.size() != functions)
    throw Error(fmt::format("has {} weights for {} reward functions (the reward models in order, then the command)", opt_.reward_weights.size(),
                            functions),
                {.field = "reward_weights"});
  if (opt_.reward_source && !same_tokenizer(opt_.reward_source->tokenizer, opt_.policy.source.tokenizer)) {
    reward_text_ = std::make_unique<data::TextModel>(data::TextModel::load(opt_.reward_source->tokenizer));
    reward_retokenize_ = true;
  }
  policy_ = std::make_unique<Policy>(opt_.policy);
  if (opt_.policy.use_peft && opt_.share_base) build_shared();
  else build_separate();
  for (const model::ModelSource& src : opt_.more_reward_sources) {
    more_models_.push_back(std::make_unique<model::CausalLM>(load_classifier(src, opt_.policy.dtype)));
    more_models_.back()->set_requires_grad(false);
    more_roles_.push_back({more_models_.back().get(), nullptr, "", more_models_.back()->slot(model::Slot::Score)});
    more_texts_.push_back(same_tokenizer(src.tokenizer, opt_.policy.source.tokenizer)
                              ? nullptr
                              : std::make_unique<data::TextModel>(data::TextModel::load(src.tokenizer)));
  }
  if (opt_.second_reward_source) {
    // The second judge of the reward-hacking check: scores only, never trained on.
    second_model_.emplace(load_classifier(*opt_.second_reward_source, opt_.policy.dtype));
    second_model_->set_requires_grad(false);
    second_role_ = {&*second_model_, nullptr, "", second_model_->slot(model::Slot::Score)};
    if (!same_tokenizer(opt_.second_reward_source->tokenizer, opt_.policy.source.tokenizer))
      second_text_ = std::make_unique<data::TextModel>(data::TextModel::load(opt_.second_reward_source->tokenizer));
  }
  policy_->model().set_training(false);
}

RlModels::~RlModels() = default;

namespace {
// The reward model's last adapter, when the reward model is the policy's source plus one SEQ_CLS adapter:
// then it can run on the policy's base.
std::optional<fs::path> reward_adapter_on(const model::ModelSource& policy, const std::optional<model::ModelSource>& reward) {
  if (!reward || reward->adapters.size() != policy.adapters.size() + 1) return std::nullopt;
  std::error_code ec;
  if (!fs::equivalent(reward->base, policy.base, ec)) return std::nullopt;
  for (size_t i = 0; i < policy.adapters.size(); ++i)
    if (!fs::equivalent(reward->adapters[i], policy.adapters[i], ec)) return std::nullopt;
  if (model::read_adapter_config(reward->adapters.back()).task_type != "SEQ_CLS") return std::nullopt;
  return reward->adapters.back();
}

model::CausalLM load_classifier(const model::ModelSource& s, at::ScalarType dtype, bool mixed) {
  model::CausalLM m = model::load_model_source(s, {.dtype = dtype, .mixed_precision = mixed});
  if (m.config().head != io::HeadKind::SequenceClassification || m.config().num_labels != 1)
    throw Error("is not a reward model (a sequence classifier with one output)",
                {.file = s.base.string(), .field = "reward_model", .hint = "pass a prefer reward run folder, or use --reward_command"});
  return m;
}
}  // namespace

void RlModels::build_shared() {
  model::CausalLM& m = policy_->model();
  bank_ = std::make_unique<model::AdapterBank>(m);
  bank_->keep("policy");
  const std::optional<fs::path> rm_adapter = reward_adapter_on(opt_.policy.source, opt_.reward_source);
  at::Tensor value_head;
  bank_->clear();
  if (rm_adapter) {
    // The reward adapter and, as TRL initialises the value model from the reward model, a trainable copy.
    at::Tensor rhead, vhead;
    model::load_adapter(m, *rm_adapter, &rhead);
    for (auto& [n, t] : model::lora_parameters(m, model::read_adapter_config(*rm_adapter))) t.set_requires_grad(false);
    bank_->keep("reward");
    reward_role_ = {&m, bank_.get(), "reward", rhead};
    if (opt_.value) {
      bank_->clear();
      model::load_adapter(m, *rm_adapter, &vhead);
      bank_->keep("value");
      value_head = trainable(vhead);
    }
  } else {
    if (opt_.value) {
      model::add_lora(m, opt_.policy.lora, opt_.policy.seed + 1);
      bank_->keep("value");
      value_head = trainable(fresh_head(m, opt_.policy.seed + 2));
    }
    if (opt_.reward_source) {
      reward_model_.emplace(load_classifier(*opt_.reward_source, opt_.policy.dtype));
      reward_role_ = {&*reward_model_, nullptr, "", reward_model_->slot(model::Slot::Score)};
    }
  }
  bank_->activate("policy");
  policy_role_ = {&m, bank_.get(), "policy", {}};
  if (opt_.reference) reference_role_ = {&m, bank_.get(), "", {}};
  if (opt_.value) value_role_ = {&m, bank_.get(), "value", value_head};
  std::vector<std::string> adapters = {"policy"};
  if (opt_.value) adapters.push_back("value");
  if (rm_adapter) adapters.push_back("reward");
  layout_ = fmt::format("one shared base: {} as LoRA adapters{}{}", fmt::join(adapters, ", "), opt_.reference ? ", reference = adapters off" : ", no reference",
                        rm_adapter ? "" : opt_.reward_source ? "; reward model separate" : "; rewards from the command");
}

void RlModels::build_separate() {
  const at::ScalarType dtype = opt_.policy.dtype;
  const model::ModelSource& src = opt_.policy.source;
  model::CausalLM& pm = policy_->model();
  const bool mixed = pm.mixed_precision();  // the reference and value model compute as the policy does
  policy_role_ = {&pm, nullptr, "", {}};
  if (opt_.reference) {
    reference_model_.emplace(model::load_model_source(src, {.dtype = dtype, .mixed_precision = mixed}));
    reference_model_->set_requires_grad(false);
    reference_role_ = {&*reference_model_, nullptr, "", {}};
  }
  const std::optional<fs::path> rm_adapter = opt_.policy.use_peft ? reward_adapter_on(src, opt_.reward_source) : std::nullopt;
  if (!opt_.value) {
    // no value model (GRPO, RLOO)
  } else if (opt_.policy.use_peft) {
    // LoRA on separate copies (share_base false): the same adapters as the shared layout, each on its own
    // copy of the base, so the two layouts compute the same numbers.
    value_model_.emplace(model::load_model_source(src, {.dtype = dtype, .mixed_precision = mixed}));
    value_model_->set_requires_grad(false);
    at::Tensor vhead;
    if (rm_adapter) {
      model::load_adapter(*value_model_, *rm_adapter, &vhead);
      reward_model_.emplace(model::load_model_source(src, {.dtype = dtype}));
      reward_model_->set_requires_grad(false);
      at::Tensor rhead;
      model::load_adapter(*reward_model_, *rm_adapter, &rhead);
      for (auto& [n, t] : model::lora_parameters(*reward_model_, model::read_adapter_config(*rm_adapter))) t.set_requires_grad(false);
      reward_role_ = {&*reward_model_, nullptr, "", rhead};
    } else {
      model::add_lora(*value_model_, opt_.policy.lora, opt_.policy.seed + 1);
      vhead = fresh_head(*value_model_, opt_.policy.seed + 2);
    }
    value_bank_ = std::make_unique<model::AdapterBank>(*value_model_);
    value_bank_->keep("value");
    value_role_ = {&*value_model_, nullptr, "", trainable(vhead)};
  } else if (opt_.reward_source) {
    value_model_.emplace(load_classifier(*opt_.reward_source, dtype, mixed));  // TRL: the value model starts as the reward model
    value_model_->set_requires_grad(true);
    value_role_ = {&*value_model_, nullptr, "", value_model_->slot(model::Slot::Score)};
  } else {
    // --reward_command: the policy's base as a classifier with a fresh head, so the head is one of the
    // value model's weights (trained and checkpointed with them).
    value_model_.emplace(model::load_model_source(
        src, {.dtype = dtype, .head = io::HeadKind::SequenceClassification, .num_labels = 1, .head_seed = opt_.policy.seed + 2,
              .mixed_precision = mixed}));
    value_model_->set_requires_grad(true);
    value_role_ = {&*value_model_, nullptr, "", value_model_->slot(model::Slot::Score)};
  }
  if (!opt_.value && rm_adapter) {
    reward_model_.emplace(model::load_model_source(src, {.dtype = dtype}));
    at::Tensor rhead;
    model::load_adapter(*reward_model_, *rm_adapter, &rhead);
    for (auto& [n, t] : model::lora_parameters(*reward_model_, model::read_adapter_config(*rm_adapter))) t.set_requires_grad(false);
    reward_role_ = {&*reward_model_, nullptr, "", rhead};
  }
  if (opt_.reward_source && !reward_model_) {
    reward_model_.emplace(load_classifier(*opt_.reward_source, dtype));
    reward_role_ = {&*reward_model_, nullptr, "", reward_model_->slot(model::Slot::Score)};
  }
  if (reward_model_) reward_model_->set_requires_grad(false);
  std::vector<std::string> roles = {"policy"};
  if (opt_.reference) roles.push_back(opt_.policy.use_peft ? "reference" : "a frozen reference copy");
  if (opt_.value) roles.push_back("value model");
  if (reward_model_) roles.push_back("reward model");
  layout_ = fmt::format("{}: {}", opt_.policy.use_peft ? "separate copies of the base (share_base false)" : "full fine-tuning", fmt::join(roles, ", "));
}

std::vector<train::NamedParam> RlModels::value_trainable() const {
  std::vector<train::NamedParam> out;
  if (!opt_.value) return out;
  if (value_adapter()) {
    model::CausalLM& m = *value_role_.model;
    std::optional<model::ActiveAdapter> on;
    if (value_role_.bank) on.emplace(*value_role_.bank, value_role_.set);
    for (auto& [n, t] : model::lora_parameters(m, opt_.policy.lora)) out.push_back({"value." + n, t});
    out.push_back({"value.score.weight", value_role_.head});
  } else {
    for (auto& [n, t] : value_role_.model->named_parameters()) out.push_back({"value." + n, t});
  }
  return out;
}

const PromptRow& RlModels::row_of(const std::vector<int64_t>& prompt) const {
  auto it = row_index_.find(prompt);
  if (it == row_index_.end()) throw Error("a rollout prompt is not one of the prompts file's rows");
  return rows_[it->second];
}

at::Tensor RlModels::model_scores(const train::Rollout& r, const Role& role, const data::TextModel* own_text) {
  at::NoGradGuard ng;
  const int64_t pad = opt_.rollout.pad_token_id;
  if (!own_text) return train::read_scores(role.hidden(r), role.head, r, opt_.score_read, pad);
  // Another tokenizer: the reward model reads prompt + response as text, through its own template.
  data::TokenizeOptions to;
  to.max_length = 0;
  data::ExampleTokenizer tok(own_text->tokenizer, own_text->templ(), to);
  data::TokenizeStats stats;
  std::vector<std::vector<int64_t>> prompts, responses;
  for (int64_t b = 0; b < r.rows(); ++b) {
    const PromptRow& row = row_of(r.prompts[static_cast<size_t>(b)]);
    const auto& ids = r.responses[static_cast<size_t>(b)];
    const std::string answer = text_.tokenizer.decode(std::vector<int32_t>(ids.begin(), ids.end()), true);
    data::Example ex;
    OrderedJson p = prompt_value(row.row);
    if (p.is_array()) {
      ex.prompt = data::Content::of_messages(p);
      ex.chosen = ex.rejected = data::Content::of_messages(OrderedJson::array({{{"role", "assistant"}, {"content", answer}}}));
    } else {
      const std::string question = p.is_string() ? p.get<std::string>()
                                                 : text_.tokenizer.decode(std::vector<int32_t>(row.ids.begin(), row.ids.end()), false);
      ex.prompt = data::Content::of_text(question);
      ex.chosen = ex.rejected = data::Content::of_text(answer);
    }
    std::optional<data::TokenizedExample> te = tok.tokenize(ex, stats, "reward model input");
    if (!te) throw Error("the reward model's tokenizer dropped a response", {.field = "reward_model"});
    prompts.emplace_back(te->prompt_ids.begin(), te->prompt_ids.end());
    responses.emplace_back(te->chosen.completion_ids.begin(), te->chosen.completion_ids.end());
    if (responses.back().empty()) responses.back().push_back(own_text->tokenizer.eos_id().value_or(0));
  }
  const int64_t rpad = own_text->tokenizer.pad_id().value_or(own_text->tokenizer.eos_id().value_or(0));
  train::Rollout rr = train::make_rollout(std::move(prompts), std::move(responses), rpad, {});
  return train::read_scores(role.hidden(rr), role.head, rr, opt_.score_read, rpad);
}

at::Tensor RlModels::command_scores(const train::Rollout& r) {
  std::vector<OrderedJson> items;
  for (int64_t b = 0; b < r.rows(); ++b) {
    const PromptRow& row = row_of(r.prompts[static_cast<size_t>(b)]);
    const auto& ids = r.responses[static_cast<size_t>(b)];
    OrderedJson item;
    item["prompt"] = prompt_value(row.row);
    item["completion"] = text_.tokenizer.decode(std::vector<int32_t>(ids.begin(), ids.end()), true);
    item["prompt_ids"] = r.prompts[static_cast<size_t>(b)];
    item["completion_ids"] = ids;
    for (auto it = row.row.begin(); it != row.row.end(); ++it)
      if (!item.contains(it.key()) && it.key() != "messages" && it.key() != "input_ids") item[it.key()] = it.value();
    items.push_back(std::move(item));
  }
  std::vector<float> out;
  for (double v : eval::run_scoring_batch({.command = opt_.reward_command, .timeout_s = opt_.command_timeout, .role = "reward"}, items))
    out.push_back(static_cast<float>(v));
  return at::tensor(out, at::kFloat);
}

namespace {
// A reward function's name in metrics (rewards/<name>/mean): its folder, or the run folder of a final/.
std::string reward_name(const model::ModelSource& s) {
  fs::path p = s.adapters.empty() ? s.base : s.adapters.back();
  if (p.filename().empty()) p = p.parent_path();
  if (p.filename() == "final") p = p.parent_path();
  return p.filename().string();
}
}  // namespace

at::Tensor RlModels::scores(const train::Rollout& r, std::vector<std::pair<std::string, at::Tensor>>* parts) {
  at::Tensor total;
  size_t k = 0;
  auto add = [&](const std::string& name, const at::Tensor& s) {
    const double w = opt_.reward_weights.empty() ? 1.0 : opt_.reward_weights[k++];
    total = total.defined() ? total + w * s : (w == 1.0 ? s : w * s);
    if (parts) parts->push_back({name, s});
  };
  if (opt_.reward_source) add(reward_name(*opt_.reward_source), model_scores(r, reward_role_, reward_retokenize_ ? reward_text_.get() : nullptr));
  for (size_t i = 0; i < more_roles_.size(); ++i)
    add(reward_name(opt_.more_reward_sources[i]), model_scores(r, more_roles_[i], more_texts_[i].get()));
  if (!opt_.reward_command.empty()) add("command", command_scores(r));
  return total;
}

train::OnlineRoles RlModels::roles() {
  train::OnlineRoles roles;
  const double temperature = opt_.rollout.temperature;
  roles.sample = [this](const std::vector<std::vector<int64_t>>& prompts, uint64_t seed) {
    train::RolloutOptions o = opt_.rollout;
    o.seed = seed;
    std::optional<model::ActiveAdapter> on;
    if (policy_role_.bank) on.emplace(*policy_role_.bank, policy_role_.set);
    return train::sample_rollout(*policy_role_.model, prompts, o);
  };
  roles.policy_logprobs = [this, temperature](const train::Rollout& r, at::Tensor* entropy) {
    return train::response_logprobs(*policy_role_.model, policy_role_.hidden(r), r, temperature, entropy);
  };
  if (opt_.reference)
    roles.ref_logprobs = [this, temperature](const train::Rollout& r) {
      at::NoGradGuard ng;
      return train::response_logprobs(*reference_role_.model, reference_role_.hidden(r), r, temperature);
    };
  if (opt_.value)
    roles.values = [this](const train::Rollout& r) { return train::response_values(value_role_.hidden(r), value_role_.head, r); };
  roles.scores = [this](const train::Rollout& r, std::vector<std::pair<std::string, at::Tensor>>* parts) { return scores(r, parts); };
  if (second_model_)
    roles.second_scores = [this](const train::Rollout& r) { return model_scores(r, second_role_, second_text_.get()); };
  roles.trainable = [this] {
    std::vector<train::NamedParam> p;
    {
      std::optional<model::ActiveAdapter> on;
      if (bank_) on.emplace(*bank_, "policy");
      train::TrainingTask t;
      policy_->install(t);
      p = t.trainable();
    }
    for (auto& v : value_trainable()) p.push_back(v);
    return p;
  };
  roles.set_training = [this](bool on) {
    policy_->model().set_training(on);
    if (value_model_) value_model_->set_training(on);
  };
  roles.save_checkpoint = [this](const fs::path& dir) {
    train::TrainingTask t;
    policy_->install(t);
    {
      std::optional<model::ActiveAdapter> on;
      if (bank_) on.emplace(*bank_, "policy");
      t.save_checkpoint(dir);
    }
    std::map<std::string, at::Tensor> value;
    for (auto& p : value_trainable()) value[p.name] = p.param;
    if (!value.empty()) train::write_state_file(dir / "value_model.safetensors", value);
  };
  roles.load_checkpoint = [this](const fs::path& dir) {
    train::TrainingTask t;
    policy_->install(t);
    if (bank_) bank_->activate("policy");
    t.load_checkpoint(dir);
    if (bank_) bank_->keep("policy");  // the loaded adapter replaces the policy's set
    if (!opt_.value) return;
    const fs::path file = dir / "value_model.safetensors";
    train::StateFile st = train::read_state_file(file);
    at::NoGradGuard ng;
    for (auto& p : value_trainable()) p.param.copy_(train::state_tensor(st, p.name, file));
  };
  roles.save_final = [this](const fs::path& dir) {
    std::optional<model::ActiveAdapter> on;
    if (bank_) on.emplace(*bank_, "policy");
    train::TrainingTask t;
    policy_->install(t);
    t.save_final(dir);
  };
  roles.decode = [this](const std::vector<int64_t>& ids) { return text_.tokenizer.decode(std::vector<int32_t>(ids.begin(), ids.end()), true); };
  return roles;
}

std::string RlModels::describe() const { return layout_; }

std::string RlModels::memory_report() const {
  const int64_t base = base_bytes(policy_->model());
  auto adapter_bytes = [](model::CausalLM& m, model::AdapterBank* bank, const std::string& set) {
    if (!bank || set.empty()) return int64_t{0};
    model::ActiveAdapter on(*bank, set);
    int64_t n = 0;
    for (auto& [name, t] : model::lora_parameters(m, {})) n += tensor_bytes(t);
    return n;
  };
  std::vector<std::string> lines;
  int64_t total = 0, separate = 0;
  auto role = [&](const char* name, const Role& r, bool own_model, int64_t adapters) {
    const int64_t own = own_model ? base_bytes(*r.model) : 0;
    const int64_t n = own + adapters + tensor_bytes(r.head);
    total += n;
    separate += (own_model ? own : base) + adapters + tensor_bytes(r.head);
    lines.push_back(fmt::format("{} {}{}", name, mib(n), own_model ? "" : " on the shared base"));
  };
  const bool shared = bank_ != nullptr;
  model::CausalLM& pm = policy_->model();
  if (shared) {
    total += base;
    role("policy", policy_role_, false, adapter_bytes(pm, bank_.get(), "policy"));
    if (opt_.reference) role("reference", reference_role_, false, 0);
    else lines.push_back("reference 0 B (beta 0: no reference model)");
    if (opt_.value) role("value", value_role_, false, adapter_bytes(pm, bank_.get(), "value"));
    if (reward_role_.model) role("reward", reward_role_, reward_role_.bank == nullptr, reward_role_.bank ? adapter_bytes(pm, bank_.get(), "reward") : 0);
    return fmt::format("weights: base {} shared by every role; {}; total {}, where separate copies would hold {} (sharing saves {})", mib(base),
                       fmt::join(lines, ", "), mib(total), mib(separate), mib(separate - total));
  }
  role("policy", policy_role_, true, 0);
  if (reference_role_.model) role("reference", reference_role_, true, 0);
  else lines.push_back("reference 0 B (beta 0: no reference model)");
  if (value_role_.model) role("value", value_role_, true, 0);
  if (reward_role_.model) role("reward", reward_role_, true, 0);
  return fmt::format("weights: {}; total {} (with LoRA one base would serve every role)", fmt::join(lines, ", "), mib(total));
}

}  // namespace prefer::cli
