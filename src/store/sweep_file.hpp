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

  // Collective over `comm`: reopens an existing sweep file to continue it (--resume). Rank 0 first
  // reads it serially and checks that it was made from this very spec (text and grid); every
  // committed trial whose checksum still matches is kept byte for byte; pending trials, failed
  // ones and committed ones whose checksum fails are returned in `to_run` (the latter two reset
  // to pending first, so the file never shows a stale result as committed).
  struct Resume {
    std::vector<std::int64_t> to_run;
    std::int64_t kept = 0;       // committed trials kept as they are
    std::int64_t corrupt = 0;    // committed trials whose checksum failed
    std::int64_t failed = 0;     // failed trials to run again
    std::int64_t added = 0;      // append(): new trials after the file's
  };
  static SweepFile reopen(const std::string& path, MPI_Comm comm, const spec::Spec& spec,
                          const std::vector<spec::Trial>& trials, Resume& resume);

  // Collective over `comm`: grows an existing sweep file to `trials` (--append; grid refinement).
  // Rank 0 first checks that the file's N trials are the first N of `trials` (every hyperparameter
  // column; the spec's [model], [data] and [evaluation] as in the file's spec_toml) and every rank
  // fails with its message otherwise, before anything is written. Then, unless the spec text is
  // the file's own (nothing to add: a plain reopen), it builds `path` + ".partial" for all of
  // `trials` by create()'s path, copies the N old trials' written values into their rows byte for
  // byte (so their checksums still verify), and renames it over `path`: a crash before the rename
  // leaves the old file as it was. Finally reopen() as for --resume: the new trials are pending,
  // failed and corrupt old ones are reset and rerun.
  static SweepFile append(const std::string& path, MPI_Comm comm, const spec::Spec& spec,
                          const std::vector<spec::Trial>& trials, const Provenance& provenance,
                          Resume& resume);

  // Independent (only the calling rank): writes one trial's curves, step losses, results and
  // checksum, then its status.
  void write_outcome(const spec::Trial& trial, const spec::TrialOutcome& outcome, int rank,
                     int team_size = 1);

  // Collective: closes the file.
  void close();

  const std::string& path() const { return path_; }

 private:
  SweepFile() = default;
  // create(), and for append() also the copy of the first `copied_rows` trials' results from the
  // file `copy_from` (empty: none) before the rename.
  static SweepFile create_file(const std::string& path, MPI_Comm comm, const spec::Spec& spec,
                               const std::vector<spec::Trial>& trials, const Provenance& provenance,
                               const std::string& copy_from, std::int64_t copied_rows);
  // Rank 0 of append(): the result datasets' first `rows` trials, verbatim, from the file `from`.
  void copy_results(const std::string& from, std::int64_t rows);
  hid_t dataset(const std::string& name) const;
  void open_datasets();
  void set_layout(const std::vector<spec::Trial>& trials, std::int32_t evaluations);

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
  std::int32_t team_size = -1; // ranks of its team (−1 while pending)
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
  std::int64_t train_examples = 0;
  std::int64_t test_examples = 0;
  std::vector<StoredTrial> trials;
};

// Reads a sweep file serially (postprocess/, tests). Throws Error naming the file.
SweepContents read_sweep(const std::string& path);

// The checksum write_outcome stores for `stored` (recomputed from the values read back).
std::uint64_t outcome_checksum(const StoredTrial& stored);

}  // namespace sgdsweep::store
