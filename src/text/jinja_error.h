// Errors of the Jinja interpreter behind chat templates.
//
// Everything a template author or user can get wrong becomes a prefer::Error that names the template
// (ErrorContext::file = the template's origin, e.g. ".../tokenizer_config.json (chat_template)"), the
// line inside the template, and the column in the message. The lower modules (values, filters, tests,
// string methods) do not know where in the template they run, so they throw EvalError, and the
// interpreter turns it into a prefer::Error at the position of the expression being evaluated.
#pragma once

#include <stdexcept>
#include <string>

#include "util/error.h"

namespace prefer::text::jinja {

// A 1-based position in a template's source (columns count code points, as editors do).
struct SourcePos {
  int line = 0;
  int column = 0;
};

// An error raised while evaluating, before the interpreter knows the position.
class EvalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// raise_exception("...") called by the template: the message is the template's own words.
class RaisedByTemplate : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "template error at column C: message", with file = origin and line = pos.line.
Error template_error(const std::string& origin, SourcePos pos, const std::string& message, std::string hint = {});

}  // namespace prefer::text::jinja
