// Counters every rank can bump atomically without the owner's participation: int64 values in an
// MPI one-sided window on rank 0 of a communicator (MPI_Fetch_and_op under a passive-target
// lock). They hand out trials dynamically ("the next trial of my team class") and gather
// progress (trials finished, examples trained) without a coordinator rank.
//
// Progress of passive-target operations is the MPI library's business: with shared memory or
// hardware atomics (osc/sm, osc/ucx) they complete without rank 0's help; over plain TCP some MPI
// builds need rank 0 to enter the library, which it does between steps.
#pragma once

#include <mpi.h>

#include <cstdint>

#include "comm/communicator.hpp"

namespace sgdsweep::comm {

class SharedCounters {
 public:
  // Collective over `comm`: `count` counters, all zero.
  SharedCounters(const Communicator& comm, int count);
  ~SharedCounters();  // collective (MPI_Win_free)
  SharedCounters(const SharedCounters&) = delete;
  SharedCounters& operator=(const SharedCounters&) = delete;

  // Adds `delta` to counter `index` and returns its value before the addition (atomic).
  std::int64_t fetch_add(int index, std::int64_t delta);
  std::int64_t read(int index) { return fetch_add(index, 0); }

 private:
  MPI_Win window_ = MPI_WIN_NULL;
  std::int64_t* memory_ = nullptr;
};

}  // namespace sgdsweep::comm
