// Template values as JSON text: Python's json.dumps, which transformers' `tojson` filter calls with
// ensure_ascii=False (non-ASCII text is kept, nothing is HTML-escaped). Floats use Python's repr
// ("1.0", "1e-05"), NaN and infinities are written as Python writes them, and dict keys keep their order.
#pragma once

#include <string>

#include "text/jinja_value.h"

namespace prefer::text::jinja {

// json.dumps(v, ensure_ascii, indent, separators, sort_keys) as transformers' `tojson` filter calls
// it. `indent` < 0 means None; `indent_text` (when set) is used instead of `indent` spaces.
struct JsonOptions {
  bool ensure_ascii = false;
  int indent = -1;
  std::string indent_text;
  bool has_indent_text = false;
  std::string item_separator;  // empty: Python's default for the indent setting
  std::string key_separator;
  bool custom_separators = false;
  bool sort_keys = false;
};
std::string to_json(const Value& v, const JsonOptions& options = {});

}  // namespace prefer::text::jinja
