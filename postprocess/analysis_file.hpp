// Writes the analysis back into the sweep file as the group /analysis (schema: docs/hdf5-schema.md,
// "The analysis group"), replacing an older one. Serial HDF5; takes the sweep's lock file
// exclusively, so it refuses a file that `sgdsweep run` is writing.
#pragma once

#include <string>
#include <vector>

#include "protocol.hpp"
#include "report.hpp"

namespace sgdsweep::analysis {

struct AnalysisAttributes {
  int best_k = 0, seeds = 0;
  bool metric_higher_is_better = false;
  long long trials_committed = 0;
  std::string regime_summary;
};

// `model_code`: the root's code of the sweep's model (one model per file; ConfigKey holds its
// name). Throws Error naming the file.
void write_analysis(const std::string& path, signed char model_code, const std::vector<ConfigResult>& results,
                    const std::vector<Series>& series, const AnalysisAttributes& attributes);

}  // namespace sgdsweep::analysis
