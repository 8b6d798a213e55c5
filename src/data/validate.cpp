#include "data/validate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "data/text_key.h"
#include "util/hash.h"

namespace prefer::data {

namespace {

std::string content_text(const Content& c) {
  switch (c.kind) {
    case Content::Kind::Text: return c.text;
    case Content::Kind::Messages: return c.messages.dump();
    case Content::Kind::Ids: return Json(c.ids).dump();
    default: return {};
  }
}

Json quantiles(std::vector<int64_t> v) {
  if (v.empty()) return {{"p50", 0}, {"p95", 0}, {"max", 0}, {"mean", 0.0}};
  std::sort(v.begin(), v.end());
  auto q = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())) - 1))]; };
  double mean = 0;
  for (int64_t x : v) mean += static_cast<double>(x);
  return {{"p50", q(0.5)}, {"p95", q(0.95)}, {"max", v.back()}, {"mean", mean / static_cast<double>(v.size())}};
}

Json error_json(const Error& e) {
  return {{"file", e.file()}, {"line", e.line()}, {"field", e.field()}, {"message", e.message()}, {"text", e.what()}};
}

}  // namespace

Json validate_dataset(const std::filesystem::path& file, const TextModel& model, const ValidateOptions& vo) {
  ReadOptions ro = vo.prepare.read;
  ro.collect_errors = true;
  Json report = {{"file", file.string()}, {"model", model.dir.string()}};
  Json errors = Json::array();
  Json warnings = Json::array();
  auto warn = [&](const std::string& check, const std::string& msg) { warnings.push_back({{"check", check}, {"message", msg}}); };

  Dataset ds;
  try {
    ds = read_dataset(file, ro);
  } catch (const Error& e) {
    if (!std::filesystem::exists(file)) throw;  // cannot read: the command exits 2
    errors.push_back(error_json(e));
    report["errors"] = errors;
    report["errors_total"] = 1;
    report["warnings"] = warnings;
    report["records"] = 0;
    report["valid"] = 0;
    report["exit_code"] = 1;
    return report;
  }
  for (const Error& e : ds.errors) errors.push_back(error_json(e));
  report["kind"] = std::string(dataset_kind_name(ds.kind));
  report["style"] = ds.pretokenized ? "pre-tokenized" : ds.conversational ? "conversational" : "plain text";
  report["implicit_prompt"] = ds.implicit_prompt;
  report["records"] = ds.records;

  // Tokenize every valid record; template errors (raise_exception) become record errors.
  ExampleTokenizer tok(model.tokenizer, model.templ(), vo.prepare.tokenize);
  TokenizeStats stats;
  std::vector<TokenizedExample> tokenized;
  std::vector<const Example*> sources;
  for (const Example& ex : ds.examples) {
    try {
      if (auto t = tok.tokenize(ex, stats, file.string())) {
        tokenized.push_back(std::move(*t));
        sources.push_back(&ex);
      }
    } catch (const Error& e) {
      if (errors.size() < ro.max_errors) errors.push_back(error_json(e.with_defaults({.file = file.string(), .line = ex.line})));
    }
  }
  report["valid"] = static_cast<int64_t>(ds.examples.size());
  report["errors"] = errors;
  report["errors_total"] = errors.size();

  Json checks;
  const bool paired = ds.kind == DatasetKind::Preference;
  const int64_t n = static_cast<int64_t>(ds.examples.size());
  checks["count"] = n;
  if (paired && n < vo.min_pairs)
    warn("count", fmt::format("only {} pairs; DPO usually needs at least {} to learn preferences rather than memorise them", n, vo.min_pairs));

  // Duplicates, near-duplicates and contradictions (on the text as written).
  std::unordered_map<std::string, int64_t> exact, near;
  int64_t dup = 0, near_dup = 0, chosen_longer = 0;
  Json dup_lines = Json::array();
  std::map<std::string, std::set<std::pair<std::string, std::string>>> by_prompt;
  for (const Example& ex : ds.examples) {
    std::string p = content_text(ex.prompt), c = content_text(ex.chosen.present() ? ex.chosen : ex.completion),
                r = content_text(ex.rejected);
    std::string key = p + '\x1F' + c + '\x1F' + r + (ex.label ? (*ex.label ? "1" : "0") : "");
    std::string nk = near_key(p) + '\x1F' + near_key(c) + '\x1F' + near_key(r);
    if (exact.count(key)) {
      ++dup;
      if (dup_lines.size() < 5) dup_lines.push_back({{"line", ex.line}, {"same_as", exact[key]}});
    } else if (near.count(nk)) {
      ++near_dup;
      if (dup_lines.size() < 5) dup_lines.push_back({{"line", ex.line}, {"near", near[nk]}});
    }
    exact.emplace(key, ex.line);
    near.emplace(nk, ex.line);
    if (paired) {
      by_prompt[p].insert({c, r});
      // Length bias on the data as written (truncation would hide it).
      if (c.size() > r.size()) ++chosen_longer;
    }
  }
  int64_t contradictions = 0;
  Json contra_examples = Json::array();
  for (const auto& [p, prs] : by_prompt)
    for (const auto& [c, r] : prs)
      if (c < r && prs.count({r, c})) {
        ++contradictions;
        if (contra_examples.size() < 3) contra_examples.push_back(p.substr(0, 80));
      }
  checks["duplicates"] = {{"exact", dup}, {"near", near_dup}, {"examples", dup_lines}};
  checks["contradictions"] = {{"pairs", contradictions}, {"prompts", contra_examples}};
  if (dup > 0) warn("duplicates", fmt::format("{} exact duplicate record(s); they weigh those examples double", dup));
  if (near_dup > 0) warn("duplicates", fmt::format("{} near-duplicate record(s) (same words, different case, spacing or punctuation)", near_dup));
  if (contradictions > 0)
    warn("contradictions", fmt::format("{} pair(s) appear both ways round for the same prompt (A over B and B over A): their "
                                       "gradients cancel; check the labels", contradictions));

  // Lengths in tokens.
  std::vector<int64_t> lp, lc, lr, lt;
  int64_t double_eos = 0;
  const auto eos = model.tokenizer.eos_id();
  for (const auto& t : tokenized) {
    lp.push_back(static_cast<int64_t>(t.prompt_ids.size()));
    lc.push_back(static_cast<int64_t>(t.chosen.completion_ids.size()));
    int64_t total = lp.back() + lc.back();
    if (t.paired) {
      lr.push_back(static_cast<int64_t>(t.rejected.completion_ids.size()));
      total = std::max(total, lp.back() + lr.back());
    }
    lt.push_back(total);
    for (const TokenizedSide* s : {&t.chosen, &t.rejected}) {
      const auto& ids = s->completion_ids;
      if (eos && ids.size() >= 2 && ids[ids.size() - 1] == *eos && ids[ids.size() - 2] == *eos) ++double_eos;
    }
  }
  const auto& to = vo.prepare.tokenize;
  checks["lengths"] = {{"prompt", quantiles(lp)}, {"chosen", quantiles(lc)}, {"rejected", quantiles(lr)}, {"total", quantiles(lt)},
                       {"max_length", to.max_length}, {"max_prompt_length", to.max_prompt_length ? Json(*to.max_prompt_length) : Json(nullptr)},
                       {"truncated", stats.truncated}, {"dropped", stats.dropped}};
  for (const auto& w : tokenize_warnings(stats, file.string())) warn("lengths", w);

  if (paired && n > 0) {
    double frac = static_cast<double>(chosen_longer) / static_cast<double>(n);
    checks["length_bias"] = {{"chosen_longer", frac}, {"pairs", n}};
    if (frac > 0.7 || frac < 0.3)
      warn("length_bias", fmt::format("chosen is the longer response in {:.0f}% of pairs; DPO can learn length instead of quality "
                                      "(consider length-normalised losses: ipo, sigmoid_norm, simpo, or ld_alpha)", 100 * frac));
  }

  // Chat format: plain-text prompts for a chat model are fed without the template (TRL does the same).
  const bool has_template = model.templ() != nullptr;
  int64_t with_markers = 0;
  std::vector<std::string> markers;
  for (const auto& t : model.tokenizer.added().tokens())
    if (t.special && t.content.size() > 2) markers.push_back(t.content);
  for (const auto* ex : sources)
    if (ex->prompt.kind == Content::Kind::Text)
      for (const auto& m : markers)
        if (ex->prompt.text.find(m) != std::string::npos) {
          ++with_markers;
          break;
        }
  checks["chat_template"] = {{"model_has_template", has_template}, {"conversational", ds.conversational},
                             {"text_prompts_with_special_tokens", with_markers}};
  if (has_template && !ds.conversational && !ds.pretokenized && with_markers == 0 && !sources.empty())
    warn("chat_template", "the prompts are plain text, but the model has a chat template: they will be tokenized as is, not "
                          "in the chat format the model was tuned on. Use conversational data (lists of messages) or apply the "
                          "template to the prompts yourself");
  if (!has_template && paired) warn("chat_template", "the model has no chat template: DPO should start from an instruction-tuned (SFT) model");

  // Completions that train nothing, and conversations whose last turn is not the assistant's (the model
  // would learn to write the user's turn).
  int64_t empty = 0, first_empty = 0, not_assistant = 0, first_not_assistant = 0;
  for (const auto& t : tokenized)
    for (const TokenizedSide* side : {&t.chosen, &t.rejected}) {
      if (side == &t.rejected && !t.paired) continue;
      if (side->completion_ids.empty() && empty++ == 0) first_empty = t.line;
    }
  for (const Example& ex : ds.examples)
    for (const Content* c : {&ex.completion, &ex.chosen, &ex.rejected}) {
      if (c->kind != Content::Kind::Messages || c->messages.empty()) continue;
      const auto& last = c->messages.back();
      if (!(last.is_object() && last.value("role", std::string()) == "assistant")) {
        if (not_assistant++ == 0) first_not_assistant = ex.line;
        break;
      }
    }
  checks["completions"] = {{"empty_after_tokenization", empty}, {"conversations_not_ending_with_assistant", not_assistant}};
  if (empty > 0)
    warn("completions", fmt::format("{} completion(s) have no tokens after tokenization and truncation (first: {}:{}); they train "
                                    "nothing", empty, file.string(), first_empty));
  if (not_assistant > 0)
    warn("completions", fmt::format("{} conversation(s) do not end with an assistant turn (first: {}:{}); the model would be "
                                    "trained to write the other role's turn", not_assistant, file.string(), first_not_assistant));

  // Special tokens.
  auto pad = model.tokenizer.pad_id();
  checks["special_tokens"] = {{"double_bos", stats.double_bos_removed}, {"double_eos", double_eos},
                              {"pad_token", model.tokenizer.config().pad_token ? Json(*model.tokenizer.config().pad_token) : Json(nullptr)},
                              {"pad_equals_eos", pad && eos && *pad == *eos}};
  if (double_eos > 0) warn("special_tokens", fmt::format("{} completion(s) end with EOS twice: the text already ends with the EOS token", double_eos));
  if (!pad) warn("special_tokens", "the tokenizer has no pad token; prefer pads with explicit masks so this is harmless here, but TRL falls back to EOS");

  int64_t eval = static_cast<int64_t>(std::llround(vo.eval_split * static_cast<double>(tokenized.size())));
  checks["split"] = {{"train", static_cast<int64_t>(tokenized.size()) - eval}, {"eval", eval}};
  if (vo.eval_split > 0 && eval < 50) warn("split", fmt::format("the eval split holds {} examples; accuracies from fewer than ~50 pairs are noisy", eval));

  // --show: examples as the model sees them, completion tokens marked.
  Json show = Json::array();
  for (int64_t i = 0; i < vo.show && i < static_cast<int64_t>(tokenized.size()); ++i) {
    const auto& t = tokenized[static_cast<size_t>(i)];
    auto toks = [&](const std::vector<int32_t>& ids) { return model.tokenizer.tokens(ids); };
    Json e = {{"line", t.line}, {"prompt_tokens", toks(t.prompt_ids)}, {"chosen_tokens", toks(t.chosen.completion_ids)},
              {"prompt_text", model.tokenizer.decode(t.prompt_ids)}, {"chosen_text", model.tokenizer.decode(t.chosen.completion_ids)}};
    if (t.paired) {
      e["rejected_tokens"] = toks(t.rejected.completion_ids);
      e["rejected_text"] = model.tokenizer.decode(t.rejected.completion_ids);
    }
    show.push_back(e);
  }
  report["checks"] = checks;
  report["warnings"] = warnings;
  report["show"] = show;
  report["exit_code"] = errors.empty() ? 0 : 1;
  return report;
}

std::string format_validation_report(const Json& r) {
  std::string out = fmt::format("{}: {} records", r["file"].get<std::string>(), r["records"].get<int64_t>());
  if (r.contains("kind")) out += fmt::format(", {} data, {}", r["kind"].get<std::string>(), r["style"].get<std::string>());
  out += "\n";
  const Json& errors = r["errors"];
  if (!errors.empty()) {
    out += fmt::format("\nerrors ({}):\n", errors.size());
    for (const Json& e : errors) out += "  " + e["text"].get<std::string>() + "\n";
  }
  if (r.contains("checks")) {
    const Json& c = r["checks"];
    const Json& L = c["lengths"];
    auto q = [&](const char* k) {
      const Json& v = L[k];
      return fmt::format("p50 {:>5}  p95 {:>5}  max {:>5}", v["p50"].get<int64_t>(), v["p95"].get<int64_t>(), v["max"].get<int64_t>());
    };
    out += fmt::format("\nlengths in tokens (max_length {}{}):\n", L["max_length"].get<int64_t>(),
                       L["max_prompt_length"].is_null() ? "" : fmt::format(", max_prompt_length {}", L["max_prompt_length"].get<int64_t>()));
    out += fmt::format("  prompt    {}\n  chosen    {}\n", q("prompt"), q("chosen"));
    if (L["rejected"]["max"].get<int64_t>() > 0) out += fmt::format("  rejected  {}\n", q("rejected"));
    out += fmt::format("  total     {}\n  truncated {}, dropped {}\n", q("total"), L["truncated"].get<int64_t>(), L["dropped"].get<int64_t>());
    out += fmt::format("duplicates: {} exact, {} near; contradictory pairs: {}\n", c["duplicates"]["exact"].get<int64_t>(),
                       c["duplicates"]["near"].get<int64_t>(), c["contradictions"]["pairs"].get<int64_t>());
    if (c.contains("length_bias"))
      out += fmt::format("length bias: chosen is longer in {:.0f}% of pairs\n", 100 * c["length_bias"]["chosen_longer"].get<double>());
    out += fmt::format("split: {} train, {} eval\n", c["split"]["train"].get<int64_t>(), c["split"]["eval"].get<int64_t>());
  }
  if (!r["warnings"].empty()) {
    out += fmt::format("\nwarnings ({}):\n", r["warnings"].size());
    for (const Json& w : r["warnings"]) out += fmt::format("  [{}] {}\n", w["check"].get<std::string>(), w["message"].get<std::string>());
  }
  if (r.contains("show"))
    for (const Json& e : r["show"]) {
      out += fmt::format("\nline {} as the model sees it (loss on the [bracketed] tokens):\n  ", e["line"].get<int64_t>());
      out += Json(e["prompt_text"]).dump();
      std::string c;
      for (const Json& t : e["chosen_tokens"]) c += "[" + t.get<std::string>() + "]";
      out += "\n  chosen:   " + c;
      if (e.contains("rejected_tokens")) {
        std::string rj;
        for (const Json& t : e["rejected_tokens"]) rj += "[" + t.get<std::string>() + "]";
        out += "\n  rejected: " + rj;
      }
      out += "\n";
    }
  out += r["exit_code"].get<int>() == 0 ? "\nno errors\n" : "\nerrors found: fix them before training\n";
  return out;
}

}  // namespace prefer::data
