// Parses Jinja template source into a syntax tree (jinja_ast.h).
//
// The grammar and operator precedence are Jinja2's (lowest first): `x if c else y`; `or`; `and`; `not`;
// comparisons and `in`/`not in` (chainable: a < b < c); `+ -`; `~`; `* / // %`; `**`; unary `- +`;
// then postfix `.attr`, `[i]`, `[a:b:c]`, calls, `| filter` and `is test`. Statements: if/elif/else,
// for (tuple targets, `if` filter, else), set (also `ns.attr`, tuples, and `{% set x %}` blocks),
// macro, filter blocks, break/continue, raw, and transformers' `{% generation %}` (rendered as its
// body). Anything else, unknown filters and tests, and unclosed blocks are errors with line and column.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "text/jinja_ast.h"

namespace prefer::text::jinja {

std::shared_ptr<const Template> parse_template(std::string_view source, std::string origin);

}  // namespace prefer::text::jinja
