#include "text/jinja_expression_parser.h"

#include <charconv>

#include "text/jinja_filters.h"
#include "text/jinja_tests.h"
#include "util/strings.h"

namespace prefer::text::jinja {

namespace {

constexpr int kMaxNesting = 200;  // deeper expressions or blocks than this are an error

template <typename Node>
ExprPtr make_expr(SourcePos pos, Node node) {
  auto e = std::make_unique<Expr>();
  e->pos = pos;
  e->node = std::move(node);
  return e;
}

}  // namespace

// ---- TokenCursor ------------------------------------------------------------------------------------

const Token& TokenCursor::next() {
  const Token& t = toks_[i_];
  if (i_ + 1 < toks_.size()) ++i_;
  return t;
}

bool TokenCursor::skip_op(const char* op) { return is_op(op) ? (next(), true) : false; }
bool TokenCursor::skip_name(const char* name) { return is_name(name) ? (next(), true) : false; }

void TokenCursor::fail(const Token& at, const std::string& message, std::string hint) const {
  throw template_error(origin_, at.pos, message, std::move(hint));
}

void TokenCursor::expect_op(const char* op) {
  if (!skip_op(op)) fail(peek(), std::string("expected '") + op + "', got " + describe(peek()));
}

const Token& TokenCursor::expect_name() {
  if (peek().kind != TokenKind::Name) fail(peek(), "expected a name, got " + describe(peek()));
  return next();
}

void TokenCursor::expect_block_end() {
  if (peek().kind != TokenKind::BlockEnd) fail(peek(), "expected '%}', got " + describe(peek()));
  next();
}

TokenCursor::Nest::Nest(TokenCursor& c, const Token& at) : c_(c) {
  if (++c_.nesting_ > kMaxNesting) {
    --c_.nesting_;
    c_.fail(at, "template nested too deeply");
  }
}

bool is_keyword(const std::string& s) {
  return s == "and" || s == "or" || s == "not" || s == "in" || s == "is" || s == "if" || s == "else";
}

// ---- ExpressionParser -------------------------------------------------------------------------------

ExprPtr ExpressionParser::expression(bool with_condexpr) { return with_condexpr ? condexpr() : or_expr(); }

ExprPtr ExpressionParser::tuple(bool with_condexpr, bool explicit_parens, std::initializer_list<const char*> extra_ends) {
  SourcePos pos = c_.peek().pos;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  auto at_end = [&] {
    const Token& t = c_.peek();
    if (t.kind == TokenKind::VariableEnd || t.kind == TokenKind::BlockEnd || c_.is_op(")")) return true;
    for (const char* e : extra_ends)
      if (c_.is_name(e)) return true;
    return false;
  };
  while (true) {
    if (!items.empty()) c_.expect_op(",");
    if (at_end()) break;
    items.push_back(expression(with_condexpr));
    if (c_.is_op(",")) is_tuple = true;
    else break;
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items[0]);
    if (!explicit_parens) c_.fail(c_.peek(), "expected an expression, got " + describe(c_.peek()));
  }
  return make_expr(pos, ast::ListLiteral{std::move(items), true});
}

ExprPtr ExpressionParser::condexpr() {
  TokenCursor::Nest nest(c_, c_.peek());
  ExprPtr e = or_expr();
  while (c_.is_name("if")) {
    SourcePos pos = c_.next().pos;
    ExprPtr test = or_expr();
    ExprPtr otherwise = c_.skip_name("else") ? condexpr() : nullptr;
    e = make_expr(pos, ast::Conditional{std::move(e), std::move(test), std::move(otherwise)});
  }
  return e;
}

ExprPtr ExpressionParser::or_expr() {
  ExprPtr left = and_expr();
  while (c_.is_name("or")) {
    SourcePos pos = c_.next().pos;
    left = make_expr(pos, ast::Binary{BinaryOp::Or, std::move(left), and_expr()});
  }
  return left;
}

ExprPtr ExpressionParser::and_expr() {
  ExprPtr left = not_expr();
  while (c_.is_name("and")) {
    SourcePos pos = c_.next().pos;
    left = make_expr(pos, ast::Binary{BinaryOp::And, std::move(left), not_expr()});
  }
  return left;
}

ExprPtr ExpressionParser::not_expr() {
  if (c_.is_name("not")) {
    TokenCursor::Nest nest(c_, c_.peek());
    SourcePos pos = c_.next().pos;
    return make_expr(pos, ast::Unary{UnaryOp::Not, not_expr()});
  }
  return compare();
}

ExprPtr ExpressionParser::compare() {
  SourcePos pos = c_.peek().pos;
  ExprPtr first = math1();
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
  while (true) {
    CompareOp op;
    const Token& t = c_.peek();
    if (t.kind == TokenKind::Operator && (t.value == "==" || t.value == "!=" || t.value == "<" || t.value == "<=" ||
                                          t.value == ">" || t.value == ">=")) {
      op = t.value == "==" ? CompareOp::Eq : t.value == "!=" ? CompareOp::Ne : t.value == "<" ? CompareOp::Lt
         : t.value == "<=" ? CompareOp::Le : t.value == ">" ? CompareOp::Gt : CompareOp::Ge;
      if (rest.empty()) pos = t.pos;
      c_.next();
    } else if (c_.is_name("in")) {
      if (rest.empty()) pos = t.pos;
      c_.next();
      op = CompareOp::In;
    } else if (c_.is_name("not") && c_.is_name("in", 1)) {
      if (rest.empty()) pos = t.pos;
      c_.next(), c_.next();
      op = CompareOp::NotIn;
    } else {
      break;
    }
    rest.emplace_back(op, math1());
  }
  if (rest.empty()) return first;
  return make_expr(pos, ast::Compare{std::move(first), std::move(rest)});
}

ExprPtr ExpressionParser::math1() {
  ExprPtr left = concat();
  while (c_.is_op("+") || c_.is_op("-")) {
    const Token& t = c_.next();
    BinaryOp op = t.value == "+" ? BinaryOp::Add : BinaryOp::Sub;
    left = make_expr(t.pos, ast::Binary{op, std::move(left), concat()});
  }
  return left;
}

ExprPtr ExpressionParser::concat() {
  ExprPtr left = math2();
  while (c_.is_op("~")) {
    SourcePos pos = c_.next().pos;
    left = make_expr(pos, ast::Binary{BinaryOp::Concat, std::move(left), math2()});
  }
  return left;
}

ExprPtr ExpressionParser::math2() {
  ExprPtr left = power();
  while (c_.is_op("*") || c_.is_op("/") || c_.is_op("//") || c_.is_op("%")) {
    const Token& t = c_.next();
    BinaryOp op = t.value == "*" ? BinaryOp::Mul : t.value == "/" ? BinaryOp::Div
                : t.value == "//" ? BinaryOp::FloorDiv : BinaryOp::Mod;
    left = make_expr(t.pos, ast::Binary{op, std::move(left), power()});
  }
  return left;
}

ExprPtr ExpressionParser::power() {
  ExprPtr left = unary(true);
  while (c_.is_op("**")) {
    SourcePos pos = c_.next().pos;
    left = make_expr(pos, ast::Binary{BinaryOp::Pow, std::move(left), unary(true)});
  }
  return left;
}

ExprPtr ExpressionParser::unary(bool with_filter) {
  TokenCursor::Nest nest(c_, c_.peek());
  ExprPtr node;
  if (c_.is_op("-") || c_.is_op("+")) {
    const Token& t = c_.next();
    node = make_expr(t.pos, ast::Unary{t.value == "-" ? UnaryOp::Neg : UnaryOp::Pos, unary(false)});
  } else {
    node = primary();
  }
  node = postfix(std::move(node));
  if (with_filter) node = filters_and_tests(std::move(node));
  return node;
}

ExprPtr ExpressionParser::primary() {
  const Token& t = c_.peek();
  switch (t.kind) {
    case TokenKind::Name: {
      c_.next();
      if (t.value == "true" || t.value == "True") return make_expr(t.pos, ast::Literal{Value::boolean(true)});
      if (t.value == "false" || t.value == "False") return make_expr(t.pos, ast::Literal{Value::boolean(false)});
      if (t.value == "none" || t.value == "None") return make_expr(t.pos, ast::Literal{Value::none()});
      if (is_keyword(t.value)) c_.fail(t, "expected an expression, got '" + t.value + "'");
      return make_expr(t.pos, ast::Name{t.value});
    }
    case TokenKind::String: {
      std::string s;
      while (c_.peek().kind == TokenKind::String) s += c_.next().value;  // 'a' 'b' is 'ab', as in Python
      return make_expr(t.pos, ast::Literal{Value::string(std::move(s))});
    }
    case TokenKind::Integer: {
      c_.next();
      int64_t v = 0;
      auto r = std::from_chars(t.value.data(), t.value.data() + t.value.size(), v);
      if (r.ec != std::errc()) c_.fail(t, "integer literal " + t.value + " is too large (integers are 64-bit)");
      return make_expr(t.pos, ast::Literal{Value::integer(v)});
    }
    case TokenKind::Float: {
      c_.next();
      double v = 0;
      std::from_chars(t.value.data(), t.value.data() + t.value.size(), v);
      return make_expr(t.pos, ast::Literal{Value::number(v)});
    }
    case TokenKind::Operator:
      if (t.value == "(") {
        c_.next();
        ExprPtr e = tuple(true, true);
        c_.expect_op(")");
        return e;
      }
      if (t.value == "[") {
        c_.next();
        ast::ListLiteral list;
        while (!c_.is_op("]")) {
          if (!list.items.empty()) {
            c_.expect_op(",");
            if (c_.is_op("]")) break;
          }
          list.items.push_back(expression());
        }
        c_.next();
        return make_expr(t.pos, std::move(list));
      }
      if (t.value == "{") {
        c_.next();
        ast::DictLiteral dict;
        while (!c_.is_op("}")) {
          if (!dict.items.empty()) {
            c_.expect_op(",");
            if (c_.is_op("}")) break;
          }
          ExprPtr k = expression();
          c_.expect_op(":");
          dict.items.emplace_back(std::move(k), expression());
        }
        c_.next();
        return make_expr(t.pos, std::move(dict));
      }
      [[fallthrough]];
    default:
      c_.fail(t, "expected an expression, got " + describe(t));
  }
}

ExprPtr ExpressionParser::postfix(ExprPtr node) {
  while (true) {
    if (c_.is_op(".")) {
      SourcePos pos = c_.next().pos;
      const Token& a = c_.peek();
      if (a.kind == TokenKind::Name) {
        c_.next();
        node = make_expr(pos, ast::GetAttr{std::move(node), a.value});
      } else if (a.kind == TokenKind::Integer) {
        c_.next();
        int64_t v = 0;
        std::from_chars(a.value.data(), a.value.data() + a.value.size(), v);
        node = make_expr(pos, ast::GetItem{std::move(node), make_expr(a.pos, ast::Literal{Value::integer(v)})});
      } else {
        c_.fail(a, "expected an attribute name after '.', got " + describe(a));
      }
    } else if (c_.is_op("[")) {
      SourcePos pos = c_.next().pos;
      node = subscript(std::move(node), pos);
      c_.expect_op("]");
    } else if (c_.is_op("(")) {
      SourcePos pos = node->pos;  // errors of a call point at what is called
      node = make_expr(pos, ast::Call{std::move(node), call_args()});
    } else {
      return node;
    }
  }
}

ExprPtr ExpressionParser::subscript(ExprPtr object, SourcePos pos) {
  ExprPtr start, stop, step;
  if (!c_.is_op(":")) {
    start = expression();
    if (c_.is_op(",")) c_.fail(c_.peek(), "tuple indices (obj[a, b]) are not supported");
    if (!c_.is_op(":")) return make_expr(pos, ast::GetItem{std::move(object), std::move(start)});
  }
  c_.next();  // ':'
  if (!c_.is_op("]") && !c_.is_op(":")) stop = expression();
  if (c_.skip_op(":") && !c_.is_op("]")) step = expression();
  return make_expr(pos, ast::Slice{std::move(object), std::move(start), std::move(stop), std::move(step)});
}

Arguments ExpressionParser::call_args() {
  Arguments args;
  c_.expect_op("(");
  bool first = true;
  while (!c_.is_op(")")) {
    if (!first) {
      c_.expect_op(",");
      if (c_.is_op(")")) break;
    }
    first = false;
    if (c_.is_op("*") || c_.is_op("**")) c_.fail(c_.peek(), "argument unpacking (*args, **kwargs) is not supported");
    if (c_.peek().kind == TokenKind::Name && c_.is_op("=", 1)) {
      std::string name = c_.next().value;
      c_.next();
      args.keyword.emplace_back(std::move(name), expression());
    } else {
      if (!args.keyword.empty()) c_.fail(c_.peek(), "positional argument follows keyword argument");
      args.positional.push_back(expression());
    }
  }
  c_.next();
  return args;
}

FilterCall ExpressionParser::filter_call() {
  const Token& n = c_.expect_name();
  if (!is_filter(n.value)) {
    std::string guess = suggest_name(n.value, filter_names());
    c_.fail(n, "unknown filter '" + n.value + "'", guess.empty() ? "" : "did you mean '" + guess + "'?");
  }
  FilterCall f{n.value, {}, n.pos};
  if (c_.is_op("(")) f.args = call_args();
  return f;
}

ExprPtr ExpressionParser::filters_and_tests(ExprPtr node) {
  while (true) {
    if (c_.is_op("|")) {
      c_.next();
      FilterCall f = filter_call();
      SourcePos pos = f.pos;
      node = make_expr(pos, ast::Filter{std::move(node), std::move(f)});
    } else if (c_.is_name("is")) {
      c_.next();
      bool negated = c_.skip_name("not");
      const Token& n = c_.expect_name();
      if (!is_test(n.value)) {
        std::string guess = suggest_name(n.value, test_names());
        c_.fail(n, "unknown test '" + n.value + "'", guess.empty() ? "" : "did you mean '" + guess + "'?");
      }
      FilterCall test{n.value, {}, n.pos};
      const Token& a = c_.peek();
      if (c_.is_op("(")) {
        test.args = call_args();
      } else if ((a.kind == TokenKind::Name && !is_keyword(a.value)) || a.kind == TokenKind::String ||
                 a.kind == TokenKind::Integer || a.kind == TokenKind::Float || c_.is_op("[") || c_.is_op("{")) {
        // Jinja2 allows one argument without parentheses: `n is divisibleby 3`, `x is sameas none`.
        test.args.positional.push_back(postfix(primary()));
      }
      node = make_expr(n.pos, ast::Test{std::move(node), std::move(test), negated});
    } else if (c_.is_op("(")) {
      SourcePos pos = c_.peek().pos;
      node = make_expr(pos, ast::Call{std::move(node), call_args()});
    } else {
      return node;
    }
  }
}

}  // namespace prefer::text::jinja
