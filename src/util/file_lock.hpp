// Advisory whole-file locks (flock) on a lock file beside the sweep file: every rank of a run
// holds a shared lock while the file is open for writing, and a run that would write the same
// file first takes the lock exclusively for a moment — which fails while any rank of an earlier
// job is still alive (the killed job's other ranks can outlive its launcher). The kernel releases
// a dead process's locks. flock works on local file systems and on Lustre/GPFS mounted with
// flock support; on NFS it may be a no-op (docs/running.md).
#pragma once

#include <string>

namespace sgdsweep {

class FileLock {
 public:
  enum class Mode { shared, exclusive };
  // Creates `path` if needed and locks it without waiting; throws Error when someone else holds
  // an incompatible lock.
  FileLock(const std::string& path, Mode mode);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int descriptor_ = -1;
};

}  // namespace sgdsweep
