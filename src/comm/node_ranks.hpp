// Ranks per node as the launcher tells its processes (Open MPI, Slurm, MPICH/Hydra), for sizing
// per-rank thread pools before any communicator exists; 1 when no launcher says.
#pragma once

#include <cstdlib>

namespace sgdsweep::comm {

inline int launcher_ranks_per_node() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE", "MPI_LOCALNRANKS"}) {
    if (const char* value = std::getenv(name)) {
      if (const int ranks = std::atoi(value); ranks > 0) return ranks;
    }
  }
  return 1;
}

}  // namespace sgdsweep::comm
