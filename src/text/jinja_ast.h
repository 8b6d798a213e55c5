// The syntax tree of a parsed Jinja template: expressions and statements, each with its position in the
// source for error messages. Built by jinja_parser, walked by jinja_interpreter; immutable once parsed,
// so one parsed template can be rendered from several threads.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "text/jinja_error.h"
#include "text/jinja_operators.h"
#include "text/jinja_value.h"

namespace prefer::text::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Arguments {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

// `name(args)` after `|` (filters) or `is` (tests).
struct FilterCall {
  std::string name;
  Arguments args;
  SourcePos pos;
};


namespace ast {
struct Literal { Value value; };                          // 1, 2.5, 'text', true, none
struct Name { std::string name; };                        // a variable
struct ListLiteral { std::vector<ExprPtr> items; bool tuple = false; };
struct DictLiteral { std::vector<std::pair<ExprPtr, ExprPtr>> items; };
struct GetAttr { ExprPtr object; std::string attr; };     // obj.attr (and obj.0)
struct GetItem { ExprPtr object; ExprPtr key; };          // obj[key]
struct Slice { ExprPtr object, start, stop, step; };      // obj[start:stop:step], parts may be null
struct Call { ExprPtr callee; Arguments args; };
struct Filter { ExprPtr operand; FilterCall filter; };    // operand | filter
struct Test { ExprPtr operand; FilterCall test; bool negated = false; };  // operand is [not] test
struct Unary { UnaryOp op; ExprPtr operand; };
struct Binary { BinaryOp op; ExprPtr left, right; };
struct Compare { ExprPtr first; std::vector<std::pair<CompareOp, ExprPtr>> rest; };  // a < b < c chains
struct Conditional { ExprPtr then, test, otherwise; };    // then if test else otherwise (may be null)
}  // namespace ast

struct Expr {
  SourcePos pos;
  std::variant<ast::Literal, ast::Name, ast::ListLiteral, ast::DictLiteral, ast::GetAttr, ast::GetItem, ast::Slice,
               ast::Call, ast::Filter, ast::Test, ast::Unary, ast::Binary, ast::Compare, ast::Conditional>
      node;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// Left side of `set` and `for`: one name, several names to unpack, or `namespace.attribute`.
struct AssignTarget {
  std::vector<std::string> names;
  bool unpack = false;     // `a, b` (even with one name: `a,`)
  std::string attribute;   // non-empty for `ns.attr` (names has the namespace variable)
};

namespace ast {
struct Text { std::string text; };
struct Output { ExprPtr expr; };                                          // {{ expr }}
struct If { std::vector<std::pair<ExprPtr, Body>> branches; Body otherwise; };  // if / elif... / else
struct For {
  AssignTarget target;
  ExprPtr iterable;
  ExprPtr condition;  // `for x in xs if cond`, may be null
  Body body, otherwise;
};
struct Set { AssignTarget target; ExprPtr value; };
struct SetBlock { AssignTarget target; std::vector<FilterCall> filters; Body body; };  // {% set x %}...{% endset %}
struct Macro {
  std::string name;
  std::vector<std::pair<std::string, ExprPtr>> params;  // default may be null
  Body body;
};
struct FilterBlock { std::vector<FilterCall> filters; Body body; };  // {% filter f %}...{% endfilter %}
struct Break {};
struct Continue {};
}  // namespace ast

struct Stmt {
  SourcePos pos;
  std::variant<ast::Text, ast::Output, ast::If, ast::For, ast::Set, ast::SetBlock, ast::Macro, ast::FilterBlock,
               ast::Break, ast::Continue>
      node;
};

struct Template {
  std::string origin;  // for errors: the file (and field) the template came from
  Body body;
};

}  // namespace prefer::text::jinja
