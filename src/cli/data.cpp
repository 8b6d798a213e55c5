// `prefer data validate | unpair | pair | split`: checking, converting and splitting preference datasets (synth and judge,
// which make and relabel them: data_synth.cpp, data_judge.cpp).
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <map>

#include "cli/command.h"
#include "cli/data_options.h"
#include "cli/data_commands.h"
#include "data/bias_report.h"
#include "data/format.h"
#include "data/split.h"
#include "data/validate.h"
#include "io/records.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json.h"

namespace prefer::cli {
namespace fs = std::filesystem;

namespace {

void add_validate(CLI::App* data_cmd, GlobalOptions& g) {
  struct Options {
    std::string data, model;
    bool json = false, report = false;
    double eval_split = 0;
    int64_t show = 0;
    DataFlags flags;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = data_cmd->add_subcommand("validate", "Check a dataset before training: one report, exit 0 (ok), 1 (errors), 2 (cannot read)");
  cmd->add_option("--data", o->data, "Dataset: JSONL/JSON, Parquet, Arrow or a save_to_disk folder")->required();
  cmd->add_option("--model", o->model, "Model folder (its tokenizer and chat template are used)")->required();
  add_bool_option(cmd, "json", o->json, "Print the report as JSON");
  add_bool_option(cmd, "report", o->report, "Add the bias report: length bias, duplicates, near-identical pairs, topic spread");
  cmd->add_option("--eval_split", o->eval_split, "Fraction to hold out for evaluation (reported)")->check(CLI::Range(0.0, 0.9));
  cmd->add_option("--show", o->show, "Print N examples as the model sees them")->check(CLI::NonNegativeNumber);
  o->flags.add_to(cmd);
  cmd->callback([o, &g] {
    apply_global_options(g);
    data::ValidateOptions vo;
    vo.eval_split = o->eval_split;
    vo.show = o->show;
    Json report;
    try {  // anything that stops the check from running (flags, model, unreadable file) exits 2
      vo.prepare = o->flags.prepare_options();
      data::TextModel model = data::TextModel::load(o->model);
      report = data::validate_dataset(o->data, model, vo);
      if (o->report && report["errors_total"].get<int64_t>() == 0) report["bias"] = data::bias_report(o->data);
    } catch (const Error& e) {
      std::cerr << "error: " << e.what() << "\n";
      throw ExitCode{2};
    }
    if (o->json) std::cout << report.dump(2) << "\n";
    else std::cout << data::format_validation_report(report) << (report.contains("bias") ? data::format_bias_report(report["bias"]) : "");
    if (report["exit_code"].get<int>() != 0) throw ExitCode{report["exit_code"].get<int>()};
  });
}

// Writes JSON lines atomically: the output appears only when complete.
void write_jsonl(const fs::path& out, const std::vector<OrderedJson>& lines) {
  std::string text;
  for (const auto& l : lines) text += l.dump() + "\n";
  write_file_atomic(out, text);
}

void add_unpair(CLI::App* data_cmd, GlobalOptions& g) {
  struct Options {
    std::string data, output;
    DataFlags flags;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = data_cmd->add_subcommand("unpair", "Turn preference pairs into unpaired (KTO) examples, as TRL's unpair_preference_dataset");
  cmd->add_option("--data", o->data, "Preference JSONL")->required();
  cmd->add_option("--output", o->output, "Unpaired JSONL to write")->required();
  cmd->callback([o, &g] {
    apply_global_options(g);
    data::ReadOptions ro;
    ro.expect = data::DatasetKind::Preference;
    data::Dataset ds = data::read_dataset(o->data, ro);
    if (ds.pretokenized) throw Error("pre-tokenized pairs cannot be unpaired here", {.file = o->data});
    // TRL maps in batches of 1000 rows and writes each batch's chosen rows, then its rejected rows.
    std::vector<OrderedJson> out;
    auto value = [](const data::Content& c) -> OrderedJson {
      return c.kind == data::Content::Kind::Messages ? c.messages : OrderedJson(c.text);
    };
    for (size_t start = 0; start < ds.examples.size(); start += 1000) {
      size_t end = std::min(ds.examples.size(), start + 1000);
      for (int side = 0; side < 2; ++side)
        for (size_t i = start; i < end; ++i) {
          const data::Example& ex = ds.examples[i];
          OrderedJson line = OrderedJson::object();
          if (ex.prompt.present()) line["prompt"] = value(ex.prompt);
          line["completion"] = value(side == 0 ? ex.chosen : ex.rejected);
          line["label"] = side == 0;
          out.push_back(line);
        }
    }
    write_jsonl(o->output, out);
    std::cout << fmt::format("wrote {} unpaired examples ({} desirable, {} undesirable) to {}\n", out.size(), ds.examples.size(),
                             ds.examples.size(), o->output);
  });
}

void add_pair(CLI::App* data_cmd, GlobalOptions& g) {
  struct Options {
    std::string data, output;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = data_cmd->add_subcommand("pair", "Turn unpaired (KTO) examples into preference pairs: per prompt, desirable i with undesirable i");
  cmd->add_option("--data", o->data, "Unpaired JSONL (prompt, completion, label)")->required();
  cmd->add_option("--output", o->output, "Preference JSONL to write")->required();
  cmd->callback([o, &g] {
    apply_global_options(g);
    data::ReadOptions ro;
    ro.expect = data::DatasetKind::Unpaired;
    data::Dataset ds = data::read_dataset(o->data, ro);
    if (ds.pretokenized) throw Error("pre-tokenized examples cannot be paired here", {.file = o->data});
    auto key = [](const data::Content& c) { return c.kind == data::Content::Kind::Messages ? c.messages.dump() : c.text; };
    auto value = [](const data::Content& c) -> OrderedJson {
      return c.kind == data::Content::Kind::Messages ? c.messages : OrderedJson(c.text);
    };
    std::vector<std::string> order;
    std::map<std::string, std::pair<std::vector<const data::Example*>, std::vector<const data::Example*>>> groups;
    for (const auto& ex : ds.examples) {
      std::string k = key(ex.prompt);
      if (!groups.count(k)) order.push_back(k);
      (*ex.label ? groups[k].first : groups[k].second).push_back(&ex);
    }
    std::vector<OrderedJson> out;
    size_t unmatched = 0;
    for (const auto& k : order) {
      auto& [good, bad] = groups[k];
      size_t n = std::min(good.size(), bad.size());
      unmatched += good.size() + bad.size() - 2 * n;
      for (size_t i = 0; i < n; ++i)
        out.push_back({{"prompt", value(good[i]->prompt)}, {"chosen", value(good[i]->completion)}, {"rejected", value(bad[i]->completion)}});
    }
    write_jsonl(o->output, out);
    std::cout << fmt::format("wrote {} pairs to {}; {} example(s) had no counterpart with the same prompt and were left out\n",
                             out.size(), o->output, unmatched);
  });
}

void add_split(CLI::App* data_cmd, GlobalOptions& g) {
  struct Options {
    std::string data, output_dir, stratify_column;
    double test_size = 0.1;
    int64_t seed = 42;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = data_cmd->add_subcommand("split", "Split a dataset into train.jsonl and test.jsonl: random, stratified by a column when given, reproducible");
  cmd->add_option("--data", o->data, "Dataset: JSONL/JSON, Parquet, Arrow or a save_to_disk folder")->required();
  cmd->add_option("--output_dir", o->output_dir, "Folder for train.jsonl, test.jsonl and split.json")->required();
  cmd->add_option("--test_size", o->test_size, "Held-out share (below 1) or row count")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--stratify_column", o->stratify_column, "Hold out each value of this column (a topic) in proportion");
  cmd->add_option("--seed", o->seed, "Shuffle seed")->capture_default_str();
  cmd->callback([o, &g] {
    apply_global_options(g);
    std::vector<io::Record> rows = io::read_records(o->data);
    std::vector<std::string> groups;
    for (const auto& r : rows) {
      if (o->stratify_column.empty()) {
        groups.emplace_back();
        continue;
      }
      ErrorContext ctx = r.where;
      ctx.field = o->stratify_column;
      if (!r.value.is_object() || !r.value.contains(o->stratify_column) || r.value[o->stratify_column].is_null())
        throw Error("has no value to stratify by", ctx);
      const OrderedJson& v = r.value[o->stratify_column];
      groups.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    }
    data::Split split;
    try {
      split = data::split_rows(groups, {.test_size = o->test_size, .seed = static_cast<uint64_t>(o->seed)});
    } catch (const Error& e) {
      throw e.with_defaults({.file = o->data});
    }
    const fs::path dir = o->output_dir;
    fs::create_directories(dir);
    auto pick = [&](const std::vector<size_t>& idx) {
      std::vector<OrderedJson> out;
      for (size_t i : idx) out.push_back(rows[i].value);
      return out;
    };
    write_jsonl(dir / "train.jsonl", pick(split.train));
    write_jsonl(dir / "test.jsonl", pick(split.test));
    Json report = {{"data", o->data}, {"seed", o->seed}, {"test_size", o->test_size}, {"train", split.train.size()}, {"test", split.test.size()}};
    if (!o->stratify_column.empty()) {
      report["stratify_column"] = o->stratify_column;
      for (const auto& gr : split.groups) report["groups"][gr.name] = {{"rows", gr.rows}, {"test", gr.test}};
    }
    write_json_file(dir / "split.json", report);
    std::cout << fmt::format("wrote {} training rows to {} and {} test rows to {}\n", split.train.size(), (dir / "train.jsonl").string(),
                             split.test.size(), (dir / "test.jsonl").string());
    size_t alone = 0;
    for (const auto& gr : split.groups) {
      if (!o->stratify_column.empty()) std::cout << fmt::format("  {:<24} {:>7} rows, {:>6} held out\n", gr.name, gr.rows, gr.test);
      alone += gr.test == 0 || gr.test == gr.rows;
    }
    if (!o->stratify_column.empty() && alone > 0)
      std::cout << fmt::format("warning: {} group(s) are too small to appear in both sets; evaluation says nothing about them\n", alone);
  });
}

}  // namespace

void add_data_command(CLI::App& app, GlobalOptions& g) {
  CLI::App* cmd = app.add_subcommand("data", "Check, convert, split and make datasets (validate, unpair, pair, split, synth, judge)");
  cmd->require_subcommand(1);
  add_validate(cmd, g);
  add_unpair(cmd, g);
  add_pair(cmd, g);
  add_split(cmd, g);
  add_data_synth(cmd, g);
  add_data_judge(cmd, g);
}

}  // namespace prefer::cli
