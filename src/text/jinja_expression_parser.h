// The expression half of the Jinja parser (jinja_parser.cpp parses statements with it), and the token
// cursor both halves read from.
//
// Precedence, lowest first, as Jinja2: `x if c else y`; `or`; `and`; `not`; comparisons and `in`/`not in`
// (chainable: a < b < c); `+ -`; `~`; `* / // %`; `**` (left-associative, as in Jinja2); unary `- +`;
// then postfix `.attr`, `[i]`, `[a:b:c]`, calls, `| filter` and `is [not] test` (a test takes its one
// argument with or without parentheses: `n is divisibleby 3`). Unknown filters and tests are errors
// here, at parse time, as in Jinja2.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "text/jinja_ast.h"
#include "text/jinja_lexer.h"

namespace prefer::text::jinja {

// Lookahead over the tokens of one template, with errors at a token's position.
class TokenCursor {
 public:
  TokenCursor(std::vector<Token> tokens, const std::string& origin) : toks_(std::move(tokens)), origin_(origin) {}

  const Token& peek(size_t k = 0) const { return toks_[std::min(i_ + k, toks_.size() - 1)]; }
  const Token& next();
  bool is_op(const char* op, size_t k = 0) const { return peek(k).kind == TokenKind::Operator && peek(k).value == op; }
  bool is_name(const char* name, size_t k = 0) const { return peek(k).kind == TokenKind::Name && peek(k).value == name; }
  bool skip_op(const char* op);
  bool skip_name(const char* name);

  [[noreturn]] void fail(const Token& at, const std::string& message, std::string hint = {}) const;
  void expect_op(const char* op);
  const Token& expect_name();
  void expect_block_end();

  // Counts nesting (expressions and blocks) so that a pathological template is an error, not a stack
  // overflow.
  class Nest {
   public:
    Nest(TokenCursor& c, const Token& at);
    ~Nest() { --c_.nesting_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    TokenCursor& c_;
  };

 private:
  std::vector<Token> toks_;
  const std::string& origin_;
  size_t i_ = 0;
  int nesting_ = 0;
};

// and, or, not, in, is, if, else: words that cannot be variable names in expressions.
bool is_keyword(const std::string& s);

class ExpressionParser {
 public:
  explicit ExpressionParser(TokenCursor& cursor) : c_(cursor) {}

  ExprPtr expression(bool with_condexpr = true);
  // Jinja2's parse_tuple: `a, b` (without parentheses) is a tuple, a single expression is itself.
  // Stops before `}}`, `%}`, `)` and the names in `extra_ends`.
  ExprPtr tuple(bool with_condexpr, bool explicit_parens, std::initializer_list<const char*> extra_ends = {});
  // A filter after `|` (or in `{% filter %}`/`{% set x | f %}`): its name and optional arguments.
  FilterCall filter_call();

 private:
  TokenCursor& c_;

  ExprPtr condexpr();
  ExprPtr or_expr();
  ExprPtr and_expr();
  ExprPtr not_expr();
  ExprPtr compare();
  ExprPtr math1();
  ExprPtr concat();
  ExprPtr math2();
  ExprPtr power();
  ExprPtr unary(bool with_filter);
  ExprPtr primary();
  ExprPtr postfix(ExprPtr node);
  ExprPtr subscript(ExprPtr object, SourcePos pos);
  ExprPtr filters_and_tests(ExprPtr node);
  Arguments call_args();
};

}  // namespace prefer::text::jinja
