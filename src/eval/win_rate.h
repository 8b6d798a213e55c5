// Win-rate bookkeeping for a judge that compares two answers twice with their positions swapped
// (MT-Bench's rule): a win counts only when both orders pick the model; a tie verdict or two orders that
// disagree count as a tie; a verdict that could not be parsed keeps the prompt out of the rates. Then
// the rates, the 95% Wilson interval and AlpacaEval's length-controlled win rate in its minimal form.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace prefer::eval {

enum class Verdict { A, B, Tie, Error };
enum class Outcome { Win, Tie, Loss, Error };

// `model_first`: the verdict with the model's answer as A; `model_second`: with the model's answer as B.
Outcome combine(Verdict model_first, Verdict model_second);

const char* verdict_name(Verdict v);  // "A", "B", "C" (tie), "error"
const char* outcome_name(Outcome o);  // "win", "tie", "loss", "error"

// The 95% Wilson score interval of k successes in n trials ([0, 1] for n = 0).
std::pair<double, double> wilson_interval(int64_t k, int64_t n, double z = 1.959963984540054);

// AlpacaEval's length-controlled win rate, minimal form: a logistic fit of the soft outcome y (1 win,
// 0.5 tie, 0 loss) on x = tanh(d / std(d)) plus an intercept, where d is the model's length minus the
// reference's; evaluated at d = 0, i.e. sigmoid(intercept). With every d equal (std 0) x is 0 and the
// result is the mean of y, the adjusted win rate.
double length_controlled_win_rate(const std::vector<double>& y, const std::vector<double>& length_difference);

struct WinRate {
  int64_t judged = 0, wins = 0, ties = 0, losses = 0, errors = 0;
  double win_rate = 0, tie_rate = 0, loss_rate = 0, adjusted_win_rate = 0;
  std::pair<double, double> win_rate_ci{0, 1};
  double length_controlled_win_rate = 0;
  double mean_length_model = 0, mean_length_reference = 0;
};

// From one outcome per prompt and the two answers' lengths (characters, as AlpacaEval measures).
WinRate summarize(const std::vector<Outcome>& outcomes, const std::vector<double>& length_model,
                  const std::vector<double>& length_reference);

}  // namespace prefer::eval
