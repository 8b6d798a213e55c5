// `prefer demo`: the whole story on 2 CPU cores, with nothing to download.
//
// A tiny model that ships with the project, a preference set generated here (deterministically): the
// model should admit uncertainty on questions nobody can answer and answer plainly when it can. The
// tour checks the data, measures how often the starting model prefers the chosen response on held-out
// pairs, runs DPO with LoRA, shows margins and accuracy rising and any warning, and measures the
// held-out preference again with the trained adapter.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

#include "cli/command.h"
#include "cli/dpo_run.h"
#include "cli/model_summary.h"
#include "data/pipeline.h"
#include "data/sampler.h"
#include "data/validate.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/runtime.h"
#include "train/metrics_log.h"
#include "train/batch_logps.h"
#include "util/atomic_file.h"
#include "util/error.h"

#ifndef PREFER_FIXTURE_DIR
#error "PREFER_FIXTURE_DIR must point at tests/fixtures (set by CMake)"
#endif

namespace prefer::cli {
namespace fs = std::filesystem;

namespace {

// Pairs in two kinds, as the brief's users want: "I am not sure" where nobody can know (tomorrow's
// temperature), a plain answer where one exists (sums). The same two response shapes appear on both
// sides ("It is N." and "I am not sure."), so an untrained model, which cannot tell the questions apart,
// prefers the chosen response about half the time; only learning the context can do better.
std::string demo_pairs(int n, int offset) {
  const char* cities[] = {"Lyon", "Oslo", "Quito", "Perth", "Cairo", "Lima", "Pune", "Riga", "Bern", "Kyiv", "Hanoi", "Dakar"};
  const char* days[] = {"Monday", "Friday", "Sunday", "Tuesday"};
  std::string out;
  for (int i = offset; i < offset + n; ++i) {
    OrderedJson j;
    if (i % 2 == 0) {
      std::string c = cities[(i / 2) % 12], d = days[(i / 7) % 4];
      j = {{"prompt", "Q: What will the temperature be in " + c + " next " + d + "?\nA:"},
           {"chosen", " I am not sure."},
           {"rejected", " It is " + std::to_string(10 + (i * 3) % 25) + "."}};
    } else {
      int a = 2 + (i * 7) % 40, b = 3 + (i * 11) % 50;
      j = {{"prompt", "Q: What is " + std::to_string(a) + " plus " + std::to_string(b) + "?\nA:"},
           {"chosen", " It is " + std::to_string(a + b) + "."},
           {"rejected", " I am not sure."}};
    }
    out += j.dump() + "\n";
  }
  return out;
}

// How often the model gives the chosen response a higher log-probability per token than the rejected
// one (per token, so that the number of tokens does not decide).
double prefers_chosen(const model::CausalLM& m, const data::TokenizedDataset& d) {
  at::NoGradGuard no_grad;
  int64_t wins = 0;
  auto batches = data::epoch_batches(d, {.batch_size = 16, .shuffle = false, .group_by_length = false}, 0);
  for (const auto& b : batches) {
    data::Batch batch = data::make_batch(d, b);
    model::SequenceScores s = train::batch_logps(m, batch, 1024);
    const int64_t B = batch.pairs;
    at::Tensor mean = s.sum / s.count.clamp_min(1).to(s.sum.scalar_type());
    wins += mean.slice(0, 0, B).gt(mean.slice(0, B, 2 * B)).sum().item<int64_t>();
  }
  return static_cast<double>(wins) / static_cast<double>(d.size());
}

}  // namespace

void add_demo_command(CLI::App& app, GlobalOptions& g) {
  auto out_dir = std::make_shared<std::string>();
  auto steps = std::make_shared<int64_t>(150);
  CLI::App* cmd = app.add_subcommand("demo", "The whole alignment story in a minute, on a bundled tiny model");
  cmd->add_option("--output_dir", *out_dir, "Where the demo's run folder goes (default: a folder in the temp directory)");
  cmd->add_option("--max_steps", *steps, "DPO steps to run")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->callback([out_dir, steps, &g] {
    // The tiny model gains nothing from more threads; one avoids OpenMP spinning on a busy machine.
    GlobalOptions local = g;
    if (local.threads == 0) local.threads = 1;
    apply_global_options(local);
    const fs::path model_dir = fs::path(PREFER_FIXTURE_DIR) / "models" / "llama-tiny";
    const fs::path work = out_dir->empty() ? fs::temp_directory_path() / "prefer-demo" : fs::path(*out_dir);
    if (fs::exists(work / "final") || fs::exists(work / "demo-train.jsonl")) fs::remove_all(work);  // a previous demo run
    fs::create_directories(work);
    std::ostream& out = std::cout;
    out << fmt::format("prefer demo: LibTorch {}, {} threads\n\n", model::torch_version(), model::num_threads());

    out << "1. The model: a tiny Llama-architecture checkpoint in Hugging Face format (random weights)\n\n";
    print_model_summary(summarize_model_folder(model_dir, false), out);

    out << "\n2. The data: 192 preference pairs, generated here. The model should say \"I am not sure\" when\n"
           "   nobody can know (next week's temperature) and answer plainly when it can (sums). 64 more are held out.\n\n";
    write_file_atomic(work / "demo-train.jsonl", demo_pairs(192, 0));
    write_file_atomic(work / "demo-heldout.jsonl", demo_pairs(64, 1000));
    data::TextModel text = data::TextModel::load(model_dir);
    data::ValidateOptions vo;
    vo.min_pairs = 100;
    Json report = data::validate_dataset(work / "demo-train.jsonl", text, vo);
    out << fmt::format("   prefer data validate: {} records, {} errors, {} warnings", report["records"].get<int64_t>(),
                       report["errors"].size(), report["warnings"].size());
    for (const Json& w : report["warnings"]) out << "\n     - [" << w["check"].get<std::string>() << "] " << w["message"].get<std::string>().substr(0, 110) << "...";
    out << "\n";

    data::PrepareOptions prep;
    prep.read.expect = data::DatasetKind::Preference;
    data::PreparedData held = data::prepare_data(work / "demo-heldout.jsonl", text, prep);
    model::CausalLM base = model::load_model(model_dir);
    double before = prefers_chosen(base, held.data);
    out << fmt::format("\n3. Before training, the model prefers the chosen response (higher log-probability\n   per token) on {:.0f}% of held-out pairs.\n\n", 100 * before);

    out << "4. prefer dpo (LoRA r=8, beta 0.1, sigmoid loss):\n\n";
    OptionSet opts = dpo_option_set();
    Json o = opts.resolve(Json::object(), "");
    o["model"] = model_dir.string();
    o["data"] = (work / "demo-train.jsonl").string();
    o["output_dir"] = (work / "run").string();
    o["eval_split"] = 0.1;
    o["use_peft"] = true;
    o["lora_r"] = 8;
    o["lora_alpha"] = 16.0;
    o["lora_target_modules"] = Json::array({"all-linear"});
    o["learning_rate"] = 1e-3;
    o["lr_scheduler_type"] = "cosine";
    o["warmup_ratio"] = 0.05;
    o["max_steps"] = *steps;
    o["per_device_train_batch_size"] = 8;
    o["logging_steps"] = 10;
    o["eval_steps"] = 50;
    o["save_steps"] = 100;
    o["cache_dir"] = (work / "cache").string();
    DpoRunSummary run = run_dpo(o, out);

    std::vector<train::MetricRow> rows;
    for (const auto& r : train::read_metrics(run.output_dir / "metrics.jsonl"))
      if (!r.is_eval()) rows.push_back(r);
    if (rows.size() >= 2) {
      const auto& a = rows.front();
      const auto& b = rows.back();
      out << fmt::format("\n   step {:>4}: loss {:.3f}, margin {:+.3f}, accuracy {:.2f}\n", a.step, a.at("loss"), a.at("rewards/margins"),
                         a.at("rewards/accuracies"));
      out << fmt::format("   step {:>4}: loss {:.3f}, margin {:+.3f}, accuracy {:.2f}\n", b.step, b.at("loss"), b.at("rewards/margins"),
                         b.at("rewards/accuracies"));
    }

    model::CausalLM aligned = model::load_model(model_dir);
    model::load_adapter(aligned, run.final_dir);
    double after = prefers_chosen(aligned, held.data);
    out << fmt::format("\n5. After training, the aligned model prefers the chosen response on {:.0f}% of held-out pairs "
                       "(before: {:.0f}%).\n", 100 * after, 100 * before);
    out << fmt::format("\nThe run folder is {}:\n  config.yaml (re-run with prefer dpo --config), metrics.jsonl, warnings.jsonl,\n"
                       "  events.out.tfevents.* (TensorBoard), checkpoint-100/, final/ (a PEFT adapter with the tokenizer files)\n",
                       run.output_dir.string());
  });
}

}  // namespace prefer::cli
