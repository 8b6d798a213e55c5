// The values a chat template computes with, modelled on the Python objects Jinja2 hands templates.
//
// Kinds: undefined (a missing variable, attribute or item), none, bool, int (64-bit), float, string
// (UTF-8), list and tuple, dict (string keys, insertion order kept: tojson, items() and loops show keys
// in the order the JSON input had them), namespace (the one mutable kind: `set ns.x = ...` must be seen
// by every holder), and callable (macros, globals such as range(), and bound methods like
// "text".split). Lists, dicts and strings are immutable and shared, so copying a Value is cheap.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace prefer::text::jinja {

class Value;

// Ordered string-keyed map: Python dicts keep insertion order, and templates print and iterate them.
class ValueDict {
 public:
  const Value* find(std::string_view key) const;
  // Replaces the value of an existing key in place (order unchanged), or appends.
  void set(std::string key, Value value);
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }
  // Out of line: Value is incomplete here, which clang (unlike GCC) does not accept in these bodies.
  size_t size() const;
  void clear();
  void reserve(size_t n);

 private:
  std::vector<std::pair<std::string, Value>> entries_;
};

// Arguments of a call: positional, then keyword in source order.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// A thing templates can call. `fn` gets the evaluated arguments.
struct Callable {
  std::string name;
  std::function<Value(CallArgs&)> fn;
};

class Value {
 public:
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Callable };

  Value() = default;  // undefined
  // `hint` says what was missing ("'foo' is undefined"), for errors when the value is used.
  static Value undefined(std::string hint = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  static Value list(std::vector<Value> items);
  static Value tuple(std::vector<Value> items);
  static Value dict(ValueDict d);
  static Value make_namespace(ValueDict d);
  static Value callable(std::string name, std::function<Value(CallArgs&)> fn);
  // JSON to value: objects keep their key order; integers stay int, numbers with a fraction or
  // exponent in the JSON text become float (as Python's json.loads does).
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  // bool, int or float (Python's numbers.Number, which bool belongs to).
  bool is_number() const { return kind_ == Kind::Bool || kind_ == Kind::Int || kind_ == Kind::Float; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_list() const { return kind_ == Kind::List; }  // lists and tuples
  bool is_tuple() const { return kind_ == Kind::List && tuple_; }
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_namespace() const { return kind_ == Kind::Namespace; }
  bool is_callable() const { return kind_ == Kind::Callable; }

  bool as_bool() const { return bool_; }
  // Int or bool as an integer (Python's bool is an int).
  int64_t as_int() const { return kind_ == Kind::Bool ? (bool_ ? 1 : 0) : int_; }
  // Any number as a double.
  double as_float() const { return kind_ == Kind::Float ? float_ : static_cast<double>(as_int()); }
  const std::string& as_string() const;
  const std::vector<Value>& as_list() const;
  const ValueDict& as_dict() const;  // dicts and namespaces
  ValueDict& namespace_entries() const;
  const Callable& as_callable() const;
  const std::string& undefined_hint() const;

  // Python truthiness: undefined, none, false, 0, 0.0, "", empty list/dict are false.
  bool truthy() const;
  // The shared object behind a list/dict/namespace/callable/string, for the `sameas` test.
  const void* identity() const { return ptr_.get(); }

 private:
  Kind kind_ = Kind::Undefined;
  bool tuple_ = false;
  bool bool_ = false;
  int64_t int_ = 0;
  double float_ = 0;
  std::shared_ptr<const void> ptr_;  // string, std::vector<Value>, ValueDict, Callable, or the undefined hint
};

// Python's type name: "str", "int", "float", "bool", "NoneType", "list", "tuple", "dict", "Undefined",
// "Namespace", "function".
std::string type_name(const Value& v);

// str(v) as Jinja2 prints it: undefined is "", none "None", booleans "True"/"False", floats like
// Python's repr, strings as is, containers as their Python repr.
std::string to_str(const Value& v);
// repr(v): strings quoted and escaped the Python way.
std::string to_repr(const Value& v);
// repr(float): the shortest text that reads back to the same double, in Python's layout ("1.0", "0.1",
// "1e+16", "1.5e-05", "inf", "nan").
std::string format_float(double d);

// Python ==: numbers by value across bool/int/float, lists and tuples element-wise (a list never
// equals a tuple), dicts by content regardless of order, undefined equals undefined.
bool values_equal(const Value& a, const Value& b);
// Python ordering (<): numbers, strings (code point order), lists/tuples lexicographically; other
// pairs are an EvalError. Returns <0, 0, >0.
int compare_values(const Value& a, const Value& b);

// Python's `item in container`: substring for strings (item must be a string), membership by == for
// lists, key membership for dicts; false for undefined (Jinja2's Undefined iterates as empty).
bool value_contains(const Value& container, const Value& item);

// Python's iter(v) as a list: list items, the characters of a string, the keys of a dict; undefined
// is empty. Other kinds are an EvalError.
std::vector<Value> iterate(const Value& v);

// Binds call arguments to a Python-style signature `names` (positional first, then by keyword);
// unknown keywords and surplus positionals are EvalErrors naming `function`.
class BoundArgs {
 public:
  BoundArgs(std::string function, const CallArgs& args, std::vector<std::string> names);
  // The argument bound to parameter `i`, or nullptr when the call did not give it.
  const Value* get(size_t i) const { return given_[i] ? &values_[i] : nullptr; }
  Value get_or(size_t i, Value fallback) const { return given_[i] ? values_[i] : std::move(fallback); }
  bool given(size_t i) const { return given_[i]; }
  const std::string& function() const { return function_; }

  // Typed access for the common cases; a wrong type is an EvalError naming the parameter.
  int64_t int_or(size_t i, int64_t fallback) const;
  bool bool_or(size_t i, bool fallback) const;
  std::string string_or(size_t i, std::string fallback) const;

 private:
  std::string function_;
  std::vector<std::string> names_;
  std::vector<Value> values_;
  std::vector<bool> given_;
};

}  // namespace prefer::text::jinja
