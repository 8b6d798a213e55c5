// YAML reading (run configs, `--config run.yaml`). The result is the same Json value the rest of the
// code already knows, so a YAML config and a JSON config go through one validator.
#pragma once

#include <filesystem>
#include <string_view>

#include "util/json.h"

namespace prefer {

// Plain scalars get YAML 1.2 core types (null/~, true/false, integers, floats incl. 1e-5, .inf, .nan);
// quoted scalars stay strings. Syntax errors name the file, line and column. Duplicate keys are errors.
Json parse_yaml(std::string_view text, const ErrorContext& ctx = {});
Json read_yaml_file(const std::filesystem::path& path);

// Writes `value` (an object of scalars, arrays and objects) as block YAML, atomically.
std::string to_yaml(const Json& value);
void write_yaml_file(const std::filesystem::path& path, const Json& value);

}  // namespace prefer
