// The healthy-run checks of a report: each a verdict on the whole curve (not a warning that fires at a
// step), computed from metrics.jsonl's rows. Preference methods (DPO family, KTO): reward margins
// growing, accuracies in 0.75-0.92, logps/chosen stable, logps/rejected not collapsing, eval following
// train. Other methods: the loss (or PPO's score) moving the right way, eval following train.
#pragma once

#include <string>
#include <vector>

#include "train/metrics_log.h"

namespace prefer::cli {

struct HealthCheck {
  std::string check;    // "reward margins growing"
  std::string verdict;  // "ok", "watch" or "n/a" (the run logs no such metric)
  std::string detail;   // the numbers behind it, and what a "watch" means
};

// Means over the first and the last quarter of the logged train values of `key` (at least one value
// each); false when the key was never logged.
bool quarter_means(const std::vector<train::MetricRow>& rows, const std::string& key, double* first, double* last);

std::vector<HealthCheck> health_checks(const std::vector<train::MetricRow>& rows);

}  // namespace prefer::cli
