#include "text/component_error.h"

#include "util/strings.h"

namespace prefer::text {

void throw_unsupported(const std::string& kind, const std::string& type, const std::vector<std::string>& supported,
                       const ComponentContext& ctx) {
  ErrorContext e = ctx.at("type");
  e.hint = "supported: " + join(supported, ", ");
  throw Error("unsupported " + kind + " '" + type + "'", e);
}

std::string component_type(const Json& j, const ComponentContext& ctx) {
  if (!j.is_object()) throw Error("expected an object, found " + json_type_name(j), ctx.at());
  return require_string(j, "type", ctx.at());
}

}  // namespace prefer::text
