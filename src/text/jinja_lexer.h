// Splits a Jinja template into tokens, applying whitespace control the way Jinja2 does with the
// settings transformers uses for chat templates (trim_blocks and lstrip_blocks both on):
//   - `{%-`, `{{-`, `{#-` strip all whitespace before the tag; `-%}`, `-}}`, `-#}` all whitespace after;
//   - trim_blocks: the first newline after a block or comment tag (`%}`, `#}`) is removed;
//   - lstrip_blocks: spaces and tabs from the start of a line up to a block or comment tag are removed;
//   - `{%+` and `+%}` switch the last two off for one tag;
//   - line endings become "\n" and a single trailing newline of the template is dropped.
// `{% raw %}...{% endraw %}` comes out as text. Comments produce no tokens.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "text/jinja_error.h"

namespace prefer::text::jinja {

enum class TokenKind {
  Text,           // template text outside tags
  BlockBegin,     // {%
  BlockEnd,       // %}
  VariableBegin,  // {{
  VariableEnd,    // }}
  Name,           // identifiers and keywords (if, for, in, not, true, ...)
  String,         // a string literal, escapes already decoded
  Integer,
  Float,
  Operator,       // + - * / // % ** ~ == != < <= > >= = . , : | ( ) [ ] { }
  End,            // end of the template
};

struct Token {
  TokenKind kind;
  std::string value;
  SourcePos pos;
};

struct LexerOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Errors (unterminated tag or string, unexpected character, invalid UTF-8) name `origin`, the line and
// the column.
std::vector<Token> tokenize(std::string_view source, const std::string& origin, const LexerOptions& options = {});

// Text for messages: "'endfor'", "end of template", "'%}'".
std::string describe(const Token& t);

}  // namespace prefer::text::jinja
