// Filters, with the results Python Jinja2 (and transformers' tojson) give for the same input.
#include <gtest/gtest.h>

#include "text/jinja_error.h"
#include "text/jinja_filters.h"
#include "jinja_values.h"

namespace prefer::text::jinja {
namespace {

using OJson = nlohmann::ordered_json;

Value J(const char* json) { return Value::from_json(OJson::parse(json)); }

Value f(const char* name, const Value& v, std::vector<Value> args = {}, std::vector<std::pair<std::string, Value>> kw = {}) {
  return apply_filter(name, v, CallArgs{std::move(args), std::move(kw)});
}
std::string fs(const char* name, const Value& v, std::vector<Value> args = {}, std::vector<std::pair<std::string, Value>> kw = {}) {
  return to_str(f(name, v, std::move(args), std::move(kw)));
}

const char* kMessages = R"([{"role": "system", "content": "s"}, {"role": "user", "content": "a"},
                            {"role": "assistant", "content": "b", "tool_calls": [1]}, {"role": "user", "content": "c"}])";

TEST(JinjaFilters, Trim) {
  EXPECT_EQ(fs("trim", S(" \n x y \t")), "x y");
  EXPECT_EQ(fs("trim", S("..x.."), {S(".")}), "x");
  EXPECT_EQ(fs("trim", I(5)), "5");
}

TEST(JinjaFilters, ToJsonIsTransformers) {
  Value v = J(R"({"name": "get_weather", "arguments": {"city": "Zürich", "days": 2, "metric": true, "t": 0.5}})");
  EXPECT_EQ(fs("tojson", v), R"({"name": "get_weather", "arguments": {"city": "Zürich", "days": 2, "metric": true, "t": 0.5}})");
  EXPECT_EQ(fs("tojson", J(R"({"a": [1]})"), {}, {{"indent", I(2)}}), "{\n  \"a\": [\n    1\n  ]\n}");
  EXPECT_EQ(fs("tojson", J(R"({"b": 1, "a": "é"})"), {}, {{"sort_keys", Value::boolean(true)}, {"ensure_ascii", Value::boolean(true)}}),
            R"({"a": "\u00e9", "b": 1})");
  EXPECT_EQ(fs("tojson", J(R"([1, {"a": 2}])"), {}, {{"separators", Value::tuple({S(","), S(":")})}}), R"([1,{"a":2}])");
  EXPECT_EQ(fs("tojson", S("<b>&'")), "\"<b>&'\"");
  EXPECT_THROW(f("tojson", Value()), EvalError);
}

TEST(JinjaFilters, Length) {
  EXPECT_EQ(f("length", S("héllo")).as_int(), 5);
  EXPECT_EQ(f("length", J("[1, 2, 3]")).as_int(), 3);
  EXPECT_EQ(f("count", J(R"({"a": 1})")).as_int(), 1);
  EXPECT_EQ(f("length", Value()).as_int(), 0);
  EXPECT_THROW(f("length", I(3)), EvalError);
}

TEST(JinjaFilters, CaseFilters) {
  EXPECT_EQ(fs("upper", S("Grüße")), "GRÜSSE");
  EXPECT_EQ(fs("lower", S("ÉCOLE")), "école");
  EXPECT_EQ(fs("title", S("they're here")), "They're Here");
  EXPECT_EQ(fs("capitalize", S("hELLO")), "Hello");
}

TEST(JinjaFilters, Default) {
  EXPECT_EQ(fs("default", Value(), {S("d")}), "d");
  EXPECT_EQ(fs("d", Value(), {S("d")}), "d");
  EXPECT_EQ(fs("default", Value()), "");
  EXPECT_TRUE(f("default", Value::none(), {S("d")}).is_none());  // none is defined
  EXPECT_EQ(fs("default", S(""), {S("d"), Value::boolean(true)}), "d");
  EXPECT_EQ(fs("default", I(0), {I(5)}, {{"boolean", Value::boolean(true)}}), "5");
  EXPECT_EQ(fs("default", S("x"), {S("d"), Value::boolean(true)}), "x");
}

TEST(JinjaFilters, FirstLast) {
  EXPECT_EQ(fs("first", J("[1, 2, 3]")), "1");
  EXPECT_EQ(fs("last", J("[1, 2, 3]")), "3");
  EXPECT_EQ(fs("first", S("héllo")), "h");
  EXPECT_EQ(fs("last", S("héllo")), "o");
  EXPECT_EQ(fs("first", J(R"({"k": 1, "j": 2})")), "k");
  EXPECT_TRUE(f("first", J("[]")).is_undefined());
  EXPECT_TRUE(f("last", Value()).is_undefined());
}

TEST(JinjaFilters, Join) {
  EXPECT_EQ(fs("join", J(R"(["a", "b", "c"])"), {S(", ")}), "a, b, c");
  EXPECT_EQ(fs("join", J(R"([1, 2.5, null, true])"), {S("|")}), "1|2.5|None|True");
  EXPECT_EQ(fs("join", J(R"([{"n": "x"}, {"n": "y"}])"), {S("-")}, {{"attribute", S("n")}}), "x-y");
  EXPECT_EQ(fs("join", S("abc"), {S(".")}), "a.b.c");
  EXPECT_EQ(fs("join", J("[]")), "");
}

TEST(JinjaFilters, Replace) {
  EXPECT_EQ(fs("replace", S("a\nb\nc"), {S("\n"), S(" ")}), "a b c");
  EXPECT_EQ(fs("replace", S("aaa"), {S("a"), S("b"), I(2)}), "bba");
  EXPECT_EQ(fs("replace", S("aaa"), {S("a"), S("b")}, {{"count", I(1)}}), "baa");
  EXPECT_THROW(f("replace", S("a"), {S("a")}), EvalError);
}

TEST(JinjaFilters, Items) {
  EXPECT_EQ(fs("items", J(R"({"b": 1, "a": [2]})")), "[('b', 1), ('a', [2])]");
  EXPECT_EQ(fs("items", Value()), "[]");
  EXPECT_THROW(f("items", J("[1]")), EvalError);
}

TEST(JinjaFilters, SelectAttrRejectAttr) {
  Value m = J(kMessages);
  EXPECT_EQ(fs("length", f("selectattr", m, {S("role"), S("equalto"), S("user")})), "2");
  EXPECT_EQ(fs("map", f("selectattr", m, {S("role"), S("eq"), S("user")}), {}, {{"attribute", S("content")}}), "['a', 'c']");
  EXPECT_EQ(fs("map", f("rejectattr", m, {S("role"), S("in"), Value::list({S("user"), S("system")})}), {},
               {{"attribute", S("content")}}),
            "['b']");
  EXPECT_EQ(fs("map", f("selectattr", m, {S("tool_calls")}), {}, {{"attribute", S("role")}}), "['assistant']");
  EXPECT_EQ(fs("map", f("rejectattr", m, {S("tool_calls"), S("defined")}), {}, {{"attribute", S("content")}}), "['s', 'a', 'c']");
  EXPECT_THROW(f("selectattr", m, {S("role"), S("nosuchtest")}), EvalError);
}

TEST(JinjaFilters, SelectRejectMap) {
  EXPECT_EQ(fs("select", J("[1, 2, 3, 4]"), {S("odd")}), "[1, 3]");
  EXPECT_EQ(fs("reject", J("[1, 2, 3, 4]"), {S("odd")}), "[2, 4]");
  EXPECT_EQ(fs("select", J("[0, 1, \"\", \"x\"]")), "[1, 'x']");
  EXPECT_EQ(fs("select", J("[1, 5, 9]"), {S("gt"), I(4)}), "[5, 9]");
  EXPECT_EQ(fs("map", J(R"(["a", "b"])"), {S("upper")}), "['A', 'B']");
  EXPECT_EQ(fs("map", J(R"([" a ", "b "])"), {S("trim")}), "['a', 'b']");
  EXPECT_EQ(fs("map", J(R"([1, 2])"), {S("string")}), "['1', '2']");
  EXPECT_EQ(fs("map", J(R"([{"a": 1}, {}])"), {}, {{"attribute", S("a")}, {"default", I(0)}}), "[1, 0]");
  EXPECT_EQ(fs("map", J(R"([{"f": {"name": "x"}}])"), {}, {{"attribute", S("f.name")}}), "['x']");
  EXPECT_THROW(f("map", J("[1]")), EvalError);
  EXPECT_THROW(f("map", J("[1]"), {S("nosuchfilter")}), EvalError);
}

TEST(JinjaFilters, ListAndString) {
  EXPECT_EQ(fs("list", S("hé")), "['h', 'é']");
  EXPECT_EQ(fs("list", J(R"({"a": 1, "b": 2})")), "['a', 'b']");
  EXPECT_EQ(fs("list", Value::tuple({I(1)})), "[1]");
  EXPECT_EQ(fs("list", Value()), "[]");
  EXPECT_THROW(f("list", I(1)), EvalError);
  EXPECT_EQ(f("string", I(42)).as_string(), "42");
  EXPECT_EQ(f("string", Value::none()).as_string(), "None");
  EXPECT_EQ(f("string", J(R"(["a", 1])")).as_string(), "['a', 1]");
  EXPECT_EQ(f("string", Value::boolean(false)).as_string(), "False");
}

TEST(JinjaFilters, IntAndFloat) {
  EXPECT_EQ(f("int", S("42")).as_int(), 42);
  EXPECT_EQ(f("int", S("  -7 ")).as_int(), -7);
  EXPECT_EQ(f("int", S("1_000")).as_int(), 1000);
  EXPECT_EQ(f("int", S("3.99")).as_int(), 3);
  EXPECT_EQ(f("int", Value::number(-3.99)).as_int(), -3);  // truncates, like int()
  EXPECT_EQ(f("int", Value::boolean(true)).as_int(), 1);
  EXPECT_EQ(f("int", S("abc")).as_int(), 0);
  EXPECT_EQ(f("int", S("abc"), {I(-1)}).as_int(), -1);
  EXPECT_EQ(f("int", Value::none()).as_int(), 0);
  EXPECT_EQ(f("int", S("ff"), {I(0), I(16)}).as_int(), 255);
  EXPECT_EQ(f("int", S("0x1f"), {I(0)}, {{"base", I(16)}}).as_int(), 31);
  EXPECT_TRUE(f("int", I(5)).is_int());
  EXPECT_DOUBLE_EQ(f("float", S("2.5")).as_float(), 2.5);
  EXPECT_DOUBLE_EQ(f("float", I(2)).as_float(), 2.0);
  EXPECT_TRUE(f("float", I(2)).is_float());
  EXPECT_DOUBLE_EQ(f("float", S("x"), {Value::number(1.5)}).as_float(), 1.5);
}

TEST(JinjaFilters, AbsSafeAttr) {
  EXPECT_EQ(f("abs", I(-3)).as_int(), 3);
  EXPECT_DOUBLE_EQ(f("abs", Value::number(-2.5)).as_float(), 2.5);
  EXPECT_THROW(f("abs", S("x")), EvalError);
  EXPECT_EQ(f("safe", S("<b>")).as_string(), "<b>");
  EXPECT_EQ(f("attr", J(R"({"a": 1})"), {S("a")}).as_int(), 1);
}

TEST(JinjaFilters, Indent) {
  EXPECT_EQ(fs("indent", S("a\nb\n\nc")), "a\n    b\n\n    c");
  EXPECT_EQ(fs("indent", S("a\nb"), {I(2), Value::boolean(true)}), "  a\n  b");
  EXPECT_EQ(fs("indent", S("a\n\nb"), {I(2)}, {{"blank", Value::boolean(true)}}), "a\n  \n  b");
  EXPECT_EQ(fs("indent", S("a\nb"), {S("> ")}), "a\n> b");
  EXPECT_EQ(fs("indent", S("a\n")), "a\n");
}

TEST(JinjaFilters, ReverseSortUniqueDictsort) {
  EXPECT_EQ(fs("reverse", S("abc")), "cba");
  EXPECT_EQ(fs("reverse", J("[1, 2, 3]")), "[3, 2, 1]");
  EXPECT_EQ(fs("sort", J("[3, 1, 2]")), "[1, 2, 3]");
  EXPECT_EQ(fs("sort", J(R"(["b", "A", "c"])")), "['A', 'b', 'c']");
  EXPECT_EQ(fs("sort", J(R"(["b", "A", "a"])"), {}, {{"case_sensitive", Value::boolean(true)}}), "['A', 'a', 'b']");
  EXPECT_EQ(fs("sort", J("[3, 1, 2]"), {Value::boolean(true)}), "[3, 2, 1]");
  EXPECT_EQ(fs("sort", J(R"([{"p": 2, "n": "x"}, {"p": 1, "n": "y"}])"), {}, {{"attribute", S("p")}}),
            "[{'p': 1, 'n': 'y'}, {'p': 2, 'n': 'x'}]");
  EXPECT_THROW(f("sort", J(R"([1, "a"])")), EvalError);
  EXPECT_EQ(fs("unique", J(R"(["a", "A", "b", "a"])")), "['a', 'b']");
  EXPECT_EQ(fs("unique", J(R"(["a", "A"])"), {Value::boolean(true)}), "['a', 'A']");
  EXPECT_EQ(fs("dictsort", J(R"({"b": 1, "a": 2})")), "[('a', 2), ('b', 1)]");
  EXPECT_EQ(fs("dictsort", J(R"({"b": 1, "a": 2})"), {}, {{"by", S("value")}, {"reverse", Value::boolean(true)}}),
            "[('a', 2), ('b', 1)]");
}

TEST(JinjaFilters, NamesAndArguments) {
  EXPECT_TRUE(is_filter("tojson"));
  EXPECT_FALSE(is_filter("trimm"));
  EXPECT_THROW(f("trimm", S("x")), EvalError);
  EXPECT_THROW(f("upper", S("x"), {I(1)}), EvalError);
  EXPECT_THROW(f("tojson", S("x"), {}, {{"indnet", I(2)}}), EvalError);
}

}  // namespace
}  // namespace prefer::text::jinja
