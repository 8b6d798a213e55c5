#include "text/jinja_operators.h"

#include <cmath>

#include "text/jinja_error.h"

namespace prefer::text::jinja {

[[noreturn]] void throw_undefined(const Value& u) {
  throw EvalError(u.undefined_hint().empty() ? "a value used here is undefined" : u.undefined_hint());
}

namespace {

constexpr size_t kMaxRepeatBytes = 1 << 26;  // "x" * n larger than this is refused

const char* op_text(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "+";
    case BinaryOp::Sub: return "-";
    case BinaryOp::Mul: return "*";
    case BinaryOp::Div: return "/";
    case BinaryOp::FloorDiv: return "//";
    case BinaryOp::Mod: return "%";
    case BinaryOp::Pow: return "**";
    default: return "?";
  }
}

[[noreturn]] void unsupported(BinaryOp op, const Value& a, const Value& b) {
  throw EvalError(std::string("unsupported operand type(s) for ") + op_text(op) + ": '" + type_name(a) + "' and '" +
                  type_name(b) + "'");
}

int64_t checked(bool overflow, int64_t v) {
  if (overflow) throw EvalError("integer overflow (template integers are 64-bit)");
  return v;
}

Value repeat(const Value& seq, int64_t n) {
  if (n <= 0) return seq.is_string() ? Value::string("") : seq.is_tuple() ? Value::tuple({}) : Value::list({});
  size_t unit = seq.is_string() ? seq.as_string().size() : seq.as_list().size() * sizeof(Value);
  if (unit * static_cast<size_t>(n) > kMaxRepeatBytes) throw EvalError("repetition result too large");
  if (seq.is_string()) {
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += seq.as_string();
    return Value::string(std::move(out));
  }
  std::vector<Value> out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
  return seq.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

}  // namespace

Value binary_op(BinaryOp op, const Value& a, const Value& b) {
  if (op == BinaryOp::Concat) return Value::string(to_str(a) + to_str(b));
  if (a.is_undefined()) throw_undefined(a);
  if (b.is_undefined()) throw_undefined(b);
  bool nums = a.is_number() && b.is_number();
  bool ints = nums && !a.is_float() && !b.is_float();
  switch (op) {
    case BinaryOp::Add:
      if (ints) {
        int64_t r = 0;
        bool overflow = __builtin_add_overflow(a.as_int(), b.as_int(), &r);
        return Value::integer(checked(overflow, r));
      }
      if (nums) return Value::number(a.as_float() + b.as_float());
      if (a.is_string() && b.is_string()) return Value::string(a.as_string() + b.as_string());
      if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
        std::vector<Value> out = a.as_list();
        out.insert(out.end(), b.as_list().begin(), b.as_list().end());
        return a.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
      }
      break;
    case BinaryOp::Sub:
      if (ints) {
        int64_t r = 0;
        bool overflow = __builtin_sub_overflow(a.as_int(), b.as_int(), &r);
        return Value::integer(checked(overflow, r));
      }
      if (nums) return Value::number(a.as_float() - b.as_float());
      break;
    case BinaryOp::Mul:
      if (ints) {
        int64_t r = 0;
        bool overflow = __builtin_mul_overflow(a.as_int(), b.as_int(), &r);
        return Value::integer(checked(overflow, r));
      }
      if (nums) return Value::number(a.as_float() * b.as_float());
      if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return repeat(a, b.as_int());
      if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return repeat(b, a.as_int());
      break;
    case BinaryOp::Div:
      if (nums) {
        if (b.as_float() == 0) throw EvalError("division by zero");
        return Value::number(a.as_float() / b.as_float());
      }
      break;
    case BinaryOp::FloorDiv:
    case BinaryOp::Mod:
      if (ints) {
        int64_t x = a.as_int(), y = b.as_int();
        if (y == 0) throw EvalError("integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) throw EvalError("integer overflow (template integers are 64-bit)");
        int64_t q = x / y, r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) --q, r += y;  // Python floors toward negative infinity
        return Value::integer(op == BinaryOp::FloorDiv ? q : r);
      }
      if (nums) {
        double x = a.as_float(), y = b.as_float();
        if (y == 0) throw EvalError("float division by zero");
        if (op == BinaryOp::FloorDiv) return Value::number(std::floor(x / y));
        double r = std::fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return Value::number(r);
      }
      if (op == BinaryOp::Mod && a.is_string())
        throw EvalError("printf-style string formatting ('...' % x) is not supported in chat templates");
      break;
    case BinaryOp::Pow:
      if (ints && b.as_int() >= 0) {
        // Exponentiation by squaring; the square is only needed (and checked) while bits remain.
        int64_t base = a.as_int(), e = b.as_int(), r = 1;
        while (e > 0) {
          if (e & 1) checked(__builtin_mul_overflow(r, base, &r), 0);
          e >>= 1;
          if (e > 0) checked(__builtin_mul_overflow(base, base, &base), 0);
        }
        return Value::integer(r);
      }
      if (nums) {
        if (a.as_float() == 0 && b.as_float() < 0) throw EvalError("0.0 cannot be raised to a negative power");
        return Value::number(std::pow(a.as_float(), b.as_float()));
      }
      break;
    default:
      break;
  }
  unsupported(op, a, b);
}

bool compare_op(CompareOp op, const Value& a, const Value& b) {
  switch (op) {
    case CompareOp::Eq: return values_equal(a, b);
    case CompareOp::Ne: return !values_equal(a, b);
    case CompareOp::In: return value_contains(b, a);
    case CompareOp::NotIn: return !value_contains(b, a);
    default: break;
  }
  if (a.is_undefined()) throw_undefined(a);
  if (b.is_undefined()) throw_undefined(b);
  int c = compare_values(a, b);
  switch (op) {
    case CompareOp::Lt: return c < 0;
    case CompareOp::Le: return c <= 0;
    case CompareOp::Gt: return c > 0;
    default: return c >= 0;
  }
}

Value unary_op(UnaryOp op, const Value& v) {
  if (op == UnaryOp::Not) return Value::boolean(!v.truthy());
  if (v.is_undefined()) throw_undefined(v);
  if (v.is_float()) return Value::number(op == UnaryOp::Neg ? -v.as_float() : v.as_float());
  if (v.is_int() || v.is_bool()) {
    if (op == UnaryOp::Pos) return Value::integer(v.as_int());
    if (v.as_int() == INT64_MIN) throw EvalError("integer overflow (template integers are 64-bit)");
    return Value::integer(-v.as_int());
  }
  throw EvalError(std::string("bad operand type for unary ") + (op == UnaryOp::Neg ? "-" : "+") + ": '" + type_name(v) + "'");
}

}  // namespace prefer::text::jinja
