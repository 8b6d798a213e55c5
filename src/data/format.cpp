#include "data/format.h"

#include <algorithm>

#include "io/records.h"
#include "util/json.h"
#include "util/strings.h"

namespace prefer::data {
namespace fs = std::filesystem;

namespace {

// Which columns the dataset uses, decided from its first record (TRL's rules).
struct Layout {
  DatasetKind kind;
  bool pretokenized = false;
  bool has_prompt = false;
};

bool has(const Json& o, const std::string& k) { return o.contains(k) && !o[k].is_null(); }

Layout detect(const Json& first, const ColumnMap& c, const ErrorContext& ctx) {
  if (!first.is_object()) throw Error("expected a JSON object, found " + json_type_name(first), ctx);
  Layout l;
  if (has(first, c.chosen + "_ids") || has(first, c.rejected + "_ids")) {
    l = {DatasetKind::Preference, true, true};
  } else if (has(first, "input_ids")) {
    l = {DatasetKind::Sft, true, false};  // TRL's processed SFT rows: input_ids (+ completion_mask)
  } else if (has(first, c.completion + "_ids")) {
    l = {has(first, c.label) ? DatasetKind::Unpaired : DatasetKind::Sft, true, true};
  } else if (has(first, c.chosen) || has(first, c.rejected)) {
    l = {DatasetKind::Preference, false, has(first, c.prompt)};
  } else if (has(first, c.completion) && has(first, c.label)) {
    l = {DatasetKind::Unpaired, false, true};
  } else if (has(first, c.text) || has(first, c.messages) || (has(first, c.prompt) && has(first, c.completion))) {
    l = {DatasetKind::Sft, false, has(first, c.prompt)};
  } else {
    std::vector<std::string> keys;
    for (auto it = first.begin(); it != first.end(); ++it) keys.push_back(it.key());
    ErrorContext e = ctx;
    e.hint = "expected prompt/chosen/rejected (preference), prompt/completion/label (unpaired), text, messages or "
             "prompt/completion (SFT), or *_ids columns (pre-tokenized); rename columns with --" + std::string("prompt_column") +
             " etc.";
    throw Error("cannot tell the dataset format from its columns (" + join(keys, ", ") + ")", e);
  }
  return l;
}

ErrorContext field_ctx(const ErrorContext& ctx, const std::string& field) {
  ErrorContext e = ctx;
  e.field = field;
  return e;
}

void check_message_list(const OrderedJson& v, const std::string& field, const ErrorContext& ctx) {
  if (v.empty()) throw Error("is an empty list of messages", field_ctx(ctx, field));
  for (size_t i = 0; i < v.size(); ++i) {
    const OrderedJson& m = v[i];
    std::string f = field + "[" + std::to_string(i) + "]";
    if (!m.is_object()) throw Error("a message must be an object with role and content", field_ctx(ctx, f));
    if (!m.contains("role") || !m["role"].is_string()) throw Error("missing or not a string", field_ctx(ctx, f + ".role"));
    std::string role = m["role"].get<std::string>();
    const auto& roles = known_roles();
    if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
      ErrorContext e = field_ctx(ctx, f + ".role");
      e.hint = "known roles: " + join(roles, ", ");
      throw Error("unknown role '" + role + "'", e);
    }
    bool has_tool_calls = m.contains("tool_calls") && m["tool_calls"].is_array() && !m["tool_calls"].empty();
    if (!m.contains("content") || m["content"].is_null()) {
      if (!has_tool_calls) throw Error("required field is missing", field_ctx(ctx, f + ".content"));
    } else if (!m["content"].is_string() && !m["content"].is_array()) {
      throw Error("expected a string, found " + json_type_name(m["content"]), field_ctx(ctx, f + ".content"));
    }
  }
}

// A text field: a non-empty string, or (when conversations are allowed) a list of messages.
Content read_content(const OrderedJson& rec, const std::string& key, bool required, bool allow_empty, const ErrorContext& ctx) {
  auto it = rec.find(key);
  if (it == rec.end() || it->is_null()) {
    if (required) throw Error("required field is missing", field_ctx(ctx, key));
    return {};
  }
  if (it->is_string()) {
    std::string s = it->get<std::string>();
    if (s.empty() && !allow_empty) throw Error("is empty", field_ctx(ctx, key));
    return Content::of_text(std::move(s));
  }
  if (it->is_array()) {
    check_message_list(*it, key, ctx);
    return Content::of_messages(*it);
  }
  throw Error("expected a string or a list of messages, found " + json_type_name(*it), field_ctx(ctx, key));
}

Content read_ids(const OrderedJson& rec, const std::string& key, bool required, const ErrorContext& ctx) {
  auto it = rec.find(key);
  if (it == rec.end() || it->is_null()) {
    if (required) throw Error("required field is missing", field_ctx(ctx, key));
    return {};
  }
  if (!it->is_array()) throw Error("expected a list of token ids", field_ctx(ctx, key));
  std::vector<int32_t> ids;
  ids.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const OrderedJson& x = (*it)[i];
    if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX)
      throw Error("holds " + x.dump() + ", not a token id", field_ctx(ctx, key + "[" + std::to_string(i) + "]"));
    ids.push_back(static_cast<int32_t>(x.get<int64_t>()));
  }
  return Content::of_ids(std::move(ids));
}

bool same_content(const Content& a, const Content& b) {
  return a.kind == b.kind && a.text == b.text && a.messages == b.messages && a.ids == b.ids;
}

Example parse_record(const OrderedJson& rec, const Layout& l, const ColumnMap& c, const ErrorContext& ctx, bool& conversational) {
  if (!rec.is_object()) throw Error("expected a JSON object, found " + json_type_name(rec), ctx);
  Example ex;
  ex.line = ctx.line;
  if (l.pretokenized && l.kind == DatasetKind::Sft && !l.has_prompt) {
    // input_ids with an optional completion_mask of the form [0]*k + [1]*rest: the first k tokens are the
    // prompt (not trained on), the rest the completion. Without a mask every token is trained on.
    Content all = read_ids(rec, "input_ids", true, ctx);
    size_t k = 0;
    if (auto it = rec.find("completion_mask"); it != rec.end() && !it->is_null()) {
      if (!it->is_array() || it->size() != all.ids.size())
        throw Error("expected a list of 0/1 as long as input_ids (" + std::to_string(all.ids.size()) + ")", field_ctx(ctx, "completion_mask"));
      while (k < it->size() && (*it)[k] == 0) ++k;
      for (size_t i = k; i < it->size(); ++i)
        if ((*it)[i] != 1)
          throw Error("must be zeros then ones (prompt, then completion); other masks are not supported", field_ctx(ctx, "completion_mask"));
    }
    ex.prompt = Content::of_ids(std::vector<int32_t>(all.ids.begin(), all.ids.begin() + static_cast<std::ptrdiff_t>(k)));
    ex.completion = Content::of_ids(std::vector<int32_t>(all.ids.begin() + static_cast<std::ptrdiff_t>(k), all.ids.end()));
  } else if (l.pretokenized) {
    ex.prompt = read_ids(rec, c.prompt + "_ids", true, ctx);
    if (l.kind == DatasetKind::Preference) {
      ex.chosen = read_ids(rec, c.chosen + "_ids", true, ctx);
      ex.rejected = read_ids(rec, c.rejected + "_ids", true, ctx);
    } else {
      ex.completion = read_ids(rec, c.completion + "_ids", true, ctx);
    }
  } else {
    switch (l.kind) {
      case DatasetKind::Preference:
        ex.prompt = read_content(rec, c.prompt, l.has_prompt, true, ctx);
        ex.chosen = read_content(rec, c.chosen, true, false, ctx);
        ex.rejected = read_content(rec, c.rejected, true, false, ctx);
        break;
      case DatasetKind::Unpaired:
        ex.prompt = read_content(rec, c.prompt, true, true, ctx);
        ex.completion = read_content(rec, c.completion, true, false, ctx);
        break;
      case DatasetKind::Sft:
        if (rec.contains(c.messages) && !rec[c.messages].is_null()) {
          ex.completion = read_content(rec, c.messages, true, false, ctx);
          if (ex.completion.kind != Content::Kind::Messages) throw Error("expected a list of messages", field_ctx(ctx, c.messages));
        } else if (rec.contains(c.text) && !rec[c.text].is_null()) {
          ex.completion = read_content(rec, c.text, true, false, ctx);
          if (ex.completion.kind != Content::Kind::Text) throw Error("expected a string", field_ctx(ctx, c.text));
        } else {
          ex.prompt = read_content(rec, c.prompt, true, true, ctx);
          ex.completion = read_content(rec, c.completion, true, false, ctx);
        }
        break;
    }
  }
  if (l.kind == DatasetKind::Unpaired) {
    auto it = rec.find(c.label);
    if (it == rec.end() || it->is_null()) throw Error("required field is missing", field_ctx(ctx, c.label));
    if (!it->is_boolean()) throw Error("expected true or false, found " + it->dump(), field_ctx(ctx, c.label));
    ex.label = it->get<bool>();
  }
  if (auto it = rec.find(c.margin); it != rec.end() && !it->is_null()) {
    if (!it->is_number()) throw Error("expected a number, found " + it->dump(), field_ctx(ctx, c.margin));
    ex.margin = it->get<double>();
  }
  // One style per record: all text or all conversations (the chat template renders whole turns).
  bool conv = false, text = false;
  for (const Content* f : {&ex.prompt, &ex.chosen, &ex.rejected, &ex.completion}) {
    conv = conv || f->kind == Content::Kind::Messages;
    text = text || f->kind == Content::Kind::Text;
  }
  if (conv && text && !(ex.prompt.kind == Content::Kind::Text && ex.prompt.text.empty()))
    throw Error("mixes plain text and lists of messages; use one or the other", ctx);
  conversational = conv;
  if (l.kind == DatasetKind::Preference && same_content(ex.chosen, ex.rejected))
    throw Error("chosen and rejected are identical", field_ctx(ctx, c.rejected));
  return ex;
}

}  // namespace

Dataset read_dataset(const fs::path& file, const ReadOptions& opt) {
  Dataset ds;
  ds.file = file;
  const std::string fname = file.string();
  std::optional<Layout> layout;
  std::optional<bool> conversational;

  auto handle = [&](const OrderedJson& rec, const ErrorContext& ctx) {
    ++ds.records;
    try {
      if (!layout) {
        layout = detect(Json::parse(rec.dump()), opt.columns, ctx);
        if (opt.expect && *opt.expect != layout->kind) {
          ErrorContext e = ctx;
          e.hint = *opt.expect == DatasetKind::Unpaired && layout->kind == DatasetKind::Preference
                       ? "convert pairs with `prefer data unpair`"
                       : "check the command and the columns (--prompt_column ...)";
          throw Error("this command needs " + std::string(dataset_kind_name(*opt.expect)) + " data, but the file holds " +
                          std::string(dataset_kind_name(layout->kind)) + " data",
                      e);
        }
      }
      bool conv = false;
      Example ex = parse_record(rec, *layout, opt.columns, ctx, conv);
      if (!layout->pretokenized) {
        if (!conversational) conversational = conv;
        else if (*conversational != conv)
          throw Error(std::string("is ") + (conv ? "conversational" : "plain text") + " but earlier records are " +
                          (*conversational ? "conversational" : "plain text"),
                      ctx);
      }
      ds.examples.push_back(std::move(ex));
    } catch (const Error& e) {
      if (!opt.collect_errors) throw;
      if (!layout) throw;  // without a layout there is nothing to validate against
      if (ds.errors.size() < opt.max_errors) ds.errors.push_back(e);
    }
  };

  auto bad = [&](const Error& e) {
    ++ds.records;
    if (!opt.collect_errors) throw e;
    if (ds.errors.size() < opt.max_errors) ds.errors.push_back(e);
  };
  io::for_each_record(
      file, [&](OrderedJson&& rec, const ErrorContext& where) { handle(rec, where); }, bad, {.max_line_bytes = opt.max_line_bytes});
  if (ds.records == 0) throw Error("the file holds no records", {.file = fname, .hint = "expected one JSON object per line"});
  if (!layout && !ds.errors.empty()) throw ds.errors.front();  // every line was bad: say why the first was
  if (!layout) throw Error("no record could be read", {.file = fname});
  ds.kind = layout->kind;
  ds.pretokenized = layout->pretokenized;
  ds.conversational = conversational.value_or(false);
  ds.implicit_prompt = layout->kind == DatasetKind::Preference && !layout->has_prompt;
  return ds;
}

}  // namespace prefer::data
