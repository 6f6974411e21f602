// GoogleTest main for the unit tests: MPI (singleton, for the sweep-file tests) and Kokkos up for
// the life of the process.
#include <gtest/gtest.h>
#include <mpi.h>

#include "ops/registry.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int result = 0;
  {
    sgdsweep::ops::Runtime runtime;
    ::testing::InitGoogleTest(&argc, argv);
    result = RUN_ALL_TESTS();
  }
  MPI_Finalize();
  return result;
}
