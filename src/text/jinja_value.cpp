#include "text/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "text/jinja_error.h"
#include "text/jinja_strings.h"

namespace prefer::text::jinja {

// ---- ValueDict --------------------------------------------------------------------------------------

size_t ValueDict::size() const { return entries_.size(); }
void ValueDict::clear() { entries_.clear(); }
void ValueDict::reserve(size_t n) { entries_.reserve(n); }

const Value* ValueDict::find(std::string_view key) const {
  // Linear: template dicts (messages, tool schemas, namespaces) have a handful of keys.
  for (const auto& [k, v] : entries_)
    if (k == key) return &v;
  return nullptr;
}

void ValueDict::set(std::string key, Value value) {
  for (auto& [k, v] : entries_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::move(key), std::move(value));
}

// ---- construction -----------------------------------------------------------------------------------

Value Value::undefined(std::string hint) {
  Value v;
  if (!hint.empty()) v.ptr_ = std::make_shared<const std::string>(std::move(hint));
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::Bool;
  v.bool_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::Int;
  v.int_ = i;
  return v;
}

Value Value::number(double d) {
  Value v;
  v.kind_ = Kind::Float;
  v.float_ = d;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::String;
  v.ptr_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

Value Value::list(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::List;
  v.ptr_ = std::make_shared<const std::vector<Value>>(std::move(items));
  return v;
}

Value Value::tuple(std::vector<Value> items) {
  Value v = list(std::move(items));
  v.tuple_ = true;
  return v;
}

Value Value::dict(ValueDict d) {
  Value v;
  v.kind_ = Kind::Dict;
  v.ptr_ = std::make_shared<const ValueDict>(std::move(d));
  return v;
}

Value Value::make_namespace(ValueDict d) {
  Value v;
  v.kind_ = Kind::Namespace;
  v.ptr_ = std::make_shared<ValueDict>(std::move(d));
  return v;
}

Value Value::callable(std::string name, std::function<Value(CallArgs&)> fn) {
  Value v;
  v.kind_ = Kind::Callable;
  v.ptr_ = std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)});
  return v;
}

Value Value::from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return none();
    case nlohmann::ordered_json::value_t::boolean:
      return boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return number(static_cast<double>(u));
      return integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return number(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json(e));
      return list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      ValueDict d;
      for (const auto& [k, e] : j.items()) d.set(k, from_json(e));
      return dict(std::move(d));
    }
    default:
      throw EvalError("JSON value of type " + std::string(j.type_name()) + " cannot be passed to a template");
  }
}

// ---- access -----------------------------------------------------------------------------------------

const std::string& Value::as_string() const { return *static_cast<const std::string*>(ptr_.get()); }
const std::vector<Value>& Value::as_list() const { return *static_cast<const std::vector<Value>*>(ptr_.get()); }
const ValueDict& Value::as_dict() const { return *static_cast<const ValueDict*>(ptr_.get()); }
// The namespace was created non-const (make_namespace); only the shared handle is typed const.
ValueDict& Value::namespace_entries() const { return *const_cast<ValueDict*>(static_cast<const ValueDict*>(ptr_.get())); }
const Callable& Value::as_callable() const { return *static_cast<const Callable*>(ptr_.get()); }

const std::string& Value::undefined_hint() const {
  static const std::string empty;
  return kind_ == Kind::Undefined && ptr_ ? *static_cast<const std::string*>(ptr_.get()) : empty;
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return bool_;
    case Kind::Int:
      return int_ != 0;
    case Kind::Float:
      return float_ != 0.0;
    case Kind::String:
      return !as_string().empty();
    case Kind::List:
      return !as_list().empty();
    case Kind::Dict:
      return as_dict().size() > 0;
    case Kind::Namespace:
    case Kind::Callable:
      return true;
  }
  return false;
}

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "Undefined";
    case Value::Kind::None: return "NoneType";
    case Value::Kind::Bool: return "bool";
    case Value::Kind::Int: return "int";
    case Value::Kind::Float: return "float";
    case Value::Kind::String: return "str";
    case Value::Kind::List: return v.is_tuple() ? "tuple" : "list";
    case Value::Kind::Dict: return "dict";
    case Value::Kind::Namespace: return "Namespace";
    case Value::Kind::Callable: return "function";
  }
  return "object";
}

// ---- printing ---------------------------------------------------------------------------------------

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then Python's layout (CPython format_float_short, mode 'r').
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // "-d.ddde+XX"
  std::string out;
  size_t i = 0;
  if (sci[0] == '-') out.push_back('-'), i = 1;
  size_t e = sci.find('e');
  std::string digits;
  for (size_t k = i; k < e; ++k)
    if (sci[k] != '.') digits.push_back(sci[k]);
  int exp10 = std::stoi(sci.substr(e + 1));
  int decpt = exp10 + 1;  // digits d1d2... mean 0.d1d2... * 10^decpt
  int nd = static_cast<int>(digits.size());
  if (decpt <= -4 || decpt > 16) {
    out += digits[0];
    if (nd > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out += eb;
  } else if (decpt <= 0) {
    out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
  } else if (decpt >= nd) {
    out += digits + std::string(static_cast<size_t>(decpt - nd), '0') + ".0";
  } else {
    out += digits.substr(0, static_cast<size_t>(decpt)) + "." + digits.substr(static_cast<size_t>(decpt));
  }
  return out;
}

namespace {

void append_repr(std::string& out, const Value& v);

void append_items_repr(std::string& out, const Value& v) {
  const auto& items = v.as_list();
  out += v.is_tuple() ? '(' : '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    append_repr(out, items[i]);
  }
  if (v.is_tuple() && items.size() == 1) out += ',';
  out += v.is_tuple() ? ')' : ']';
}

void append_dict_repr(std::string& out, const ValueDict& d) {
  out += '{';
  bool first = true;
  for (const auto& [k, e] : d.entries()) {
    if (!first) out += ", ";
    first = false;
    out += py_repr_string(k);
    out += ": ";
    append_repr(out, e);
  }
  out += '}';
}

void append_repr(std::string& out, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: out += "Undefined"; break;
    case Value::Kind::String: out += py_repr_string(v.as_string()); break;
    case Value::Kind::List: append_items_repr(out, v); break;
    case Value::Kind::Dict: append_dict_repr(out, v.as_dict()); break;
    default: out += to_str(v); break;
  }
}

}  // namespace

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "";
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return v.as_bool() ? "True" : "False";
    case Value::Kind::Int: return std::to_string(v.as_int());
    case Value::Kind::Float: return format_float(v.as_float());
    case Value::Kind::String: return v.as_string();
    case Value::Kind::List: {
      std::string out;
      append_items_repr(out, v);
      return out;
    }
    case Value::Kind::Dict: {
      std::string out;
      append_dict_repr(out, v.as_dict());
      return out;
    }
    case Value::Kind::Namespace: {
      std::string out = "<Namespace ";
      append_dict_repr(out, v.as_dict());
      return out + ">";
    }
    case Value::Kind::Callable: return "<function " + v.as_callable().name + ">";
  }
  return "";
}

std::string to_repr(const Value& v) {
  std::string out;
  append_repr(out, v);
  return out;
}

// ---- comparison -------------------------------------------------------------------------------------

bool values_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None:
      return true;
    case Value::Kind::String:
      return a.as_string() == b.as_string();
    case Value::Kind::List: {
      if (a.is_tuple() != b.is_tuple()) return false;
      const auto &x = a.as_list(), &y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!values_equal(x[i], y[i])) return false;
      return true;
    }
    case Value::Kind::Dict: {
      const auto &x = a.as_dict(), &y = b.as_dict();
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x.entries()) {
        const Value* other = y.find(k);
        if (other == nullptr || !values_equal(v, *other)) return false;
      }
      return true;
    }
    default:
      return a.identity() == b.identity();
  }
}

int compare_values(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.as_float(), y = b.as_float();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    int64_t x = a.as_int(), y = b.as_int();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    // Byte order of UTF-8 is code point order, which is what Python compares.
    int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto &x = a.as_list(), &y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      if (!values_equal(x[i], y[i])) return compare_values(x[i], y[i]);
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  throw EvalError("'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'");
}

bool value_contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) throw EvalError("'in <string>' requires string as left operand, not " + type_name(item));
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_list()) {
    for (const Value& v : container.as_list())
      if (values_equal(v, item)) return true;
    return false;
  }
  if (container.is_dict()) return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
  if (container.is_undefined()) return false;
  throw EvalError("argument of type '" + type_name(container) + "' is not iterable");
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::List:
      return v.as_list();
    case Value::Kind::String: {
      std::vector<Value> out;
      for (char32_t cp : utf8_decode(v.as_string())) {
        std::string ch;
        utf8_append(ch, cp);
        out.push_back(Value::string(std::move(ch)));
      }
      return out;
    }
    case Value::Kind::Dict: {
      std::vector<Value> out;
      for (const auto& [k, e] : v.as_dict().entries()) out.push_back(Value::string(k));
      return out;
    }
    case Value::Kind::Undefined:
      return {};
    default:
      throw EvalError("'" + type_name(v) + "' object is not iterable");
  }
}

// ---- argument binding -------------------------------------------------------------------------------

BoundArgs::BoundArgs(std::string function, const CallArgs& args, std::vector<std::string> names)
    : function_(std::move(function)), names_(std::move(names)), values_(names_.size()), given_(names_.size(), false) {
  if (args.positional.size() > names_.size())
    throw EvalError(function_ + "() takes at most " + std::to_string(names_.size()) + " argument(s) (" +
                    std::to_string(args.positional.size()) + " given)");
  for (size_t i = 0; i < args.positional.size(); ++i) values_[i] = args.positional[i], given_[i] = true;
  for (const auto& [name, value] : args.keyword) {
    auto it = std::find(names_.begin(), names_.end(), name);
    if (it == names_.end()) throw EvalError(function_ + "() got an unexpected keyword argument '" + name + "'");
    size_t i = static_cast<size_t>(it - names_.begin());
    if (given_[i]) throw EvalError(function_ + "() got multiple values for argument '" + name + "'");
    values_[i] = value, given_[i] = true;
  }
}

int64_t BoundArgs::int_or(size_t i, int64_t fallback) const {
  if (!given_[i]) return fallback;
  if (values_[i].is_int() || values_[i].is_bool()) return values_[i].as_int();
  throw EvalError(function_ + "(): '" + names_[i] + "' must be an integer, not '" + type_name(values_[i]) + "'");
}

bool BoundArgs::bool_or(size_t i, bool fallback) const { return given_[i] ? values_[i].truthy() : fallback; }

std::string BoundArgs::string_or(size_t i, std::string fallback) const {
  if (!given_[i]) return fallback;
  if (values_[i].is_string()) return values_[i].as_string();
  throw EvalError(function_ + "(): '" + names_[i] + "' must be a string, not '" + type_name(values_[i]) + "'");
}

}  // namespace prefer::text::jinja
