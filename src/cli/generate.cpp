// `prefer generate --model DIR --data prompts.jsonl --output out.jsonl`: completions for prompts.
// Input lines hold `prompt` (text or messages), `messages` (rendered with the chat template, generation prompt
// added) or pre-tokenized `prompt_ids`; each output line is the input object plus `completion` and
// `completion_ids`. --do_sample false is greedy. Output is written atomically when complete.
#include <fmt/format.h>

#include <iostream>

#include "cli/command.h"
#include "cli/quantization_options.h"
#include "cli/prompt_file.h"
#include "data/pipeline.h"
#include "model/generation.h"
#include "model/loader.h"
#include "model/model_source.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json.h"

namespace prefer::cli {
namespace fs = std::filesystem;

void add_generate_command(CLI::App& app, GlobalOptions& g) {
  struct Options {
    std::string model, adapter, data, output;
    SamplingFlags sampling;
    int64_t batch_size = 8;
    bool bf16 = false;
    QuantizationFlags quant;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate completions for prompts (JSONL in, JSONL out)");
  cmd->add_option("--model", o->model, "Model folder, run folder or PEFT adapter")->required();
  cmd->add_option("--adapter", o->adapter, "A PEFT adapter applied on top of --model");
  cmd->add_option("--data", o->data, "JSONL with prompt, messages or prompt_ids per line")->required();
  cmd->add_option("--output", o->output, "JSONL to write")->required();
  o->sampling.add_to(cmd);
  cmd->add_option("--batch_size", o->batch_size, "Prompts per batch")->capture_default_str()->check(CLI::PositiveNumber);
  add_bool_option(cmd, "bf16", o->bf16, "Compute in bfloat16");
  o->quant.add_to(cmd);
  cmd->callback([o, &g] {
    apply_global_options(g);
    model::ModelSource src = model::resolve_model_source(o->model, o->adapter.empty() ? std::nullopt : std::optional<fs::path>(o->adapter));
    data::TextModel text = data::TextModel::load(src.tokenizer);
    model::LoadOptions lo;
    lo.dtype = o->bf16 ? at::kBFloat16 : at::kFloat;
    lo.quantization = o->quant.config();
    model::CausalLM m = model::load_model_source(src, lo);

    // Every line is read first, so a bad line fails before any compute.
    std::vector<PromptRow> prompts = read_prompt_file(o->data, text);
    model::GenerationOptions go = generation_options(m, text);
    o->sampling.apply(go);
    std::vector<Completion> done = complete_prompts(m, text, prompts, go, o->batch_size, "generate");
    std::string out;
    for (size_t k = 0; k < prompts.size(); ++k) {
      OrderedJson row = prompts[k].row;
      row["completion"] = done[k].text;
      row["completion_ids"] = done[k].ids;
      out += row.dump() + "\n";
    }
    write_file_atomic(o->output, out);
    std::cerr << fmt::format("wrote {} completions to {}\n", prompts.size(), o->output);
  });
}

}  // namespace prefer::cli
