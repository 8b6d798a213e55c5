// How a DPO step's cost grows: step time and peak memory of prefer and of the eager TRL-style baseline
// against sequence length and model size, batch 1 (one pair), each point one bench_dpo_step run (both
// sides in their own processes, the same machine, threads, model folder and pair).
//
// A point is a pair whose rows are L tokens: a prompt of L/2 and completions of L/2 each. prefer runs its
// "default" variant (prefer dpo's defaults; bf16 is mixed precision), the baseline TRL's step. A side that
// runs out of the address-space limit (--limit_gb) or past --step_limit_s seconds a step is recorded as
// such: those points are results, not gaps to hide.
//
// Writes to --out: scaling.jsonl (bench_dpo_step's lines), scaling.md (the table) and two charts drawn
// by util/svg_chart, step_time.svg and peak_memory.svg (x: L; one solid line per model for prefer, dashed
// for the baseline).
//
// Usage: bench_scaling [--models 135m,360m,1b] [--lengths 256,512,1024,2048] [--mode lora|full]
//          [--precision bf16|fp32] [--steps 2] [--limit_gb 21] [--step_limit_s 600] [--out DIR]
//          [--threads 0] [--no_baseline] [--report_only] (the table and charts from --out's scaling.jsonl as it
//          stands, e.g. of a grid stopped part-way)
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "util/json.h"
#include "util/svg_chart.h"

namespace fs = std::filesystem;
using namespace prefer;

namespace {

std::string fmt_num(double v, const char* f) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// One side of a point: the step time and peak, or why there is none.
struct Side {
  bool ok = false;
  double step_s = NAN, peak_mb = NAN;
  std::string error;
};

Side read_side(const Json& j) {
  Side s;
  if (!j.is_object()) return s;
  s.ok = j.value("ok", false);
  if (s.ok) {
    s.step_s = j["step_s"].get<double>();
    s.peak_mb = j["peak_mb"].get<double>();
  } else {
    s.error = j.value("error", std::string("failed"));
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string models = "135m,360m,1b", lengths = "256,512,1024,2048", mode = "lora", precision = "bf16", out = "scaling";
  int64_t steps = 2;
  double limit_gb = 21, step_limit_s = 600;
  int threads = 0;
  bool baseline = true, report_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--models") models = val();
    else if (k == "--lengths") lengths = val();
    else if (k == "--mode") mode = val();
    else if (k == "--precision") precision = val();
    else if (k == "--steps") steps = std::stoll(val());
    else if (k == "--limit_gb") limit_gb = std::stod(val());
    else if (k == "--step_limit_s") step_limit_s = std::stod(val());
    else if (k == "--out") out = val();
    else if (k == "--threads") threads = std::stoi(val());
    else if (k == "--no_baseline") baseline = false;
    else if (k == "--report_only") report_only = true;
    else {
      std::fprintf(stderr, "unknown flag %s (see the comment at the top of bench/scaling.cpp)\n", k.c_str());
      return 2;
    }
  }
  fs::create_directories(out);
  const fs::path jsonl = fs::path(out) / "scaling.jsonl";
  if (!report_only) fs::remove(jsonl);
  const fs::path dpo = fs::read_symlink("/proc/self/exe").parent_path() / "bench_dpo_step";
  for (const std::string& m : report_only ? std::vector<std::string>{} : split_list(models)) {
    for (const std::string& l : split_list(lengths)) {
      const int64_t L = std::stoll(l), half = L / 2;
      std::ostringstream cmd;
      cmd << dpo << " --model " << m << " --mode " << mode << " --precision " << precision << " --variants default --pairs 1"
          << " --prompt_len " << half << " --completion_min " << L - half << " --completion_max " << L - half << " --steps " << steps
          << " --epoch_pairs 0 --threads " << threads << " --limit_gb " << limit_gb << " --step_limit_s " << step_limit_s << " --json "
          << jsonl << (baseline ? "" : " --no_baseline");
      std::printf("== %s, L %lld: %s\n", m.c_str(), (long long)L, cmd.str().c_str());
      std::fflush(stdout);
      if (std::system(cmd.str().c_str()) != 0) std::printf("(bench_dpo_step failed for this point)\n");
    }
  }

  // The table and the charts from the lines written.
  struct Point {
    int64_t L = 0;
    Side prefer, base;
  };
  std::map<std::string, std::map<int64_t, Point>> by_model;  // a point measured again: its last line counts
  std::ifstream f(jsonl);
  for (std::string line; std::getline(f, line);) {
    Json j = Json::parse(line, nullptr, false);
    if (!j.is_object()) continue;
    Point p;
    p.L = j["prompt_len"].get<int64_t>() + j["completion_max"].get<int64_t>();
    p.prefer = read_side(j["prefer"].value("default", Json()));
    if (j.contains("baseline")) p.base = read_side(j["baseline"]);
    by_model[j["model"].get<std::string>()][p.L] = p;
  }
  std::ofstream md(fs::path(out) / "scaling.md");
  md << "| model | L | prefer step s | baseline step s | speed x | prefer peak MiB | baseline peak MiB | memory x |\n"
        "|---|---|---|---|---|---|---|---|\n";
  std::vector<ChartSeries> time_series, mem_series;
  size_t color = 0;
  for (const std::string& m : split_list(models)) {
    auto it = by_model.find(m);
    if (it == by_model.end()) continue;
    ChartSeries tp{m + " prefer", {}, chart_color(color)}, tb{m + " baseline", {}, chart_color(color), true};
    ChartSeries mp = tp, mb = tb;
    ++color;
    for (const auto& [L, p] : it->second) {
      auto cell = [](const Side& s, double v, const char* f) { return s.ok ? fmt_num(v, f) : s.error.empty() ? "-" : s.error; };
      const bool both = p.prefer.ok && p.base.ok;
      md << "| " << m << " | " << p.L << " | " << cell(p.prefer, p.prefer.step_s, "%.2f") << " | " << cell(p.base, p.base.step_s, "%.2f")
         << " | " << (both ? fmt_num(p.base.step_s / p.prefer.step_s, "%.2f") : "-") << " | " << cell(p.prefer, p.prefer.peak_mb, "%.0f")
         << " | " << cell(p.base, p.base.peak_mb, "%.0f") << " | " << (both ? fmt_num(p.prefer.peak_mb / p.base.peak_mb, "%.2f") : "-")
         << " |\n";
      const double x = double(p.L);
      tp.points.emplace_back(x, p.prefer.step_s);
      tb.points.emplace_back(x, p.base.step_s);
      mp.points.emplace_back(x, p.prefer.peak_mb / 1024.0);
      mb.points.emplace_back(x, p.base.peak_mb / 1024.0);
    }
    time_series.push_back(tp);
    mem_series.push_back(mp);
    if (baseline) {
      time_series.push_back(tb);
      mem_series.push_back(mb);
    }
  }
  const std::string what = "DPO step, batch 1, " + mode + " " + precision;
  std::ofstream(fs::path(out) / "step_time.svg")
      << svg_line_chart(time_series, {}, {.title = what + ": seconds a step", .x_label = "tokens per row (L)", .width = 560, .height = 320});
  std::ofstream(fs::path(out) / "peak_memory.svg")
      << svg_line_chart(mem_series, {}, {.title = what + ": peak RSS, GiB", .x_label = "tokens per row (L)", .width = 560, .height = 320});
  md.close();
  std::ifstream table(fs::path(out) / "scaling.md");
  std::printf("\n%s", std::string(std::istreambuf_iterator<char>(table), {}).c_str());
  return 0;
}
