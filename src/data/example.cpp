#include "data/example.h"

namespace prefer::data {

std::string_view dataset_kind_name(DatasetKind k) {
  switch (k) {
    case DatasetKind::Preference: return "preference";
    case DatasetKind::Unpaired: return "unpaired";
    case DatasetKind::Sft: return "sft";
  }
  return "?";
}

const std::vector<std::string>& known_roles() {
  static const std::vector<std::string> roles = {"system", "user", "assistant", "tool", "developer", "function", "ipython"};
  return roles;
}

}  // namespace prefer::data
