// Metrics of one objective call, under TRL's names ("rewards/chosen", "objective/kl", ...).
//
// Values are 0-dim detached tensors on the inputs' device, so a trainer can average them over steps and
// ranks and read them back once per logging step instead of synchronising the device every step.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

#include "util/error.h"

namespace prefer::objectives {

using Metrics = std::map<std::string, at::Tensor>;

// The value of metric `name` as a double (synchronises the device); throws prefer::Error when absent.
inline double metric_value(const Metrics& metrics, const std::string& name) {
  auto it = metrics.find(name);
  if (it == metrics.end()) throw Error("no such metric", {.field = name});
  return it->second.item<double>();
}

}  // namespace prefer::objectives
