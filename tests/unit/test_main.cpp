// GoogleTest main for the unit tests: MPI (singleton, for the sweep-file tests) and Kokkos up for
// the life of the process. SGDSWEEP_TESTS_WITHOUT_MPI=1 skips MPI_Init, for a machine that has the
// test binary but no MPI runtime (the GPU session of bench/gpu/session.sh runs the backend,
// layer, model and trainer suites that way; the sweep-file suites need MPI).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "ops/registry.hpp"

int main(int argc, char** argv) {
  const char* without = std::getenv("SGDSWEEP_TESTS_WITHOUT_MPI");
  const bool mpi = !(without && std::strcmp(without, "1") == 0);
  // Each test process its own Open MPI session directory: singletons started side by side
  // (ctest -j) share /tmp/ompi.<host>.<uid>, and one removing it as it ends can make another's
  // start fail ("A call to mkdir was unable to create the desired directory", seen in CI).
  std::string session;
  if (mpi && !std::getenv("OMPI_MCA_orte_tmpdir_base")) {
    std::string pattern = (std::filesystem::temp_directory_path() / "sgdsweep-tests-XXXXXX").string();
    if (mkdtemp(pattern.data())) {
      session = pattern;
      setenv("OMPI_MCA_orte_tmpdir_base", session.c_str(), 1);
    }
  }
  if (mpi) MPI_Init(&argc, &argv);
  int result = 0;
  {
    sgdsweep::ops::Runtime runtime;
    ::testing::InitGoogleTest(&argc, argv);
    result = RUN_ALL_TESTS();
  }
  if (mpi) MPI_Finalize();
  if (!session.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(session, ignored);
  }
  return result;
}
