#include "eval/win_rate.h"

#include <cmath>

#include "util/error.h"

namespace prefer::eval {

Outcome combine(Verdict first, Verdict second) {
  if (first == Verdict::Error || second == Verdict::Error) return Outcome::Error;
  if (first == Verdict::A && second == Verdict::B) return Outcome::Win;
  if (first == Verdict::B && second == Verdict::A) return Outcome::Loss;
  return Outcome::Tie;
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::A: return "A";
    case Verdict::B: return "B";
    case Verdict::Tie: return "C";
    case Verdict::Error: return "error";
  }
  return "error";
}

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::Win: return "win";
    case Outcome::Tie: return "tie";
    case Outcome::Loss: return "loss";
    case Outcome::Error: return "error";
  }
  return "error";
}

std::pair<double, double> wilson_interval(int64_t k, int64_t n, double z) {
  if (n <= 0) return {0.0, 1.0};
  const double nn = static_cast<double>(n), p = static_cast<double>(k) / nn, z2 = z * z;
  const double center = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = z / (1 + z2 / nn) * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

double length_controlled_win_rate(const std::vector<double>& y, const std::vector<double>& d) {
  if (y.size() != d.size()) throw Error("one length difference per outcome");
  const size_t n = y.size();
  if (n == 0) return 0.0;
  double mean_y = 0, mean_d = 0;
  for (size_t i = 0; i < n; ++i) mean_y += y[i] / static_cast<double>(n), mean_d += d[i] / static_cast<double>(n);
  // All wins or all losses: the intercept runs off to infinity; its limit is the mean.
  if (mean_y <= 0.0 || mean_y >= 1.0) return mean_y;
  double var = 0;
  for (double v : d) var += (v - mean_d) * (v - mean_d) / static_cast<double>(n);
  const double sd = std::sqrt(var);
  std::vector<double> x(n, 0.0);
  if (sd > 0)
    for (size_t i = 0; i < n; ++i) x[i] = std::tanh(d[i] / sd);
  // Newton's method on the soft-label log-likelihood of sigmoid(a + b x). A small ridge on the slope
  // only (never the intercept) keeps a perfectly separating length effect finite.
  const double ridge = 1e-6 * static_cast<double>(n);
  double a = std::log(mean_y / (1 - mean_y)), b = 0;
  for (int it = 0; it < 100; ++it) {
    double ga = 0, gb = -ridge * b, haa = 0, hab = 0, hbb = ridge;
    for (size_t i = 0; i < n; ++i) {
      const double p = 1 / (1 + std::exp(-(a + b * x[i])));
      const double w = p * (1 - p);
      ga += y[i] - p;
      gb += (y[i] - p) * x[i];
      haa += w;
      hab += w * x[i];
      hbb += w * x[i] * x[i];
    }
    const double det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    const double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
    a += da;
    b += db;
    if (std::abs(da) + std::abs(db) < 1e-12) break;
  }
  return 1 / (1 + std::exp(-a));
}

WinRate summarize(const std::vector<Outcome>& outcomes, const std::vector<double>& length_model,
                  const std::vector<double>& length_reference) {
  if (outcomes.size() != length_model.size() || outcomes.size() != length_reference.size())
    throw Error("one length per answer and outcome");
  WinRate w;
  std::vector<double> y, d;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    w.mean_length_model += length_model[i] / static_cast<double>(outcomes.size());
    w.mean_length_reference += length_reference[i] / static_cast<double>(outcomes.size());
    switch (outcomes[i]) {
      case Outcome::Win: ++w.wins, y.push_back(1.0); break;
      case Outcome::Tie: ++w.ties, y.push_back(0.5); break;
      case Outcome::Loss: ++w.losses, y.push_back(0.0); break;
      case Outcome::Error: ++w.errors; continue;
    }
    d.push_back(length_model[i] - length_reference[i]);
  }
  w.judged = w.wins + w.ties + w.losses;
  if (w.judged == 0) return w;
  const double n = static_cast<double>(w.judged);
  w.win_rate = static_cast<double>(w.wins) / n;
  w.tie_rate = static_cast<double>(w.ties) / n;
  w.loss_rate = static_cast<double>(w.losses) / n;
  w.adjusted_win_rate = (static_cast<double>(w.wins) + 0.5 * static_cast<double>(w.ties)) / n;
  w.win_rate_ci = wilson_interval(w.wins, w.judged);
  w.length_controlled_win_rate = length_controlled_win_rate(y, d);
  return w;
}

}  // namespace prefer::eval
