// Attribute and item access on template values, as Jinja2's sandboxed environment does it, and the
// Python methods chat templates call on strings and dicts.
//
//   obj.name   tries the Python attribute first (so `d.items` is the dict method), then the item;
//   obj[key]   tries the item first, then the attribute (so `d['items']` is the key when present).
// Missing attributes and items give undefined. Unlike Python Jinja2, which raises when an attribute of
// an undefined value is read, `undefined.x` and `none.x` are undefined, as in @huggingface/jinja: a
// template that tests `message.tool_calls.x is defined` renders instead of failing.
// String methods: strip lstrip rstrip split upper lower title capitalize replace startswith endswith
// join find count; dict methods: items keys values get. Methods that would modify a value are not
// available (transformers renders in an immutable sandbox).
#pragma once

#include <string_view>

#include "text/jinja_value.h"

namespace prefer::text::jinja {

Value get_attr(const Value& object, std::string_view name);
Value get_item(const Value& object, const Value& key);
// Jinja2's attribute paths used by filters (`map(attribute='a.b')`, `sort(attribute='x')`): dotted
// parts, integer parts index lists.
Value get_path(const Value& object, std::string_view path);
// obj[start:stop:step] on a list, tuple or string (Python slice semantics; null parts are omitted).
Value slice_value(const Value& object, const Value& start, const Value& stop, const Value& step);

}  // namespace prefer::text::jinja
