#include "data/pipeline.h"

#include <cstdlib>

#include "data/token_cache.h"
#include "util/error.h"
#include "util/file.h"
#include "io/records.h"
#include "util/hash.h"

namespace prefer::data {
namespace fs = std::filesystem;

TextModel TextModel::load(const fs::path& dir) {
  TextModel m{dir, text::Tokenizer::from_folder(dir), std::nullopt};
  fs::path cfg = dir / "tokenizer_config.json", jinja = dir / "chat_template.jinja";
  bool has_template = fs::exists(jinja) || !m.tokenizer.config().chat_templates.empty();
  if (has_template)
    m.chat_template = text::load_chat_template(fs::exists(cfg) ? cfg : fs::path(), fs::exists(jinja) ? jinja : fs::path());
  return m;
}

void TextModel::use_template(const fs::path& from) {
  if (fs::is_directory(from)) {
    TextModel other = TextModel::load(from);
    if (!other.chat_template)
      throw Error("this folder has no chat template", {.file = from.string(), .field = "chat_template_path"});
    chat_template = std::move(other.chat_template);
    fs::path jinja = from / "chat_template.jinja";
    template_override = fs::exists(jinja) ? read_file(jinja) : other.tokenizer.config().chat_templates.begin()->second;
    return;
  }
  if (!fs::exists(from)) throw Error("no such file", {.file = from.string(), .field = "chat_template_path"});
  template_override = read_file(from);
  chat_template = text::load_chat_template(fs::path(), from);
}

fs::path default_cache_dir() {
  if (const char* p = std::getenv("PREFER_CACHE_DIR"); p && *p) return p;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "prefer";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "prefer";
  return fs::temp_directory_path() / "prefer-cache";
}

namespace {

Json stats_json(const TokenizeStats& s) {
  return {{"examples", s.examples},     {"prefix_mismatches", s.prefix_mismatches}, {"first_mismatch_line", s.first_mismatch_line},
          {"double_bos_removed", s.double_bos_removed}, {"truncated", s.truncated}, {"dropped", s.dropped},
          {"dropped_lines", s.dropped_lines}};
}

TokenizeStats stats_from_json(const Json& j) {
  TokenizeStats s;
  s.examples = j.value("examples", int64_t{0});
  s.prefix_mismatches = j.value("prefix_mismatches", int64_t{0});
  s.first_mismatch_line = j.value("first_mismatch_line", int64_t{0});
  s.double_bos_removed = j.value("double_bos_removed", int64_t{0});
  s.truncated = j.value("truncated", int64_t{0});
  s.dropped = j.value("dropped", int64_t{0});
  if (j.contains("dropped_lines")) s.dropped_lines = j["dropped_lines"].get<std::vector<int64_t>>();
  return s;
}

uint64_t hash_if_exists(const fs::path& p) { return fs::exists(p) ? hash_file(p) : 0; }

}  // namespace

std::vector<std::string> tokenize_warnings(const TokenizeStats& s, const std::string& file) {
  std::vector<std::string> w;
  if (s.prefix_mismatches > 0)
    w.push_back(std::to_string(s.prefix_mismatches) + " example(s) tokenize their prompt differently alone than followed by the "
                "completion (first: " + file + ":" + std::to_string(s.first_mismatch_line) + "); the completion is cut at the "
                "prompt's length, as TRL does. Usually a missing space at the start of the completion or a prompt ending in a space.");
  if (s.truncated > 0)
    w.push_back(std::to_string(s.truncated) + " of " + std::to_string(s.examples) + " example(s) were truncated to max_length.");
  if (s.dropped > 0)
    w.push_back(std::to_string(s.dropped) + " example(s) were dropped: the prompt alone fills max_length (first: " + file + ":" +
                std::to_string(s.dropped_lines.front()) + "). Raise max_length or set max_prompt_length.");
  if (s.double_bos_removed > 0)
    w.push_back(std::to_string(s.double_bos_removed) + " sequence(s) started with two BOS tokens (the text already holds the BOS "
                "token); one was removed.");
  return w;
}

PreparedData prepare_data(const fs::path& file, const TextModel& model, const PrepareOptions& opt) {
  PreparedData out;
  Json key;
  fs::path cache_file;
  if (opt.cache_dir) {
    const auto& c = opt.read.columns;
    const auto& t = opt.tokenize;
    key = {{"version", 2},
           {"data", {{"path", fs::absolute(file).string()}, {"hash", hex64(io::hash_records(file))}}},
           {"tokenizer", hex64(hash_if_exists(model.dir / "tokenizer.json") ^ (hash_if_exists(model.dir / "tokenizer_config.json") * 31) ^
                               (hash_if_exists(model.dir / "chat_template.jinja") * 131))},
           {"columns", {c.prompt, c.chosen, c.rejected, c.completion, c.label, c.text, c.messages, c.margin}},
           {"max_length", t.max_length},
           {"max_prompt_length", t.max_prompt_length ? Json(*t.max_prompt_length) : Json(nullptr)},
           {"truncation_mode", t.truncation_mode == TruncationMode::KeepStart ? "keep_start" : "keep_end"},
           {"chat_template_kwargs", Json::parse(t.chat_template_kwargs.dump())},
           {"eos_token", t.eos_token ? Json(*t.eos_token) : Json(nullptr)},
           {"assistant_only", t.assistant_only},
           {"chat_template", model.template_override.empty() ? Json(nullptr) : Json(hex64(hash_bytes(model.template_override)))},
           {"expect", opt.read.expect ? std::string(dataset_kind_name(*opt.read.expect)) : ""}};
    cache_file = cache_path(*opt.cache_dir, key);
    if (auto hit = load_cached_tokens(cache_file, key)) {
      out.data = std::move(hit->data);
      out.stats = stats_from_json(hit->stats["tokenize"]);
      out.kind = static_cast<DatasetKind>(hit->stats.value("kind", 0));
      out.conversational = hit->stats.value("conversational", false);
      out.prompted = hit->stats.value("prompted", false);
      out.from_cache = true;
      out.warnings = tokenize_warnings(out.stats, file.string());
      return out;
    }
  }
  Dataset ds = read_dataset(file, opt.read);
  out.kind = ds.kind;
  out.conversational = ds.conversational;
  ExampleTokenizer tok(model.tokenizer, model.templ(), opt.tokenize);
  for (const Example& ex : ds.examples) {
    const Content& p = ex.prompt;
    out.prompted = out.prompted || (p.kind == Content::Kind::Text && !p.text.empty()) ||
                   (p.kind == Content::Kind::Messages && !p.messages.empty()) || (p.kind == Content::Kind::Ids && !p.ids.empty());
    if (opt.tokenize.assistant_only) {
      for (const auto& t : tok.tokenize_assistant_turns(ex, out.stats, file.string())) out.data.add(t);
      continue;
    }
    if (auto t = tok.tokenize(ex, out.stats, file.string())) out.data.add(*t);
  }
  out.warnings = tokenize_warnings(out.stats, file.string());
  if (opt.cache_dir) {
    Json stats = {{"tokenize", stats_json(out.stats)}, {"kind", static_cast<int>(out.kind)}, {"conversational", out.conversational},
                  {"prompted", out.prompted}};
    try {
      save_cached_tokens(cache_file, key, out.data, stats);
    } catch (const Error& e) {
      out.warnings.push_back("could not write the token cache (" + std::string(e.what()) + "); continuing without it");
    }
  }
  return out;
}

}  // namespace prefer::data
