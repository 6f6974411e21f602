// The gradient reducer: how the members of a team combine what each computed for a step. The
// trainer hands it its gradient buffer; a team of one gets the identity. The sum follows the
// same binary tree as the trainer's microbatch accumulation (train/gradient_accumulator.hpp):
// at level k, members r and r XOR 2^k exchange their partial sums and both keep the sum, so with
// aligned runs of microbatches per member the team's gradient is bit for bit the one rank's.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "comm/communicator.hpp"

namespace sgdsweep::comm {

class GradientReducer {
 public:
  virtual ~GradientReducer() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Sums `count` floats across the team in the tree above; every member ends with the same bits.
  // `values` must be host-accessible memory (the host backend's buffers are).
  virtual void sum(float* values, std::int64_t count) = 0;
  // Concatenates every member's `count` doubles in rank order into `all` (size() × count).
  virtual void gather(const double* mine, std::int64_t count, double* all) = 0;
};

// A team of one.
std::unique_ptr<GradientReducer> make_identity_reducer();
// The same, one shared instance (it has no state).
GradientReducer& identity_reducer();
// MPI point-to-point recursive doubling over `team` (whose size must be a power of two).
std::unique_ptr<GradientReducer> make_mpi_reducer(const Communicator& team);

}  // namespace sgdsweep::comm
