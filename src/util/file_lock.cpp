// flock-based file locks (see file_lock.hpp).
#include "util/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.hpp"

namespace sgdsweep {

FileLock::FileLock(const std::string& path, Mode mode) {
  descriptor_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (descriptor_ < 0) fail(path, ": cannot open the lock file (", std::strerror(errno), ")");
  if (::flock(descriptor_, (mode == Mode::shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
    const int error = errno;
    ::close(descriptor_);
    descriptor_ = -1;
    if (error == EWOULDBLOCK) {
      fail(path, ": another process is still writing this sweep file (a job's surviving ranks?); ",
           "wait for it or stop it, then run again");
    }
    fail(path, ": cannot lock (", std::strerror(error), ")");
  }
}

FileLock::~FileLock() {
  if (descriptor_ >= 0) ::close(descriptor_);  // closing releases the lock
}

}  // namespace sgdsweep
