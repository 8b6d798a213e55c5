// Jinja filters (`x | trim`, `tools | tojson(indent=4)`, `messages | selectattr('role', 'equalto',
// 'user') | list`), with Python Jinja2's meaning and transformers' `tojson` (json.dumps with
// ensure_ascii=False, so non-ASCII text is kept and HTML characters are not escaped).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "text/jinja_value.h"

namespace prefer::text::jinja {

bool is_filter(std::string_view name);
std::vector<std::string> filter_names();
// EvalError on an unknown filter, bad arguments or an operand the filter cannot take.
Value apply_filter(std::string_view name, const Value& operand, const CallArgs& args);

}  // namespace prefer::text::jinja
