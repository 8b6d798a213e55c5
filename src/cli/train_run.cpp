#include "cli/train_run.h"

#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <set>

#include "cli/memory_plan.h"
#include "cli/run_report.h"
#include "cli/train_options.h"
#include "data/sampler.h"
#include "data/validate.h"
#include "train/distributed.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/memory.h"
#include "util/strings.h"
#include "util/yaml.h"

namespace prefer::cli {
namespace fs = std::filesystem;

void open_run_folder(const Json& o, const train::TrainerArgs& a) {
  const fs::path out_dir = a.output_dir;
  if (fs::exists(out_dir / "final") && a.resume_from_checkpoint.empty())
    throw Error("already holds a finished run (final/)", {.file = out_dir.string(), .field = "output_dir",
                .hint = "choose another output_dir, or delete that folder"});
  if (!train::Distributed::get().main_process()) return;  // rank 0 alone writes the run folder
  fs::create_directories(out_dir);
  write_yaml_file(out_dir / "config.yaml", o);
}

void join_workers(const Json& o) {
  std::optional<train::DistEnv> env = train::dist_env_from_environment();
  train::Distributed& d = train::Distributed::get();
  if (!env || d.active()) return;
  const int64_t timeout = o.contains("ddp_timeout") && o["ddp_timeout"].is_number_integer() ? o["ddp_timeout"].get<int64_t>() : 1800;
  if (timeout < 1) throw Error("must be at least 1 second", {.field = "ddp_timeout"});
  d.init(*env, std::chrono::seconds(timeout));
  if (d.main_process())
    std::cerr << fmt::format("data parallel: {} workers over Gloo (store at {}:{})\n", d.world(), env->master_addr, env->master_port);
}

namespace {

data::PreparedData prepare_files(const std::vector<fs::path>& files, const data::TextModel& text, const data::PrepareOptions& prep,
                                 std::vector<std::string>& warnings) {
  std::vector<data::PreparedData> parts;
  for (const auto& f : files) {
    parts.push_back(data::prepare_data(f, text, prep));
    for (const auto& w : parts.back().warnings) warnings.push_back(w);
  }
  if (parts.size() == 1) return std::move(parts[0]);
  data::PreparedData all = std::move(parts[0]);
  std::vector<const data::TokenizedDataset*> sets = {&all.data};
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].kind != all.kind || parts[i].conversational != all.conversational)
      throw Error("holds another kind of data than " + files[0].string() + " (all --data files must share one format)",
                  {.file = files[i].string(), .field = "data"});
    sets.push_back(&parts[i].data);
    all.prompted = all.prompted || parts[i].prompted;
    const data::TokenizeStats& s = parts[i].stats;
    all.stats.examples += s.examples;
    all.stats.truncated += s.truncated;
    all.stats.dropped += s.dropped;
    all.stats.prefix_mismatches += s.prefix_mismatches;
  }
  all.data = data::TokenizedDataset::concat(sets);
  return all;
}

}  // namespace

// `prefer data validate`'s report of each training file (its record and dataset checks), for the run's
// report; a file the validator cannot take is recorded with the reason instead of failing the run.
// --validate_data false skips it (it reads and tokenizes every file once more): each file is then
// recorded as not validated, with the reason.
Json validation_reports(const Json& o, const data::TextModel& text, const data::PrepareOptions& prep) {
  Json out = Json::array();
  data::ValidateOptions vo;
  vo.prepare = prep;
  vo.eval_split = get<double>(o, "eval_split");
  const bool validate = opt<bool>(o, "validate_data").value_or(true);
  for (const fs::path& f : data_files(o, "data")) {
    if (!validate) {
      out.push_back({{"file", f.string()}, {"not_validated", "skipped (--validate_data false)"}});
      continue;
    }
    try {
      Json v = data::validate_dataset(f, text, vo);
      v.erase("show");
      out.push_back(std::move(v));
    } catch (const std::exception& e) {
      out.push_back({{"file", f.string()}, {"not_validated", e.what()}});
    }
  }
  return out;
}

RunData prepare_run_data(const Json& o, const data::TextModel& text, const data::PrepareOptions& prep, uint64_t seed) {
  RunData r;
  data::PreparedData train = prepare_files(data_files(o, "data"), text, prep, r.warnings);
  r.stats = train.stats;
  r.kind = train.kind;
  r.conversational = train.conversational;
  r.prompted = train.prompted;
  std::vector<fs::path> eval_files = data_files(o, "eval_data");
  const double eval_split = get<double>(o, "eval_split");
  if (!eval_files.empty()) {
    r.train = std::move(train.data);
    r.eval = prepare_files(eval_files, text, prep, r.warnings).data;
  } else if (eval_split > 0) {
    // A deterministic split: the first eval_split of the seed's shuffle goes to eval.
    data::SamplerOptions so{.batch_size = 1, .shuffle = true, .group_by_length = false, .seed = seed};
    auto order = data::epoch_batches(train.data, so, -1);
    size_t n_eval = static_cast<size_t>(std::llround(eval_split * static_cast<double>(order.size())));
    std::vector<bool> is_eval(train.data.size(), false);
    for (size_t i = 0; i < n_eval; ++i) is_eval[order[i][0]] = true;
    std::vector<size_t> tr, ev;
    for (size_t i = 0; i < train.data.size(); ++i) (is_eval[i] ? ev : tr).push_back(i);
    r.train = train.data.select(tr);
    r.eval = train.data.select(ev);
  } else {
    r.train = std::move(train.data);
  }
  Hasher h;
  h.update(hex64(r.train.content_hash()));
  h.update(hex64(r.eval.content_hash()));
  r.hash = h.digest();
  // What the data came to, in the run folder for the report (data.json): rank 0 writes it.
  if (o.contains("output_dir") && o["output_dir"].is_string() && train::Distributed::get().main_process()) {
    std::vector<std::string> files, evals;
    for (const fs::path& f : data_files(o, "data")) files.push_back(f.string());
    for (const fs::path& f : eval_files) evals.push_back(f.string());
    const Json d = {{"data", files},
                    {"eval_data", evals},
                    {"eval_split", eval_split},
                    {"kind", std::string(data::dataset_kind_name(r.kind))},
                    {"conversational", r.conversational},
                    {"train_examples", r.train.size()},
                    {"eval_examples", r.eval.size()},
                    {"examples_read", r.stats.examples},
                    {"truncated", r.stats.truncated},
                    {"dropped", r.stats.dropped},
                    {"double_bos_removed", r.stats.double_bos_removed},
                    {"prefix_mismatches", r.stats.prefix_mismatches},
                    {"warnings", r.warnings},
                    {"hash", hex64(r.hash)},
                    {"validation", validation_reports(o, text, prep)}};
    fs::create_directories(get<std::string>(o, "output_dir"));
    write_json_file(fs::path(get<std::string>(o, "output_dir")) / "data.json", d);
  }
  return r;
}

void record_memory_estimate(const train::TrainerArgs& a, const train::MemoryEstimate& mem, std::ostream& out, const std::string& note) {
  out << "estimated peak memory: " << mem.describe() << note << "\n";
  if (!train::Distributed::get().main_process()) return;
  write_json_file(a.output_dir / "memory.json",
                  {{"estimated_peak_bytes", mem.total()}, {"estimate", mem.describe() + note}, {"physical_memory_bytes", physical_memory_bytes()}});
}

Json run_fingerprint(const Json& o, const model::ModelSource& model, uint64_t data_hash) {
  static const std::set<std::string> not_numbers = {
      "model", "adapter", "data", "eval_data", "output_dir", "resume_from_checkpoint", "ignore_resume_mismatch",
      "logging_steps", "eval_steps", "save_steps", "save_total_limit", "ddp_timeout", "zero_stage", "cache_dir", "merge", "per_device_eval_batch_size",
      "eval_prompts", "judge", "judge_model", "judge_template", "eval_max_new_tokens", "metric_for_best_model", "greater_is_better",
      "validate_data"};
  Json f = Json::object();
  f["model"] = hex64(model_source_hash(model));
  f["data"] = hex64(data_hash);
  for (auto it = o.begin(); it != o.end(); ++it)
    if (!not_numbers.count(it.key())) f[it.key()] = it.value();
  // The numbers depend on the global batch, not on how workers split it: record per device x workers
  // under the old name (one worker: unchanged), so a run resumes on another split of the same batch.
  if (f.contains("per_device_train_batch_size") && f["per_device_train_batch_size"].is_number_integer())
    f["per_device_train_batch_size"] = f["per_device_train_batch_size"].get<int64_t>() * train::Distributed::get().world();
  return f;
}

std::string model_card_text(const ModelCard& c, const Json& o, const train::TrainResult& r) {
  std::string s = "---\nlibrary_name: " + std::string(c.adapter ? "peft" : "transformers") + "\n";
  s += "base_model: " + c.source.base.string() + "\ntags:\n- prefer\n- " + c.method + "\n---\n\n";
  s += "# " + c.method + " of " + c.source.base.filename().string() + "\n\n";
  s += fmt::format("Trained with `{}` (prefer) for {} steps in {:.0f} s. This folder holds {}.\n\n", c.command, r.steps, r.seconds,
                   c.adapter ? (c.classifier ? "a PEFT LoRA adapter (task SEQ_CLS, with the score head)" : "a PEFT LoRA adapter")
                             : (c.classifier ? "a sequence classifier with one output (a reward model)" : "a Hugging Face model"));
  s += "## Model and data\n\n| | |\n|---|---|\n";
  s += "| starting model | " + c.source.describe() + " |\n";
  s += "| starting model hash | " + hex64(model_source_hash(c.source)) + " |\n";
  std::vector<std::string> files;
  for (const auto& f : data_files(o)) files.push_back(f.string());
  s += "| data | " + join(files, ", ") + " |\n";
  s += "| data hash (tokens) | " + hex64(c.data_hash) + " |\n\n";
  s += "## Settings\n\n| option | value |\n|---|---|\n";
  for (const auto& k : c.settings)
    if (o.contains(k) && !o.at(k).is_null()) s += "| " + k + " | " + (o.at(k).is_string() ? o.at(k).get<std::string>() : o.at(k).dump()) + " |\n";
  Json last_train, last_eval;
  for (const auto& row : r.log) (row.contains("eval_loss") ? last_eval : last_train) = row;
  for (const auto& [title, row] : {std::pair<std::string, Json>{"last training metrics", last_train}, {"last evaluation metrics", last_eval}}) {
    if (row.is_null()) continue;
    s += "\n## " + title + " (step " + std::to_string(row.value("step", int64_t{0})) + ")\n\n| metric | value |\n|---|---|\n";
    for (auto it = row.begin(); it != row.end(); ++it)
      if (it.key() != "step" && it.key() != "epoch" && it.value().is_number())
        s += fmt::format("| {} | {:.6g} |\n", it.key(), it.value().get<double>());
  }
  s += "\n## Warnings\n\n";
  if (r.warnings.empty()) s += "None were raised.\n";
  for (const auto& w : r.warnings) s += "- **" + w.id + "** (step " + std::to_string(w.step) + "): " + w.message + "\n";
  return s;
}

RunSummary summarize_run(const train::TrainResult& r) {
  RunSummary summary;
  summary.output_dir = r.final_dir.parent_path();
  summary.final_dir = r.final_dir;
  summary.steps = r.steps;
  summary.seconds = r.seconds;
  for (const auto& row : r.log) (row.contains("eval_loss") ? summary.last_eval : summary.last_train) = row;
  for (const auto& w : r.warnings) summary.warnings.push_back(Json::parse(w.to_json().dump()));
  return summary;
}

void write_final_report(const train::TrainResult& r, std::ostream& out) {
  if (!r.main) return;
  const fs::path run = r.final_dir.parent_path();
  try {
    // The measured side of the memory plan and the throughput, for the report (run.json).
    write_json_file(run / "run.json", {{"steps", r.steps}, {"seconds", r.seconds}, {"peak_rss_bytes", peak_rss_bytes()}});
    write_run_report({run}, run / "report.html");
    out << "report: " << (run / "report.html").string() << "\n";
  } catch (const std::exception& e) {  // the model is saved: a report that cannot be drawn does not fail the run
    out << "warning: report.html was not written (" << e.what() << "); `prefer report " << run.string() << "` retries\n";
  }
}

RunSummary run_training(train::Trainer& trainer, const std::string& method, std::ostream& out) {
  train::TrainResult r = trainer.train();
  out << fmt::format("done: {} steps in {:.1f} s; the {} model is in {}\n", r.steps, r.seconds, method, r.final_dir.string());
  write_final_report(r, out);
  return summarize_run(r);
}

void add_training_command(CLI::App& app, GlobalOptions& g, const std::string& name, const std::string& help, OptionSet options,
                          std::function<RunSummary(const Json&, std::ostream&)> run) {
  auto plan_opts = std::make_shared<OptionSet>(options);  // unregistered copy for `prefer plan <name>`
  auto opts = std::make_shared<OptionSet>(std::move(options));
  CLI::App* cmd = app.add_subcommand(name, help);
  opts->register_cli(cmd);
  cmd->callback([opts, &g, run, name] {
    apply_global_options(g);
    Json resolved = opts->resolve();
    join_workers(resolved);
    run(apply_memory_plan(name, resolved, std::cout), std::cout);
  });
  // `prefer plan <name> <the same options>`: the memory plan without running.
  CLI::App* plan = nullptr;
  for (CLI::App* sub : app.get_subcommands([](CLI::App* a) { return a->get_name() == "plan"; })) plan = sub;
  if (!plan) {
    plan = app.add_subcommand("plan", "Print a trainer's memory plan: prefer plan dpo --model ... (the trainer's options)");
    plan->require_subcommand(1);
  }
  CLI::App* pcmd = plan->add_subcommand(name, "Memory plan of prefer " + name);
  plan_opts->register_cli(pcmd);
  pcmd->callback([plan_opts, &g, name] {
    apply_global_options(g);
    print_memory_plan(name, plan_opts->resolve(), std::cout);
  });
}

}  // namespace prefer::cli
