// Renders a parsed template (jinja_ast.h) with Python Jinja2's semantics, as transformers configures it
// for chat templates (ImmutableSandboxedEnvironment, loop controls, trim/lstrip blocks).
//
// Scopes follow Jinja2: a `for` body gets a fresh scope for every iteration (so `set` inside a loop is
// not seen after it, nor in the next iteration: use namespace() for that), `if` has no scope of its own,
// and a macro sees the variables of the scope it was defined in. Globals: range, namespace, dict,
// raise_exception (transformers'), strftime_now (transformers', with an injectable clock).
// Loop variables: loop.index, index0, revindex, revindex0, first, last, length, previtem, nextitem,
// depth, depth0 and loop.cycle(...).
#pragma once

#include <ctime>
#include <functional>
#include <string>

#include "text/jinja_ast.h"
#include "text/jinja_value.h"

namespace prefer::text::jinja {

struct RenderSettings {
  // "Now" for strftime_now (local time, like Python's datetime.now()); std::time(nullptr) when empty.
  std::function<std::time_t()> clock;
};

// Errors are prefer::Error with file = t.origin, the template line, and the column in the message. A
// template's raise_exception("...") becomes an error whose message() is exactly that text.
std::string render(const Template& t, const ValueDict& variables, const RenderSettings& settings = {});

}  // namespace prefer::text::jinja
