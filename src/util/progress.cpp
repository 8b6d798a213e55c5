#include "util/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "util/timer.h"

namespace prefer {

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

ProgressBar::ProgressBar(int64_t total, ProgressOptions options, std::ostream& out)
    : total_(total), opt_(std::move(options)), out_(out) {
  start_ = now();
}

ProgressBar::~ProgressBar() {
  if (!finished_) finish(status_);
}

double ProgressBar::now() const {
  if (opt_.clock) return opt_.clock();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double ProgressBar::rate() const {
  double dt = now() - start_;
  return dt > 0 ? static_cast<double>(done_) / dt : 0.0;
}

double ProgressBar::eta_seconds() const {
  double r = rate();
  if (total_ <= 0 || r <= 0) return -1;
  return static_cast<double>(std::max<int64_t>(total_ - done_, 0)) / r;
}

void ProgressBar::update(int64_t done, const std::string& status) {
  done_ = done;
  status_ = status;
  double t = now();
  if (opt_.tty) {
    render(false);
  } else if (t - last_print_ >= opt_.plain_interval_s) {
    last_print_ = t;
    render(false);
  }
}

void ProgressBar::finish(const std::string& status) {
  if (finished_) return;
  status_ = status;
  render(true);
  finished_ = true;
}

void ProgressBar::render(bool final) {
  char buf[160];
  std::string line;
  if (!opt_.label.empty()) line += opt_.label + ": ";
  if (total_ > 0) {
    double frac = std::clamp(static_cast<double>(done_) / static_cast<double>(total_), 0.0, 1.0);
    if (opt_.tty) {
      int filled = static_cast<int>(frac * opt_.bar_width);
      line += "[" + std::string(filled, '#') + std::string(opt_.bar_width - filled, '.') + "] ";
    }
    std::snprintf(buf, sizeof buf, "%lld/%lld (%.0f%%)", static_cast<long long>(done_),
                  static_cast<long long>(total_), 100.0 * frac);
  } else {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(done_));
  }
  line += buf;
  double r = rate();
  std::snprintf(buf, sizeof buf, r >= 10 || r == 0 ? " %.0f %s/s" : " %.2f %s/s", r, opt_.unit.c_str());
  line += buf;
  double elapsed = now() - start_;
  if (final) {
    line += ", took " + format_duration(elapsed);
  } else {
    double eta = eta_seconds();
    line += ", ETA " + (eta >= 0 ? format_duration(eta) : std::string("?"));
  }
  if (!status_.empty()) line += " | " + status_;
  if (opt_.tty) {
    out_ << "\r\033[K" << line;  // return and clear to end of line, so a shorter line leaves no tail
    if (final) out_ << "\n";
  } else {
    out_ << line << "\n";
  }
  out_.flush();
}

}  // namespace prefer
