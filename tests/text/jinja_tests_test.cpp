// Jinja tests (`x is ...`) with the results Python Jinja2 gives.
#include <gtest/gtest.h>

#include "text/jinja_error.h"
#include "text/jinja_tests.h"
#include "jinja_values.h"

namespace prefer::text::jinja {
namespace {

bool is(const char* test, const Value& v, std::vector<Value> args = {}) {
  return apply_test(test, v, CallArgs{std::move(args), {}});
}

TEST(JinjaTests, DefinedAndNone) {
  EXPECT_TRUE(is("defined", Value::none()));
  EXPECT_FALSE(is("defined", Value()));
  EXPECT_TRUE(is("undefined", Value()));
  EXPECT_TRUE(is("none", Value::none()));
  EXPECT_FALSE(is("none", Value()));
  EXPECT_FALSE(is("none", S("")));
}

TEST(JinjaTests, Types) {
  EXPECT_TRUE(is("string", S("")));
  EXPECT_FALSE(is("string", I(1)));
  EXPECT_TRUE(is("mapping", Value::dict({})));
  EXPECT_FALSE(is("mapping", Value::make_namespace({})));
  EXPECT_FALSE(is("mapping", Value::list({})));
  EXPECT_TRUE(is("number", Value::boolean(true)));  // bool is a number in Python
  EXPECT_TRUE(is("number", Value::number(1.5)));
  EXPECT_TRUE(is("integer", I(3)));
  EXPECT_FALSE(is("integer", Value::boolean(true)));
  EXPECT_FALSE(is("integer", Value::number(3.0)));
  EXPECT_TRUE(is("float", Value::number(3.0)));
  EXPECT_TRUE(is("boolean", Value::boolean(false)));
  EXPECT_FALSE(is("boolean", I(0)));
  EXPECT_TRUE(is("true", Value::boolean(true)));
  EXPECT_FALSE(is("true", I(1)));
  EXPECT_TRUE(is("false", Value::boolean(false)));
  EXPECT_FALSE(is("false", Value::none()));
  EXPECT_TRUE(is("callable", Value::callable("f", [](CallArgs&) { return Value(); })));
  EXPECT_FALSE(is("callable", S("f")));
}

TEST(JinjaTests, IterableAndSequence) {
  for (const Value& v : {S("ab"), Value::list({}), Value::tuple({}), Value::dict({}), Value()}) {
    EXPECT_TRUE(is("iterable", v)) << to_repr(v);
    EXPECT_TRUE(is("sequence", v)) << to_repr(v);
  }
  for (const Value& v : {I(1), Value::none(), Value::boolean(true), Value::make_namespace({})}) {
    EXPECT_FALSE(is("iterable", v)) << to_repr(v);
    EXPECT_FALSE(is("sequence", v)) << to_repr(v);
  }
}

TEST(JinjaTests, Numbers) {
  EXPECT_TRUE(is("odd", I(3)));
  EXPECT_TRUE(is("odd", I(-3)));
  EXPECT_TRUE(is("even", I(0)));
  EXPECT_FALSE(is("even", I(7)));
  EXPECT_TRUE(is("divisibleby", I(9), {I(3)}));
  EXPECT_FALSE(is("divisibleby", I(9), {I(2)}));
  EXPECT_THROW(is("divisibleby", I(9), {I(0)}), EvalError);
  EXPECT_THROW(is("odd", S("3")), EvalError);
  EXPECT_THROW(is("divisibleby", I(9)), EvalError);
}

TEST(JinjaTests, Comparisons) {
  EXPECT_TRUE(is("eq", I(1), {Value::number(1.0)}));
  EXPECT_TRUE(is("equalto", S("user"), {S("user")}));
  EXPECT_TRUE(is("==", S("a"), {S("a")}));
  EXPECT_TRUE(is("ne", S("a"), {S("b")}));
  EXPECT_TRUE(is("lt", I(1), {I(2)}));
  EXPECT_TRUE(is("lessthan", I(1), {I(2)}));
  EXPECT_TRUE(is("ge", I(2), {I(2)}));
  EXPECT_TRUE(is("greaterthan", I(3), {I(2)}));
  EXPECT_THROW(is("lt", S("a"), {I(2)}), EvalError);
  EXPECT_TRUE(is("in", S("b"), {S("abc")}));
  EXPECT_TRUE(is("in", I(2), {Value::list({I(1), I(2)})}));
  EXPECT_FALSE(is("in", S("k"), {Value::dict({})}));
}

TEST(JinjaTests, CaseAndIdentity) {
  EXPECT_TRUE(is("lower", S("abc def")));
  EXPECT_FALSE(is("lower", S("Abc")));
  EXPECT_TRUE(is("upper", S("ABC")));
  EXPECT_TRUE(is("sameas", Value::none(), {Value::none()}));
  EXPECT_TRUE(is("sameas", Value::boolean(false), {Value::boolean(false)}));
  EXPECT_FALSE(is("sameas", I(0), {Value::boolean(false)}));
  Value l = Value::list({});
  EXPECT_TRUE(is("sameas", l, {l}));
  EXPECT_FALSE(is("sameas", l, {Value::list({})}));
}

TEST(JinjaTests, Names) {
  EXPECT_TRUE(is_test("defined"));
  EXPECT_TRUE(is_test("equalto"));
  EXPECT_FALSE(is_test("nonesuch"));
  EXPECT_THROW(is("nonesuch", I(1)), EvalError);
  EXPECT_THROW(is("string", S("x"), {I(1)}), EvalError);  // takes no argument
}

}  // namespace
}  // namespace prefer::text::jinja
