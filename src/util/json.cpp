#include "util/json.h"

#include <cmath>
#include <cstdio>
#include <optional>

#include "util/atomic_file.h"
#include "util/file.h"
#include "util/strings.h"
#include "util/utf8.h"

namespace prefer {

namespace {

// Line and column (1-based) of byte offset `pos` in `text`.
std::pair<int64_t, int64_t> line_col(std::string_view text, size_t pos) {
  pos = std::min(pos, text.size());
  int64_t line = 0, col = 1;
  for (size_t i = 0; i < pos; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

// The byte offset where `text` first nests arrays and objects deeper than `limit`, if it does. Brackets
// inside strings do not count (escapes skipped); the text need not be valid JSON.
std::optional<size_t> too_deep(std::string_view text, size_t limit) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (in_string) {
      if (ch == '\\') ++i;
      else if (ch == '"') in_string = false;
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > limit) return i;
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

}  // namespace

template <class J>
J parse_json_as(std::string_view text, const ErrorContext& ctx, int64_t first_line) {
  if (auto bad = find_invalid_utf8(text)) {
    auto [l, c] = line_col(text, *bad);
    ErrorContext e = ctx;
    e.line = first_line + l;
    throw Error("invalid UTF-8 at column " + std::to_string(c), e);
  }
  // Parsing is iterative, but printing, copying and walking a value recurse once per level: 200,000
  // nested arrays overflow the stack. No data, config or request needs more than kMaxJsonDepth levels.
  if (auto deep = too_deep(text, kMaxJsonDepth)) {
    auto [l, c] = line_col(text, *deep);
    ErrorContext e = ctx;
    e.line = first_line + l;
    throw Error("nests arrays and objects more than " + std::to_string(kMaxJsonDepth) + " levels deep (at column " +
                    std::to_string(c) + ")",
                e);
  }
  try {
    return J::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& ex) {
    // ex.byte is 1-based and points just past the offending character.
    size_t at = ex.byte > 0 ? ex.byte - 1 : 0;
    auto [l, c] = line_col(text, at);
    ErrorContext e = ctx;
    e.line = first_line + l;
    std::string what = ex.what();
    // nlohmann's text is "[json.exception.parse_error.101] parse error at line 1, column 5: <reason>";
    // keep only the reason, we give our own position.
    size_t col = what.find("column");
    auto colon = what.find(": ", col == std::string::npos ? 0 : col);
    std::string reason = colon == std::string::npos ? what : what.substr(colon + 2);
    throw Error("invalid JSON at column " + std::to_string(c) + ": " + reason, e);
  } catch (const nlohmann::json::exception& ex) {
    // A number too large for a double ("1e999") is out_of_range, not a parse_error (found by fuzz_json).
    std::string what = ex.what();
    size_t close = what.find("] ");
    ErrorContext e = ctx;
    if (e.line == 0) e.line = first_line;
    throw Error("invalid JSON: " + (close == std::string::npos ? what : what.substr(close + 2)), e);
  }
}

Json parse_json(std::string_view text, const ErrorContext& ctx, int64_t first_line) {
  return parse_json_as<Json>(text, ctx, first_line);
}

OrderedJson parse_ordered_json(std::string_view text, const ErrorContext& ctx, int64_t first_line) {
  return parse_json_as<OrderedJson>(text, ctx, first_line);
}

Json read_json_file(const std::filesystem::path& path) {
  std::string text = read_file(path);
  return parse_json(text, {.file = path.string()});
}

void write_json_file(const std::filesystem::path& path, const Json& value, int indent) {
  write_file_atomic(path, value.dump(indent) + "\n");
}

static std::string type_name(Json::value_t t) {
  switch (t) {
    case Json::value_t::string: return "a string";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer";
    case Json::value_t::number_float: return "a number";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::null: return "null";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    default: return "an unsupported value";
  }
}

std::string json_type_name(const Json& v) { return type_name(v.type()); }
std::string json_type_name(const OrderedJson& v) { return type_name(v.type()); }

static ErrorContext at_field(const ErrorContext& ctx, std::string_view key) {
  ErrorContext c = ctx;
  c.field = ctx.field.empty() ? std::string(key) : ctx.field + "." + std::string(key);
  return c;
}

static const Json* find_field(const Json& obj, std::string_view key, const ErrorContext& ctx) {
  if (!obj.is_object()) throw Error("expected an object, found " + json_type_name(obj), ctx);
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

const Json& require_field(const Json& obj, std::string_view key, const ErrorContext& ctx) {
  const Json* v = find_field(obj, key, ctx);
  if (v == nullptr || v->is_null()) throw Error("required field is missing", at_field(ctx, key));
  return *v;
}

int64_t json_to_int(const Json& v, const ErrorContext& ctx) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) throw Error("integer out of range", ctx);
    return static_cast<int64_t>(u);
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) return static_cast<int64_t>(d);
    throw Error("expected an integer, found " + v.dump(), ctx);
  }
  throw Error("expected an integer, found " + json_type_name(v), ctx);
}

double json_to_number(const Json& v, const ErrorContext& ctx) {
  if (v.is_number()) return v.get<double>();
  throw Error("expected a number, found " + json_type_name(v), ctx);
}

std::string require_string(const Json& obj, std::string_view key, const ErrorContext& ctx) {
  const Json& v = require_field(obj, key, ctx);
  if (!v.is_string()) throw Error("expected a string, found " + json_type_name(v), at_field(ctx, key));
  return v.get<std::string>();
}

int64_t require_int(const Json& obj, std::string_view key, const ErrorContext& ctx) {
  return json_to_int(require_field(obj, key, ctx), at_field(ctx, key));
}

double require_number(const Json& obj, std::string_view key, const ErrorContext& ctx) {
  return json_to_number(require_field(obj, key, ctx), at_field(ctx, key));
}

bool require_bool(const Json& obj, std::string_view key, const ErrorContext& ctx) {
  const Json& v = require_field(obj, key, ctx);
  if (!v.is_boolean()) throw Error("expected true or false, found " + json_type_name(v), at_field(ctx, key));
  return v.get<bool>();
}

std::optional<std::string> opt_string(const Json& obj, std::string_view key, const ErrorContext& ctx) {
  const Json* v = find_field(obj, key, ctx);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_string()) throw Error("expected a string, found " + json_type_name(*v), at_field(ctx, key));
  return v->get<std::string>();
}

std::optional<int64_t> opt_int(const Json& obj, std::string_view key, const ErrorContext& ctx) {
  const Json* v = find_field(obj, key, ctx);
  if (v == nullptr || v->is_null()) return std::nullopt;
  return json_to_int(*v, at_field(ctx, key));
}

std::optional<double> opt_number(const Json& obj, std::string_view key, const ErrorContext& ctx) {
  const Json* v = find_field(obj, key, ctx);
  if (v == nullptr || v->is_null()) return std::nullopt;
  return json_to_number(*v, at_field(ctx, key));
}

std::optional<bool> opt_bool(const Json& obj, std::string_view key, const ErrorContext& ctx) {
  const Json* v = find_field(obj, key, ctx);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_boolean()) throw Error("expected true or false, found " + json_type_name(*v), at_field(ctx, key));
  return v->get<bool>();
}

std::vector<int64_t> opt_int_list(const Json& obj, std::string_view key, const ErrorContext& ctx) {
  const Json* v = find_field(obj, key, ctx);
  if (v == nullptr || v->is_null()) return {};
  ErrorContext c = at_field(ctx, key);
  if (!v->is_array()) return {json_to_int(*v, c)};
  std::vector<int64_t> out;
  for (const Json& e : *v) out.push_back(json_to_int(e, c));
  return out;
}

JsonlReader::JsonlReader(const std::filesystem::path& path, size_t max_line_bytes)
    : map_(path), max_line_bytes_(max_line_bytes) {}

bool JsonlReader::next_raw(int64_t& line_no, std::string_view& text) {
  std::string_view all = map_.view();
  while (pos_ < all.size()) {
    size_t end = all.find('\n', pos_);
    if (end == std::string_view::npos) end = all.size();
    std::string_view line = all.substr(pos_, end - pos_);
    pos_ = end + 1;
    ++line_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files
    if (line_ == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);  // UTF-8 BOM
    if (line.size() > max_line_bytes_) {
      throw Error("line is " + format_bytes(static_cast<double>(line.size())) + ", over the limit of " +
                      format_bytes(static_cast<double>(max_line_bytes_)),
                  {.file = map_.path().string(), .line = line_, .hint = "one JSON object per line; is the file JSONL?"});
    }
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    line_no = line_;
    text = line;
    return true;
  }
  return false;
}

bool JsonlReader::next(Record& out) {
  std::string_view text;
  if (!next_raw(out.line, text)) return false;
  out.value = parse_json(text, {.file = map_.path().string()}, out.line);
  return true;
}

std::vector<JsonlReader::Record> read_jsonl_file(const std::filesystem::path& path) {
  JsonlReader reader(path);
  std::vector<JsonlReader::Record> out;
  JsonlReader::Record r;
  while (reader.next(r)) out.push_back(std::move(r));
  return out;
}

}  // namespace prefer
