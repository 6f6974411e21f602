// GoogleTest main for the unit tests: MPI (singleton, for the sweep-file tests) and Kokkos up for
// the life of the process. SGDSWEEP_TESTS_WITHOUT_MPI=1 skips MPI_Init, for a machine that has the
// test binary but no MPI runtime (the GPU session of bench/gpu/session.sh runs the backend,
// layer, model and trainer suites that way; the sweep-file suites need MPI).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdlib>
#include <cstring>

#include "ops/registry.hpp"

int main(int argc, char** argv) {
  const char* without = std::getenv("SGDSWEEP_TESTS_WITHOUT_MPI");
  const bool mpi = !(without && std::strcmp(without, "1") == 0);
  if (mpi) MPI_Init(&argc, &argv);
  int result = 0;
  {
    sgdsweep::ops::Runtime runtime;
    ::testing::InitGoogleTest(&argc, argv);
    result = RUN_ALL_TESTS();
  }
  if (mpi) MPI_Finalize();
  return result;
}
