// The paper's analysis protocol (SPEC §4, 004 §4 and §7): per configuration and learning rate, the
// mean and standard deviation of the best k of n seeds; the optimal rate with its one-sigma error
// bar and grid-edge flags — for the test metric and, separately, for the final training loss.
// Pure functions of trial outcomes: no HDF5, no MPI (analyze_main.cpp feeds them; tables.hpp
// prints them).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "spec/trial.hpp"

namespace sgdsweep::analysis {

// Which way the test metric improves: squared error and perplexity are lower_is_better,
// accuracy is higher_is_better. The training loss is always lower_is_better.
enum class Direction { lower_is_better, higher_is_better };

// One configuration of the sweep: every trial sharing it differs only in learning rate(s) and
// seed. Ordered by (model, optimizer, budget kind, budget value, batch size); `budget` is a label
// for tables ("200 epochs", "9765 steps").
struct ConfigKey {
  std::string model;
  std::string optimizer;
  std::string budget;
  std::int64_t batch_size = 0;
  int budget_kind = 0;       // 0 epochs, 1 steps (spec::BudgetKind)
  double budget_value = 0;   // epochs or steps
};
bool operator<(const ConfigKey& a, const ConfigKey& b);
bool operator==(const ConfigKey& a, const ConfigKey& b);
bool operator!=(const ConfigKey& a, const ConfigKey& b);

// One trial's final numbers, as read from the sweep file.
struct Observation {
  ConfigKey config;
  double log2_effective_learning_rate = 0;  // the grid coordinate; trials group on its exact value
  double effective_learning_rate = 0;       // ε_eff = ε / (1 − m)
  // The decoupled schedule's final rate (004 §7.1); NaN for the coupled schedule, where the rate
  // axis is the initial rate alone.
  double log2_final_effective_learning_rate = NAN;
  double final_effective_learning_rate = NAN;
  std::int32_t seed_index = 0;
  spec::TrialStatus status = spec::TrialStatus::pending;
  double test_metric = NAN;  // final test metric; ignored (may be NaN) for diverged trials
  double train_loss = NAN;   // final training loss
};

// The best-k statistics of one objective at one rate. Available runs are finished + diverged (n in
// "best k of n"); a diverged run ranks below every finished one, and so does a finished run whose
// value is not finite.
struct Summary {
  int used = 0;           // runs averaged: min(best_k, available)
  double mean = NAN;      // of the objective over the used runs (±inf when one of them diverged)
  double std = NAN;       // population standard deviation (numpy.std, ddof = 0)
  double other = NAN;     // the other quantity's mean over the same runs: the final training loss
                          // for the test objective, the test metric for the training objective
  bool usable = false;    // best_k runs were available and none of them diverged
};

// One learning rate (or initial/final pair) of one configuration.
struct RateSummary {
  double log2_effective_learning_rate = 0;
  double effective_learning_rate = 0;
  double log2_final_effective_learning_rate = NAN;  // NaN: coupled schedule
  double final_effective_learning_rate = NAN;
  int finished = 0, diverged = 0, missing = 0;  // missing = pending or failed trials
  Summary test;   // best k by the test metric (its direction)
  Summary train;  // best k by the final training loss (lower is better)
  int available() const { return finished + diverged; }
};
// Worked example (lower_is_better, best_k = 5): test metrics {5, 1, 3, 7, 2, 6, diverged} keep
// {1, 2, 3, 5, 6}: mean 3.4, std sqrt(3.44); usable. With best_k = 7 the diverged run is inside:
// mean = +inf, std = NaN, usable = false.

// The optimum of one objective in one configuration.
struct Optimum {
  int index = -1;      // into ConfigResult::rates: the best usable mean (ties: the smaller rate); -1: none
  // The error bar: every usable rate whose mean lies within one standard deviation (the optimum's)
  // of the optimal mean. bar_low/bar_high are the lowest/highest such indices (for one rate axis),
  // and the log2 ranges cover every rate in the bar (for pairs: initial and final separately).
  int bar_low = -1, bar_high = -1;
  double bar_log2_low = NAN, bar_log2_high = NAN;              // initial rates
  double bar_log2_final_low = NAN, bar_log2_final_high = NAN;  // final rates (decoupled)
  bool at_edge = false;      // the optimum's rate (initial or final) is the first or last of the grid
  bool bar_at_edge = false;  // likewise for the error bar's range
  bool found() const { return index >= 0; }
};

struct ConfigResult {
  ConfigKey config;
  std::vector<RateSummary> rates;  // ascending initial rate, then final rate: the configuration's grid
  bool decoupled = false;          // rates are (initial, final) pairs
  Optimum test;                    // the rate that optimises the test metric
  Optimum train;                   // the rate that minimises the final training loss (004 §7)
  bool complete = true;            // false if any trial of this configuration is pending/failed

  bool has_optimum() const { return test.found(); }
};

// Applies the protocol to every configuration; results are ordered by ConfigKey. Throws Error if
// best_k < 1, a log2 rate is not finite, or two observations share (configuration, rate, seed).
std::vector<ConfigResult> analyze(const std::vector<Observation>& observations, int best_k,
                                  Direction direction);

// "0.007812 (2^-7)"; a non-integral exponent reads "2^-6.5".
std::string format_significant(double value, int digits = 4);  // "%.*g"; "nan", "inf", "-inf"
std::string format_learning_rate(double effective_learning_rate, double log2_effective_learning_rate);

}  // namespace sgdsweep::analysis
