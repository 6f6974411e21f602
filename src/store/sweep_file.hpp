// The one file of a sweep (docs/hdf5-schema.md is its user-facing description). Created whole and
// collectively before training starts — every dataset fixed-size, contiguous, fill-valued, every
// trial pending — and then only raw data is written, trial by trial, by the rank that ran it, with
// the trial's status byte last as its commit marker. No metadata changes while trials run.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "spec/spec.hpp"
#include "spec/trial.hpp"
#include "store/h5.hpp"

namespace sgdsweep::store {

inline constexpr std::int32_t kSchemaVersion = 1;
inline constexpr std::size_t kMessageLength = 256;  // bytes of the per-trial message column

// Facts about the run that are not in the spec, recorded as root attributes.
struct Provenance {
  std::int64_t train_examples = 0;       // training examples in use
  std::int64_t test_examples = 0;        // test examples in use
  std::int64_t eval_train_examples = 0;  // examples of the training-loss evaluation
  std::string train_source;              // the data files read
  std::string test_source;
  std::int32_t ranks = 1;
};

class SweepFile {
 public:
  // Collective over `comm`: creates `path` + ".partial" (replacing any stale one), lays out every
  // dataset for `trials`, writes the spec, the provenance and each trial's hyperparameters,
  // flushes, and renames it to `path`. The caller has made sure `path` may be replaced.
  static SweepFile create(const std::string& path, MPI_Comm comm, const spec::Spec& spec,
                          const std::vector<spec::Trial>& trials, const Provenance& provenance);

  // Independent (only the calling rank): writes one trial's curves, step losses, results and
  // checksum, then its status.
  void write_outcome(const spec::Trial& trial, const spec::TrialOutcome& outcome, int rank);

  // Collective: closes the file.
  void close();

  const std::string& path() const { return path_; }

 private:
  SweepFile() = default;
  hid_t dataset(const std::string& name) const;

  std::string path_;
  h5::File file_;
  std::map<std::string, h5::Dataset> datasets_;
  std::int32_t evaluations_ = 0;
  std::vector<std::int64_t> step_loss_start_;
  std::vector<std::int64_t> step_loss_size_;
};

// A trial as read back from a file.
struct StoredTrial {
  spec::Trial trial;
  spec::TrialOutcome outcome;  // curve holds every evaluation point (unreached ones NaN, step −1)
  std::int32_t rank = -1;      // the rank that ran it (−1 while pending)
  std::uint64_t checksum = 0;
  double final_train_loss = 0.0;
  double final_test_metric = 0.0;
};

struct SweepContents {
  std::string spec_toml;
  std::string sweep_name;
  std::string engine_version;
  std::string metric_name;
  std::string loss_name;
  bool metric_higher_is_better = false;
  std::int32_t evaluations = 0;
  std::int32_t best_k = 0;
  std::int32_t seeds = 0;
  std::vector<StoredTrial> trials;
};

// Reads a sweep file serially (postprocess/, tests). Throws Error naming the file.
SweepContents read_sweep(const std::string& path);

// The checksum write_outcome stores for `stored` (recomputed from the values read back).
std::uint64_t outcome_checksum(const StoredTrial& stored);

}  // namespace sgdsweep::store
