#include "cli/prompt_file.h"

#include <iostream>

#include "cli/command.h"
#include "io/records.h"
#include "util/error.h"
#include "util/progress.h"

namespace prefer::cli {

std::vector<PromptRow> read_prompt_file(const std::filesystem::path& file, const data::TextModel& text) {
  std::vector<PromptRow> rows;
  auto render = [&](const OrderedJson& messages, const ErrorContext& ctx) {
    if (!text.templ()) throw Error("messages need a chat template, and the model has none", ctx);
    text::ChatRenderOptions ro;
    ro.add_generation_prompt = true;
    ro.bos_token = text.tokenizer.config().bos_token;
    ro.eos_token = text.tokenizer.config().eos_token;
    try {
      return text.tokenizer.encode(text.templ()->render(messages, ro), false);
    } catch (const Error& e) {
      throw e.with_defaults(ctx);
    }
  };
  for (io::Record& rec : io::read_records(file)) {
    const ErrorContext ctx = rec.where;
    const int64_t line_no = ctx.line;
    OrderedJson row = std::move(rec.value);
    if (!row.is_object()) throw Error("expected a JSON object", ctx);
    std::vector<int32_t> ids32;
    std::vector<int64_t> ids;
    if (row.contains("prompt_ids") || row.contains("input_ids")) {
      // TRL's PPO data is one input_ids column; prompt_ids is prefer's name.
      const char* key = row.contains("prompt_ids") ? "prompt_ids" : "input_ids";
      ErrorContext f{.file = ctx.file, .line = line_no, .field = key};
      if (!row[key].is_array()) throw Error("must be a list of token ids", f);
      for (const auto& x : row[key]) {
        if (!x.is_number_integer() || x.get<int64_t>() < 0) throw Error("must be a list of non-negative token ids", f);
        ids.push_back(x.get<int64_t>());
      }
    } else if (row.contains("messages")) {
      if (!row["messages"].is_array()) throw Error("must be a list of chat messages", {.file = ctx.file, .line = line_no, .field = "messages"});
      ids32 = render(row["messages"], {.file = ctx.file, .line = line_no, .field = "messages"});
    } else if (row.contains("prompt") && row["prompt"].is_array()) {
      ids32 = render(row["prompt"], {.file = ctx.file, .line = line_no, .field = "prompt"});
    } else if (row.contains("prompt") && row["prompt"].is_string()) {
      try {
        ids32 = text.tokenizer.encode(row["prompt"].get<std::string>(), true);
      } catch (const Error& e) {
        throw e.with_defaults({.file = ctx.file, .line = line_no, .field = "prompt"});
      }
    } else {
      throw Error("needs a prompt (text or messages), messages, or prompt_ids (input_ids)", ctx);
    }
    for (int32_t id : ids32) ids.push_back(id);
    if (ids.empty()) throw Error("the prompt has no tokens", ctx);
    rows.push_back({std::move(row), std::move(ids)});
  }
  return rows;
}

OrderedJson prompt_value(const OrderedJson& row) {
  if (row.contains("messages")) return row["messages"];
  if (row.contains("prompt")) return row["prompt"];
  return row.contains("prompt_ids") ? row["prompt_ids"] : OrderedJson();
}

std::string prompt_question(const OrderedJson& row) {
  const OrderedJson p = prompt_value(row);
  if (p.is_string()) return p.get<std::string>();
  if (!p.is_array()) return p.dump();
  std::vector<const OrderedJson*> users;
  for (const auto& m : p)
    if (m.is_object() && m.value("role", "") == "user") users.push_back(&m);
  if (users.size() == 1 && p.size() <= 2 && (*users[0])["content"].is_string()) return (*users[0])["content"].get<std::string>();
  std::string out;
  for (const auto& m : p) {
    if (!m.is_object()) continue;
    const OrderedJson c = m.contains("content") ? m["content"] : OrderedJson("");
    out += m.value("role", "?") + ": " + (c.is_string() ? c.get<std::string>() : c.dump()) + "\n";
  }
  return out;
}

void SamplingFlags::add_to(CLI::App* cmd) {
  cmd->add_option("--max_new_tokens", max_new_tokens, "Tokens to generate at most")->capture_default_str()->check(CLI::PositiveNumber);
  add_bool_option(cmd, "do_sample", do_sample, "true: sample; false: greedy [default: false]");
  cmd->add_option("--temperature", temperature, "Sampling temperature")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--top_k", top_k, "Sample from the k most likely tokens (0 = all)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--top_p", top_p, "Nucleus sampling mass")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", seed, "Sampling seed")->capture_default_str();
}

void SamplingFlags::apply(model::GenerationOptions& go) const {
  go.max_new_tokens = max_new_tokens;
  go.do_sample = do_sample;
  go.temperature = temperature;
  go.top_k = top_k;
  go.top_p = top_p;
  go.seed = static_cast<uint64_t>(seed);
}

Json SamplingFlags::to_json() const {
  return {{"max_new_tokens", max_new_tokens}, {"do_sample", do_sample}, {"temperature", temperature},
          {"top_k", top_k}, {"top_p", top_p}, {"seed", seed}};
}

model::GenerationOptions generation_options(const model::CausalLM& m, const data::TextModel& text) {
  model::GenerationOptions go;
  for (int64_t id : m.config().eos_token_ids) go.eos_token_ids.push_back(id);
  if (auto e = text.tokenizer.eos_id()) go.eos_token_ids.push_back(*e);
  go.pad_token_id = text.tokenizer.pad_id().value_or(0);
  return go;
}

std::vector<Completion> complete_prompts(const model::CausalLM& m, const data::TextModel& text, const std::vector<PromptRow>& prompts,
                                         model::GenerationOptions go, int64_t batch_size, const std::string& label) {
  std::vector<Completion> out;
  const uint64_t seed = go.seed;
  ProgressBar bar(static_cast<int64_t>(prompts.size()), {.label = label, .unit = "prompts", .tty = stdout_is_terminal()}, std::cerr);
  for (size_t start = 0; start < prompts.size(); start += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(prompts.size(), start + static_cast<size_t>(batch_size));
    std::vector<std::vector<int64_t>> batch;
    for (size_t i = start; i < end; ++i) batch.push_back(prompts[i].ids);
    go.seed = seed + start;  // each batch its own stream, reproducible per batch size
    for (auto& r : model::generate(m, batch, go)) {
      std::vector<int32_t> ids(r.ids.begin(), r.ids.end());
      out.push_back({text.tokenizer.decode(ids, true), std::move(r.ids)});
    }
    bar.update(static_cast<int64_t>(end));
  }
  bar.finish();
  return out;
}

}  // namespace prefer::cli
