// The options of a training command, declared once as data: each becomes a --flag and a YAML key of
// --config, gets its default, and is written back to the run's config.yaml with its resolved value.
// Precedence: defaults < --config file < flags given on the command line. An unknown YAML key is an
// error that suggests the nearest valid name; a value of the wrong type names the key and the file.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "util/json.h"

namespace prefer::cli {

enum class OptType { Bool, Int, Float, String, StringList, FloatList };

struct OptSpec {
  std::string name;
  OptType type;
  Json default_value;  // null = unset (optional)
  std::string help;
};

class OptionSet {
 public:
  void add(std::string name, OptType type, Json default_value, std::string help);
  // Changes the default of an option already added (a command whose TRL config differs from the shared one).
  void set_default(const std::string& name, Json default_value);
  // Registers --<name> for every option, plus --config.
  void register_cli(CLI::App* cmd);
  // After parsing: defaults, then the YAML file named by --config (if any), then the flags that were given.
  Json resolve() const;
  // The same with an explicit YAML object (tests).
  Json resolve(const Json& yaml, const std::string& yaml_file) const;
  std::vector<std::string> names() const;
  const std::vector<OptSpec>& specs() const { return specs_; }

  // Converts one raw value to the option's type; `where` names the origin in errors.
  Json convert(const OptSpec& spec, const Json& raw, const ErrorContext& where) const;
  Json convert_strings(const OptSpec& spec, const std::vector<std::string>& raw) const;

 private:
  std::vector<OptSpec> specs_;
  std::map<std::string, CLI::Option*> cli_;
  std::string config_file_;
};

}  // namespace prefer::cli
