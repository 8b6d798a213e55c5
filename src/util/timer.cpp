#include "util/timer.h"

#include <cmath>
#include <cstdio>

namespace prefer {

void TimerTotals::add(const std::string& name, double seconds) {
  Entry& e = entries_[name];
  e.seconds += seconds;
  e.calls += 1;
}

double TimerTotals::total() const {
  double t = 0;
  for (const auto& [_, e] : entries_) t += e.seconds;
  return t;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  char buf[32];
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  } else {
    auto s = static_cast<long long>(std::llround(seconds));
    long long h = s / 3600, m = (s % 3600) / 60, r = s % 60;
    if (h > 0) std::snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", h, m, r);
    else std::snprintf(buf, sizeof buf, "%lldm%02llds", m, r);
  }
  return buf;
}

}  // namespace prefer
