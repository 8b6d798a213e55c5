#include "util/error.h"

namespace prefer {

std::string format_error(const std::string& message, const ErrorContext& ctx) {
  std::string out;
  if (!ctx.file.empty()) {
    out += ctx.file;
    if (ctx.line > 0) out += ":" + std::to_string(ctx.line);
    out += ": ";
  } else if (ctx.line > 0) {
    out += "line " + std::to_string(ctx.line) + ": ";
  }
  if (!ctx.field.empty()) out += "'" + ctx.field + "': ";
  out += message;
  if (!ctx.hint.empty()) out += " (hint: " + ctx.hint + ")";
  return out;
}

Error::Error(std::string message, ErrorContext ctx)
    : std::runtime_error(format_error(message, ctx)), message_(std::move(message)), ctx_(std::move(ctx)) {}

Error Error::with_defaults(const ErrorContext& outer) const {
  ErrorContext c = ctx_;
  if (c.file.empty()) c.file = outer.file;
  if (c.line == 0) c.line = outer.line;
  if (c.field.empty()) c.field = outer.field;
  if (c.hint.empty()) c.hint = outer.hint;
  return Error(message_, c);
}

}  // namespace prefer
