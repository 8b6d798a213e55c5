// `prefer logprobs --model DIR --data F --output out.jsonl`: the log-probabilities a model gives to the
// completions of a dataset, line by line in the input's order. Pairs give chosen_logps, rejected_logps
// (sums over completion tokens), their token counts and prefers_chosen; single completions give logps
// and num_tokens. --reference DIR adds the reference's values and the implicit DPO rewards
// beta * (policy - reference). Batched through the chunked scorer: no full-vocabulary logits.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <iostream>

#include "cli/command.h"
#include "cli/quantization_options.h"
#include "cli/data_options.h"
#include "data/pipeline.h"
#include "model/loader.h"
#include "model/model_source.h"
#include "train/dataset_scores.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace prefer::cli {

void add_logprobs_command(CLI::App& app, GlobalOptions& g) {
  struct Options {
    std::string model, adapter, data, output, reference;
    double beta = 0.1;
    int64_t batch_size = 8, chunk_tokens = 1024;
    bool bf16 = false;
    QuantizationFlags quant;
    DataFlags flags;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("logprobs", "Log-probabilities of each example's completions (and, with --reference, implicit DPO rewards)");
  cmd->add_option("--model", o->model, "Model folder, run folder or PEFT adapter")->required();
  cmd->add_option("--adapter", o->adapter, "A PEFT adapter applied on top of --model");
  cmd->add_option("--data", o->data, "JSONL of pairs (prompt/chosen/rejected) or single completions")->required();
  cmd->add_option("--output", o->output, "JSONL to write, one line per input line")->required();
  cmd->add_option("--reference", o->reference, "Reference model (folder, run folder or adapter): adds its values and the implicit rewards");
  cmd->add_option("--beta", o->beta, "beta of the implicit reward")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--batch_size", o->batch_size, "Examples per batch")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--chunk_tokens", o->chunk_tokens, "Completion positions per LM-head chunk")->capture_default_str()->check(CLI::PositiveNumber);
  add_bool_option(cmd, "bf16", o->bf16, "Compute in bfloat16");
  o->quant.add_to(cmd);
  o->flags.max_length = 0;  // score whole examples unless asked to truncate
  o->flags.add_to(cmd);
  cmd->callback([o, &g] {
    apply_global_options(g);
    data::PrepareOptions prep = o->flags.prepare_options();
    model::ModelSource src = model::resolve_model_source(o->model, o->adapter.empty() ? std::nullopt : std::optional<std::filesystem::path>(o->adapter));
    data::TextModel text = data::TextModel::load(src.tokenizer);
    data::PreparedData pd = data::prepare_data(o->data, text, prep);
    for (const auto& w : pd.warnings) std::cerr << "warning: " << w << "\n";
    const data::TokenizedDataset& d = pd.data;
    model::LoadOptions lo;
    lo.dtype = o->bf16 ? at::kBFloat16 : at::kFloat;
    lo.quantization = o->quant.config();
    train::DatasetLogps pol = train::dataset_logps(model::load_model_source(src, lo), d, o->batch_size, o->chunk_tokens);
    std::optional<train::DatasetLogps> ref;
    if (!o->reference.empty())
      ref = train::dataset_logps(model::load_model_source(model::resolve_model_source(o->reference, std::nullopt, "reference"), lo), d,
                                 o->batch_size, o->chunk_tokens, "reference");

    const size_t n = d.size();
    std::string out;
    int64_t prefers = 0, paired = 0;
    for (size_t i = 0; i < n; ++i) {
      const auto& row = d.row(i);
      OrderedJson j = {{"line", row.line}};
      if (row.paired) {
        ++paired;
        j["chosen_logps"] = pol.sum[i];
        j["rejected_logps"] = pol.sum[n + i];
        j["chosen_num_tokens"] = pol.count[i];
        j["rejected_num_tokens"] = pol.count[n + i];
        j["prefers_chosen"] = pol.sum[i] > pol.sum[n + i];
        prefers += pol.sum[i] > pol.sum[n + i];
        if (ref) {
          j["ref_chosen_logps"] = ref->sum[i];
          j["ref_rejected_logps"] = ref->sum[n + i];
          double rc = o->beta * (pol.sum[i] - ref->sum[i]), rr = o->beta * (pol.sum[n + i] - ref->sum[n + i]);
          j["rewards_chosen"] = rc;
          j["rewards_rejected"] = rr;
          j["rewards_margin"] = rc - rr;
        }
      } else {
        j["logps"] = pol.sum[i];
        j["num_tokens"] = pol.count[i];
        if (ref) {
          j["ref_logps"] = ref->sum[i];
          j["rewards"] = o->beta * (pol.sum[i] - ref->sum[i]);
        }
      }
      out += j.dump() + "\n";
    }
    write_file_atomic(o->output, out);
    if (paired > 0)
      std::cout << fmt::format("{} pairs: the model gives the chosen response the higher log-probability in {} ({:.1f}%)\n", paired,
                               prefers, 100.0 * static_cast<double>(prefers) / static_cast<double>(paired));
    else
      std::cout << fmt::format("{} completions scored\n", n);
    if (pd.stats.dropped > 0)
      std::cout << fmt::format("{} example(s) were dropped by max_length and are not in the output\n", pd.stats.dropped);
  });
}

}  // namespace prefer::cli
