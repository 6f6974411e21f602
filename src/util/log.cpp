// Logging implementation: one line per call, written whole so ranks do not interleave mid-line.
#include "util/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace sgdsweep::log {
namespace {
Level g_level = Level::info;
int g_rank = -1;
constexpr const char* kNames[] = {"error", "warn", "info", "debug"};
}  // namespace

void configure(Level level, int rank) {
  g_level = level;
  g_rank = rank;
}

Level level() { return g_level; }

Level parse_level(std::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (name == kNames[i]) return static_cast<Level>(i);
  }
  fail("unknown log level '", name, "' (valid: error, warn, info, debug)");
}

void write(Level level, const std::string& message) {
  if (level > g_level) return;
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[16];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &local);
  std::string line = concat("[", stamp, g_rank >= 0 ? concat(" rank ", g_rank) : std::string(),
                            "] ", kNames[static_cast<int>(level)], ": ", message, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace sgdsweep::log
