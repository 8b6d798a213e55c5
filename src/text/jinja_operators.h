// Python's operators on template values, as Jinja2 evaluates them: `+` adds numbers and concatenates
// strings, lists and tuples (a string and a number is an error, as in Python); `*` also repeats strings
// and lists; `/` always gives a float; `//` and `%` round toward negative infinity; `**` on integers stays
// an integer; `~` joins the str() of both sides (undefined is ""). Comparisons follow values_equal and
// compare_values; `in` follows value_contains. Undefined operands of arithmetic and ordering are errors
// that name the variable. Integers are 64-bit: overflow is an error.
#pragma once

#include "text/jinja_value.h"

namespace prefer::text::jinja {

enum class UnaryOp { Not, Neg, Pos };
enum class BinaryOp { Add, Sub, Mul, Div, FloorDiv, Mod, Pow, Concat, And, Or };
enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };

Value unary_op(UnaryOp op, const Value& v);
// Arithmetic and `~`; And/Or short-circuit, so the interpreter evaluates them itself.
Value binary_op(BinaryOp op, const Value& a, const Value& b);
bool compare_op(CompareOp op, const Value& a, const Value& b);
// EvalError with the undefined value's hint ("'x' is undefined").
[[noreturn]] void throw_undefined(const Value& u);

}  // namespace prefer::text::jinja
