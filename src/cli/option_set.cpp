#include "cli/option_set.h"

#include <cmath>

#include "util/error.h"
#include "util/strings.h"
#include "util/yaml.h"

namespace prefer::cli {

void OptionSet::add(std::string name, OptType type, Json default_value, std::string help) {
  specs_.push_back({std::move(name), type, std::move(default_value), std::move(help)});
}

void OptionSet::set_default(const std::string& name, Json default_value) {
  for (auto& s : specs_)
    if (s.name == name) {
      s.default_value = std::move(default_value);
      return;
    }
  throw Error("no option named '" + name + "'", {.field = name});
}

std::vector<std::string> OptionSet::names() const {
  std::vector<std::string> out;
  for (const auto& s : specs_) out.push_back(s.name);
  return out;
}

void OptionSet::register_cli(CLI::App* cmd) {
  cmd->add_option("--config", config_file_, "YAML file with any of these options (flags given here override it)");
  for (const auto& s : specs_) {
    std::string help = s.help;
    if (!s.default_value.is_null()) help += " [default: " + (s.default_value.is_string() ? s.default_value.get<std::string>() : s.default_value.dump()) + "]";
    CLI::Option* o = cmd->add_option("--" + s.name)->description(help);  // no bound variable: results() are read
    switch (s.type) {
      case OptType::Bool: o->expected(0, 1)->type_name("[BOOL]"); break;
      case OptType::StringList:
      case OptType::FloatList: o->expected(1, -1)->allow_extra_args(true)->delimiter(',')->type_name("LIST"); break;
      case OptType::Int: o->type_name("INT"); break;
      case OptType::Float: o->type_name("FLOAT"); break;
      case OptType::String: o->type_name("TEXT"); break;
    }
    // Given twice, the last one counts (argparse's rule, which HfArgumentParser users expect).
    if (s.type != OptType::StringList && s.type != OptType::FloatList) {
      o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
    cli_[s.name] = o;
  }
}

namespace {
bool parse_bool(const std::string& s, bool& out) {
  if (s == "true" || s == "True" || s == "1" || s == "yes") return out = true, true;
  if (s == "false" || s == "False" || s == "0" || s == "no") return out = false, true;
  return false;
}
}  // namespace

Json OptionSet::convert(const OptSpec& spec, const Json& raw, const ErrorContext& where) const {
  ErrorContext ctx = where;
  ctx.field = spec.name;
  if (raw.is_null()) return nullptr;
  auto type_error = [&](const char* want) { return Error(std::string("expected ") + want + ", found " + raw.dump(), ctx); };
  switch (spec.type) {
    case OptType::Bool:
      if (raw.is_boolean()) return raw;
      if (raw.is_string()) {
        bool b;
        if (parse_bool(raw.get<std::string>(), b)) return b;
      }
      throw type_error("true or false");
    case OptType::Int:
      if (raw.is_number_integer()) return raw;
      if (raw.is_number_float() && std::floor(raw.get<double>()) == raw.get<double>()) return static_cast<int64_t>(raw.get<double>());
      if (raw.is_string()) {
        try {
          size_t used = 0;
          long long v = std::stoll(raw.get<std::string>(), &used);
          if (used == raw.get<std::string>().size()) return v;
        } catch (const std::exception&) {
        }
      }
      throw type_error("an integer");
    case OptType::Float:
      if (raw.is_number()) return raw.get<double>();
      if (raw.is_string()) {
        try {
          size_t used = 0;
          double v = std::stod(raw.get<std::string>(), &used);
          if (used == raw.get<std::string>().size()) return v;
        } catch (const std::exception&) {
        }
      }
      throw type_error("a number");
    case OptType::String:
      if (raw.is_string()) return raw;
      if (raw.is_number() || raw.is_boolean()) return raw.dump();
      throw type_error("a string");
    case OptType::StringList: {
      Json out = Json::array();
      if (raw.is_string()) {  // "sigmoid,sft" in YAML too
        std::string s = raw.get<std::string>();
        size_t start = 0;
        while (start <= s.size()) {
          size_t comma = s.find(',', start);
          std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
          if (!part.empty()) out.push_back(part);
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
        return out;
      }
      if (raw.is_array()) {
        for (const Json& e : raw) {
          if (!e.is_string()) throw type_error("a list of strings");
          out.push_back(e);
        }
        return out;
      }
      throw type_error("a list of strings");
    }
    case OptType::FloatList: {
      Json out = Json::array();
      Json items = raw.is_array() ? raw : Json::array({raw});
      for (const Json& e : items) {
        OptSpec one{spec.name, OptType::Float, nullptr, ""};
        out.push_back(convert(one, e, where));
      }
      return out;
    }
  }
  return nullptr;
}

Json OptionSet::convert_strings(const OptSpec& spec, const std::vector<std::string>& raw) const {
  ErrorContext ctx{.field = spec.name};
  if (spec.type == OptType::Bool && (raw.empty() || (raw.size() == 1 && raw[0].empty()))) return true;  // --use_peft alone
  if (spec.type == OptType::StringList || spec.type == OptType::FloatList) {
    Json arr = Json::array();
    for (const auto& r : raw) arr.push_back(r);
    return convert(spec, arr, ctx);
  }
  if (raw.empty()) throw Error("expects a value", ctx);
  return convert(spec, Json(raw.back()), ctx);  // given twice: the last one counts
}

Json OptionSet::resolve(const Json& yaml, const std::string& yaml_file) const {
  Json out = Json::object();
  for (const auto& s : specs_) out[s.name] = s.default_value;
  if (!yaml.is_null()) {
    if (!yaml.is_object()) throw Error("expected a mapping of option: value", {.file = yaml_file});
    std::vector<std::string> valid = names();
    for (auto it = yaml.begin(); it != yaml.end(); ++it) {
      const OptSpec* spec = nullptr;
      for (const auto& s : specs_)
        if (s.name == it.key()) spec = &s;
      if (spec == nullptr) {
        std::string near = suggest_name(it.key(), valid);
        throw Error("unknown option", {.file = yaml_file, .field = it.key(),
                    .hint = near.empty() ? "see --help for the valid names" : "did you mean '" + near + "'?"});
      }
      out[it.key()] = convert(*spec, it.value(), {.file = yaml_file});
    }
  }
  for (const auto& s : specs_) {
    auto it = cli_.find(s.name);
    if (it != cli_.end() && it->second->count() > 0) out[s.name] = convert_strings(s, it->second->results());
  }
  return out;
}

Json OptionSet::resolve() const {
  Json yaml;
  if (!config_file_.empty()) yaml = read_yaml_file(config_file_);
  return resolve(yaml, config_file_);
}

}  // namespace prefer::cli
