// Attribute/item access and the Python methods templates call (values as CPython returns them).
#include <gtest/gtest.h>

#include "text/jinja_error.h"
#include "text/jinja_methods.h"
#include "jinja_values.h"

namespace prefer::text::jinja {
namespace {

using OJson = nlohmann::ordered_json;


Value call(const Value& obj, const char* method, std::vector<Value> args = {}, std::vector<std::pair<std::string, Value>> kw = {}) {
  Value f = get_attr(obj, method);
  EXPECT_TRUE(f.is_callable()) << method;
  CallArgs a{std::move(args), std::move(kw)};
  return f.as_callable().fn(a);
}

TEST(JinjaMethods, DictAttributeThenItem) {
  Value d = Value::from_json(OJson::parse(R"({"role": "user", "items": "key named items"})"));
  EXPECT_EQ(get_attr(d, "role").as_string(), "user");
  EXPECT_TRUE(get_attr(d, "items").is_callable());            // d.items is the method (Python getattr first)
  EXPECT_EQ(get_item(d, S("items")).as_string(), "key named items");  // d['items'] is the key (item first)
  EXPECT_TRUE(get_attr(d, "missing").is_undefined());
  EXPECT_EQ(get_attr(d, "missing").undefined_hint(), "'dict object' has no attribute 'missing'");
  EXPECT_TRUE(get_attr(d, "update").is_undefined());  // mutating methods are not available
  EXPECT_TRUE(get_item(d, I(0)).is_undefined());
}

TEST(JinjaMethods, DictMethods) {
  Value d = Value::from_json(OJson::parse(R"({"b": 1, "a": 2})"));
  EXPECT_EQ(to_str(call(d, "items")), "[('b', 1), ('a', 2)]");
  EXPECT_EQ(to_str(call(d, "keys")), "['b', 'a']");
  EXPECT_EQ(to_str(call(d, "values")), "[1, 2]");
  EXPECT_EQ(call(d, "get", {S("a")}).as_int(), 2);
  EXPECT_TRUE(call(d, "get", {S("zz")}).is_none());
  EXPECT_EQ(call(d, "get", {S("zz"), S("dflt")}).as_string(), "dflt");
  EXPECT_EQ(call(d, "get", {S("zz")}, {{"default", I(7)}}).as_int(), 7);
}

TEST(JinjaMethods, ListAndStringIndexing) {
  Value l = Value::list({I(10), I(20), I(30)});
  EXPECT_EQ(get_item(l, I(0)).as_int(), 10);
  EXPECT_EQ(get_item(l, I(-1)).as_int(), 30);
  EXPECT_EQ(get_item(l, Value::boolean(true)).as_int(), 20);
  EXPECT_TRUE(get_item(l, I(3)).is_undefined());
  EXPECT_TRUE(get_item(l, I(-4)).is_undefined());
  EXPECT_TRUE(get_attr(l, "length").is_undefined());  // lists have no .length in Python
  EXPECT_EQ(get_item(S("héllo"), I(1)).as_string(), "é");
  EXPECT_EQ(get_item(S("héllo"), I(-1)).as_string(), "o");
  EXPECT_TRUE(get_item(S("abc"), I(9)).is_undefined());
}

TEST(JinjaMethods, UndefinedAndNoneAreLenient) {
  Value u = Value::undefined("'x' is undefined");
  Value chained = get_attr(get_attr(u, "y"), "z");
  EXPECT_TRUE(chained.is_undefined());
  EXPECT_EQ(chained.undefined_hint(), "'x' is undefined");  // the root cause survives the chain
  EXPECT_TRUE(get_item(u, I(0)).is_undefined());
  EXPECT_TRUE(get_attr(Value::none(), "content").is_undefined());
  EXPECT_TRUE(get_item(Value::none(), S("content")).is_undefined());
}

TEST(JinjaMethods, NamespaceAttributes) {
  ValueDict d;
  d.set("found", Value::boolean(false));
  Value ns = Value::make_namespace(d);
  EXPECT_FALSE(get_attr(ns, "found").as_bool());
  ns.namespace_entries().set("found", Value::boolean(true));
  EXPECT_TRUE(get_item(ns, S("found")).as_bool());
  EXPECT_TRUE(get_attr(ns, "other").is_undefined());
}

TEST(JinjaMethods, Paths) {
  Value v = Value::from_json(OJson::parse(R"({"function": {"name": "f", "args": [{"x": 1}]}})"));
  EXPECT_EQ(get_path(v, "function.name").as_string(), "f");
  EXPECT_EQ(get_path(v, "function.args.0.x").as_int(), 1);
  EXPECT_TRUE(get_path(v, "function.nope.deeper").is_undefined());
}

TEST(JinjaMethods, Slices) {
  Value l = Value::list({I(0), I(1), I(2), I(3), I(4)});
  auto sl = [&](const Value& obj, Value a, Value b, Value c) { return to_str(slice_value(obj, a, b, c)); };
  Value none = Value();
  EXPECT_EQ(sl(l, I(1), none, none), "[1, 2, 3, 4]");
  EXPECT_EQ(sl(l, none, I(-1), none), "[0, 1, 2, 3]");
  EXPECT_EQ(sl(l, none, none, I(-1)), "[4, 3, 2, 1, 0]");
  EXPECT_EQ(sl(l, none, none, I(2)), "[0, 2, 4]");
  EXPECT_EQ(sl(l, I(3), I(0), I(-1)), "[3, 2, 1]");
  EXPECT_EQ(sl(l, I(-100), I(100), none), "[0, 1, 2, 3, 4]");
  EXPECT_EQ(sl(l, I(7), none, none), "[]");
  EXPECT_EQ(sl(l, Value::none(), I(2), none), "[0, 1]");
  EXPECT_EQ(sl(Value::tuple({I(1), I(2)}), I(1), none, none), "(2,)");
  EXPECT_EQ(sl(S("héllo"), I(1), I(3), none), "él");
  EXPECT_EQ(sl(S("abc"), none, none, I(-1)), "cba");
  EXPECT_EQ(sl(S("{\"a\": 1}"), none, I(-1), none), "{\"a\": 1");
  EXPECT_THROW(slice_value(l, none, none, I(0)), EvalError);
  EXPECT_THROW(slice_value(l, S("a"), none, none), EvalError);
  EXPECT_THROW(slice_value(I(5), none, none, none), EvalError);
  EXPECT_THROW(slice_value(Value::undefined("'m' is undefined"), I(1), none, none), EvalError);
}

TEST(JinjaMethods, StringMethods) {
  EXPECT_EQ(call(S("  hi \n"), "strip").as_string(), "hi");
  EXPECT_EQ(call(S("\n\nhi\n"), "lstrip", {S("\n")}).as_string(), "hi\n");
  EXPECT_EQ(call(S("hi\n\n"), "rstrip", {S("\n")}).as_string(), "hi");
  EXPECT_EQ(call(S("  x  "), "strip", {Value::none()}).as_string(), "x");
  EXPECT_EQ(to_str(call(S("a b  c"), "split")), "['a', 'b', 'c']");
  EXPECT_EQ(to_str(call(S("x</think>y</think>z"), "split", {S("</think>")})), "['x', 'y', 'z']");
  EXPECT_EQ(to_str(call(S("a,b,c"), "split", {S(",")}, {{"maxsplit", I(1)}})), "['a', 'b,c']");
  EXPECT_EQ(call(S("Hello"), "upper").as_string(), "HELLO");
  EXPECT_EQ(call(S("Hello"), "lower").as_string(), "hello");
  EXPECT_EQ(call(S("hello wORLD"), "title").as_string(), "Hello World");
  EXPECT_EQ(call(S("hello wORLD"), "capitalize").as_string(), "Hello world");
  EXPECT_EQ(call(S("a-b-c"), "replace", {S("-"), S("+")}).as_string(), "a+b+c");
  EXPECT_EQ(call(S("a-b-c"), "replace", {S("-"), S("+"), I(1)}).as_string(), "a+b-c");
  EXPECT_TRUE(call(S("<tool_response>x"), "startswith", {S("<tool_response>")}).as_bool());
  EXPECT_FALSE(call(S("abc"), "startswith", {S("abcd")}).as_bool());
  EXPECT_TRUE(call(S("abc"), "endswith", {Value::tuple({S("x"), S("bc")})}).as_bool());
  EXPECT_EQ(call(S(", "), "join", {Value::list({S("a"), S("b")})}).as_string(), "a, b");
  EXPECT_EQ(call(S("hello"), "find", {S("ll")}).as_int(), 2);
  EXPECT_EQ(call(S("hello"), "count", {S("l")}).as_int(), 2);
  EXPECT_TRUE(get_attr(S("x"), "format").is_undefined());
  EXPECT_THROW(call(S(","), "join", {Value::list({I(1)})}), EvalError);
  EXPECT_THROW(call(S("x"), "startswith", {I(1)}), EvalError);
  EXPECT_THROW(call(S("x"), "split", {S("")}), EvalError);
  EXPECT_THROW(call(S("x"), "strip", {S("a"), S("b")}), EvalError);
}

}  // namespace
}  // namespace prefer::text::jinja
