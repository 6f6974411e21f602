// Rank 0's progress display (see progress.hpp).
#include "util/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace sgdsweep {

std::string format_duration(double seconds) {
  char text[64];
  if (!std::isfinite(seconds) || seconds < 0) return "—";
  if (seconds < 60) {
    std::snprintf(text, sizeof text, "%.0f s", seconds);
  } else if (seconds < 3600) {
    std::snprintf(text, sizeof text, "%d min %02d s", static_cast<int>(seconds / 60), static_cast<int>(seconds) % 60);
  } else if (seconds < 86400 * 2) {
    std::snprintf(text, sizeof text, "%d h %02d min", static_cast<int>(seconds / 3600),
                  static_cast<int>(seconds / 60) % 60);
  } else {
    std::snprintf(text, sizeof text, "%.1f days", seconds / 86400);
  }
  return text;
}

ProgressDisplay::ProgressDisplay(std::int64_t total_trials, double total_cost, bool enabled)
    : total_trials_(total_trials), total_cost_(total_cost), enabled_(enabled), terminal_(isatty(STDERR_FILENO) != 0) {}

void ProgressDisplay::update(std::int64_t finished_trials, double finished_cost, std::int64_t examples, bool force) {
  if (!enabled_) return;
  const Clock::time_point now = Clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (!force && since < (terminal_ ? 1.0 : 30.0)) return;
  last_ = now;
  draw(finished_trials, finished_cost, examples, false);
}

void ProgressDisplay::finish(std::int64_t finished_trials, double finished_cost, std::int64_t examples) {
  if (enabled_) draw(finished_trials, finished_cost, examples, true);
}

void ProgressDisplay::draw(std::int64_t finished_trials, double finished_cost, std::int64_t examples, bool final) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double fraction = total_cost_ > 0 ? std::min(1.0, finished_cost / total_cost_) : 0.0;
  const double eta = fraction > 0 ? elapsed * (1.0 - fraction) / fraction : NAN;
  const double rate = elapsed > 0 ? static_cast<double>(examples) / elapsed : 0.0;
  char status[160];
  std::snprintf(status, sizeof status, "%lld/%lld trials, %.0f examples/s, elapsed %s, ETA %s",
                static_cast<long long>(finished_trials), static_cast<long long>(total_trials_), rate,
                format_duration(elapsed).c_str(), final ? "0 s" : format_duration(eta).c_str());
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth + 0.5);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r[%s] %s%s", bar.c_str(), status, final ? "\n" : "   ");
  } else {
    std::fprintf(stderr, "progress: %s\n", status);
  }
  std::fflush(stderr);
}

}  // namespace sgdsweep
