// Progress reporting for long loops (training steps, tokenization, evaluation).
//
// On a terminal: one line redrawn in place with a bar, rate, ETA and a status text (loss, margin ...).
// Not on a terminal (CI logs, `| tee`): a plain line every `plain_interval_s` seconds and at the end,
// so logs stay readable and small.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace prefer {

struct ProgressOptions {
  std::string label;               // "dpo", "tokenize" ...
  std::string unit = "it";         // "it", "steps", "examples" ...
  bool tty = false;                // use stdout_is_terminal() for the real decision
  double plain_interval_s = 30.0;  // non-terminal: seconds between lines
  int bar_width = 24;
  std::function<double()> clock;   // seconds; steady clock when empty (tests inject their own)
};

bool stdout_is_terminal();

class ProgressBar {
 public:
  ProgressBar(int64_t total, ProgressOptions options, std::ostream& out);
  ~ProgressBar();  // finishes the line if finish() was not called

  // Sets the number of finished items and the status text shown after the rate.
  void update(int64_t done, const std::string& status = "");
  void advance(int64_t n = 1, const std::string& status = "") { update(done_ + n, status); }
  void finish(const std::string& status = "");

  int64_t done() const { return done_; }
  // Items per second since construction (0 before any time has passed).
  double rate() const;
  // Seconds left at the current rate, negative when unknown.
  double eta_seconds() const;

 private:
  double now() const;
  void render(bool final);

  int64_t total_;
  ProgressOptions opt_;
  std::ostream& out_;
  double start_;
  double last_print_ = -1e300;
  int64_t done_ = 0;
  std::string status_;
  bool finished_ = false;
};

}  // namespace prefer
