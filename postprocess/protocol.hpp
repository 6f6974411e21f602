// The paper's analysis protocol (SPEC §4, 004 §4): best k of n seeds per learning rate, the optimal
// effective learning rate with its one-sigma error bar, grid-edge flags, and Table-1-shaped output.
// Pure functions of trial outcomes: no HDF5, no MPI (the reader in postprocess/ feeds them).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "spec/trial.hpp"

namespace sgdsweep::analysis {

// Which way the test metric improves: squared error and perplexity are lower_is_better,
// accuracy is higher_is_better.
enum class Direction { lower_is_better, higher_is_better };

// One configuration of the sweep: every trial sharing it differs only in learning rate and seed.
// `budget` is a human label ("200 epochs", "9765 steps"); ordering is lexicographic on
// (model, optimizer, budget, batch_size), with batch_size compared as a number.
struct ConfigKey {
  std::string model;
  std::string optimizer;
  std::string budget;
  std::int64_t batch_size = 0;
};
bool operator<(const ConfigKey& a, const ConfigKey& b);
bool operator==(const ConfigKey& a, const ConfigKey& b);
bool operator!=(const ConfigKey& a, const ConfigKey& b);

// One trial's final numbers, as read from the sweep file.
struct Observation {
  ConfigKey config;
  double log2_effective_learning_rate = 0;  // the grid coordinate; trials group on its exact value
  double effective_learning_rate = 0;       // ε_eff = ε / (1 − m)
  std::int32_t seed_index = 0;
  spec::TrialStatus status = spec::TrialStatus::pending;
  double test_metric = NAN;  // final test metric; ignored (may be NaN) for diverged trials
  double train_loss = NAN;   // final training loss
};

// One learning rate of one configuration.
// Available runs are finished + diverged (n in "best k of n"); a diverged run ranks below every
// finished one. A finished run whose metric is not finite is ranked and treated like a diverged one.
struct RateSummary {
  double log2_effective_learning_rate = 0;
  double effective_learning_rate = 0;
  int finished = 0, diverged = 0, missing = 0;  // missing = pending or failed trials
  int used = 0;                  // runs averaged: min(best_k, available)
  double mean = NAN, std = NAN;  // test metric over the used runs; std is the population std (ddof=0)
  double train_loss_mean = NAN;  // mean final training loss over the same runs
  bool usable = false;           // best_k runs were available and none of them diverged

  int available() const { return finished + diverged; }
};
// Worked example (lower_is_better, best_k = 5): metrics {5, 1, 3, 7, 2, 6, diverged} keep
// {1, 2, 3, 5, 6}: mean 3.4, std sqrt(3.44); usable. With best_k = 7 the diverged run is inside:
// mean = +inf, std = NaN, usable = false.

struct ConfigResult {
  ConfigKey config;
  std::vector<RateSummary> rates;  // ascending learning rate: the configuration's grid
  int optimum = -1;                // index into rates of the best mean among usable rates; -1 if none
  int bar_low = -1, bar_high = -1; // lowest/highest usable index with |mean − mean_opt| <= std_opt
  bool optimum_at_edge = false;    // optimum is the first or last rate of the grid
  bool bar_at_edge = false;        // bar_low is 0 or bar_high is the last index
  bool complete = true;            // false if any trial of this configuration is pending/failed

  bool has_optimum() const { return optimum >= 0; }
};

// Applies the protocol to every configuration; results are ordered by ConfigKey.
// Ties in mean go to the smaller learning rate. Throws Error if best_k < 1, a log2 rate is not
// finite, or two observations share (configuration, rate, seed_index).
std::vector<ConfigResult> analyze(const std::vector<Observation>& observations, int best_k,
                                  Direction direction);

// Column captions for the tables.
struct TableLabels {
  std::string metric_name;  // e.g. "test squared error", "test accuracy (%)"
  std::string loss_name;    // e.g. "final training loss"
};

// Markdown in the shape of the paper's Table 1: one row per configuration, rows ordered (hence
// grouped) by model, optimizer, budget, then batch size. Numbers carry 4 significant digits; rates
// read "0.007812 (2^-7)"; the optimum is followed by its error bar "[low, high]".
std::string markdown_table(const std::vector<ConfigResult>& results, const TableLabels& labels);

// CSV with one header line and one row per configuration, for pandas/xarray:
// model,optimizer,budget,batch_size,metric_mean,metric_std,k,n,optimal_effective_lr,
// optimal_log2_effective_lr,bar_low_effective_lr,bar_high_effective_lr,train_loss_at_optimum,
// optimum_at_edge,bar_at_edge,complete
// Doubles are printed with %.17g (round-trip exact), a missing value as "nan", booleans as
// true/false; k and n are 0 when there is no optimum. The header is fixed so pipelines do not
// depend on the captions; `labels` is accepted for symmetry with markdown_table and not written.
std::string csv_table(const std::vector<ConfigResult>& results, const TableLabels& labels);

// Formatting helpers shared by the tables (exposed for tests and for the LaTeX writer).
std::string format_significant(double value, int digits = 4);  // "%.*g"; "nan", "inf", "-inf"
// "0.007812 (2^-7)"; a non-integral exponent reads "2^-6.5".
std::string format_learning_rate(double effective_learning_rate, double log2_effective_learning_rate);

}  // namespace sgdsweep::analysis
