// The host backend: Kokkos kernels on the host execution space and single-threaded CBLAS, one
// MPI rank per core. The reference implementation of the op interface.
#pragma once

#include <memory>

#include "ops/backend.hpp"

namespace sgdsweep::ops {

std::unique_ptr<Backend> make_host_backend();

}  // namespace sgdsweep::ops
