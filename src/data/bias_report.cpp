#include "data/bias_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "data/format.h"
#include "data/text_key.h"
#include "io/records.h"

namespace prefer::data {

namespace fs = std::filesystem;

namespace {

double word_jaccard(const std::string& a, const std::string& b) {
  auto words = [](const std::string& s) {
    std::set<std::string> w;
    std::istringstream in(near_key(s));
    for (std::string t; in >> t;) w.insert(t);
    return w;
  };
  const std::set<std::string> x = words(a), y = words(b);
  if (x.empty() && y.empty()) return 1.0;
  size_t common = 0;
  for (const auto& t : x) common += y.count(t);
  return static_cast<double>(common) / static_cast<double>(x.size() + y.size() - common);
}

// The first group column the rows have, and each row's value ("" where missing).
std::pair<std::string, std::vector<std::string>> group_column(const fs::path& file) {
  static const char* kColumns[] = {"topic", "source", "category", "domain", "subject"};
  std::vector<OrderedJson> rows;
  for (auto& r : io::read_records(file)) rows.push_back(std::move(r.value));
  for (const char* c : kColumns) {
    std::vector<std::string> values;
    bool any = false;
    for (const auto& r : rows) {
      const OrderedJson* v = r.contains(c) ? &r[c] : r.contains("meta") && r["meta"].is_object() && r["meta"].contains(c) ? &r["meta"][c] : nullptr;
      values.push_back(v ? (v->is_string() ? v->get<std::string>() : v->dump()) : "");
      any = any || v;
    }
    if (any) return {c, values};
  }
  return {};
}

}  // namespace

Json bias_report(const fs::path& file) {
  const Dataset ds = read_dataset(file);
  struct Pair {
    std::string prompt, chosen, rejected;
  };
  std::vector<Pair> pairs;
  std::vector<std::string> prompts;
  if (ds.kind == DatasetKind::Unpaired) {
    std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> by_prompt;
    std::vector<std::string> order;
    for (const auto& ex : ds.examples) {
      const std::string p = plain_text(ex.prompt);
      if (!by_prompt.count(p)) order.push_back(p);
      (ex.label.value_or(false) ? by_prompt[p].first : by_prompt[p].second).push_back(plain_text(ex.completion));
    }
    for (const auto& p : order) {
      prompts.push_back(p);
      const auto& [good, bad] = by_prompt[p];
      for (size_t i = 0; i < std::min(good.size(), bad.size()); ++i) pairs.push_back({p, good[i], bad[i]});
    }
  } else {
    for (const auto& ex : ds.examples) {
      pairs.push_back({plain_text(ex.prompt), plain_text(ex.chosen.present() ? ex.chosen : ex.completion), plain_text(ex.rejected)});
      prompts.push_back(pairs.back().prompt);
    }
  }
  Json r{{"file", file.filename().string()}, {"pairs", pairs.size()}};
  std::vector<std::string> warnings;
  const double n = static_cast<double>(std::max<size_t>(1, pairs.size()));

  // Length.
  int64_t longer = 0;
  std::vector<double> ratios;
  for (const auto& p : pairs) {
    longer += p.chosen.size() > p.rejected.size();
    if (!p.rejected.empty()) ratios.push_back(static_cast<double>(p.chosen.size()) / static_cast<double>(p.rejected.size()));
  }
  double mean = 0, median = 0;
  if (!ratios.empty()) {
    for (double x : ratios) mean += x;
    mean /= static_cast<double>(ratios.size());
    std::sort(ratios.begin(), ratios.end());
    const size_t m = ratios.size() / 2;
    median = ratios.size() % 2 ? ratios[m] : (ratios[m - 1] + ratios[m]) / 2;
  }
  const double share = static_cast<double>(longer) / n;
  r["length"] = {{"chosen_longer", longer}, {"chosen_longer_share", share}, {"mean_length_ratio", mean}, {"median_length_ratio", median}};
  if (!pairs.empty() && (share > 0.7 || share < 0.3))
    warnings.push_back(fmt::format("length bias: chosen is {} than rejected in {:.0f}% of pairs (median length ratio {:.2f}); a DPO model "
                                   "learns length as a proxy for quality. Balance the lengths, or compare with a length-controlled "
                                   "win rate after training",
                                   share > 0.7 ? "longer" : "not longer", 100 * (share > 0.7 ? share : 1 - share), median));

  // Duplicates.
  std::set<std::string> exact, near, whole;
  int64_t dup_exact = 0, dup_near = 0, dup_pairs = 0;
  for (const auto& p : prompts) {
    dup_exact += !exact.insert(p).second;
    dup_near += !near.insert(near_key(p)).second;
  }
  for (const auto& p : pairs) dup_pairs += !whole.insert(p.prompt + '\x1F' + p.chosen + '\x1F' + p.rejected).second;
  r["duplicates"] = {{"prompts_exact", dup_exact}, {"prompts_near", dup_near}, {"pairs", dup_pairs}};
  const double np = static_cast<double>(std::max<size_t>(1, prompts.size()));
  if (dup_near / np > 0.05)
    warnings.push_back(fmt::format("{} of {} prompts ({:.0f}%) repeat another one (ignoring case, punctuation and spacing): the model "
                                   "sees them more often than the rest",
                                   dup_near, prompts.size(), 100 * dup_near / np));

  // Near-identical pairs.
  int64_t same = 0;
  for (const auto& p : pairs) same += word_jaccard(p.chosen, p.rejected) >= 0.9;
  r["near_identical_pairs"] = {{"count", same}, {"share", same / n}};
  if (same / n > 0.05)
    warnings.push_back(fmt::format("{} pairs ({:.0f}%) have chosen and rejected nearly the same text: they carry almost no preference signal",
                                   same, 100 * same / n));

  // Groups.
  auto [column, values] = group_column(file);
  if (!column.empty()) {
    std::map<std::string, int64_t> counts;
    for (const auto& v : values) ++counts[v.empty() ? "(none)" : v];
    auto top = std::max_element(counts.begin(), counts.end(), [](auto& a, auto& b) { return a.second < b.second; });
    const double top_share = static_cast<double>(top->second) / static_cast<double>(std::max<size_t>(1, values.size()));
    r["groups"] = {{"column", column}, {"counts", counts}, {"largest", top->first}, {"largest_share", top_share}};
    if (top_share > 0.5 && values.size() >= 10)  // a handful of rows says nothing about a spread
      warnings.push_back(fmt::format("{:.0f}% of rows have {} '{}': the preferences learnt will be that {}'s; add data from the others",
                                     100 * top_share, column, top->first, column));
  }
  r["warnings"] = warnings;
  return r;
}

std::string format_bias_report(const Json& r) {
  std::string s = fmt::format("bias report ({} pairs): chosen longer in {:.0f}% (median length ratio {:.2f}), {} near-identical pairs, "
                              "{} repeated prompts",
                              r["pairs"].get<int64_t>(), 100 * r["length"]["chosen_longer_share"].get<double>(),
                              r["length"]["median_length_ratio"].get<double>(), r["near_identical_pairs"]["count"].get<int64_t>(),
                              r["duplicates"]["prompts_near"].get<int64_t>());
  if (r.contains("groups"))
    s += fmt::format(", largest {} '{}' {:.0f}%", r["groups"]["column"].get<std::string>(), r["groups"]["largest"].get<std::string>(),
                     100 * r["groups"]["largest_share"].get<double>());
  s += "\n";
  for (const auto& w : r["warnings"]) s += "warning: " + w.get<std::string>() + "\n";
  return s;
}

}  // namespace prefer::data
