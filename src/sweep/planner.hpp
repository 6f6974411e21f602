// Who runs what: a cost model per trial, the team size of every trial, the partition of the world's
// ranks into classes of equal-size teams, and the predicted makespan of the dynamic schedule the
// runner follows. Pure and deterministic (no MPI): every rank computes the same plan from the same
// inputs, and `sgdsweep plan` prints it without training.
//
// Vocabulary: a *team* is g ranks (g a power of two) that train one trial together, each rank
// computing a contiguous run of the step's microbatches; a *class* is all the teams of one size,
// on consecutive world ranks, sharing one list of trials (longest predicted first) from which each
// team takes the next trial when it is free (list scheduling; LPT when the predictions are right).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "spec/grid.hpp"
#include "spec/spec.hpp"
#include "spec/trial.hpp"

namespace sgdsweep::sweep {

struct CostModel {
  double flops_per_second = 0;         // one rank's sustained training rate
  double step_overhead_seconds = 0;    // per update, whatever B (launches, optimizer sweep)
  double reduce_bytes_per_second = 0;  // team all-reduce bandwidth per rank
  double reduce_latency_seconds = 0;   // per all-reduce stage
  std::string source;                  // where the numbers come from (printed in the report)
  // true: the members split the evaluation examples (each a share of the chunks; the sums
  // combined in chunk order), so a bigger team shortens the evaluation too — what the runner does
  // for image models (cost_model_for). false: the leader evaluates while the others wait (the
  // LSTM's evaluation is one sequential pass). Not a measured number: a runtime choice.
  bool team_evaluates = false;
  // Whether the trials of a pack share step_overhead_seconds (a GPU's kernel launches: one
  // packed step launches for all) or each pays it (the host's, which is per-trial memory traffic:
  // bench/results/pack-throughput-host-2026-11-23.md measured packs no faster).
  bool packs_share_overhead = false;

  // Wall seconds of `trial` on a team of `team_size` ranks:
  //   steps × (rows·flops_per_example / rate + overhead + (g > 1 ? log2(g)·(latency + 4·parameters /
  //   bandwidth) : 0)) + evaluation on the leader ((evaluations + 1) × (eval examples) ×
  //   flops_per_example / 3 / rate; divided by g when team_evaluates),
  // where rows = the slowest member's share of the batch, (M/g)·microbatch capped at B (= ⌈B/g⌉
  // when the microbatches divide B evenly), and the evaluation examples are the training subset
  // plus the test set (windows of `unroll` tokens for the language model). Unless team_evaluates,
  // the other members wait while the leader evaluates, so a bigger team shortens only training.
  double trial_seconds(const spec::Spec& spec, const spec::Trial& trial, const spec::DataShape& data,
                       std::int64_t parameters, int team_size) const;
  // Wall seconds of `trial` in a pack of `pack` from its seconds alone: pack × alone, less the
  // step overhead of the other pack − 1 trials where the pack shares it (packs_share_overhead).
  double packed_seconds(double alone, const spec::Trial& trial, std::int64_t pack) const;
};

// host: the rate measured on the 2-core EPYC VM (docs/models.md, bench/results/); the all-reduce
// numbers are assumptions. cuda: every number an assumption, labelled so in `source`.
// Throws Error for another device.
CostModel default_cost_model(const std::string& device);

// The cost model of a spec's device with the runner's evaluation: split over a team's members
// (team_evaluates) except for the language model, whose evaluation is one sequential pass.
CostModel cost_model_for(const spec::Spec& spec);

// Fits flops_per_second (keeping the others) to measured trials: pairs of (predicted seconds at
// the model's current rate, measured wall seconds). Least squares on the ratio: s = mean of
// measured/predicted, new rate = rate / s (the whole prediction is treated as compute-bound, so
// the fit is exact when the overheads are small). Pairs with a non-positive value are skipped;
// throws Error when none is left. `source` says it was calibrated on N trials.
CostModel calibrated(const CostModel& model, const std::vector<std::pair<double, double>>& predicted_and_measured);

struct TeamClass {
  int team_size = 1;
  int teams = 0;
  int first_rank = 0;                // world ranks [first_rank, first_rank + teams·team_size)
  std::vector<std::int64_t> trials;  // longest predicted first (ties: lower trial index first)
  double predicted_seconds = 0;      // the class's simulated makespan
};

struct Plan {
  int ranks = 0;
  std::vector<TeamClass> classes;     // largest team size first, so every team starts at a rank
                                      // that is a multiple of its size (aligned with nodes)
  // Indexed by trial index; 0 for trials not in `to_run`. The members that compute the trial:
  // its class's team size, or fewer when the trial cannot split that far and runs padded on the
  // first members of a bigger team (the others wait) — what a run on few ranks does rather than
  // needing a team of every size at once.
  std::vector<int> team_size;
  std::vector<double> trial_seconds;  // predicted, on its team; indexed by trial index (0: not run)
  double total_rank_seconds = 0;      // Σ team_size × seconds over the trials to run
  double lower_bound_seconds = 0;     // max(total_rank_seconds / ranks, longest trial on its team)
  // The same bound over every layout the trials allow (each trial at its cheapest team size for
  // the total, at its fastest for the longest): what no plan can beat; <= lower_bound_seconds.
  double any_layout_lower_bound_seconds = 0;
  double makespan_seconds = 0;        // simulated list scheduling of every class
  double efficiency = 0;              // lower_bound / makespan (1 when there is nothing to run)
  int idle_ranks = 0;                 // the last idle_ranks world ranks belong to no team
  std::int64_t parameters = 0;        // the model's parameter count the plan assumed
  std::string cost_source;            // CostModel::source, for the report
  // Packs ([parallel].pack > 1): the most trials one rank trains together, and the number of trial
  // shapes (spec::packs_with) among the trials to run. Then each class of one-rank teams lists the
  // trials of one shape together (shapes in the order of their longest trial, longest first
  // within), trial_seconds is a trial's time in a full pack, and the makespan is list scheduling
  // over teams × pack lanes (see make_plan).
  std::int64_t pack = 1;
  std::int64_t pack_shapes = 0;
  bool packs_share_overhead = false;  // CostModel::packs_share_overhead, for the report
  bool team_evaluates = false;        // CostModel::team_evaluates, for the report

  struct Placement {
    int class_index = -1;  // -1: idle rank
    int team = -1;         // within the class
    int member = -1;       // 0 … team_size−1; member 0 leads (evaluates, records)
  };
  Placement placement(int world_rank) const;
};

// Allowed team sizes of a trial (powers of two dividing its microbatch count ⌈B/microbatch⌉,
// <= ranks), ascending. Always starts with 1.
std::vector<int> allowed_team_sizes(const spec::Trial& trial, int ranks);

// The plan for running `to_run` (indices into `trials`) on `ranks` ranks. With packs the layout is
// chosen as without them, then the one-rank classes are reordered and predicted again: a trial in a
// pack of P takes P times its time alone (the packed step computes every copy), less the step
// overhead of the other P − 1 where the pack shares it (CostModel::packs_share_overhead):
// P·t − (P − 1)·steps·overhead. Throws Error when a
// trial's batch cannot meet [parallel].max_examples_per_rank on an allowed team of at most
// `ranks` ranks. The algorithm is described in
// planner.cpp; it is deterministic and takes about a second for 10^5 trials on 10^5 ranks.
Plan make_plan(const spec::Spec& spec, const std::vector<spec::Trial>& trials,
               const std::vector<std::int64_t>& to_run, int ranks, const spec::DataShape& data,
               std::int64_t parameters, const CostModel& cost);

// What `sgdsweep plan` prints: trials (to run / in the grid), predicted cost in core-hours (host)
// or GPU-hours (cuda), the team layout (per class: team size, teams, ranks, trials, predicted
// time), lower bound, makespan, efficiency, idle ranks and the cost model's source. Plain text,
// aligned, human-friendly durations ("3 h 12 min", "2.4 days").
std::string plan_report(const Plan& plan, const spec::Spec& spec, const std::vector<spec::Trial>& trials);

}  // namespace sgdsweep::sweep
