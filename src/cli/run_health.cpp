#include "cli/run_health.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace prefer::cli {
namespace {

std::vector<double> train_values(const std::vector<train::MetricRow>& rows, const std::string& key) {
  std::vector<double> v;
  for (const train::MetricRow& r : rows)
    if (!r.is_eval() && r.has(key) && std::isfinite(r.at(key))) v.push_back(r.at(key));
  return v;
}

// The last finite value of `key` over the eval rows; NaN if none.
double last_eval(const std::vector<train::MetricRow>& rows, const std::string& key) {
  double v = NAN;
  for (const train::MetricRow& r : rows)
    if (r.is_eval() && r.has(key) && std::isfinite(r.at(key))) v = r.at(key);
  return v;
}

HealthCheck na(const std::string& check, const std::string& key) { return {check, "n/a", "the run logs no " + key}; }

}  // namespace

bool quarter_means(const std::vector<train::MetricRow>& rows, const std::string& key, double* first, double* last) {
  const std::vector<double> v = train_values(rows, key);
  if (v.empty()) return false;
  const size_t q = std::max<size_t>(1, v.size() / 4);
  double a = 0, b = 0;
  for (size_t i = 0; i < q; ++i) {
    a += v[i];
    b += v[v.size() - q + i];
  }
  *first = a / static_cast<double>(q);
  *last = b / static_cast<double>(q);
  return true;
}

std::vector<HealthCheck> health_checks(const std::vector<train::MetricRow>& rows) {
  std::vector<HealthCheck> out;
  double f = 0, l = 0;
  const bool preference = quarter_means(rows, "rewards/chosen", &f, &l);
  if (preference) {
    if (quarter_means(rows, "rewards/margins", &f, &l))
      out.push_back({"reward margins growing", l > f && l > 0 ? "ok" : "watch",
                     fmt::format("first quarter {:.4g}, last quarter {:.4g}{}", f, l,
                                 l > f && l > 0 ? "" : ": the policy does not separate chosen from rejected more than at the start")});
    else
      out.push_back(na("reward margins growing", "rewards/margins"));
    if (quarter_means(rows, "rewards/accuracies", &f, &l)) {
      const bool ok = l >= 0.75 && l <= 0.92;
      out.push_back({"accuracies in 0.75-0.92", ok ? "ok" : "watch",
                     fmt::format("last quarter {:.3f}{}", l,
                                 ok ? "" : l < 0.75 ? ": few pairs are ranked right yet (more steps, a larger learning rate, or noisy labels)"
                                                    : ": saturated (easy pairs or a large beta; watch eval for overfitting)")});
    } else {
      out.push_back(na("accuracies in 0.75-0.92", "rewards/accuracies"));
    }
    if (quarter_means(rows, "logps/chosen", &f, &l)) {
      const double allowed = std::max(1.0, 0.1 * std::abs(f));
      const bool ok = l >= f - allowed;
      out.push_back({"logps/chosen stable", ok ? "ok" : "watch",
                     fmt::format("first quarter {:.4g}, last quarter {:.4g} (allowed drop {:.3g}){}", f, l, allowed,
                                 ok ? "" : ": the chosen answers lose probability too (likelihood displacement)")});
    } else {
      out.push_back(na("logps/chosen stable", "logps/chosen"));
    }
    if (quarter_means(rows, "logps/rejected", &f, &l)) {
      const double floor = f - std::max(10.0, std::abs(f));
      const bool ok = l >= floor;
      out.push_back({"logps/rejected not collapsing", ok ? "ok" : "watch",
                     fmt::format("first quarter {:.4g}, last quarter {:.4g} (collapse below {:.4g}){}", f, l, floor,
                                 ok ? "" : ": the rejected answers are pushed to near-zero probability, which often degrades generation")});
    } else {
      out.push_back(na("logps/rejected not collapsing", "logps/rejected"));
    }
  }
  // Eval following train: the eval margin (preference) or eval loss (others) moves with the train one.
  if (preference) {
    const double e = last_eval(rows, "eval_rewards/margins");
    if (std::isnan(e) || !quarter_means(rows, "rewards/margins", &f, &l)) {
      out.push_back({"eval following train", "n/a", "no eval margins logged (add --eval_data or eval_split)"});
    } else {
      const bool ok = e > 0 && (l <= 0 || e >= 0.5 * l);
      out.push_back({"eval following train", ok ? "ok" : "watch",
                     fmt::format("last eval margin {:.4g}, train last quarter {:.4g}{}", e, l,
                                 ok ? "" : ": eval lags train (overfitting, or eval data unlike train)")});
    }
  } else if (quarter_means(rows, "loss", &f, &l)) {
    out.push_back({"loss decreasing", l < f ? "ok" : "watch", fmt::format("first quarter {:.4g}, last quarter {:.4g}", f, l)});
    const double e = last_eval(rows, "eval_loss");
    if (!std::isnan(e)) {
      const bool ok = e <= 1.25 * l + 0.05;
      out.push_back({"eval following train", ok ? "ok" : "watch",
                     fmt::format("last eval_loss {:.4g}, train last quarter {:.4g}{}", e, l, ok ? "" : ": eval loss well above train (overfitting)")});
    }
  } else if (quarter_means(rows, "objective/scores", &f, &l)) {
    out.push_back({"scores rising", l > f ? "ok" : "watch", fmt::format("first quarter {:.4g}, last quarter {:.4g}", f, l)});
  }
  return out;
}

}  // namespace prefer::cli
