// tokenizer.json "normalizer": text -> text before pre-tokenization (NFC, Lowercase, Replace ...).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "text/component_error.h"

namespace prefer::text {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string normalize(std::string_view text) const = 0;
};

// Builds the normalizer described by `j` (null -> nullptr). Supported: NFC, NFD, NFKC, NFKD, Lowercase,
// Replace, Prepend, Strip, Sequence; anything else is an error naming the component.
std::unique_ptr<Normalizer> make_normalizer(const Json& j, const ComponentContext& ctx);

// The pattern object of Replace / Split components: {"String": ...} or {"Regex": ...}.
class Pattern;
Pattern make_pattern(const Json& j, const ComponentContext& ctx);

}  // namespace prefer::text
