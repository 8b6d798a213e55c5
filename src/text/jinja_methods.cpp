#include "text/jinja_methods.h"

#include <algorithm>
#include <optional>

#include "text/jinja_error.h"
#include "text/jinja_strings.h"

namespace prefer::text::jinja {

namespace {

std::optional<std::string> opt_string_arg(const BoundArgs& a, size_t i) {
  const Value* v = a.get(i);
  if (v == nullptr || v->is_none()) return std::nullopt;
  if (!v->is_string()) throw EvalError(a.function() + "() argument must be a string or None, not '" + type_name(*v) + "'");
  return v->as_string();
}

// startswith/endswith take a string or a tuple (list) of strings.
bool affix_matches(const std::string& s, const Value& affix, bool prefix, const std::string& fn) {
  auto one = [&](const Value& a) {
    if (!a.is_string()) throw EvalError(fn + "() argument must be a string or a tuple of strings, not '" + type_name(a) + "'");
    const std::string& x = a.as_string();
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is_list()) return std::any_of(affix.as_list().begin(), affix.as_list().end(), one);
  return one(affix);
}

Value string_method(const Value& self, std::string_view name) {
  const std::string method(name);
  auto bind = [&](std::vector<std::string> params, std::function<Value(const std::string&, const BoundArgs&)> body) {
    return Value::callable("str." + method, [self, method, params, body](CallArgs& args) {
      BoundArgs a(method, args, params);
      return body(self.as_string(), a);
    });
  };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool left = name != "rstrip", right = name != "lstrip";
    return bind({"chars"}, [left, right](const std::string& s, const BoundArgs& a) {
      return Value::string(py_strip(s, opt_string_arg(a, 0), left, right));
    });
  }
  if (name == "split")
    return bind({"sep", "maxsplit"}, [](const std::string& s, const BoundArgs& a) {
      std::vector<Value> parts;
      for (auto& p : py_split(s, opt_string_arg(a, 0), a.int_or(1, -1))) parts.push_back(Value::string(std::move(p)));
      return Value::list(std::move(parts));
    });
  if (name == "upper") return bind({}, [](const std::string& s, const BoundArgs&) { return Value::string(py_upper(s)); });
  if (name == "lower") return bind({}, [](const std::string& s, const BoundArgs&) { return Value::string(py_lower(s)); });
  if (name == "title") return bind({}, [](const std::string& s, const BoundArgs&) { return Value::string(py_title(s)); });
  if (name == "capitalize")
    return bind({}, [](const std::string& s, const BoundArgs&) { return Value::string(py_capitalize(s)); });
  if (name == "replace")
    return bind({"old", "new", "count"}, [](const std::string& s, const BoundArgs& a) {
      if (!a.given(0) || !a.given(1)) throw EvalError("replace() takes at least 2 arguments");
      return Value::string(py_replace(s, a.string_or(0, ""), a.string_or(1, ""), a.int_or(2, -1)));
    });
  if (name == "startswith" || name == "endswith") {
    bool prefix = name == "startswith";
    return bind({prefix ? "prefix" : "suffix"}, [prefix, method](const std::string& s, const BoundArgs& a) {
      if (!a.given(0)) throw EvalError(method + "() takes exactly one argument (0 given)");
      return Value::boolean(affix_matches(s, *a.get(0), prefix, method));
    });
  }
  if (name == "join")
    return bind({"iterable"}, [](const std::string& sep, const BoundArgs& a) {
      const Value* it = a.get(0);
      if (it == nullptr || !it->is_list()) throw EvalError("join() argument must be a list of strings");
      std::string out;
      bool first = true;
      for (const Value& v : it->as_list()) {
        if (!v.is_string()) throw EvalError("sequence item: expected str instance, " + type_name(v) + " found");
        if (!first) out += sep;
        out += v.as_string();
        first = false;
      }
      return Value::string(std::move(out));
    });
  if (name == "find" || name == "count") {
    bool find = name == "find";
    return bind({"sub"}, [find](const std::string& s, const BoundArgs& a) {
      if (!a.given(0)) throw EvalError(std::string(find ? "find" : "count") + "() takes at least 1 argument (0 given)");
      std::string sub = a.string_or(0, "");
      return Value::integer(find ? py_find(s, sub) : py_count(s, sub));
    });
  }
  return Value::undefined("'str object' has no attribute '" + method + "'");
}

Value dict_method(const Value& self, std::string_view name) {
  const std::string method(name);
  if (name == "items" || name == "keys" || name == "values") {
    return Value::callable("dict." + method, [self, method](CallArgs& args) {
      BoundArgs a(method, args, {});
      std::vector<Value> out;
      for (const auto& [k, v] : self.as_dict().entries()) {
        if (method == "items") out.push_back(Value::tuple({Value::string(k), v}));
        else if (method == "keys") out.push_back(Value::string(k));
        else out.push_back(v);
      }
      return Value::list(std::move(out));
    });
  }
  if (name == "get") {
    return Value::callable("dict.get", [self](CallArgs& args) {
      BoundArgs a("get", args, {"key", "default"});
      if (!a.given(0)) throw EvalError("get() takes at least 1 argument (0 given)");
      const Value& key = *a.get(0);
      const Value* found = key.is_string() ? self.as_dict().find(key.as_string()) : nullptr;
      return found ? *found : a.get_or(1, Value::none());
    });
  }
  return Value::undefined();
}

bool is_dict_attribute(std::string_view name) {
  // Every attribute Python's dict has: reading one never falls back to a key of that name.
  for (const char* a : {"items", "keys", "values", "get", "clear", "copy", "fromkeys", "pop", "popitem", "setdefault", "update"})
    if (name == a) return true;
  return false;
}

}  // namespace

Value get_attr(const Value& object, std::string_view name) {
  switch (object.kind()) {
    case Value::Kind::Dict: {
      if (is_dict_attribute(name)) {
        Value m = dict_method(object, name);
        if (!m.is_undefined()) return m;
        return Value::undefined("dict." + std::string(name) + "() is not available in templates (they cannot modify values)");
      }
      if (const Value* v = object.as_dict().find(name)) return *v;
      return Value::undefined("'dict object' has no attribute '" + std::string(name) + "'");
    }
    case Value::Kind::Namespace:
      if (const Value* v = object.as_dict().find(name)) return *v;
      return Value::undefined("'Namespace object' has no attribute '" + std::string(name) + "'");
    case Value::Kind::String:
      return string_method(object, name);
    case Value::Kind::Undefined:
      // @huggingface/jinja's leniency (Python Jinja2 raises here): keep the first hint, it names the root.
      return object.undefined_hint().empty() ? Value::undefined("'" + std::string(name) + "' of an undefined value") : object;
    default:
      return Value::undefined("'" + type_name(object) + " object' has no attribute '" + std::string(name) + "'");
  }
}

Value get_item(const Value& object, const Value& key) {
  switch (object.kind()) {
    case Value::Kind::Dict:
      if (key.is_string()) {
        if (const Value* v = object.as_dict().find(key.as_string())) return *v;
        if (is_dict_attribute(key.as_string())) return get_attr(object, key.as_string());
        return Value::undefined("'dict object' has no attribute '" + key.as_string() + "'");
      }
      return Value::undefined("'dict object' has no item " + to_repr(key));
    case Value::Kind::List:
    case Value::Kind::String: {
      if (key.is_string()) return get_attr(object, key.as_string());
      if (!key.is_int() && !key.is_bool()) return Value::undefined(type_name(object) + " indices must be integers");
      int64_t i = key.as_int();
      if (object.is_list()) {
        const auto& items = object.as_list();
        int64_t n = static_cast<int64_t>(items.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return Value::undefined(type_name(object) + " index " + std::to_string(key.as_int()) + " out of range");
        return items[static_cast<size_t>(i)];
      }
      std::u32string cps = utf8_decode(object.as_string());
      int64_t n = static_cast<int64_t>(cps.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undefined("string index " + std::to_string(key.as_int()) + " out of range");
      std::string out;
      utf8_append(out, cps[static_cast<size_t>(i)]);
      return Value::string(std::move(out));
    }
    case Value::Kind::Namespace:
    case Value::Kind::Undefined:
      if (key.is_string()) return get_attr(object, key.as_string());
      return object.is_undefined() ? object : Value::undefined();
    default:
      return Value::undefined("'" + type_name(object) + "' object is not subscriptable");
  }
}

Value get_path(const Value& object, std::string_view path) {
  Value v = object;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string_view part = path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    v = digits ? get_item(v, Value::integer(std::stoll(std::string(part)))) : get_item(v, Value::string(std::string(part)));
    if (dot == std::string_view::npos) return v;
    start = dot + 1;
  }
}

Value slice_value(const Value& object, const Value& start, const Value& stop, const Value& step) {
  if (!object.is_list() && !object.is_string()) {
    if (object.is_undefined() && !object.undefined_hint().empty()) throw EvalError(object.undefined_hint());
    throw EvalError("'" + type_name(object) + "' object is not subscriptable");
  }
  auto index = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    if (!v.is_int() && !v.is_bool()) throw EvalError(std::string("slice ") + what + " must be an integer or None");
    return v.as_int();
  };
  std::optional<int64_t> a = index(start, "start"), b = index(stop, "stop"), c = index(step, "step");
  int64_t st = c.value_or(1);
  if (st == 0) throw EvalError("slice step cannot be zero");
  std::u32string cps;
  int64_t n;
  if (object.is_string()) {
    cps = utf8_decode(object.as_string());
    n = static_cast<int64_t>(cps.size());
  } else {
    n = static_cast<int64_t>(object.as_list().size());
  }
  // CPython's PySlice_AdjustIndices.
  auto adjust = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = st < 0 ? -1 : 0;
    } else if (x >= n) {
      x = st < 0 ? n - 1 : n;
    }
    return x;
  };
  int64_t lo = adjust(a, st < 0 ? n - 1 : 0), hi = adjust(b, st < 0 ? -1 : n);
  std::vector<size_t> picked;
  for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) picked.push_back(static_cast<size_t>(i));
  if (object.is_string()) {
    std::string out;
    for (size_t i : picked) utf8_append(out, cps[i]);
    return Value::string(std::move(out));
  }
  std::vector<Value> out;
  out.reserve(picked.size());
  for (size_t i : picked) out.push_back(object.as_list()[i]);
  return object.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

}  // namespace prefer::text::jinja
