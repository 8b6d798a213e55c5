// Wall-clock timing: a stopwatch, and named totals for "where does the step time go" reports.
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace prefer {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  void reset() { start_ = std::chrono::steady_clock::now(); }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Accumulates seconds and call counts per name (e.g. "forward", "backward", "optimizer").
class TimerTotals {
 public:
  struct Entry {
    double seconds = 0;
    int64_t calls = 0;
  };
  void add(const std::string& name, double seconds);
  const std::map<std::string, Entry>& entries() const { return entries_; }
  double total() const;
  void clear() { entries_.clear(); }

 private:
  std::map<std::string, Entry> entries_;
};

// Adds the lifetime of the scope to `totals[name]`.
class ScopedTimer {
 public:
  ScopedTimer(TimerTotals& totals, std::string name) : totals_(totals), name_(std::move(name)) {}
  ~ScopedTimer() { totals_.add(name_, watch_.seconds()); }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  TimerTotals& totals_;
  std::string name_;
  Stopwatch watch_;
};

// "1h02m03s", "2m05s", "4.2s": durations for progress lines and reports.
std::string format_duration(double seconds);

}  // namespace prefer
