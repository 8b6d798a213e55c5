// Short constructors for the Jinja tests' values: S("a") a string, I(1) an integer.
#pragma once

#include <cstdint>

#include "text/jinja_value.h"

namespace prefer::text::jinja {

inline Value S(const char* s) { return Value::string(s); }
inline Value I(int64_t i) { return Value::integer(i); }

}  // namespace prefer::text::jinja
