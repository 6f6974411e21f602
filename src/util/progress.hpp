// Progress of a sweep on rank 0: trials done/total, examples per second, ETA. A bar redrawn in
// place on a terminal; a plain line every 30 s otherwise (batch-job logs).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sgdsweep {

class ProgressDisplay {
 public:
  // `total_cost`: the sum of the trials' predicted costs (any unit); the ETA extrapolates the
  // cost finished so far.
  ProgressDisplay(std::int64_t total_trials, double total_cost, bool enabled);
  // Rate-limited: draws at most once a second (terminal) or every 30 s (otherwise) unless forced.
  void update(std::int64_t finished_trials, double finished_cost, std::int64_t examples, bool force = false);
  // Final line (terminal: ends the bar).
  void finish(std::int64_t finished_trials, double finished_cost, std::int64_t examples);

 private:
  using Clock = std::chrono::steady_clock;
  void draw(std::int64_t finished_trials, double finished_cost, std::int64_t examples, bool final);

  std::int64_t total_trials_;
  double total_cost_;
  bool enabled_;
  bool terminal_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_ = start_;
};

// "42 s", "3 min 10 s", "2 h 05 min", "1.5 days".
std::string format_duration(double seconds);

}  // namespace sgdsweep
