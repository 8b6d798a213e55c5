// Enum options spelled with TRL's strings: parsing with a "did you mean" hint, and the canonical name back.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"
#include "util/strings.h"

namespace prefer::objectives {

template <class E>
struct OptionName {
  std::string_view name;
  E value;
};

// The value named `text` in `table`; an unknown name throws prefer::Error with `field` set and, when a
// name is close, a hint "did you mean '...'?". Several names may map to one value (aliases); the first
// one listed for a value is its canonical name.
template <class E, size_t N>
E parse_option(std::string_view text, const std::array<OptionName<E>, N>& table, std::string_view field) {
  std::vector<std::string> names;
  for (const auto& entry : table) {
    if (entry.name == text) return entry.value;
    names.emplace_back(entry.name);
  }
  std::string suggestion = suggest_name(text, names);
  std::vector<std::string> canonical;
  for (size_t i = 0; i < N; ++i) {
    bool first = true;
    for (size_t j = 0; j < i; ++j) first = first && table[j].value != table[i].value;
    if (first) canonical.emplace_back(table[i].name);
  }
  throw Error("unknown value '" + std::string(text) + "'; expected one of: " + join(canonical, ", "),
              {.field = std::string(field), .hint = suggestion.empty() ? "" : "did you mean '" + suggestion + "'?"});
}

template <class E, size_t N>
std::string option_name(E value, const std::array<OptionName<E>, N>& table) {
  for (const auto& entry : table)
    if (entry.value == value) return std::string(entry.name);
  return "?";
}

}  // namespace prefer::objectives
