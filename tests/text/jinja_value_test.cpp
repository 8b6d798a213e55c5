// Template values: Python's str/repr, equality, ordering and truthiness, by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "text/jinja_error.h"
#include "text/jinja_value.h"
#include "jinja_values.h"

namespace prefer::text::jinja {
namespace {

using OJson = nlohmann::ordered_json;


TEST(JinjaValue, FromJsonKeepsKeyOrderAndNumberKinds) {
  Value v = Value::from_json(OJson::parse(R"({"z": 1, "a": 2.0, "m": [true, null, "x"], "big": 18446744073709551615})"));
  ASSERT_TRUE(v.is_dict());
  const auto& e = v.as_dict().entries();
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].first, "z");
  EXPECT_EQ(e[1].first, "a");
  EXPECT_TRUE(e[0].second.is_int());
  EXPECT_TRUE(e[1].second.is_float());  // 2.0 stays a float, as Python's json.loads reads it
  EXPECT_TRUE(e[2].second.as_list()[1].is_none());
  EXPECT_TRUE(e[3].second.is_float());  // beyond int64
}

TEST(JinjaValue, StrIsPythons) {
  EXPECT_EQ(to_str(Value()), "");
  EXPECT_EQ(to_str(Value::none()), "None");
  EXPECT_EQ(to_str(Value::boolean(true)), "True");
  EXPECT_EQ(to_str(I(-42)), "-42");
  EXPECT_EQ(to_str(S("x")), "x");
  EXPECT_EQ(to_str(Value::list({I(1), S("a"), Value::none(), Value::boolean(false)})), "[1, 'a', None, False]");
  EXPECT_EQ(to_str(Value::tuple({I(1)})), "(1,)");
  EXPECT_EQ(to_str(Value::tuple({})), "()");
  ValueDict d;
  d.set("b", S("it's"));
  d.set("a", Value::list({}));
  EXPECT_EQ(to_str(Value::dict(d)), "{'b': \"it's\", 'a': []}");
  EXPECT_EQ(to_str(Value::make_namespace(d)), "<Namespace {'b': \"it's\", 'a': []}>");
  EXPECT_EQ(to_repr(S("q")), "'q'");
  EXPECT_EQ(to_repr(Value()), "Undefined");
}

TEST(JinjaValue, FloatsPrintLikePythonRepr) {
  EXPECT_EQ(format_float(1.0), "1.0");
  EXPECT_EQ(format_float(0.1), "0.1");
  EXPECT_EQ(format_float(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(format_float(-2.5), "-2.5");
  EXPECT_EQ(format_float(1e16), "1e+16");
  EXPECT_EQ(format_float(1e15), "1000000000000000.0");
  EXPECT_EQ(format_float(123456789.125), "123456789.125");
  EXPECT_EQ(format_float(0.0001), "0.0001");
  EXPECT_EQ(format_float(0.00001), "1e-05");
  EXPECT_EQ(format_float(2.5e-7), "2.5e-07");
  EXPECT_EQ(format_float(1.5e300), "1.5e+300");
  EXPECT_EQ(format_float(-0.0), "-0.0");
  EXPECT_EQ(format_float(INFINITY), "inf");
  EXPECT_EQ(format_float(-INFINITY), "-inf");
  EXPECT_EQ(format_float(NAN), "nan");
}

TEST(JinjaValue, Truthiness) {
  for (const Value& v : {Value(), Value::none(), Value::boolean(false), I(0), Value::number(0.0), S(""),
                         Value::list({}), Value::dict({})})
    EXPECT_FALSE(v.truthy()) << to_repr(v);
  for (const Value& v : {Value::boolean(true), I(-1), Value::number(0.5), S(" "), Value::list({Value::none()}),
                         Value::make_namespace({})})
    EXPECT_TRUE(v.truthy()) << to_repr(v);
}

TEST(JinjaValue, EqualityIsPythons) {
  EXPECT_TRUE(values_equal(I(1), Value::number(1.0)));
  EXPECT_TRUE(values_equal(Value::boolean(true), I(1)));
  EXPECT_FALSE(values_equal(S("1"), I(1)));
  EXPECT_TRUE(values_equal(Value::list({I(1), S("a")}), Value::list({I(1), S("a")})));
  EXPECT_FALSE(values_equal(Value::list({I(1)}), Value::tuple({I(1)})));
  ValueDict a, b;
  a.set("x", I(1));
  a.set("y", I(2));
  b.set("y", I(2));
  b.set("x", I(1));
  EXPECT_TRUE(values_equal(Value::dict(a), Value::dict(b)));  // order does not matter for ==
  b.set("x", I(3));
  EXPECT_FALSE(values_equal(Value::dict(a), Value::dict(b)));
  EXPECT_TRUE(values_equal(Value(), Value()));
  EXPECT_FALSE(values_equal(Value(), Value::none()));
  Value ns1 = Value::make_namespace({}), ns2 = Value::make_namespace({});
  EXPECT_TRUE(values_equal(ns1, ns1));
  EXPECT_FALSE(values_equal(ns1, ns2));
}

TEST(JinjaValue, Ordering) {
  EXPECT_LT(compare_values(I(1), Value::number(1.5)), 0);
  EXPECT_GT(compare_values(S("b"), S("a")), 0);
  EXPECT_LT(compare_values(S("Z"), S("a")), 0);  // code point order
  EXPECT_LT(compare_values(S("z"), S("é")), 0);
  EXPECT_LT(compare_values(Value::list({I(1), I(2)}), Value::list({I(1), I(3)})), 0);
  EXPECT_LT(compare_values(Value::list({I(1)}), Value::list({I(1), I(0)})), 0);
  EXPECT_EQ(compare_values(Value::boolean(true), I(1)), 0);
  EXPECT_THROW(compare_values(S("a"), I(1)), EvalError);
  EXPECT_THROW(compare_values(Value::none(), Value::none()), EvalError);
}

TEST(JinjaValue, Membership) {
  EXPECT_TRUE(value_contains(S("concatenate"), S("cat")));
  EXPECT_TRUE(value_contains(Value::list({I(1), I(2)}), Value::number(2.0)));
  ValueDict d;
  d.set("k", I(1));
  EXPECT_TRUE(value_contains(Value::dict(d), S("k")));
  EXPECT_FALSE(value_contains(Value::dict(d), S("v")));
  EXPECT_FALSE(value_contains(Value(), S("x")));
  EXPECT_THROW(value_contains(S("abc"), I(1)), EvalError);
  EXPECT_THROW(value_contains(I(5), I(1)), EvalError);
}

TEST(JinjaValue, Iterate) {
  EXPECT_EQ(iterate(S("hé")).size(), 2u);
  EXPECT_EQ(iterate(S("hé"))[1].as_string(), "é");
  ValueDict d;
  d.set("b", I(1));
  d.set("a", I(2));
  std::vector<Value> keys = iterate(Value::dict(d));
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].as_string(), "b");
  EXPECT_TRUE(iterate(Value()).empty());
  EXPECT_THROW(iterate(I(3)), EvalError);
  EXPECT_THROW(iterate(Value::none()), EvalError);
}

TEST(JinjaValue, BoundArgs) {
  CallArgs args;
  args.positional = {I(4)};
  args.keyword = {{"first", Value::boolean(true)}};
  BoundArgs a("indent", args, {"width", "first", "blank"});
  EXPECT_EQ(a.int_or(0, 0), 4);
  EXPECT_TRUE(a.bool_or(1, false));
  EXPECT_FALSE(a.given(2));
  EXPECT_EQ(a.get(2), nullptr);
  EXPECT_EQ(a.get_or(2, S("d")).as_string(), "d");

  CallArgs bad_kw;
  bad_kw.keyword = {{"nope", I(1)}};
  EXPECT_THROW(BoundArgs("f", bad_kw, {"a"}), EvalError);
  CallArgs too_many;
  too_many.positional = {I(1), I(2)};
  EXPECT_THROW(BoundArgs("f", too_many, {"a"}), EvalError);
  CallArgs twice;
  twice.positional = {I(1)};
  twice.keyword = {{"a", I(2)}};
  EXPECT_THROW(BoundArgs("f", twice, {"a"}), EvalError);
  CallArgs wrong_type;
  wrong_type.positional = {S("x")};
  EXPECT_THROW(BoundArgs("f", wrong_type, {"a"}).int_or(0, 0), EvalError);
}

}  // namespace
}  // namespace prefer::text::jinja
