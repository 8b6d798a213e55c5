// `prefer score --model RM --data F --output F`: a reward model's scores, written as the input objects in
// their order plus `score` (a prompt + completion or text row) or `chosen_score` and `rejected_score` (a
// pair), with the accuracy over pairs printed. Text rows are tokenized as `prefer reward` tokenizes
// them (chat template, EOS appended to plain text); pre-tokenized rows are scored exactly as given. For
// data curation, and the scorer later commands (PPO, eval, judging) call.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <iostream>
#include <map>

#include "cli/command.h"
#include "cli/quantization_options.h"
#include "cli/data_options.h"
#include "data/pipeline.h"
#include "model/model_source.h"
#include "train/dataset_scores.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace prefer::cli {
namespace fs = std::filesystem;

namespace {

// The file's records by line (JSONL) or record number (a JSON array), as prefer's readers number them.
std::map<int64_t, Json> records(const fs::path& file) {
  std::map<int64_t, Json> out;
  if (file.extension() == ".json") {
    Json all = read_json_file(file);
    if (all.is_array()) {
      for (size_t i = 0; i < all.size(); ++i) out[static_cast<int64_t>(i) + 1] = all[i];
      return out;
    }
  }
  for (auto& r : read_jsonl_file(file)) out[r.line] = std::move(r.value);
  return out;
}

}  // namespace

void add_score_command(CLI::App& app, GlobalOptions& g) {
  struct Options {
    std::string model, adapter, data, output;
    int64_t batch_size = 8;
    bool bf16 = false;
    QuantizationFlags quant;
    DataFlags flags;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("score", "Score completions or pairs with a reward model (prefer reward's output)");
  cmd->add_option("--model", o->model, "Reward model: an HF sequence classifier, a prefer reward run folder, or a SEQ_CLS adapter")->required();
  cmd->add_option("--adapter", o->adapter, "A PEFT adapter applied on top of --model");
  cmd->add_option("--data", o->data, "JSONL or JSON of pairs (chosen/rejected) or completions (prompt/completion, text, messages)")->required();
  cmd->add_option("--output", o->output, "JSONL to write: each input object plus its scores")->required();
  cmd->add_option("--batch_size", o->batch_size, "Examples per batch")->capture_default_str()->check(CLI::PositiveNumber);
  add_bool_option(cmd, "bf16", o->bf16, "Compute in bfloat16");
  o->quant.add_to(cmd);
  o->flags.max_length = 0;  // score whole examples unless asked to truncate
  o->flags.add_to(cmd);
  cmd->callback([o, &g] {
    apply_global_options(g);
    model::ModelSource src = model::resolve_model_source(o->model, o->adapter.empty() ? std::nullopt : std::optional<fs::path>(o->adapter));
    data::PrepareOptions prep = o->flags.prepare_options();
    data::TextModel text = data::TextModel::load(src.tokenizer);
    data::PreparedData pd = data::prepare_data(o->data, text, prep);
    for (const auto& w : pd.warnings) std::cerr << "warning: " << w << "\n";
    model::CausalLM m = model::load_model_source(src, {.dtype = o->bf16 ? at::kBFloat16 : at::kFloat, .quantization = o->quant.config()});
    if (m.config().head != io::HeadKind::SequenceClassification)
      throw Error("is a causal LM, not a reward model (no score head)", {.file = src.base.string(), .field = "model",
                  .hint = "train one with prefer reward, or pass a ...ForSequenceClassification folder"});
    m.set_training(false);
    const data::TokenizedDataset& d = pd.data;
    const size_t n = d.size();
    train::DatasetRewards scores =
        train::dataset_rewards(m, d, o->batch_size, text.tokenizer.pad_id().value_or(text.tokenizer.eos_id().value_or(0)));
    const std::vector<double>& first = scores.first;
    const std::vector<double>& second = scores.second;
    std::map<int64_t, Json> input = records(o->data);
    std::string out;
    int64_t pairs = 0, right = 0;
    for (size_t i = 0; i < n; ++i) {
      const auto& row = d.row(i);
      OrderedJson j = OrderedJson::parse(input.at(row.line).dump());
      if (row.paired) {
        j["chosen_score"] = first[i];
        j["rejected_score"] = second[i];
        ++pairs;
        right += first[i] > second[i];
      } else {
        j["score"] = first[i];
      }
      out += j.dump() + "\n";
    }
    write_file_atomic(o->output, out);
    if (pairs > 0)
      std::cout << fmt::format("{} pairs: the reward model scores chosen above rejected in {} ({:.1f}%)\n", pairs, right,
                               100.0 * static_cast<double>(right) / static_cast<double>(pairs));
    else
      std::cout << fmt::format("{} completions scored\n", n);
    if (pd.stats.dropped > 0)
      std::cout << fmt::format("{} example(s) were dropped by max_length and are not in the output\n", pd.stats.dropped);
  });
}

}  // namespace prefer::cli
