// One finding of the training monitor: what `warnings.jsonl` holds, one object per line:
//   {"step": 120, "warning": "margins_not_improving", "message": "At step 120 ...", "evidence": {...}}
// plus "fatal": true for findings that stop the run (a non-finite loss).
#pragma once

#include <cstdint>
#include <string>

#include "util/json.h"

namespace prefer::train {

struct TrainingWarning {
  std::string id;        // short, stable, snake_case: "rejected_logps_collapse"
  int64_t step = 0;      // the optimizer step it was found at; 0 for pre-flight checks
  std::string message;   // one plain-language paragraph naming the step, the numbers and what to do
  OrderedJson evidence = OrderedJson::object();  // the numbers behind it, by metric name
  bool fatal = false;    // the trainer stops (saves what it needs, exits non-zero)

  OrderedJson to_json() const;
  // Parses a warnings.jsonl object; `ctx` names the file and line in errors.
  static TrainingWarning from_json(const Json& j, const ErrorContext& ctx);
};

// A number as the warnings' messages print it: four significant digits ("0.1235", "1.235e+04").
std::string warning_number(double v);

}  // namespace prefer::train
