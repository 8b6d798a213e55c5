#include "text/jinja_error.h"

namespace prefer::text::jinja {

Error template_error(const std::string& origin, SourcePos pos, const std::string& message, std::string hint) {
  ErrorContext ctx{.file = origin, .line = pos.line, .field = {}, .hint = std::move(hint)};
  std::string where = pos.column > 0 ? "template error at column " + std::to_string(pos.column) + ": " : "template error: ";
  return Error(where + message, ctx);
}

}  // namespace prefer::text::jinja
