// Logging: leveled, rank-prefixed lines on stderr. The level and the rank are set once by cli/.
#pragma once

#include <string>
#include <string_view>

#include "util/error.hpp"

namespace sgdsweep::log {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

void configure(Level level, int rank);
Level level();
// Parses "error" | "warn" | "info" | "debug"; throws Error naming the valid levels otherwise.
Level parse_level(std::string_view name);
void write(Level level, const std::string& message);
// The current time as ISO 8601 UTC, e.g. "2026-11-23T12:23:45Z" (file provenance).
std::string utc_now();

template <class... Parts>
void error(const Parts&... parts) { write(Level::error, concat(parts...)); }
template <class... Parts>
void warn(const Parts&... parts) { if (level() >= Level::warn) write(Level::warn, concat(parts...)); }
template <class... Parts>
void info(const Parts&... parts) { if (level() >= Level::info) write(Level::info, concat(parts...)); }
template <class... Parts>
void debug(const Parts&... parts) { if (level() >= Level::debug) write(Level::debug, concat(parts...)); }

}  // namespace sgdsweep::log
