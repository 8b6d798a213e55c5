// The expression grammar: trees printed as S-expressions pin Jinja2's precedence; errors pin positions.
#include "test_util.h"
#include "text/jinja_expression_parser.h"

namespace prefer::text::jinja {
namespace {

std::string show(const Expr& e);

std::string show_args(const Arguments& a) {
  std::string s;
  for (const auto& p : a.positional) s += " " + show(*p);
  for (const auto& [k, v] : a.keyword) s += " " + k + "=" + show(*v);
  return s;
}

std::string show(const Expr& e) {
  return std::visit(
      [](const auto& n) -> std::string {
        using T = std::decay_t<decltype(n)>;
        if constexpr (std::is_same_v<T, ast::Literal>) return to_repr(n.value);
        else if constexpr (std::is_same_v<T, ast::Name>) return n.name;
        else if constexpr (std::is_same_v<T, ast::ListLiteral>) {
          std::string s = n.tuple ? "(tuple" : "(list";
          for (const auto& i : n.items) s += " " + show(*i);
          return s + ")";
        } else if constexpr (std::is_same_v<T, ast::DictLiteral>) {
          std::string s = "(dict";
          for (const auto& [k, v] : n.items) s += " " + show(*k) + ":" + show(*v);
          return s + ")";
        } else if constexpr (std::is_same_v<T, ast::GetAttr>) return "(. " + show(*n.object) + " " + n.attr + ")";
        else if constexpr (std::is_same_v<T, ast::GetItem>) return "([] " + show(*n.object) + " " + show(*n.key) + ")";
        else if constexpr (std::is_same_v<T, ast::Slice>) {
          auto part = [](const ExprPtr& p) { return p ? show(*p) : std::string("_"); };
          return "(slice " + show(*n.object) + " " + part(n.start) + " " + part(n.stop) + " " + part(n.step) + ")";
        } else if constexpr (std::is_same_v<T, ast::Call>) return "(call " + show(*n.callee) + show_args(n.args) + ")";
        else if constexpr (std::is_same_v<T, ast::Filter>)
          return "(| " + show(*n.operand) + " " + n.filter.name + show_args(n.filter.args) + ")";
        else if constexpr (std::is_same_v<T, ast::Test>)
          return std::string(n.negated ? "(is-not " : "(is ") + show(*n.operand) + " " + n.test.name + show_args(n.test.args) + ")";
        else if constexpr (std::is_same_v<T, ast::Unary>)
          return std::string(n.op == UnaryOp::Not ? "(not " : n.op == UnaryOp::Neg ? "(neg " : "(pos ") + show(*n.operand) + ")";
        else if constexpr (std::is_same_v<T, ast::Binary>) {
          static const char* ops[] = {"+", "-", "*", "/", "//", "%", "**", "~", "and", "or"};
          return std::string("(") + ops[static_cast<int>(n.op)] + " " + show(*n.left) + " " + show(*n.right) + ")";
        } else if constexpr (std::is_same_v<T, ast::Compare>) {
          static const char* ops[] = {"==", "!=", "<", "<=", ">", ">=", "in", "not-in"};
          std::string s = "(cmp " + show(*n.first);
          for (const auto& [op, x] : n.rest) s += std::string(" ") + ops[static_cast<int>(op)] + " " + show(*x);
          return s + ")";
        } else {
          return "(if " + show(*n.test) + " " + show(*n.then) + " " + (n.otherwise ? show(*n.otherwise) : "_") + ")";
        }
      },
      e.node);
}

// The tree of `{{ src }}`.
std::string expr(const std::string& src) {
  TokenCursor c(tokenize("{{ " + src + " }}", "t"), "t");
  ExpressionParser x(c);
  c.next();  // {{
  ExprPtr e = x.tuple(true, false);
  if (c.peek().kind != TokenKind::VariableEnd) c.fail(c.peek(), "expected '}}', got " + describe(c.peek()));
  return show(*e);
}

TEST(JinjaExpressionParser, ArithmeticPrecedence) {
  EXPECT_EQ(expr("1 + 2 * 3"), "(+ 1 (* 2 3))");
  EXPECT_EQ(expr("1 - 2 - 3"), "(- (- 1 2) 3)");
  EXPECT_EQ(expr("a ~ b + c"), "(+ (~ a b) c)");  // Jinja2: `~` binds tighter than `+`, looser than `*`
  EXPECT_EQ(expr("a + b ~ c * d"), "(+ a (~ b (* c d)))");
  EXPECT_EQ(expr("2 ** 3 ** 2"), "(** (** 2 3) 2)");  // Jinja2's ** is left-associative
  EXPECT_EQ(expr("-2 ** 2"), "(** (neg 2) 2)");
  EXPECT_EQ(expr("a // b % c"), "(% (// a b) c)");
}

TEST(JinjaExpressionParser, FiltersAndTestsBindTighterThanOperators) {
  EXPECT_EQ(expr("messages|length - 1"), "(- (| messages length) 1)");
  EXPECT_EQ(expr("'a' + x|trim + 'b'"), "(+ (+ 'a' (| x trim)) 'b')");
  EXPECT_EQ(expr("-x|abs"), "(| (neg x) abs)");
  EXPECT_EQ(expr("x | default('d') | upper"), "(| (| x default 'd') upper)");
  EXPECT_EQ(expr("x|tojson(indent=2)"), "(| x tojson indent=2)");
  EXPECT_EQ(expr("not x is defined"), "(not (is x defined))");
  EXPECT_EQ(expr("x is not none and y"), "(and (is-not x none) y)");
  EXPECT_EQ(expr("n is divisibleby 3"), "(is n divisibleby 3)");
  EXPECT_EQ(expr("x is sameas none"), "(is x sameas None)");
  EXPECT_EQ(expr("x is eq(1) or y"), "(or (is x eq 1) y)");
}

TEST(JinjaExpressionParser, LogicAndComparison) {
  EXPECT_EQ(expr("a or b and not c"), "(or a (and b (not c)))");
  EXPECT_EQ(expr("not a == b"), "(not (cmp a == b))");
  EXPECT_EQ(expr("a < b <= c"), "(cmp a < b <= c)");
  EXPECT_EQ(expr("'x' in y and 'z' not in w"), "(and (cmp 'x' in y) (cmp 'z' not-in w))");
  EXPECT_EQ(expr("not(a.startswith('<') and b)"), "(not (and (call (. a startswith) '<') b))");
}

TEST(JinjaExpressionParser, Conditionals) {
  EXPECT_EQ(expr("a if c else b"), "(if c a b)");
  EXPECT_EQ(expr("a if c"), "(if c a _)");
  EXPECT_EQ(expr("a if c else b if d else e"), "(if c a (if d b e))");
  EXPECT_EQ(expr("(first_user_prefix if loop.first else '')"), "(if (. loop first) first_user_prefix '')");
}

TEST(JinjaExpressionParser, PostfixChains) {
  EXPECT_EQ(expr("messages[0]['content'][1:].strip()"), "(call (. (slice ([] ([] messages 0) 'content') 1 _ _) strip))");
  EXPECT_EQ(expr("x[::-1]"), "(slice x _ _ (neg 1))");
  EXPECT_EQ(expr("x[:2]"), "(slice x _ 2 _)");
  EXPECT_EQ(expr("x[a:b:c]"), "(slice x a b c)");
  EXPECT_EQ(expr("x.0.name"), "(. ([] x 0) name)");
  EXPECT_EQ(expr("f(1, b=2)(3)"), "(call (call f 1 b=2) 3)");
}

TEST(JinjaExpressionParser, Literals) {
  EXPECT_EQ(expr("[1, 'a', true, none, 2.5]"), "(list 1 'a' True None 2.5)");
  EXPECT_EQ(expr("[1, 2,]"), "(list 1 2)");
  EXPECT_EQ(expr("{'a': 1, 'b': [x]}"), "(dict 'a':1 'b':(list x))");
  EXPECT_EQ(expr("(1, 2)"), "(tuple 1 2)");
  EXPECT_EQ(expr("(1,)"), "(tuple 1)");
  EXPECT_EQ(expr("()"), "(tuple)");
  EXPECT_EQ(expr("a, b"), "(tuple a b)");
  EXPECT_EQ(expr("'a' \"b\""), "'ab'");
  EXPECT_EQ(expr("True"), "True");
}

TEST(JinjaExpressionParser, ErrorsHaveLineAndColumn) {
  EXPECT_ERROR_WITH(expr("x |\n trimm"), "t:2:", "column 2", "unknown filter 'trimm'", "did you mean 'trim'?");
  EXPECT_ERROR_WITH(expr("x is stringg"), "column 9", "unknown test 'stringg'", "did you mean 'string'?");
  EXPECT_ERROR_WITH(expr("1 +"), "column 8", "expected an expression, got '}}'");
  EXPECT_ERROR_WITH(expr("a b"), "column 6", "expected '}}', got 'b'");
  EXPECT_ERROR_WITH(expr("f(a=1, 2)"), "positional argument follows keyword argument");
  EXPECT_ERROR_WITH(expr("f(*args)"), "argument unpacking");
  EXPECT_ERROR_WITH(expr("x[1, 2]"), "tuple indices");
  EXPECT_ERROR_WITH(expr("99999999999999999999"), "too large");
  EXPECT_ERROR_WITH(expr(std::string(300, '(') + "1" + std::string(300, ')')), "nested too deeply");
}

}  // namespace
}  // namespace prefer::text::jinja
