// `prefer generate --model DIR --data prompts.jsonl --output out.jsonl`: completions for prompts.
// Input lines hold `prompt` (text), `messages` (rendered with the chat template, generation prompt
// added) or pre-tokenized `prompt_ids`; each output line is the input object plus `completion` and
// `completion_ids`. --do_sample false is greedy. Output is written atomically when complete.
#include <fmt/format.h>

#include <iostream>

#include "cli/command.h"
#include "data/pipeline.h"
#include "model/generation.h"
#include "model/loader.h"
#include "model/model_source.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json.h"
#include "util/progress.h"

namespace prefer::cli {
namespace fs = std::filesystem;

void add_generate_command(CLI::App& app, GlobalOptions& g) {
  struct Options {
    std::string model, adapter, data, output;
    bool do_sample = false;
    int64_t max_new_tokens = 128, top_k = 50, batch_size = 8, seed = 0;
    double temperature = 1.0, top_p = 1.0;
    bool bf16 = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate completions for prompts (JSONL in, JSONL out)");
  cmd->add_option("--model", o->model, "Model folder, run folder or PEFT adapter")->required();
  cmd->add_option("--adapter", o->adapter, "A PEFT adapter applied on top of --model");
  cmd->add_option("--data", o->data, "JSONL with prompt, messages or prompt_ids per line")->required();
  cmd->add_option("--output", o->output, "JSONL to write")->required();
  cmd->add_option("--max_new_tokens", o->max_new_tokens, "Tokens to generate at most")->capture_default_str()->check(CLI::PositiveNumber);
  add_bool_option(cmd, "do_sample", o->do_sample, "true: sample; false: greedy [default: false]");
  cmd->add_option("--temperature", o->temperature, "Sampling temperature")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--top_k", o->top_k, "Sample from the k most likely tokens (0 = all)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--top_p", o->top_p, "Nucleus sampling mass")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", o->seed, "Sampling seed")->capture_default_str();
  cmd->add_option("--batch_size", o->batch_size, "Prompts per batch")->capture_default_str()->check(CLI::PositiveNumber);
  add_bool_option(cmd, "bf16", o->bf16, "Compute in bfloat16");
  cmd->callback([o, &g] {
    apply_global_options(g);
    const bool sample = o->do_sample;
    model::ModelSource src = model::resolve_model_source(o->model, o->adapter.empty() ? std::nullopt : std::optional<fs::path>(o->adapter));
    data::TextModel text = data::TextModel::load(src.tokenizer);
    model::LoadOptions lo;
    lo.dtype = o->bf16 ? at::kBFloat16 : at::kFloat;
    model::CausalLM m = model::load_model_source(src, lo);

    // Read every line first, so a bad line fails before any compute.
    std::vector<OrderedJson> rows;
    std::vector<std::vector<int64_t>> prompts;
    JsonlReader reader(o->data);
    int64_t line_no = 0;
    std::string_view line;
    while (reader.next_raw(line_no, line)) {
      ErrorContext ctx{.file = o->data, .line = line_no};
      OrderedJson row = parse_ordered_json(line, ctx, line_no);
      if (!row.is_object()) throw Error("expected a JSON object", ctx);
      std::vector<int64_t> ids;
      if (row.contains("prompt_ids")) {
        for (const auto& x : row["prompt_ids"]) ids.push_back(x.get<int64_t>());
      } else if (row.contains("messages")) {
        if (!text.templ()) throw Error("messages need a chat template, and the model has none", {.file = o->data, .line = line_no, .field = "messages"});
        text::ChatRenderOptions ro;
        ro.add_generation_prompt = true;
        ro.bos_token = text.tokenizer.config().bos_token;
        ro.eos_token = text.tokenizer.config().eos_token;
        try {
          for (int32_t id : text.tokenizer.encode(text.templ()->render(row["messages"], ro), false)) ids.push_back(id);
        } catch (const Error& e) {
          throw e.with_defaults({.file = o->data, .line = line_no, .field = "messages"});
        }
      } else if (row.contains("prompt") && row["prompt"].is_string()) {
        try {
          for (int32_t id : text.tokenizer.encode(row["prompt"].get<std::string>(), true)) ids.push_back(id);
        } catch (const Error& e) {
          throw e.with_defaults({.file = o->data, .line = line_no, .field = "prompt"});
        }
      } else {
        throw Error("needs a prompt (text), messages, or prompt_ids", ctx);
      }
      if (ids.empty()) throw Error("the prompt has no tokens", ctx);
      rows.push_back(std::move(row));
      prompts.push_back(std::move(ids));
    }

    model::GenerationOptions go;
    go.max_new_tokens = o->max_new_tokens;
    go.do_sample = sample;
    go.temperature = o->temperature;
    go.top_k = o->top_k;
    go.top_p = o->top_p;
    go.seed = static_cast<uint64_t>(o->seed);
    for (int64_t id : m.config().eos_token_ids) go.eos_token_ids.push_back(id);
    if (auto e = text.tokenizer.eos_id()) go.eos_token_ids.push_back(*e);
    go.pad_token_id = text.tokenizer.pad_id().value_or(0);

    std::string out;
    ProgressBar bar(static_cast<int64_t>(prompts.size()), {.label = "generate", .unit = "prompts", .tty = stdout_is_terminal()}, std::cerr);
    for (size_t start = 0; start < prompts.size(); start += static_cast<size_t>(o->batch_size)) {
      size_t end = std::min(prompts.size(), start + static_cast<size_t>(o->batch_size));
      std::vector<std::vector<int64_t>> batch(prompts.begin() + static_cast<std::ptrdiff_t>(start), prompts.begin() + static_cast<std::ptrdiff_t>(end));
      go.seed = static_cast<uint64_t>(o->seed) + start;  // each batch its own stream, reproducible per batch size
      auto results = model::generate(m, batch, go);
      for (size_t k = 0; k < results.size(); ++k) {
        OrderedJson row = rows[start + k];
        std::vector<int32_t> ids(results[k].ids.begin(), results[k].ids.end());
        row["completion"] = text.tokenizer.decode(ids, true);
        row["completion_ids"] = results[k].ids;
        out += row.dump() + "\n";
      }
      bar.update(static_cast<int64_t>(end));
    }
    bar.finish();
    write_file_atomic(o->output, out);
    std::cerr << fmt::format("wrote {} completions to {}\n", rows.size(), o->output);
  });
}

}  // namespace prefer::cli
