#include "util/yaml.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <limits>
#include <regex>
#include <set>

#include "util/atomic_file.h"
#include "util/file.h"
#include "util/utf8.h"

namespace prefer {

namespace {

Json scalar_to_json(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  // yaml-cpp tags quoted scalars "!" and plain ones "?": only plain scalars are typed.
  if (n.Tag() == "!") return s;
  static const std::regex int_re(R"([-+]?[0-9]+)");
  static const std::regex float_re(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (s == "~" || s == "null" || s == "Null" || s == "NULL" || s.empty()) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (std::regex_match(s, int_re)) {
    try {
      return std::stoll(s);
    } catch (const std::out_of_range&) {
      return std::stod(s);
    }
  }
  if (std::regex_match(s, float_re)) return std::stod(s);
  if (s == ".inf" || s == "+.inf" || s == ".Inf") return std::numeric_limits<double>::infinity();
  if (s == "-.inf" || s == "-.Inf") return -std::numeric_limits<double>::infinity();
  if (s == ".nan" || s == ".NaN") return std::numeric_limits<double>::quiet_NaN();
  return s;
}

Json to_json(const YAML::Node& n, const ErrorContext& ctx) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar: return scalar_to_json(n);
    case YAML::NodeType::Sequence: {
      Json arr = Json::array();
      for (const auto& e : n) arr.push_back(to_json(e, ctx));
      return arr;
    }
    case YAML::NodeType::Map: {
      Json obj = Json::object();
      for (const auto& kv : n) {
        std::string key = kv.first.Scalar();
        if (obj.contains(key)) {
          ErrorContext c = ctx;
          c.line = kv.first.Mark().line + 1;
          c.field = key;
          throw Error("key appears twice", c);
        }
        obj[key] = to_json(kv.second, ctx);
      }
      return obj;
    }
  }
  return nullptr;
}

bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  static const std::set<std::string> reserved = {"~", "null", "Null", "NULL", "true", "True", "TRUE",
                                                 "false", "False", "FALSE", "yes", "no", "on", "off"};
  if (reserved.count(s)) return true;
  if (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '+' || s[0] == '.') return true;
  return s.find_first_of(":#{}[],&*!|>'\"%@`\n\t") != std::string::npos || s.front() == ' ' || s.back() == ' ';
}

void emit(const Json& v, int indent, std::string& out);

void emit_scalar(const Json& v, std::string& out) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    out += needs_quotes(s) ? Json(s).dump() : s;  // JSON string escapes are valid YAML double quotes
  } else if (v.is_null()) {
    out += "null";
  } else if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isnan(d)) out += ".nan";
    else if (std::isinf(d)) out += d > 0 ? ".inf" : "-.inf";
    else out += v.dump();
  } else {
    out += v.dump();
  }
}

void emit(const Json& v, int indent, std::string& out) {
  std::string pad(static_cast<size_t>(indent), ' ');
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      out += pad + (needs_quotes(it.key()) ? Json(it.key()).dump() : it.key()) + ":";
      const Json& e = it.value();
      if ((e.is_object() || e.is_array()) && !e.empty()) {
        out += "\n";
        emit(e, indent + 2, out);
      } else {
        out += " ";
        if (e.is_object()) out += "{}";
        else if (e.is_array()) out += "[]";
        else emit_scalar(e, out);
        out += "\n";
      }
    }
  } else if (v.is_array()) {
    for (const Json& e : v) {
      if ((e.is_object() || e.is_array()) && !e.empty()) {
        out += pad + "-\n";
        emit(e, indent + 2, out);
      } else {
        out += pad + "- ";
        if (e.is_object()) out += "{}";
        else if (e.is_array()) out += "[]";
        else emit_scalar(e, out);
        out += "\n";
      }
    }
  } else {
    out += pad;
    emit_scalar(v, out);
    out += "\n";
  }
}

}  // namespace

Json parse_yaml(std::string_view text, const ErrorContext& ctx) {
  check_utf8(text, ctx);
  try {
    YAML::Node root = YAML::Load(std::string(text));
    return to_json(root, ctx);
  } catch (const YAML::Exception& ex) {
    ErrorContext c = ctx;
    c.line = ex.mark.line >= 0 ? ex.mark.line + 1 : 0;
    throw Error("invalid YAML at column " + std::to_string(ex.mark.column + 1) + ": " + ex.msg, c);
  }
}

Json read_yaml_file(const std::filesystem::path& path) {
  return parse_yaml(read_file(path), {.file = path.string()});
}

std::string to_yaml(const Json& value) {
  std::string out;
  emit(value, 0, out);
  return out;
}

void write_yaml_file(const std::filesystem::path& path, const Json& value) {
  write_file_atomic(path, to_yaml(value));
}

}  // namespace prefer
