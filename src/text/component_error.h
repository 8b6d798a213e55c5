// Errors about tokenizer.json components, shared by the normalizer, pre-tokenizer, model,
// post-processor and decoder factories.
#pragma once

#include <string>
#include <vector>

#include "util/error.h"
#include "util/json.h"

namespace prefer::text {

// Where a component sits, for messages: the file and the JSON path ("pre_tokenizer.pretokenizers[1]").
struct ComponentContext {
  std::string file;
  std::string path;
  ErrorContext at(const std::string& field = "") const {
    return {.file = file, .field = field.empty() ? path : path + "." + field};
  }
  ComponentContext child(const std::string& sub) const { return {file, path + sub}; }
};

// "unsupported pre-tokenizer 'X' (hint: supported: A, B, C)".
[[noreturn]] void throw_unsupported(const std::string& kind, const std::string& type,
                                    const std::vector<std::string>& supported, const ComponentContext& ctx);

// The "type" field of a component object.
std::string component_type(const Json& j, const ComponentContext& ctx);

}  // namespace prefer::text
