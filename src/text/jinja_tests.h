// Jinja tests (`x is defined`, `x is string`, `n is divisibleby(3)`), with Python Jinja2's meaning.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "text/jinja_value.h"

namespace prefer::text::jinja {

bool is_test(std::string_view name);
std::vector<std::string> test_names();
// EvalError on an unknown test or bad arguments.
bool apply_test(std::string_view name, const Value& v, const CallArgs& args);

}  // namespace prefer::text::jinja
