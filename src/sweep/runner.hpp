// One rank's part of a sweep: agree with the other ranks that everything is in place, create the
// file together, train this rank's share of the trials and record each one as it finishes.
#pragma once

#include <cstdint>
#include <string>

#include "comm/communicator.hpp"
#include "spec/spec.hpp"
#include "util/error.hpp"

namespace sgdsweep::sweep {

// An error every rank has seen (each rank throws it after the same collective agreement), so the
// program can finalize MPI and exit instead of aborting.
class CollectiveError : public Error {
 public:
  using Error::Error;
};

struct RunOptions {
  std::string output_path;
  bool overwrite = false;  // replace an existing output file
  bool resume = false;     // continue an existing output file: keep its committed trials, run the rest
  bool append = false;     // --resume with more trials: the spec's grid starts with the file's trials
};

// Where the ranks' time went, in rank-seconds summed over all ranks (their total is ranks × wall).
struct TimeSplit {
  double setup = 0.0;       // start until the first trial: checks, data loading, file creation, plan
  double training = 0.0;    // inside train_trial (evaluations and progress reports included)
  double hdf5 = 0.0;        // committing outcomes to the file, and closing it
  double scheduling = 0.0;  // taking the next trial from the shared counter (and its team broadcast)
  double idle = 0.0;        // after the rank's last trial, waiting for the others to finish
};

struct RunSummary {
  std::int64_t trials = 0;
  std::int64_t finished = 0;
  std::int64_t diverged = 0;
  std::int64_t failed = 0;
  double wall_seconds = 0.0;
  int ranks = 0;
  TimeSplit time;
};

// Collective over `comm`. Problems found before the file exists (the output path, the data, the
// grid) throw CollectiveError on every rank and leave no file behind; a trial that throws is
// recorded as failed and the sweep goes on (on a team of several ranks it ends the job instead:
// its members are inside the trial's collectives; --resume continues).
//
// Trials run on the teams of the plan (planner.hpp): within a team class, the team leaders take
// the next trial of the class's longest-first list from a shared counter. Rank 0 shows progress.
RunSummary run_sweep(const spec::Spec& spec, const RunOptions& options, const comm::Communicator& comm);

}  // namespace sgdsweep::sweep
