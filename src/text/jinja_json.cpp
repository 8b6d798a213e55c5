#include "text/jinja_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "text/jinja_error.h"
#include "text/jinja_strings.h"

namespace prefer::text::jinja {

namespace {

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  char buf[16];
  out += '"';
  for (char32_t cp : utf8_decode(s)) {
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (cp < 0x20 || (ensure_ascii && cp > 0x7E)) {
      if (cp > 0xFFFF) {
        char32_t v = cp - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                      static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      }
      out += buf;
    } else {
      utf8_append(out, cp);
    }
  }
  out += '"';
}

struct JsonWriter {
  const JsonOptions& o;
  std::string item_sep, key_sep, unit;
  bool indenting;

  explicit JsonWriter(const JsonOptions& opts) : o(opts) {
    indenting = opts.has_indent_text || opts.indent >= 0;
    unit = opts.has_indent_text ? opts.indent_text : std::string(static_cast<size_t>(std::max(opts.indent, 0)), ' ');
    if (opts.custom_separators) {
      item_sep = opts.item_separator, key_sep = opts.key_separator;
    } else {
      item_sep = indenting ? "," : ", ", key_sep = ": ";
    }
  }

  void newline(std::string& out, int level) const {
    out += '\n';
    for (int i = 0; i < level; ++i) out += unit;
  }

  void write(std::string& out, const Value& v, int level) const {
    switch (v.kind()) {
      case Value::Kind::None: out += "null"; return;
      case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
      case Value::Kind::Int: out += std::to_string(v.as_int()); return;
      case Value::Kind::Float: {
        double d = v.as_float();
        if (std::isnan(d)) out += "NaN";
        else if (std::isinf(d)) out += d < 0 ? "-Infinity" : "Infinity";
        else out += format_float(d);
        return;
      }
      case Value::Kind::String: append_json_string(out, v.as_string(), o.ensure_ascii); return;
      case Value::Kind::List: {
        const auto& items = v.as_list();
        if (items.empty()) {
          out += "[]";
          return;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep;
          if (indenting) newline(out, level + 1);
          write(out, items[i], level + 1);
        }
        if (indenting) newline(out, level);
        out += ']';
        return;
      }
      case Value::Kind::Dict: {
        std::vector<const std::pair<std::string, Value>*> entries;
        for (const auto& e : v.as_dict().entries()) entries.push_back(&e);
        if (entries.empty()) {
          out += "{}";
          return;
        }
        if (o.sort_keys)
          std::stable_sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
        out += '{';
        for (size_t i = 0; i < entries.size(); ++i) {
          if (i) out += item_sep;
          if (indenting) newline(out, level + 1);
          append_json_string(out, entries[i]->first, o.ensure_ascii);
          out += key_sep;
          write(out, entries[i]->second, level + 1);
        }
        if (indenting) newline(out, level);
        out += '}';
        return;
      }
      default:
        throw EvalError("Object of type " + type_name(v) + " is not JSON serializable");
    }
  }
};

}  // namespace

std::string to_json(const Value& v, const JsonOptions& options) {
  std::string out;
  JsonWriter(options).write(out, v, 0);
  return out;
}

}  // namespace prefer::text::jinja
