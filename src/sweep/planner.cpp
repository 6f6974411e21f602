// The planner: cost model, team sizes, classes of teams, and the simulated dynamic schedule.
//
// The algorithm (make_plan), in five steps:
//  1. Candidates. Each trial to run may use the allowed team sizes (powers of two dividing its
//     microbatch count, <= ranks) from its minimum upward: the smallest g whose per-rank share of
//     the batch meets [parallel].max_examples_per_rank (1 without a limit). Without
//     [parallel].balance_teams only the minimum is used. If the distinct minimum sizes do not fit
//     into the ranks together (each class needs a team), the smallest class moves up to the next
//     size; a trial that cannot split that far runs there padded (on its own split, the team's
//     other members waiting).
//  2. Target makespan L, by bisection. For a given L every trial picks a team size (below), the
//     trials of each size form a class, and each class gets the fewest teams (to 0.2%) whose
//     simulated schedule finishes by L (fewest_teams: a search between simple bounds). L is
//     feasible when those teams need at most `ranks` ranks. Doubling from the any-layout lower
//     bound, then bisection on log L, finds the smallest feasible L to 0.1%.
//  3. Team size at L. Three rules are tried at every L, and the layout needing fewest ranks is
//     kept: every trial at its minimum size; (balance_teams) every trial at the smallest size on
//     which it finishes by L (least rank-time: a bigger team only adds communication, step
//     overhead and waiting for the leader's evaluation); (balance_teams) every trial at the size
//     that fits most copies of it per rank into L: a trial of duration d on g ranks occupies, if
//     its team's other trials were like it, g / ⌊L / d⌋ ranks (ties: the smaller team). The last
//     rule is what packs ~1 trial per rank: 4,200 trials of about equal length on 4,096 ranks
//     need teams that fit 33 in the time of 32.
//  4. Refinement, bounded. (a) With balance_teams, trials move from the class that finishes last
//     to another class they may use while that shortens the pair (this is what balances a few
//     forced classes on a small run); (b) while ranks are free, the class that finishes last gets
//     one more team if that shortens it; (c) ranks still free go to the classes as spare teams
//     (absorbing prediction errors at run time); what cannot form a team is idle.
//  5. Fewer classes (balance_teams, small runs, bounded): when a class has few teams, steps 2–4
//     are redone with one team size taken away from every trial, and kept if the plan shortens.
// A rank stays in its class for the whole run, so a class's work must fit its own ranks: with a
// per-rank limit on a small run (classes of 16 and 32 ranks on 48) that, not the planner, can
// keep the makespan well above total / ranks.
// The schedule simulated is the runner's: within a class, trials sorted longest first go, in
// order, to whichever team is free first (a min-heap of team finish times, O(T log teams)).
// Classes are laid out on the world ranks largest team size first, so each team starts at a rank
// that is a multiple of its size.
#include "sweep/planner.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <queue>
#include <sstream>

#include "util/error.hpp"

namespace sgdsweep::sweep {
namespace {

constexpr int kMaxSizeExponent = 31;

// What a trial's cost needs from the spec and the data, computed once per plan.
struct CostTerms {
  double flops_per_example = 0;    // forward + backward of one example (a window for the LSTM)
  double evaluation_examples = 0;  // examples (windows) of one evaluation point, training + test
};

CostTerms cost_terms(const spec::Spec& spec, const spec::DataShape& data) {
  const std::int64_t eval_train = spec.eval_train_examples > 0
                                      ? std::min(spec.eval_train_examples, data.train_examples)
                                      : data.train_examples;
  const double per_unit = spec.model == spec::ModelKind::lstm ? 1.0 / static_cast<double>(spec.unroll) : 1.0;
  return {spec::flops_per_example(spec), static_cast<double>(eval_train + data.test_examples) * per_unit};
}

std::int64_t microbatch_count(const spec::Trial& trial) {
  if (trial.batch_size < 1) fail("trial ", trial.index, ": batch size ", trial.batch_size);
  const std::int64_t rows = trial.microbatch > 0 ? trial.microbatch : trial.batch_size;
  return (trial.batch_size + rows - 1) / rows;
}

// Rows of the step's batch on the team's busiest member (member 0): M/g whole microbatches.
std::int64_t rows_per_member(const spec::Trial& trial, int team_size) {
  const std::int64_t rows = trial.microbatch > 0 ? trial.microbatch : trial.batch_size;
  return std::min(trial.batch_size, microbatch_count(trial) / team_size * rows);
}

double seconds_of(const CostModel& cost, const CostTerms& terms, const spec::Trial& trial,
                  std::int64_t parameters, int team_size) {
  const double compute = static_cast<double>(rows_per_member(trial, team_size)) * terms.flops_per_example /
                         cost.flops_per_second;
  double reduce = 0;
  if (team_size > 1) {
    reduce = std::log2(static_cast<double>(team_size)) *
             (cost.reduce_latency_seconds + 4.0 * static_cast<double>(parameters) / cost.reduce_bytes_per_second);
  }
  double evaluation = (trial.evaluations + 1.0) * terms.evaluation_examples * terms.flops_per_example / 3.0 /
                      cost.flops_per_second;
  if (cost.team_evaluates) evaluation /= team_size;
  return static_cast<double>(trial.steps) * (compute + cost.step_overhead_seconds + reduce) + evaluation;
}

int exponent_of(int team_size) {
  int e = 0;
  while ((1 << e) < team_size) ++e;
  return e;
}

// Makespan of list scheduling: `seconds` sorted longest first, each to the team free first. With
// a `limit`, stops as soon as a team would finish after it (and returns that finish time).
double list_schedule(const std::vector<double>& seconds, std::int64_t teams,
                     double limit = std::numeric_limits<double>::infinity()) {
  if (seconds.empty()) return 0;
  if (teams >= static_cast<std::int64_t>(seconds.size())) return seconds.front();
  std::vector<double> finish(seconds.begin(), seconds.begin() + teams);
  std::priority_queue<double, std::vector<double>, std::greater<double>> free_at(std::greater<double>(),
                                                                                 std::move(finish));
  double makespan = seconds.front();
  for (std::size_t i = static_cast<std::size_t>(teams); i < seconds.size() && makespan <= limit; ++i) {
    const double done = free_at.top() + seconds[i];
    free_at.pop();
    free_at.push(done);
    makespan = std::max(makespan, done);
  }
  return makespan;
}

// The fewest teams (<= max_teams) whose list schedule of `seconds` (longest first) finishes by
// `target`, to within 0.2%; −1 if none does. Searches between bounds: at least ⌈Σ/target⌉ teams
// and ⌈#{d > target/(k+1)} / k⌉ (a team fits at most k such trials); at most count, and at most
// ⌈(Σ − d_max)/(target − d_max)⌉, where Graham's bound for any list schedule,
// Σ/n + (1 − 1/n)·d_max, reaches target.
std::int64_t fewest_teams(const std::vector<double>& seconds, double target, std::int64_t max_teams) {
  if (seconds.empty()) return 0;
  const auto count = static_cast<std::int64_t>(seconds.size());
  const double longest = seconds.front();
  if (longest > target || max_teams < 1) return -1;
  const double total = std::accumulate(seconds.begin(), seconds.end(), 0.0);
  std::int64_t low = static_cast<std::int64_t>(std::ceil(total / target - 1e-9));
  for (std::int64_t k = 1; k <= 16; ++k) {
    const double threshold = target / static_cast<double>(k + 1);
    const auto above = std::upper_bound(seconds.begin(), seconds.end(), threshold, std::greater<double>()) - seconds.begin();
    low = std::max<std::int64_t>(low, (above + k - 1) / k);
  }
  low = std::clamp<std::int64_t>(low, 1, count);
  if (low > max_teams) return -1;
  std::int64_t high = count;
  if (target > longest) {
    const double graham = std::ceil((total - longest) / (target - longest) + 1e-9);
    if (graham < static_cast<double>(count)) high = std::max(low, static_cast<std::int64_t>(graham));
  }
  const auto fits = [&](std::int64_t teams) { return list_schedule(seconds, teams, target) <= target; };
  if (high > max_teams) {
    high = max_teams;
    if (!fits(high)) return -1;
  } else if (!fits(high)) {
    high = count;  // rounding defeated Graham's bound; count teams always fit
    if (high > max_teams) return -1;
  }
  if (fits(low)) return low;
  // A first guess: the list schedule's last finisher usually is one of the shortest trials, so the
  // makespan is about Σ/n + d_min.
  const double shortest = seconds.back();
  if (target > shortest) {
    const auto guess = static_cast<std::int64_t>(std::ceil(total / (target - shortest)));
    if (guess > low && guess < high) (fits(guess) ? high : low) = guess;
  }
  // Gallop up from the lower bound in steps of 1/512 of it, doubling, then bisect; stop within
  // 1/512 (0.2%) of the fewest: close enough, and a few simulations instead of a dozen.
  const std::int64_t precision = std::max<std::int64_t>(1, low / 512);
  for (std::int64_t step = precision; low + step < high; step *= 2) {
    if (fits(low + step)) {
      high = low + step;
      break;
    }
    low += step;
  }
  while (high - low > precision) {  // fits(high), not fits(low)
    const std::int64_t middle = low + (high - low) / 2;
    (fits(middle) ? high : low) = middle;
  }
  return high;
}

struct Candidate {
  int team_size = 1;  // the class (team) it runs in
  double seconds = 0;
  int used = 0;       // members that compute (its split); 0 means all team_size of them
};

// A trial to run and the team sizes it may use, ascending (the first is its minimum).
struct Job {
  std::int64_t trial = 0;
  std::vector<Candidate> sizes;
};

// One team size per job (an index into Job::sizes) and the teams each class then needs.
struct Layout {
  std::vector<int> choice;                   // per job
  std::vector<std::int64_t> teams;           // per size exponent
  std::int64_t ranks_needed = std::numeric_limits<std::int64_t>::max();
};

class Planner {
 public:
  Planner(std::vector<Job> jobs, int ranks) : jobs_(std::move(jobs)), ranks_(ranks) {
    // Per size exponent, the jobs that may use it, longest there first (ties: lower trial index).
    for (std::size_t j = 0; j < jobs_.size(); ++j) {
      for (std::size_t k = 0; k < jobs_[j].sizes.size(); ++k) {
        by_size_[exponent_of(jobs_[j].sizes[k].team_size)].push_back(
            {jobs_[j].sizes[k].seconds, jobs_[j].trial, static_cast<int>(j), static_cast<int>(k)});
      }
    }
    for (auto& list : by_size_) {
      std::sort(list.begin(), list.end(), [](const Entry& a, const Entry& b) {
        return a.seconds != b.seconds ? a.seconds > b.seconds : a.trial < b.trial;
      });
    }
  }

  // How a job picks its team size at a target makespan (step 3).
  enum class Rule {
    minimum,    // its smallest allowed size
    fit,        // the smallest size on which it finishes by the target (least rank-time)
    footprint,  // the size that packs most copies of it per rank into the target
  };
  std::vector<int> choose(double target, Rule rule) const {
    std::vector<int> choice(jobs_.size(), 0);
    if (rule == Rule::minimum) return choice;
    for (std::size_t j = 0; j < jobs_.size(); ++j) {
      double best = std::numeric_limits<double>::infinity();
      for (std::size_t k = 0; k < jobs_[j].sizes.size(); ++k) {
        const Candidate& c = jobs_[j].sizes[k];
        if (c.seconds > target) continue;
        if (rule == Rule::fit) {
          choice[j] = static_cast<int>(k);
          break;
        }
        const double footprint = c.team_size / std::floor(target / c.seconds);
        if (footprint < best * (1 - 1e-12)) {
          best = footprint;
          choice[j] = static_cast<int>(k);
        }
      }
    }
    return choice;
  }

  // The class lists (seconds, longest first) of a choice.
  std::vector<double> class_seconds(const std::vector<int>& choice, int exponent) const {
    std::vector<double> out;
    for (const Entry& e : by_size_[exponent]) {
      if (choice[e.job] == e.candidate) out.push_back(seconds(e));
    }
    return out;
  }
  std::vector<std::int64_t> class_trials(const std::vector<int>& choice, int exponent) const {
    std::vector<std::int64_t> out;
    for (const Entry& e : by_size_[exponent]) {
      if (choice[e.job] == e.candidate) out.push_back(jobs_[e.job].trial);
    }
    return out;
  }
  std::vector<std::int64_t> class_jobs(const std::vector<int>& choice, int exponent) const {
    std::vector<std::int64_t> out;
    for (const Entry& e : by_size_[exponent]) {
      if (choice[e.job] == e.candidate) out.push_back(e.job);
    }
    return out;
  }

  // Teams per class so that every class finishes by `target`; ranks_needed > ranks when impossible.
  Layout layout(std::vector<int> choice, double target) const {
    Layout result;
    result.choice = std::move(choice);
    result.teams.assign(kMaxSizeExponent, 0);
    std::int64_t used = 0;
    for (int e = 0; e < kMaxSizeExponent; ++e) {
      const std::vector<double> seconds = class_seconds(result.choice, e);
      if (seconds.empty()) continue;
      const std::int64_t size = std::int64_t{1} << e;
      const std::int64_t teams = fewest_teams(seconds, target, (ranks_ - used) / size);
      if (teams < 0) return result;  // infeasible: ranks_needed stays at its maximum
      result.teams[e] = teams;
      used += teams * size;
    }
    result.ranks_needed = used;
    return result;
  }

  // The best layout at `target`: with balance, each rule of choosing sizes; the fewest ranks wins.
  Layout best_layout(double target, bool balance) const {
    Layout best = layout(choose(target, Rule::minimum), target);
    if (!balance) return best;
    std::vector<std::vector<int>> tried = {best.choice};
    for (Rule rule : {Rule::fit, Rule::footprint}) {
      std::vector<int> choice = choose(target, rule);
      if (std::find(tried.begin(), tried.end(), choice) != tried.end()) continue;  // same layout
      Layout candidate = layout(choice, target);
      tried.push_back(std::move(choice));
      if (candidate.ranks_needed < best.ranks_needed) best = std::move(candidate);
    }
    return best;
  }

  const std::vector<Job>& jobs() const { return jobs_; }

 private:
  struct Entry {
    double seconds;
    std::int64_t trial;
    int job;
    int candidate;
  };
  static double seconds(const Entry& e) { return e.seconds; }

  std::vector<Job> jobs_;
  int ranks_;
  std::vector<Entry> by_size_[kMaxSizeExponent];
};

// The smallest team size that meets the per-rank limit, or Error saying why there is none.
int minimum_team_size(const spec::Spec& spec, const spec::Trial& trial, int ranks) {
  const std::int64_t limit = spec.max_examples_per_rank;
  if (limit <= 0) return 1;
  for (int g : allowed_team_sizes(trial, ranks)) {
    if (rows_per_member(trial, g) <= limit) return g;
  }
  const std::int64_t microbatches = microbatch_count(trial);
  for (int g : allowed_team_sizes(trial, 1 << 30)) {
    if (rows_per_member(trial, g) <= limit) {
      fail(spec.source_path, ": trial ", trial.index, " (batch size ", trial.batch_size, ", microbatch ",
           trial.microbatch, ") needs a team of ", g, " ranks to meet [parallel].max_examples_per_rank = ",
           limit, ", but the run has ", ranks, " ranks: run on at least ", g,
           " ranks or raise max_examples_per_rank");
    }
  }
  fail(spec.source_path, ": trial ", trial.index, " (batch size ", trial.batch_size, ", microbatch ",
       trial.microbatch, ", ", microbatches, " microbatches) cannot meet [parallel].max_examples_per_rank = ",
       limit, ": team sizes are powers of two dividing the microbatch count, so a rank holds at least ",
       rows_per_member(trial, static_cast<int>(microbatches & -microbatches)),
       " examples; raise max_examples_per_rank to at least that");
}

std::string with_commas(std::int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<std::size_t>(i), ",");
  return value < 0 ? "-" + digits : digits;
}

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

// "42 s", "12 min 5 s", "3 h 12 min", "2.4 days".
std::string duration(double seconds) {
  if (seconds < 10) return format("%.1f s", seconds);
  if (seconds < 60) return format("%.0f s", seconds);
  const auto whole = static_cast<std::int64_t>(std::llround(seconds));
  if (whole < 3600) {
    return whole % 60 == 0 || whole >= 600 ? concat(whole / 60, " min") : concat(whole / 60, " min ", whole % 60, " s");
  }
  if (whole < 48 * 3600) {
    const std::int64_t minutes = (whole + 30) / 60;
    return concat(minutes / 60, " h ", minutes % 60, " min");
  }
  return format("%.1f days", seconds / 86400.0);
}

std::string hours(double seconds) {
  const double h = seconds / 3600.0;
  if (h >= 100) return with_commas(std::llround(h));
  return format(h >= 10 ? "%.1f" : "%.2f", h);
}

}  // namespace

double CostModel::trial_seconds(const spec::Spec& spec, const spec::Trial& trial, const spec::DataShape& data,
                                std::int64_t parameters, int team_size) const {
  if (team_size < 1) fail("trial_seconds: team of ", team_size, " ranks");
  return seconds_of(*this, cost_terms(spec, data), trial, parameters, team_size);
}

double CostModel::packed_seconds(double alone, const spec::Trial& trial, std::int64_t pack) const {
  const double shared = packs_share_overhead ? static_cast<double>(trial.steps) * step_overhead_seconds : 0.0;
  return static_cast<double>(pack) * alone - static_cast<double>(pack - 1) * shared;
}

CostModel default_cost_model(const std::string& device) {
  CostModel model;
  if (device == "host") {
    // Measured by `sgdsweep run` on one core of the 2-core EPYC VM (docs/models.md, 2026-11-23):
    // wrn-16-4 27 images/s × 2.36 GFLOP = 64 GFLOP/s, the 650-unit LSTM 762 tokens/s = 60 GFLOP/s;
    // the autoencoder bench (bench/results/autoencoder-throughput-2026-11-23.md) gives 82 GFLOP/s
    // at B = 1024 and, from B = 16 against B = 1024, about 5 ms per step whatever B.
    model.flops_per_second = 6e10;
    model.step_overhead_seconds = 5e-3;
    model.reduce_bytes_per_second = 1e9;
    model.reduce_latency_seconds = 2e-5;
    model.source =
        "host: 6e10 FLOP/s per rank and 5 ms per step, measured on one core of the 2-core EPYC VM "
        "(docs/models.md, bench/results/); all-reduce 1 GB/s per rank and 20 us per stage assumed, not measured";
  } else if (device == "cuda") {
    // No GPU measured yet. Float32 without TF32 (never switched on): about half an H100's 67
    // TFLOP/s FP32 peak; NCCL over NVLink/InfiniBand.
    model.flops_per_second = 3e13;
    model.step_overhead_seconds = 1e-3;
    model.reduce_bytes_per_second = 2e10;
    model.reduce_latency_seconds = 2e-5;
    model.packs_share_overhead = true;  // launches: one packed step launches for the whole pack
    model.source =
        "cuda: assumed, not measured: 3e13 FLOP/s per GPU (half an H100's FP32 peak, no TF32), 1 ms per "
        "step (shared by the trials of a pack), all-reduce 20 GB/s per rank and 20 us per stage";
  } else {
    fail("no cost model for device '", device, "' (valid: host, cuda)");
  }
  return model;
}

CostModel cost_model_for(const spec::Spec& spec) {
  CostModel model = default_cost_model(spec.device);
  model.team_evaluates = spec.model != spec::ModelKind::lstm;
  return model;
}

CostModel calibrated(const CostModel& model, const std::vector<std::pair<double, double>>& predicted_and_measured) {
  double ratio_sum = 0;
  std::int64_t used = 0;
  for (const auto& [predicted, measured] : predicted_and_measured) {
    if (!(predicted > 0) || !(measured > 0)) continue;
    ratio_sum += measured / predicted;
    ++used;
  }
  if (used == 0) fail("calibrated: no trial with positive predicted and measured seconds to calibrate on");
  const double slowdown = ratio_sum / static_cast<double>(used);  // argmin_s Σ (measured/predicted − s)²
  CostModel result = model;
  result.flops_per_second = model.flops_per_second / slowdown;
  result.source = concat(format("%.3g", result.flops_per_second), " FLOP/s per rank calibrated on ", used,
                         used == 1 ? " measured trial" : " measured trials", " (was ",
                         format("%.3g", model.flops_per_second), "; ", model.source, ")");
  return result;
}

std::vector<int> allowed_team_sizes(const spec::Trial& trial, int ranks) {
  const std::int64_t microbatches = microbatch_count(trial);
  std::vector<int> sizes;
  for (std::int64_t g = 1; g <= ranks && g <= microbatches && g < (std::int64_t{1} << kMaxSizeExponent); g *= 2) {
    if (microbatches % g == 0) sizes.push_back(static_cast<int>(g));
  }
  return sizes;
}

Plan::Placement Plan::placement(int world_rank) const {
  if (world_rank < 0 || world_rank >= ranks) fail("placement of rank ", world_rank, " in a plan for ", ranks, " ranks");
  for (std::size_t c = 0; c < classes.size(); ++c) {
    const TeamClass& cls = classes[c];
    const int offset = world_rank - cls.first_rank;
    if (offset >= 0 && offset < cls.teams * cls.team_size) {
      return {static_cast<int>(c), offset / cls.team_size, offset % cls.team_size};
    }
  }
  return {};
}

namespace {

// Step 1: every trial's candidate sizes and durations, and the bound no layout can beat.
struct Candidates {
  std::vector<Job> jobs;
  double any_layout_lower_bound = 0;
};

Candidates candidate_jobs(const spec::Spec& spec, const std::vector<spec::Trial>& trials,
                          const std::vector<std::int64_t>& to_run, int ranks, const spec::DataShape& data,
                          std::int64_t parameters, const CostModel& cost) {
  const CostTerms terms = cost_terms(spec, data);
  Candidates result;
  result.jobs.reserve(to_run.size());
  std::vector<char> seen(trials.size(), 0);
  double cheapest_total = 0, fastest_longest = 0;
  for (std::int64_t index : to_run) {
    if (index < 0 || index >= static_cast<std::int64_t>(trials.size())) {
      fail("make_plan: trial ", index, " is not in the grid of ", trials.size());
    }
    if (seen[static_cast<std::size_t>(index)]) fail("make_plan: trial ", index, " listed twice");
    seen[static_cast<std::size_t>(index)] = 1;
    const spec::Trial& trial = trials[static_cast<std::size_t>(index)];
    const int minimum = minimum_team_size(spec, trial, ranks);
    Job job{index, {}};
    double cheapest = std::numeric_limits<double>::infinity(), fastest = cheapest;
    for (int g : allowed_team_sizes(trial, ranks)) {
      if (g < minimum) continue;
      const double seconds = seconds_of(cost, terms, trial, parameters, g);
      cheapest = std::min(cheapest, g * seconds);
      fastest = std::min(fastest, seconds);
      job.sizes.push_back({g, seconds});
    }
    cheapest_total += cheapest;
    fastest_longest = std::max(fastest_longest, fastest);
    result.jobs.push_back(std::move(job));
  }
  result.any_layout_lower_bound = std::max(cheapest_total / ranks, fastest_longest);
  return result;
}

// The distinct minimum sizes, ascending: one team of each is the least a layout needs.
std::vector<int> minimum_sizes(const std::vector<Job>& jobs) {
  std::vector<int> sizes;
  for (const Job& job : jobs) sizes.push_back(job.sizes.front().team_size);
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  return sizes;
}

std::int64_t ranks_for_one_team_each(const std::vector<Job>& jobs) {
  const std::vector<int> sizes = minimum_sizes(jobs);
  return std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0});
}

// Step 1b: merge the smallest class upward until one team of each class fits. A trial that cannot
// split over the next size runs *padded* in that class: on its own split (the largest it allows
// below that size) while the team's other members wait — so a run on few ranks never needs more
// classes than it has ranks for.
void merge_classes_to_fit(std::vector<Job>& jobs, int ranks) {
  for (;;) {
    const std::vector<int> sizes = minimum_sizes(jobs);
    const std::int64_t needed = std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0});
    if (needed <= ranks) return;
    const int smallest = sizes.front();
    const int next = sizes[1];  // needed > ranks >= smallest, so there are at least two sizes
    for (Job& job : jobs) {
      if (job.sizes.front().team_size != smallest) continue;
      auto at_next = std::find_if(job.sizes.begin(), job.sizes.end(), [&](const Candidate& c) { return c.team_size >= next; });
      if (at_next == job.sizes.end() || at_next->team_size != next) {
        // Padded: the largest split below `next` in a team of `next`.
        Candidate padded = *std::prev(at_next);
        padded.used = padded.used ? padded.used : padded.team_size;
        padded.team_size = next;
        at_next = job.sizes.insert(at_next, padded);
      }
      job.sizes.erase(job.sizes.begin(), at_next);
    }
  }
}

// A layout being refined: per class (largest size first) its teams and simulated makespan.
struct ClassState {
  int exponent = 0;
  std::int64_t teams = 0;
  double makespan = 0;
};
struct Solution {
  std::vector<int> choice;  // per job, an index into Job::sizes
  std::vector<ClassState> classes;
  double makespan = std::numeric_limits<double>::infinity();
};

double simulate(const Planner& planner, const std::vector<int>& choice, int exponent, std::int64_t teams) {
  return list_schedule(planner.class_seconds(choice, exponent), teams);
}

ClassState& finishing_last(Solution& solution) {
  return *std::max_element(solution.classes.begin(), solution.classes.end(),
                           [](const ClassState& a, const ClassState& b) { return a.makespan < b.makespan; });
}

// Steps 2 and 3: the smallest target makespan (to 0.1%) at which a layout fits into `ranks`.
Solution bisect(const Planner& planner, int ranks, double lower_bound, bool balance) {
  double low = lower_bound, high = 0;
  for (int e = 0; e < kMaxSizeExponent; ++e) {  // one team per class (minimum sizes) always fits
    const std::vector<double> seconds = planner.class_seconds(planner.choose(0, Planner::Rule::minimum), e);
    high = std::max(high, std::accumulate(seconds.begin(), seconds.end(), 0.0));
  }
  high *= 1 + 1e-9;  // against rounding in the simulation's sums
  Layout best;
  for (double probe = low;;) {  // bracket: double the target from the lower bound until one fits
    Layout candidate = planner.best_layout(probe, balance);
    if (candidate.ranks_needed <= ranks) {
      best = std::move(candidate);
      high = probe;
      break;
    }
    if (probe >= high) fail("make_plan: no layout fits ", ranks, " ranks (internal error)");
    low = probe;
    probe = std::min(high, 2 * probe);
  }
  for (int iteration = 0; iteration < 64 && high > low * (1 + 1e-3); ++iteration) {
    const double middle = std::sqrt(low * high);
    Layout candidate = planner.best_layout(middle, balance);
    if (candidate.ranks_needed <= ranks) {
      high = middle;
      best = std::move(candidate);
    } else {
      low = middle;
    }
  }
  Solution solution;
  solution.choice = std::move(best.choice);
  for (int e = kMaxSizeExponent - 1; e >= 0; --e) {
    if (best.teams[e] > 0) solution.classes.push_back({e, best.teams[e], simulate(planner, solution.choice, e, best.teams[e])});
  }
  return solution;
}

// Step 4a: trials move from the class that finishes last to another class they may use, when that
// shortens the pair's makespan. The trials that cost least extra rank-time there go first; how
// many is bisected (the sending class shortens, the receiving one grows). Bounded work.
void move_trials(const Planner& planner, Solution& solution) {
  std::vector<int>& choice = solution.choice;
  std::int64_t budget = 2'000'000;  // simulated trial placements (about a tenth of a second)
  for (int round = 0; round < 64 && solution.classes.size() > 1 && budget > 0; ++round) {
    ClassState& from = finishing_last(solution);
    const std::vector<std::int64_t> members = planner.class_jobs(choice, from.exponent);
    struct Move {
      ClassState* to = nullptr;
      std::vector<std::pair<int, int>> jobs;  // (job, candidate there), cheapest first
      std::size_t count = 0;
      double makespan_from = 0, makespan_to = 0;
    } best;
    double best_makespan = from.makespan * (1 - 1e-9);
    for (ClassState& to : solution.classes) {
      if (&to == &from) continue;
      std::vector<std::pair<int, int>> movable;
      std::vector<double> extra;  // rank-time there / rank-time here
      for (std::int64_t j : members) {
        const Job& job = planner.jobs()[static_cast<std::size_t>(j)];
        const Candidate& here = job.sizes[static_cast<std::size_t>(choice[static_cast<std::size_t>(j)])];
        for (std::size_t k = 0; k < job.sizes.size(); ++k) {
          if (job.sizes[k].team_size != (1 << to.exponent)) continue;
          movable.push_back({static_cast<int>(j), static_cast<int>(k)});
          extra.push_back(job.sizes[k].team_size * job.sizes[k].seconds / (here.team_size * here.seconds));
        }
      }
      std::size_t low = 1, high = std::min(movable.size(), members.size() - 1);  // the class keeps one
      if (movable.empty() || high < 1) continue;
      const auto pair_cost = static_cast<std::int64_t>(members.size() + planner.class_jobs(choice, to.exponent).size());
      if (pair_cost * static_cast<std::int64_t>(std::log2(high) + 3) > budget) continue;  // too big to try
      std::vector<std::size_t> order(movable.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return extra[a] < extra[b]; });
      std::vector<std::pair<int, int>> sorted;
      for (std::size_t i : order) sorted.push_back(movable[i]);
      const auto after = [&](std::size_t k) {  // both makespans after moving the first k
        std::vector<int> saved;
        for (std::size_t i = 0; i < k; ++i) {
          saved.push_back(choice[static_cast<std::size_t>(sorted[i].first)]);
          choice[static_cast<std::size_t>(sorted[i].first)] = sorted[i].second;
        }
        const std::vector<double> sending = planner.class_seconds(choice, from.exponent);
        const std::vector<double> receiving = planner.class_seconds(choice, to.exponent);
        for (std::size_t i = 0; i < k; ++i) choice[static_cast<std::size_t>(sorted[i].first)] = saved[i];
        budget -= static_cast<std::int64_t>(sending.size() + receiving.size());
        return std::pair<double, double>{list_schedule(sending, from.teams), list_schedule(receiving, to.teams)};
      };
      while (low < high) {  // the smallest k at which the sending class is no longer the later one
        const std::size_t middle = low + (high - low) / 2;
        const auto [sending, receiving] = after(middle);
        if (sending <= receiving) high = middle; else low = middle + 1;
      }
      for (std::size_t k : {low, low > 1 ? low - 1 : low}) {
        const auto [sending, receiving] = after(k);
        if (std::max(sending, receiving) < best_makespan) {
          best_makespan = std::max(sending, receiving);
          best = {&to, sorted, k, sending, receiving};
        }
      }
    }
    if (best.to == nullptr) return;
    for (std::size_t i = 0; i < best.count; ++i) {
      choice[static_cast<std::size_t>(best.jobs[i].first)] = best.jobs[i].second;
    }
    from.makespan = best.makespan_from;
    best.to->makespan = best.makespan_to;
  }
}

// Steps 4b and 4c: free ranks become teams, first where they shorten the class that finishes
// last, then as spare teams (absorbing prediction errors at run time) for the classes that finish
// last; a class never has more teams than trials.
void spend_free_ranks(const Planner& planner, Solution& solution, int ranks) {
  const auto trials_in = [&](const ClassState& c) {
    return static_cast<std::int64_t>(planner.class_jobs(solution.choice, c.exponent).size());
  };
  std::int64_t used = 0;
  for (ClassState& c : solution.classes) {
    c.teams = std::min(c.teams, trials_in(c));  // after step 4a a class may have fewer trials
    used += c.teams << c.exponent;
  }
  for (int iteration = 0; iteration < 256 && !solution.classes.empty(); ++iteration) {
    ClassState& last = finishing_last(solution);
    if (used + (std::int64_t{1} << last.exponent) > ranks || last.teams >= trials_in(last)) break;
    const double shorter = simulate(planner, solution.choice, last.exponent, last.teams + 1);
    if (!(shorter < last.makespan)) break;
    last.teams += 1;
    last.makespan = shorter;
    used += std::int64_t{1} << last.exponent;
  }
  std::vector<ClassState*> by_finish;
  for (ClassState& c : solution.classes) by_finish.push_back(&c);
  std::stable_sort(by_finish.begin(), by_finish.end(),
                   [](const ClassState* a, const ClassState* b) { return a->makespan > b->makespan; });
  for (ClassState* c : by_finish) {
    const std::int64_t extra = std::min((ranks - used) >> c->exponent, trials_in(*c) - c->teams);
    if (extra <= 0) continue;
    const double makespan = simulate(planner, solution.choice, c->exponent, c->teams + extra);
    if (makespan > c->makespan) continue;  // a list-scheduling anomaly: keep the fewer teams
    c->teams += extra;
    c->makespan = makespan;
    used += extra << c->exponent;
  }
}

Solution solve(const Planner& planner, int ranks, double lower_bound, bool balance) {
  if (planner.jobs().empty()) return {{}, {}, 0.0};
  Solution solution = bisect(planner, ranks, lower_bound, balance);
  if (balance) move_trials(planner, solution);
  spend_free_ranks(planner, solution, ranks);
  solution.makespan = finishing_last(solution).makespan;
  return solution;
}

// The jobs with team size `size` taken out of every candidate list; empty when a job has no
// other size.
std::vector<Job> without_size(const std::vector<Job>& jobs, int size) {
  std::vector<Job> result = jobs;
  for (Job& job : result) {
    job.sizes.erase(std::remove_if(job.sizes.begin(), job.sizes.end(),
                                   [&](const Candidate& c) { return c.team_size == size; }),
                    job.sizes.end());
    if (job.sizes.empty()) return {};
  }
  return result;
}

// Packs (see Plan::pack): reorders the one-rank classes by shape and predicts them again.
void apply_packs(Plan& plan, const spec::Spec& spec, const std::vector<spec::Trial>& trials, const CostModel& cost) {
  const std::int64_t pack = spec.pack;
  plan.pack = pack;
  plan.packs_share_overhead = cost.packs_share_overhead;
  for (TeamClass& cls : plan.classes) {
    if (cls.team_size != 1) continue;
    std::vector<std::vector<std::int64_t>> shapes;  // in order of their first (longest) trial
    for (std::int64_t t : cls.trials) {
      auto same = std::find_if(shapes.begin(), shapes.end(),
                               [&](const auto& shape) { return spec::packs_with(trials[shape.front()], trials[t]); });
      if (same == shapes.end()) same = shapes.insert(shapes.end(), std::vector<std::int64_t>{});
      same->push_back(t);
    }
    plan.pack_shapes += static_cast<std::int64_t>(shapes.size());
    cls.trials.clear();
    for (const auto& shape : shapes) cls.trials.insert(cls.trials.end(), shape.begin(), shape.end());
    // Lanes: each rank's pack slots, each taking the next trial when free.
    std::priority_queue<double, std::vector<double>, std::greater<double>> free_at;
    for (std::int64_t lane = 0; lane < cls.teams * pack; ++lane) free_at.push(0.0);
    cls.predicted_seconds = 0;
    for (std::int64_t t : cls.trials) {
      double& seconds = plan.trial_seconds[static_cast<std::size_t>(t)];
      seconds = cost.packed_seconds(seconds, trials[t], pack);
      const double done = free_at.top() + seconds;
      free_at.pop();
      free_at.push(done);
      cls.predicted_seconds = std::max(cls.predicted_seconds, done);
    }
  }
  plan.makespan_seconds = plan.total_rank_seconds = 0;
  double longest = 0;
  for (const TeamClass& cls : plan.classes) {
    plan.makespan_seconds = std::max(plan.makespan_seconds, cls.predicted_seconds);
    for (std::int64_t t : cls.trials) {
      const double seconds = plan.trial_seconds[static_cast<std::size_t>(t)];
      // A packed trial holds 1/pack of its rank.
      plan.total_rank_seconds += cls.team_size == 1 ? seconds / static_cast<double>(pack) : cls.team_size * seconds;
      longest = std::max(longest, cls.team_size == 1 ? seconds / static_cast<double>(pack) : seconds);
    }
  }
  plan.lower_bound_seconds = std::max(plan.total_rank_seconds / plan.ranks, longest);
  plan.any_layout_lower_bound_seconds = std::min(plan.any_layout_lower_bound_seconds, plan.lower_bound_seconds);
  plan.efficiency =
      plan.makespan_seconds > 0 ? std::min(1.0, plan.lower_bound_seconds / plan.makespan_seconds) : 1.0;
}

}  // namespace

Plan make_plan(const spec::Spec& spec, const std::vector<spec::Trial>& trials, const std::vector<std::int64_t>& to_run,
               int ranks, const spec::DataShape& data, std::int64_t parameters, const CostModel& cost) {
  if (ranks < 1) fail("make_plan: ", ranks, " ranks");
  if (!(cost.flops_per_second > 0) || !(cost.reduce_bytes_per_second > 0)) {
    fail("make_plan: the cost model needs positive rates (", cost.source, ")");
  }
  Plan plan;
  plan.ranks = ranks;
  plan.parameters = parameters;
  plan.cost_source = cost.source;
  plan.team_evaluates = cost.team_evaluates;
  plan.team_size.assign(trials.size(), 0);
  plan.trial_seconds.assign(trials.size(), 0.0);

  Candidates candidates = candidate_jobs(spec, trials, to_run, ranks, data, parameters, cost);
  plan.any_layout_lower_bound_seconds = candidates.any_layout_lower_bound;
  std::vector<Job> jobs = std::move(candidates.jobs);
  merge_classes_to_fit(jobs, ranks);
  if (!spec.balance_teams) {
    for (Job& job : jobs) job.sizes.resize(1);  // the minimum (after merging) only
  }
  auto planner = std::make_unique<Planner>(jobs, ranks);
  Solution best = solve(*planner, ranks, plan.any_layout_lower_bound_seconds, spec.balance_teams);

  // Step 5 (balance_teams, small runs): fewer classes. A class of few teams wastes ranks to
  // rounding (a class of 32-rank teams gets 32 or 64 ranks, not the 45 its work would need). When
  // a class has at most 8 teams and the plan is more than 2% above the any-layout bound, try
  // taking each size in use away from every trial; keep the first that shortens the plan, and
  // repeat. Bounded: at most 100,000 trials planned again in all.
  std::int64_t budget = 100'000;
  const auto size = static_cast<std::int64_t>(jobs.size());
  const auto worth_trying = [&] {
    const bool few_teams = std::any_of(best.classes.begin(), best.classes.end(),
                                       [](const ClassState& c) { return c.teams <= 8; });
    return few_teams && budget >= size && best.makespan > 1.02 * plan.any_layout_lower_bound_seconds;
  };
  for (bool improved = spec.balance_teams; improved && worth_trying();) {
    improved = false;
    std::vector<int> in_use;
    for (const ClassState& c : best.classes) in_use.push_back(1 << c.exponent);
    for (int team_size : in_use) {
      if (budget < size) break;
      std::vector<Job> fewer = without_size(jobs, team_size);
      if (fewer.empty() || ranks_for_one_team_each(fewer) > ranks) continue;
      budget -= size;
      auto other = std::make_unique<Planner>(fewer, ranks);
      Solution candidate = solve(*other, ranks, plan.any_layout_lower_bound_seconds, true);
      if (candidate.makespan < best.makespan * (1 - 1e-6)) {
        best = std::move(candidate);
        planner = std::move(other);
        jobs = std::move(fewer);
        improved = true;
        break;
      }
    }
  }

  int first_rank = 0;
  for (const ClassState& c : best.classes) {
    TeamClass cls;
    cls.team_size = 1 << c.exponent;
    cls.teams = static_cast<int>(c.teams);
    cls.first_rank = first_rank;
    cls.trials = planner->class_trials(best.choice, c.exponent);
    cls.predicted_seconds = c.makespan;
    first_rank += cls.teams * cls.team_size;
    plan.makespan_seconds = std::max(plan.makespan_seconds, c.makespan);
    plan.classes.push_back(std::move(cls));
  }
  plan.idle_ranks = ranks - first_rank;

  double longest = 0;
  for (std::size_t j = 0; j < planner->jobs().size(); ++j) {
    const Job& job = planner->jobs()[j];
    const Candidate& chosen = job.sizes[static_cast<std::size_t>(best.choice[j])];
    plan.team_size[static_cast<std::size_t>(job.trial)] = chosen.used ? chosen.used : chosen.team_size;
    plan.trial_seconds[static_cast<std::size_t>(job.trial)] = chosen.seconds;
    plan.total_rank_seconds += chosen.team_size * chosen.seconds;
    longest = std::max(longest, chosen.seconds);
  }
  plan.lower_bound_seconds = std::max(plan.total_rank_seconds / ranks, longest);
  // At most 1 but for rounding (the two sums run in different orders).
  plan.efficiency =
      plan.makespan_seconds > 0 ? std::min(1.0, plan.lower_bound_seconds / plan.makespan_seconds) : 1.0;
  if (spec.pack > 1) apply_packs(plan, spec, trials, cost);
  return plan;
}

std::string plan_report(const Plan& plan, const spec::Spec& spec, const std::vector<spec::Trial>& trials) {
  const bool gpu = spec.device == "cuda";
  const char* unit = gpu ? "GPU-hours" : "core-hours";
  std::int64_t to_run = 0;
  for (int g : plan.team_size) to_run += g > 0;
  std::ostringstream out;
  out << "sgdsweep plan: " << spec.name << " (" << spec.source_path << ") on " << with_commas(plan.ranks)
      << (gpu ? " GPUs" : " ranks") << ", device " << spec.device << "\n";
  const auto line = [&](const std::string& label, const std::string& text) {
    out << "  " << label << std::string(label.size() < 18 ? 18 - label.size() : 1, ' ') << text << "\n";
  };
  line("trials", concat(with_commas(to_run), " to run (of ", with_commas(static_cast<std::int64_t>(trials.size())),
                        " in the grid)"));
  line("model", concat(spec.model_name, ", ", with_commas(plan.parameters), " parameters"));
  line("predicted cost", concat(hours(plan.total_rank_seconds), " ", unit, " (Σ team size × trial time)"));
  line("allocation", concat(hours(plan.ranks * plan.makespan_seconds), " ", unit, " (ranks × makespan)"));
  out << "  team layout\n";
  const std::vector<std::string> header = {"team size", "teams", "ranks", "first rank", "trials", "predicted time"};
  std::vector<std::vector<std::string>> rows = {header};
  for (const TeamClass& cls : plan.classes) {
    rows.push_back({std::to_string(cls.team_size), with_commas(cls.teams),
                    with_commas(static_cast<std::int64_t>(cls.teams) * cls.team_size), with_commas(cls.first_rank),
                    with_commas(static_cast<std::int64_t>(cls.trials.size())), duration(cls.predicted_seconds)});
  }
  if (plan.idle_ranks > 0) {
    rows.push_back({"idle", "", with_commas(plan.idle_ranks), with_commas(plan.ranks - plan.idle_ranks), "", ""});
  }
  std::vector<std::size_t> widths(header.size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    out << "   ";
    for (std::size_t i = 0; i < row.size(); ++i) {
      const std::string& cell = row[i];
      out << "  " << (i + 1 == row.size() ? cell : std::string(widths[i] - cell.size(), ' ') + cell);
    }
    out << "\n";
  }
  line("idle ranks", with_commas(plan.idle_ranks));
  line("lower bound", concat(duration(plan.lower_bound_seconds),
                             " (max of total / ranks and the longest trial, at these team sizes)"));
  line("any layout", concat(duration(plan.any_layout_lower_bound_seconds),
                            " (the same bound with every trial at its cheapest and its fastest team size)"));
  line("makespan", concat(duration(plan.makespan_seconds), " (list scheduling per class, longest trial first)"));
  line("efficiency", concat(format("%.1f", 100 * plan.efficiency), " % (lower bound / makespan; ",
                            format("%.1f", plan.makespan_seconds > 0
                                               ? 100 * plan.any_layout_lower_bound_seconds / plan.makespan_seconds
                                               : 100.0),
                            " % against any layout)"));
  if (plan.pack > 1) {
    line("packs", concat("up to ", plan.pack, " trials per rank trained together (one packed step), ",
                         plan.pack_shapes, " trial shape(s) (batch, microbatch, momentum, L2, clipping); predicted times are a "
                         "trial's in a full pack: ", plan.pack, " × its time alone",
                         plan.packs_share_overhead ? ", less the step overhead the pack shares"
                                                   : " (the host's step overhead is per trial: packs gain nothing)"));
  }
  line("evaluation", plan.team_evaluates ? "split over each team's members"
                                         : "on each team's leader while the other members wait");
  line("cost model", plan.cost_source);
  return out.str();
}

}  // namespace sgdsweep::sweep
