#include "text/jinja_filters.h"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>

#include "text/jinja_error.h"
#include "text/jinja_json.h"
#include "text/jinja_methods.h"
#include "text/jinja_strings.h"
#include "text/jinja_tests.h"

namespace prefer::text::jinja {

namespace {

using FilterFn = Value (*)(const Value&, const CallArgs&);

// CallArgs without the first `n` positionals (select/map pass the rest on to a test or filter).
CallArgs drop_positional(const CallArgs& args, size_t n) {
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(std::min(n, args.positional.size())),
                         args.positional.end());
  rest.keyword = args.keyword;
  return rest;
}

// Python's int(str): optional sign and surrounding whitespace, digits with single underscores.
std::optional<int64_t> parse_int(std::string s, int base) {
  s = py_strip(s, std::nullopt);
  std::string digits;
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  for (; i < s.size(); ++i) {
    if (s[i] == '_' && !digits.empty() && i + 1 < s.size() && s[i + 1] != '_') continue;
    digits.push_back(s[i]);
  }
  // Python accepts the base's prefix (0x, 0o, 0b), and base 0 takes the base from it.
  auto prefix = [&](char p) { return digits.size() > 2 && digits[0] == '0' && std::tolower(static_cast<unsigned char>(digits[1])) == p; };
  for (auto [p, b] : {std::pair{'x', 16}, std::pair{'o', 8}, std::pair{'b', 2}}) {
    if ((base == b || base == 0) && prefix(p)) {
      digits.erase(0, 2);
      base = b;
    }
  }
  if (base == 0) base = 10;
  if (digits.empty() || base < 2 || base > 36) return std::nullopt;
  int64_t v = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
  if (r.ec != std::errc() || r.ptr != digits.data() + digits.size()) return std::nullopt;
  return neg ? -v : v;
}

// Python's float(str).
std::optional<double> parse_float(std::string s) {
  s = py_strip(s, std::nullopt);
  std::string t;
  for (char c : s) t.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (t == "inf" || t == "+inf" || t == "infinity" || t == "+infinity") return HUGE_VAL;
  if (t == "-inf" || t == "-infinity") return -HUGE_VAL;
  if (t == "nan" || t == "+nan" || t == "-nan") return NAN;
  std::string clean;
  for (char c : s)
    if (c != '_') clean.push_back(c);
  if (!clean.empty() && clean[0] == '+') clean.erase(0, 1);
  double v = 0;
  auto r = std::from_chars(clean.data(), clean.data() + clean.size(), v);
  if (clean.empty() || r.ec != std::errc() || r.ptr != clean.data() + clean.size()) return std::nullopt;
  return v;
}

Value f_trim(const Value& v, const CallArgs& args) {
  BoundArgs a("trim", args, {"chars"});
  std::optional<std::string> chars;
  if (a.given(0) && !a.get(0)->is_none()) chars = a.string_or(0, "");
  return Value::string(py_strip(to_str(v), chars));
}

// transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
Value f_tojson(const Value& v, const CallArgs& args) {
  BoundArgs a("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonOptions o;
  o.ensure_ascii = a.bool_or(0, false);
  if (const Value* ind = a.get(1); ind && !ind->is_none()) {
    if (ind->is_string()) o.indent_text = ind->as_string(), o.has_indent_text = true;
    else o.indent = static_cast<int>(std::max<int64_t>(0, a.int_or(1, 0)));
  }
  if (const Value* sep = a.get(2); sep && !sep->is_none()) {
    if (!sep->is_list() || sep->as_list().size() != 2 || !sep->as_list()[0].is_string() || !sep->as_list()[1].is_string())
      throw EvalError("tojson(): separators must be a pair of strings");
    o.custom_separators = true;
    o.item_separator = sep->as_list()[0].as_string();
    o.key_separator = sep->as_list()[1].as_string();
  }
  o.sort_keys = a.bool_or(3, false);
  return Value::string(to_json(v, o));
}

Value f_length(const Value& v, const CallArgs& args) {
  BoundArgs("length", args, {});
  switch (v.kind()) {
    case Value::Kind::String: return Value::integer(static_cast<int64_t>(code_point_count(v.as_string())));
    case Value::Kind::List: return Value::integer(static_cast<int64_t>(v.as_list().size()));
    case Value::Kind::Dict: return Value::integer(static_cast<int64_t>(v.as_dict().size()));
    case Value::Kind::Undefined: return Value::integer(0);
    default: throw EvalError("object of type '" + type_name(v) + "' has no len()");
  }
}

Value f_upper(const Value& v, const CallArgs& args) { return BoundArgs("upper", args, {}), Value::string(py_upper(to_str(v))); }
Value f_lower(const Value& v, const CallArgs& args) { return BoundArgs("lower", args, {}), Value::string(py_lower(to_str(v))); }
Value f_title(const Value& v, const CallArgs& args) { return BoundArgs("title", args, {}), Value::string(jinja_title(to_str(v))); }
Value f_capitalize(const Value& v, const CallArgs& args) {
  return BoundArgs("capitalize", args, {}), Value::string(py_capitalize(to_str(v)));
}
Value f_string(const Value& v, const CallArgs& args) { return BoundArgs("string", args, {}), Value::string(to_str(v)); }
Value f_safe(const Value& v, const CallArgs& args) { return BoundArgs("safe", args, {}), v; }

Value f_default(const Value& v, const CallArgs& args) {
  BoundArgs a("default", args, {"default_value", "boolean"});
  bool use_default = v.is_undefined() || (a.bool_or(1, false) && !v.truthy());
  return use_default ? a.get_or(0, Value::string("")) : v;
}

Value f_first(const Value& v, const CallArgs& args) {
  BoundArgs("first", args, {});
  std::vector<Value> items = iterate(v);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(const Value& v, const CallArgs& args) {
  BoundArgs("last", args, {});
  std::vector<Value> items = iterate(v);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value f_join(const Value& v, const CallArgs& args) {
  BoundArgs a("join", args, {"d", "attribute"});
  std::string sep = a.string_or(0, "");
  std::string out;
  bool first = true;
  for (const Value& item : iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += to_str(a.given(1) && !a.get(1)->is_none() ? get_path(item, to_str(*a.get(1))) : item);
  }
  return Value::string(std::move(out));
}

Value f_replace(const Value& v, const CallArgs& args) {
  BoundArgs a("replace", args, {"old", "new", "count"});
  if (!a.given(0) || !a.given(1)) throw EvalError("replace() needs the old and the new text");
  int64_t count = a.given(2) && !a.get(2)->is_none() ? a.int_or(2, -1) : -1;
  return Value::string(py_replace(to_str(v), to_str(*a.get(0)), to_str(*a.get(1)), count));
}

Value f_items(const Value& v, const CallArgs& args) {
  BoundArgs("items", args, {});
  if (v.is_undefined()) return Value::list({});
  if (!v.is_dict()) throw EvalError("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, e] : v.as_dict().entries()) out.push_back(Value::tuple({Value::string(k), e}));
  return Value::list(std::move(out));
}

// select / reject / selectattr / rejectattr: Jinja2's select_or_reject.
template <bool kSelect, bool kAttr>
Value f_select(const Value& v, const CallArgs& args) {
  const char* name = kAttr ? (kSelect ? "selectattr" : "rejectattr") : (kSelect ? "select" : "reject");
  size_t skip = kAttr ? 1 : 0;
  if (kAttr && args.positional.empty()) throw EvalError(std::string(name) + "() needs an attribute name");
  std::string attr = kAttr ? to_str(args.positional[0]) : "";
  const Value* test = args.positional.size() > skip ? &args.positional[skip] : nullptr;
  if (test && !test->is_string()) throw EvalError(std::string(name) + "(): the test name must be a string");
  CallArgs test_args = drop_positional(args, skip + 1);
  std::vector<Value> out;
  for (const Value& item : iterate(v)) {
    Value probe = kAttr ? get_path(item, attr) : item;
    bool ok = test ? apply_test(test->as_string(), probe, test_args) : probe.truthy();
    if (ok == kSelect) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value f_map(const Value& v, const CallArgs& args) {
  std::vector<Value> out;
  if (!args.positional.empty()) {
    if (!args.positional[0].is_string()) throw EvalError("map(): the filter name must be a string");
    std::string filter = args.positional[0].as_string();
    if (!is_filter(filter)) throw EvalError("map(): unknown filter '" + filter + "'");
    CallArgs rest = drop_positional(args, 1);
    for (const Value& item : iterate(v)) out.push_back(apply_filter(filter, item, rest));
    return Value::list(std::move(out));
  }
  BoundArgs a("map", args, {"attribute", "default"});
  if (!a.given(0)) throw EvalError("map() needs a filter name or attribute=");
  std::string attr = to_str(*a.get(0));
  for (const Value& item : iterate(v)) {
    Value x = get_path(item, attr);
    out.push_back(x.is_undefined() && a.given(1) ? *a.get(1) : x);
  }
  return Value::list(std::move(out));
}

Value f_list(const Value& v, const CallArgs& args) {
  BoundArgs("list", args, {});
  return Value::list(iterate(v));
}

Value f_int(const Value& v, const CallArgs& args) {
  BoundArgs a("int", args, {"default", "base"});
  Value fallback = a.get_or(0, Value::integer(0));
  int base = static_cast<int>(a.int_or(1, 10));
  auto from_double = [&](double d) { return std::isfinite(d) ? Value::integer(static_cast<int64_t>(d)) : fallback; };
  switch (v.kind()) {
    case Value::Kind::Bool:
    case Value::Kind::Int: return Value::integer(v.as_int());
    case Value::Kind::Float: return from_double(v.as_float());
    case Value::Kind::String: {
      if (auto i = parse_int(v.as_string(), base)) return Value::integer(*i);
      if (auto d = parse_float(v.as_string())) return from_double(*d);
      return fallback;
    }
    default: return fallback;
  }
}

Value f_float(const Value& v, const CallArgs& args) {
  BoundArgs a("float", args, {"default"});
  Value fallback = a.get_or(0, Value::number(0.0));
  if (v.is_number()) return Value::number(v.as_float());
  if (v.is_string())
    if (auto d = parse_float(v.as_string())) return Value::number(*d);
  return fallback;
}

Value f_abs(const Value& v, const CallArgs& args) {
  BoundArgs("abs", args, {});
  if (v.is_float()) return Value::number(std::fabs(v.as_float()));
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == INT64_MIN) throw EvalError("integer overflow");
    return Value::integer(std::llabs(v.as_int()));
  }
  throw EvalError("bad operand type for abs(): '" + type_name(v) + "'");
}

// Jinja2 3.x do_indent.
Value f_indent(const Value& v, const CallArgs& args) {
  BoundArgs a("indent", args, {"width", "first", "blank"});
  std::string unit;
  if (a.given(0) && a.get(0)->is_string()) unit = a.get(0)->as_string();
  else unit = std::string(static_cast<size_t>(std::max<int64_t>(0, a.int_or(0, 4))), ' ');
  bool first = a.bool_or(1, false), blank = a.bool_or(2, false);
  std::vector<std::string> lines = py_splitlines(to_str(v) + "\n");
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += "\n";
    bool indent_it = blank ? i > 0 : (i > 0 && !lines[i].empty());
    if (indent_it) out += unit;
    out += lines[i];
  }
  if (first) out = unit + out;
  return Value::string(std::move(out));
}

Value f_reverse(const Value& v, const CallArgs& args) {
  BoundArgs("reverse", args, {});
  if (v.is_string()) return slice_value(v, Value(), Value(), Value::integer(-1));
  std::vector<Value> items = iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

// Sort key of Jinja2's sort/unique/dictsort: strings compare lower-cased unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  return !case_sensitive && v.is_string() ? Value::string(py_lower(v.as_string())) : v;
}

Value f_sort(const Value& v, const CallArgs& args) {
  BoundArgs a("sort", args, {"reverse", "case_sensitive", "attribute"});
  bool reverse = a.bool_or(0, false), cs = a.bool_or(1, false);
  std::string attr = a.given(2) && !a.get(2)->is_none() ? to_str(*a.get(2)) : "";
  std::vector<Value> items = iterate(v);
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& item : items) keyed.emplace_back(sort_key(attr.empty() ? item : get_path(item, attr), cs), item);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? compare_values(y.first, x.first) < 0 : compare_values(x.first, y.first) < 0;
  });
  std::vector<Value> out;
  for (auto& [k, item] : keyed) out.push_back(std::move(item));
  return Value::list(std::move(out));
}

Value f_dictsort(const Value& v, const CallArgs& args) {
  BoundArgs a("dictsort", args, {"case_sensitive", "by", "reverse"});
  bool cs = a.bool_or(0, false), reverse = a.bool_or(2, false);
  std::string by = a.string_or(1, "key");
  if (by != "key" && by != "value") throw EvalError("dictsort(): 'by' must be 'key' or 'value'");
  if (!v.is_dict()) throw EvalError("dictsort() needs a mapping, got '" + type_name(v) + "'");
  std::vector<Value> pairs;
  for (const auto& [k, e] : v.as_dict().entries()) pairs.push_back(Value::tuple({Value::string(k), e}));
  size_t pos = by == "key" ? 0 : 1;
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
    int c = compare_values(sort_key(x.as_list()[pos], cs), sort_key(y.as_list()[pos], cs));
    return reverse ? c > 0 : c < 0;
  });
  return Value::list(std::move(pairs));
}

Value f_unique(const Value& v, const CallArgs& args) {
  BoundArgs a("unique", args, {"case_sensitive", "attribute"});
  bool cs = a.bool_or(0, false);
  std::string attr = a.given(1) && !a.get(1)->is_none() ? to_str(*a.get(1)) : "";
  std::vector<Value> out, seen;
  for (const Value& item : iterate(v)) {
    Value key = sort_key(attr.empty() ? item : get_path(item, attr), cs);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return values_equal(s, key); })) {
      seen.push_back(key);
      out.push_back(item);
    }
  }
  return Value::list(std::move(out));
}

Value f_attr(const Value& v, const CallArgs& args) {
  BoundArgs a("attr", args, {"name"});
  return get_attr(v, a.string_or(0, ""));
}

const std::map<std::string, FilterFn, std::less<>>& table() {
  static const std::map<std::string, FilterFn, std::less<>> t = {
      {"abs", f_abs}, {"attr", f_attr}, {"capitalize", f_capitalize}, {"count", f_length}, {"d", f_default},
      {"default", f_default}, {"dictsort", f_dictsort}, {"first", f_first}, {"float", f_float}, {"indent", f_indent},
      {"int", f_int}, {"items", f_items}, {"join", f_join}, {"last", f_last}, {"length", f_length}, {"list", f_list},
      {"lower", f_lower}, {"map", f_map}, {"reject", f_select<false, false>}, {"rejectattr", f_select<false, true>},
      {"replace", f_replace}, {"reverse", f_reverse}, {"safe", f_safe}, {"select", f_select<true, false>},
      {"selectattr", f_select<true, true>}, {"sort", f_sort}, {"string", f_string}, {"title", f_title},
      {"tojson", f_tojson}, {"trim", f_trim}, {"unique", f_unique}, {"upper", f_upper},
  };
  return t;
}

}  // namespace

bool is_filter(std::string_view name) { return table().count(name) > 0; }

std::vector<std::string> filter_names() {
  std::vector<std::string> out;
  for (const auto& [k, f] : table()) out.push_back(k);
  return out;
}

Value apply_filter(std::string_view name, const Value& operand, const CallArgs& args) {
  auto it = table().find(name);
  if (it == table().end()) throw EvalError("unknown filter '" + std::string(name) + "'");
  return it->second(operand, args);
}

}  // namespace prefer::text::jinja
