// `sgdsweep plan`: a sweep's predicted cost, team layout, makespan and efficiency on P ranks,
// without training (and without MPI beyond the calling rank).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace sgdsweep::sweep {

struct PlanOptions {
  int ranks = 1;
  std::string calibration_file;  // a finished sweep file to fit the cost model's rate to; optional
  std::string device;            // overrides the spec's [sweep] device when not empty
  std::int64_t pack = 0;         // overrides the spec's [parallel] pack when not 0
};

// Prints the plan of the spec at `spec_path` to `out`; throws Error naming the problem.
int plan_command(const std::string& spec_path, const PlanOptions& options, std::ostream& out);

}  // namespace sgdsweep::sweep
