#include "text/jinja_tests.h"

#include <cmath>
#include <map>

#include "text/jinja_error.h"
#include "text/jinja_strings.h"

namespace prefer::text::jinja {

namespace {

using TestFn = bool (*)(const Value&, const BoundArgs&);

const Value& arg(const BoundArgs& a, size_t i) {
  if (!a.given(i)) throw EvalError("test '" + a.function() + "' needs an argument");
  return *a.get(i);
}

double modulo_operand(const Value& v, const std::string& test) {
  if (!v.is_number()) throw EvalError("test '" + test + "' needs a number, got '" + type_name(v) + "'");
  return v.as_float();
}

struct Entry {
  std::vector<std::string> params;
  TestFn fn;
};

const std::map<std::string, Entry, std::less<>>& table() {
  static const std::map<std::string, Entry, std::less<>> t = {
      {"defined", {{}, [](const Value& v, const BoundArgs&) { return !v.is_undefined(); }}},
      {"undefined", {{}, [](const Value& v, const BoundArgs&) { return v.is_undefined(); }}},
      {"none", {{}, [](const Value& v, const BoundArgs&) { return v.is_none(); }}},
      {"boolean", {{}, [](const Value& v, const BoundArgs&) { return v.is_bool(); }}},
      {"true", {{}, [](const Value& v, const BoundArgs&) { return v.is_bool() && v.as_bool(); }}},
      {"false", {{}, [](const Value& v, const BoundArgs&) { return v.is_bool() && !v.as_bool(); }}},
      {"integer", {{}, [](const Value& v, const BoundArgs&) { return v.is_int(); }}},
      {"float", {{}, [](const Value& v, const BoundArgs&) { return v.is_float(); }}},
      {"number", {{}, [](const Value& v, const BoundArgs&) { return v.is_number(); }}},
      {"string", {{}, [](const Value& v, const BoundArgs&) { return v.is_string(); }}},
      {"mapping", {{}, [](const Value& v, const BoundArgs&) { return v.is_dict(); }}},
      // Python: iter() works on str, list, tuple, dict, and on Jinja2's Undefined (as empty).
      {"iterable", {{}, [](const Value& v, const BoundArgs&) {
         return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
       }}},
      // Python: len() and indexing work.
      {"sequence", {{}, [](const Value& v, const BoundArgs&) {
         return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
       }}},
      {"callable", {{}, [](const Value& v, const BoundArgs&) { return v.is_callable(); }}},
      {"odd", {{}, [](const Value& v, const BoundArgs&) { return std::fmod(modulo_operand(v, "odd"), 2.0) != 0; }}},
      {"even", {{}, [](const Value& v, const BoundArgs&) { return std::fmod(modulo_operand(v, "even"), 2.0) == 0; }}},
      {"divisibleby", {{"num"}, [](const Value& v, const BoundArgs& a) {
         double d = modulo_operand(arg(a, 0), "divisibleby");
         if (d == 0) throw EvalError("integer division or modulo by zero");
         return std::fmod(modulo_operand(v, "divisibleby"), d) == 0;
       }}},
      {"lower", {{}, [](const Value& v, const BoundArgs&) { return py_islower(to_str(v)); }}},
      {"upper", {{}, [](const Value& v, const BoundArgs&) { return py_isupper(to_str(v)); }}},
      {"in", {{"seq"}, [](const Value& v, const BoundArgs& a) { return value_contains(arg(a, 0), v); }}},
      {"sameas", {{"other"}, [](const Value& v, const BoundArgs& a) {
         const Value& o = arg(a, 0);
         if (v.kind() != o.kind()) return false;
         if (v.is_none() || v.is_undefined()) return true;
         if (v.is_bool()) return v.as_bool() == o.as_bool();
         // Python's small ints are shared objects; others compare by identity.
         if (v.is_int()) return v.as_int() == o.as_int() && v.as_int() >= -5 && v.as_int() <= 256;
         return v.identity() != nullptr && v.identity() == o.identity();
       }}},
      {"eq", {{"b"}, [](const Value& v, const BoundArgs& a) { return values_equal(v, arg(a, 0)); }}},
      {"ne", {{"b"}, [](const Value& v, const BoundArgs& a) { return !values_equal(v, arg(a, 0)); }}},
      {"lt", {{"b"}, [](const Value& v, const BoundArgs& a) { return compare_values(v, arg(a, 0)) < 0; }}},
      {"le", {{"b"}, [](const Value& v, const BoundArgs& a) { return compare_values(v, arg(a, 0)) <= 0; }}},
      {"gt", {{"b"}, [](const Value& v, const BoundArgs& a) { return compare_values(v, arg(a, 0)) > 0; }}},
      {"ge", {{"b"}, [](const Value& v, const BoundArgs& a) { return compare_values(v, arg(a, 0)) >= 0; }}},
  };
  return t;
}

// Jinja2's other names for the comparison tests.
std::string_view canonical(std::string_view name) {
  if (name == "equalto" || name == "==") return "eq";
  if (name == "!=") return "ne";
  if (name == "lessthan" || name == "<") return "lt";
  if (name == "<=") return "le";
  if (name == "greaterthan" || name == ">") return "gt";
  if (name == ">=") return "ge";
  return name;
}

}  // namespace

bool is_test(std::string_view name) { return table().count(canonical(name)) > 0; }

std::vector<std::string> test_names() {
  std::vector<std::string> out;
  for (const auto& [k, e] : table()) out.push_back(k);
  for (const char* alias : {"equalto", "lessthan", "greaterthan"}) out.push_back(alias);
  return out;
}

bool apply_test(std::string_view name, const Value& v, const CallArgs& args) {
  auto it = table().find(canonical(name));
  if (it == table().end()) throw EvalError("unknown test '" + std::string(name) + "'");
  BoundArgs bound(std::string(name), args, it->second.params);
  return it->second.fn(v, bound);
}

}  // namespace prefer::text::jinja
