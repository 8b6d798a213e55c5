// Python's operators on template values; expected results are what CPython gives for the same operands.
#include <gtest/gtest.h>

#include <climits>

#include "text/jinja_error.h"
#include "text/jinja_operators.h"
#include "jinja_values.h"

namespace prefer::text::jinja {
namespace {

Value F(double d) { return Value::number(d); }

std::string bin(BinaryOp op, const Value& a, const Value& b) { return to_repr(binary_op(op, a, b)); }

TEST(JinjaOperators, AddKeepsPythonTypes) {
  EXPECT_EQ(bin(BinaryOp::Add, I(2), I(3)), "5");
  EXPECT_EQ(bin(BinaryOp::Add, I(2), F(0.5)), "2.5");
  EXPECT_EQ(bin(BinaryOp::Add, Value::boolean(true), I(1)), "2");
  EXPECT_EQ(bin(BinaryOp::Add, S("ab"), S("cd")), "'abcd'");
  EXPECT_EQ(bin(BinaryOp::Add, Value::list({I(1)}), Value::list({I(2)})), "[1, 2]");
  EXPECT_EQ(bin(BinaryOp::Add, Value::tuple({I(1)}), Value::tuple({I(2)})), "(1, 2)");
  EXPECT_THROW(binary_op(BinaryOp::Add, S("a"), I(1)), EvalError);
  EXPECT_THROW(binary_op(BinaryOp::Add, Value::list({}), Value::tuple({})), EvalError);
  EXPECT_THROW(binary_op(BinaryOp::Add, Value::none(), I(1)), EvalError);
}

TEST(JinjaOperators, DivisionAndModulo) {
  EXPECT_EQ(bin(BinaryOp::Div, I(7), I(2)), "3.5");
  EXPECT_EQ(bin(BinaryOp::Div, I(4), I(2)), "2.0");
  EXPECT_EQ(bin(BinaryOp::FloorDiv, I(7), I(2)), "3");
  EXPECT_EQ(bin(BinaryOp::FloorDiv, I(-7), I(2)), "-4");
  EXPECT_EQ(bin(BinaryOp::FloorDiv, F(7.5), I(2)), "3.0");
  EXPECT_EQ(bin(BinaryOp::Mod, I(-7), I(3)), "2");
  EXPECT_EQ(bin(BinaryOp::Mod, I(7), I(-3)), "-2");
  EXPECT_EQ(bin(BinaryOp::Mod, F(-7.5), I(2)), "0.5");
  EXPECT_EQ(bin(BinaryOp::Mod, I(6), I(3)), "0");
  EXPECT_THROW(binary_op(BinaryOp::Div, I(1), I(0)), EvalError);
  EXPECT_THROW(binary_op(BinaryOp::FloorDiv, I(1), I(0)), EvalError);
  EXPECT_THROW(binary_op(BinaryOp::Mod, F(1), F(0)), EvalError);
  EXPECT_THROW(binary_op(BinaryOp::Mod, S("%s"), I(1)), EvalError);
}

TEST(JinjaOperators, PowerAndRepetition) {
  EXPECT_EQ(bin(BinaryOp::Pow, I(2), I(10)), "1024");
  EXPECT_EQ(bin(BinaryOp::Pow, I(-2), I(3)), "-8");
  EXPECT_EQ(bin(BinaryOp::Pow, I(0), I(0)), "1");
  EXPECT_EQ(bin(BinaryOp::Pow, I(2), I(-1)), "0.5");
  EXPECT_EQ(bin(BinaryOp::Pow, F(4), F(0.5)), "2.0");
  EXPECT_EQ(bin(BinaryOp::Pow, I(1), I(INT64_MAX)), "1");
  EXPECT_THROW(binary_op(BinaryOp::Pow, I(0), I(-1)), EvalError);
  EXPECT_THROW(binary_op(BinaryOp::Pow, I(3), I(41)), EvalError);  // 3**41 > 2**63
  EXPECT_EQ(bin(BinaryOp::Mul, S("ab"), I(3)), "'ababab'");
  EXPECT_EQ(bin(BinaryOp::Mul, I(2), Value::list({I(1)})), "[1, 1]");
  EXPECT_EQ(bin(BinaryOp::Mul, S("ab"), I(-1)), "''");
  EXPECT_EQ(bin(BinaryOp::Mul, F(1.5), I(2)), "3.0");
  EXPECT_THROW(binary_op(BinaryOp::Mul, S("a"), S("b")), EvalError);
}

TEST(JinjaOperators, OverflowIsAnError) {
  EXPECT_THROW(binary_op(BinaryOp::Add, I(INT64_MAX), I(1)), EvalError);
  EXPECT_THROW(binary_op(BinaryOp::Sub, I(INT64_MIN), I(1)), EvalError);
  EXPECT_THROW(binary_op(BinaryOp::Mul, I(INT64_MAX), I(2)), EvalError);
  EXPECT_THROW(binary_op(BinaryOp::FloorDiv, I(INT64_MIN), I(-1)), EvalError);
  EXPECT_THROW(unary_op(UnaryOp::Neg, I(INT64_MIN)), EvalError);
}

TEST(JinjaOperators, ConcatUsesStr) {
  EXPECT_EQ(binary_op(BinaryOp::Concat, S("n="), I(3)).as_string(), "n=3");
  EXPECT_EQ(binary_op(BinaryOp::Concat, Value::none(), Value::boolean(true)).as_string(), "NoneTrue");
  EXPECT_EQ(binary_op(BinaryOp::Concat, S("x"), Value()).as_string(), "x");
  EXPECT_EQ(binary_op(BinaryOp::Concat, F(1.0), Value::list({S("a")})).as_string(), "1.0['a']");
}

TEST(JinjaOperators, UndefinedOperandsNameTheVariable) {
  Value u = Value::undefined("'content' is undefined");
  try {
    binary_op(BinaryOp::Add, u, S("x"));
    FAIL();
  } catch (const EvalError& e) {
    EXPECT_STREQ(e.what(), "'content' is undefined");
  }
  EXPECT_THROW(compare_op(CompareOp::Lt, I(1), u), EvalError);
  EXPECT_THROW(unary_op(UnaryOp::Neg, u), EvalError);
  EXPECT_TRUE(unary_op(UnaryOp::Not, u).as_bool());
  EXPECT_FALSE(compare_op(CompareOp::Eq, u, I(1)));
  EXPECT_FALSE(compare_op(CompareOp::In, S("a"), u));
}

TEST(JinjaOperators, Comparisons) {
  EXPECT_TRUE(compare_op(CompareOp::Eq, I(1), F(1.0)));
  EXPECT_TRUE(compare_op(CompareOp::Ne, S("1"), I(1)));
  EXPECT_TRUE(compare_op(CompareOp::Le, S("abc"), S("abd")));
  EXPECT_TRUE(compare_op(CompareOp::Gt, F(2.5), I(2)));
  EXPECT_TRUE(compare_op(CompareOp::In, S("ell"), S("hello")));
  EXPECT_TRUE(compare_op(CompareOp::NotIn, I(3), Value::list({I(1), I(2)})));
  EXPECT_THROW(compare_op(CompareOp::Lt, S("a"), I(1)), EvalError);
  EXPECT_THROW(compare_op(CompareOp::In, I(1), S("1")), EvalError);
}

TEST(JinjaOperators, Unary) {
  EXPECT_EQ(to_repr(unary_op(UnaryOp::Neg, I(3))), "-3");
  EXPECT_EQ(to_repr(unary_op(UnaryOp::Neg, F(0.5))), "-0.5");
  EXPECT_EQ(to_repr(unary_op(UnaryOp::Neg, Value::boolean(true))), "-1");
  EXPECT_EQ(to_repr(unary_op(UnaryOp::Pos, Value::boolean(true))), "1");
  EXPECT_TRUE(unary_op(UnaryOp::Not, S("")).as_bool());
  EXPECT_FALSE(unary_op(UnaryOp::Not, Value::list({I(0)})).as_bool());
  EXPECT_THROW(unary_op(UnaryOp::Neg, S("x")), EvalError);
}

}  // namespace
}  // namespace prefer::text::jinja
