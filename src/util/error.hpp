// Errors: one exception type for everything a user can cause or fix, with messages built in place.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace sgdsweep {

// An error with a message that says what went wrong, where (file, field, rank, trial) and, where
// possible, what to do. Thrown anywhere below the command line; only cli/ turns it into an exit.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw Error(concat(parts...));
}

}  // namespace sgdsweep
