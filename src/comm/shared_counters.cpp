// One-sided shared counters on rank 0 of a communicator.
#include "comm/shared_counters.hpp"

#include "util/error.hpp"
#include "util/log.hpp"

namespace sgdsweep::comm {

SharedCounters::SharedCounters(const Communicator& comm, int count) {
  const MPI_Aint bytes = comm.rank() == 0 ? static_cast<MPI_Aint>(count) * sizeof(std::int64_t) : 0;
  if (MPI_Win_allocate(bytes, sizeof(std::int64_t), MPI_INFO_NULL, comm.get(), &memory_, &window_) !=
      MPI_SUCCESS) {
    fail("MPI_Win_allocate failed for the sweep's shared counters");
  }
  if (comm.rank() == 0) {
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, window_);
    for (int i = 0; i < count; ++i) memory_[i] = 0;
    MPI_Win_unlock(0, window_);
  }
  comm.barrier();
}

SharedCounters::~SharedCounters() {
  if (window_ != MPI_WIN_NULL && MPI_Win_free(&window_) != MPI_SUCCESS) log::warn("MPI_Win_free failed");
}

std::int64_t SharedCounters::fetch_add(int index, std::int64_t delta) {
  std::int64_t before = 0;
  MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, window_);
  const int code = MPI_Fetch_and_op(&delta, &before, MPI_INT64_T, 0, index, MPI_SUM, window_);
  MPI_Win_unlock(0, window_);
  if (code != MPI_SUCCESS) fail("MPI_Fetch_and_op failed on the sweep's shared counters");
  return before;
}

}  // namespace sgdsweep::comm
