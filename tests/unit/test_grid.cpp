// Grid expansion (order, derived fields, budgets) and the static partition (every trial exactly
// once on 1 … 7 ranks, balanced).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "spec/grid.hpp"
#include "test_support.hpp"

using namespace sgdsweep::spec;

namespace {
Spec small_spec() {
  Spec spec;
  spec.seeds = 3;
  spec.seed = 11;
  spec.optimizers = {OptimizerKind::sgd, OptimizerKind::momentum};
  spec.momentum = 0.9;
  spec.l2 = 1e-5;
  spec.batch_sizes = {16, 64, 256};
  spec.log2_effective_learning_rates = {-6, -5};
  spec.budget_kind = BudgetKind::epochs;
  spec.budgets = {2};
  spec.evaluations = 5;
  spec.warmup_epochs = 0.5;
  return spec;
}

// One configuration (momentum, B = 64, one seed) with initial rates 2^-2, 2^0 and final rates
// 2^-8, 2^-1: the pairs (−2, −8), (0, −8), (0, −1).
Spec decoupled_spec() {
  Spec spec = small_spec();
  spec.batch_sizes = {64};
  spec.optimizers = {OptimizerKind::momentum};
  spec.seeds = 1;
  spec.log2_effective_learning_rates = {-2, 0};
  spec.log2_final_effective_learning_rates = {-8, -1};
  return spec;
}
}  // namespace

TEST(Grid, CartesianProductInDocumentedOrder) {
  const auto trials = expand_grid(small_spec(), {1000, 200});
  ASSERT_EQ(trials.size(), 2u * 3 * 2 * 3);
  for (std::size_t i = 0; i < trials.size(); ++i) EXPECT_EQ(trials[i].index, static_cast<std::int64_t>(i));
  // Seed fastest, then learning rate, batch size, optimizer.
  EXPECT_EQ(trials[1].seed_index, 1);
  EXPECT_EQ(trials[3].log2_effective_learning_rate, -5);
  EXPECT_EQ(trials[6].batch_size, 64);
  EXPECT_EQ(trials[18].optimizer, OptimizerKind::momentum);
  // Same seed index, same seed, across the whole grid (common random numbers).
  EXPECT_EQ(trials[0].seed, trials[18 + 3].seed);
  EXPECT_NE(trials[0].seed, trials[1].seed);
  EXPECT_LT(trials[0].seed, 1ull << 63);
}

TEST(Grid, DerivedRatesStepsAndWarmup) {
  const auto trials = expand_grid(small_spec(), {1000, 200});
  const Trial& sgd = trials[0];
  EXPECT_DOUBLE_EQ(sgd.effective_learning_rate, std::exp2(-6));
  EXPECT_DOUBLE_EQ(sgd.learning_rate, std::exp2(-6));
  EXPECT_EQ(sgd.steps_per_epoch, 62);  // floor(1000 / 16)
  EXPECT_EQ(sgd.steps, 124);
  EXPECT_EQ(sgd.warmup_steps, 31);
  const Trial& momentum = trials[18];
  EXPECT_DOUBLE_EQ(momentum.momentum, 0.9);
  EXPECT_NEAR(momentum.learning_rate, std::exp2(-6) * 0.1, 1e-15);  // ε = ε_eff (1 − m)
  const Trial& big = trials[12];
  EXPECT_EQ(big.batch_size, 256);
  EXPECT_EQ(big.steps, 6);  // 2 epochs of 3 steps
}

TEST(Grid, StepBudgetIsTheSameForEveryBatchSize) {
  Spec spec = small_spec();
  spec.budget_kind = BudgetKind::steps;
  spec.budgets = {100};
  for (const Trial& trial : expand_grid(spec, {1000, 200})) {
    EXPECT_EQ(trial.steps, 100);
    EXPECT_DOUBLE_EQ(trial.epochs, 100.0 / trial.steps_per_epoch);
  }
}

TEST(Grid, SeveralBudgetsAreAGridDimension) {
  Spec spec = small_spec();
  spec.budgets = {1, 4};
  spec.batch_sizes = {64};
  const auto trials = expand_grid(spec, {1000, 200});
  ASSERT_EQ(trials.size(), 2u * 2 * 2 * 3);  // optimizers × budgets × rates × seeds
  EXPECT_EQ(trials[0].steps, 15);
  EXPECT_EQ(trials[6].steps, 60);  // second budget, same optimizer
  EXPECT_DOUBLE_EQ(trials[6].epochs, 4.0);
}

TEST(Grid, DecoupledFinalRatesSetGammaPerTrial) {
  const auto trials = expand_grid(decoupled_spec(), {1000, 200});
  // Pairs with εf <= ε0: (−2, −8), (0, −8), (0, −1); (−2, −1) is skipped.
  ASSERT_EQ(trials.size(), 3u);
  EXPECT_DOUBLE_EQ(trials[0].gamma, std::exp2(0.6));
  EXPECT_DOUBLE_EQ(trials[0].final_effective_learning_rate, std::exp2(-8));
  EXPECT_DOUBLE_EQ(trials[2].gamma, std::exp2(0.1));
  EXPECT_NEAR(trials[2].effective_learning_rate * std::pow(trials[2].gamma, -10), std::exp2(-1), 1e-15);
}

TEST(Grid, MicrobatchIsTheGhostBatchForBatchNormalisedNetworks) {
  Spec spec = small_spec();
  spec.model = ModelKind::wide_resnet;
  spec.batch_norm = true;
  spec.ghost_batch_size = 64;
  EXPECT_EQ(microbatch_size(spec, 16), 16);
  EXPECT_EQ(microbatch_size(spec, 1024), 64);
  spec.model = ModelKind::autoencoder;
  EXPECT_EQ(microbatch_size(spec, 1024), 1024);
  spec.microbatch = 256;
  EXPECT_EQ(microbatch_size(spec, 1024), 256);
  spec.model = ModelKind::lstm;
  spec.microbatch = 0;
  spec.unroll = 35;
  EXPECT_EQ(microbatch_size(spec, 128), 64);
  // 1000 tokens in 4 streams of 250: (250 − 1) / 35 = 7 windows.
  EXPECT_EQ(steps_per_epoch(spec, {1000, 0}, 4), 7);
}

TEST(Grid, BatchLargerThanTheDataIsAnError) {
  Spec spec = small_spec();
  spec.source_path = "big.toml";
  spec.batch_sizes = {2048};
  sgdsweep::testing::expect_error([&] { expand_grid(spec, {1000, 200}); },
                                  {"big.toml", "batch size 2048", "1000 training examples"});
}

TEST(Grid, PartitionRunsEveryTrialExactlyOnceOnOneToSevenRanks) {
  const auto trials = expand_grid(small_spec(), {1000, 200});
  for (int ranks = 1; ranks <= 7; ++ranks) {
    const auto assignment = partition(trials, ranks);
    ASSERT_EQ(assignment.size(), static_cast<std::size_t>(ranks));
    std::vector<int> times_run(trials.size(), 0);
    double max_load = 0, total = 0, largest = 0;
    for (const auto& mine : assignment) {
      double load = 0;
      for (std::int64_t index : mine) {
        ++times_run[index];
        load += trials[index].cost;
      }
      max_load = std::max(max_load, load);
    }
    for (const Trial& trial : trials) {
      total += trial.cost;
      largest = std::max(largest, trial.cost);
    }
    for (std::size_t i = 0; i < trials.size(); ++i) EXPECT_EQ(times_run[i], 1) << "trial " << i << ", " << ranks << " ranks";
    // Longest-processing-time-first is within 4/3 of the optimum; the bound below is looser.
    EXPECT_LE(max_load, 4.0 / 3.0 * std::max(total / ranks, largest) + 1e-9) << ranks << " ranks";
    EXPECT_EQ(assignment, partition(trials, ranks));  // deterministic: every rank computes the same
  }
}

namespace {
// Every field of two trials but the index, bit for bit where it is a number.
void expect_same_trial(const Trial& a, const Trial& b) {
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.optimizer, b.optimizer);
  EXPECT_EQ(a.momentum, b.momentum);
  EXPECT_EQ(a.batch_size, b.batch_size);
  EXPECT_EQ(a.log2_effective_learning_rate, b.log2_effective_learning_rate);
  EXPECT_EQ(a.effective_learning_rate, b.effective_learning_rate);
  EXPECT_EQ(a.learning_rate, b.learning_rate);
  EXPECT_EQ(a.seed_index, b.seed_index);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.budget_kind, b.budget_kind);
  EXPECT_EQ(a.epochs, b.epochs);
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.steps_per_epoch, b.steps_per_epoch);
  EXPECT_EQ(a.gamma, b.gamma);
  EXPECT_EQ(a.final_effective_learning_rate, b.final_effective_learning_rate);
  EXPECT_EQ(a.warmup_epochs, b.warmup_epochs);
  EXPECT_EQ(a.warmup_steps, b.warmup_steps);
  EXPECT_EQ(a.l2, b.l2);
  EXPECT_EQ(a.clip_norm, b.clip_norm);
  EXPECT_EQ(a.microbatch, b.microbatch);
  EXPECT_EQ(a.evaluations, b.evaluations);
  EXPECT_EQ(a.step_loss_every, b.step_loss_every);
  EXPECT_EQ(a.cost, b.cost);
}

// The trial of `trials` with this configuration, rate and seed index (nullptr: none).
const Trial* find_trial(const std::vector<Trial>& trials, OptimizerKind optimizer, std::int64_t batch_size,
                        double log2_rate, std::int32_t seed_index) {
  for (const Trial& trial : trials) {
    if (trial.optimizer == optimizer && trial.batch_size == batch_size &&
        trial.log2_effective_learning_rate == log2_rate && trial.seed_index == seed_index) {
      return &trial;
    }
  }
  return nullptr;
}
}  // namespace

TEST(Grid, ExtensionsComeAfterTheGridAndSkipRatesAlreadyThere) {
  const Spec plain = small_spec();
  Spec spec = plain;
  // -5 is in the grid already; -7 and -4 are new and come in ascending order.
  spec.grid_extensions.push_back({OptimizerKind::momentum, 2, 64, {-7, -5, -4}, {}});
  const auto grid = expand_grid(plain, {1000, 200});
  const auto trials = expand_grid(spec, {1000, 200});
  ASSERT_EQ(trials.size(), grid.size() + 2 * 3);
  for (std::size_t i = 0; i < grid.size(); ++i) {
    EXPECT_EQ(trials[i].index, grid[i].index);
    expect_same_trial(trials[i], grid[i]);  // the Cartesian part is numbered as without the entry
  }
  // Each new trial is derived exactly as a grid trial of that rate would be.
  Spec wide = plain;
  wide.log2_effective_learning_rates = {-7, -6, -5, -4};
  const auto wide_trials = expand_grid(wide, {1000, 200});
  const double expected_rates[] = {-7, -7, -7, -4, -4, -4};
  for (std::size_t k = 0; k < 6; ++k) {
    const Trial& added = trials[grid.size() + k];
    EXPECT_EQ(added.index, static_cast<std::int64_t>(grid.size() + k));
    EXPECT_EQ(added.optimizer, OptimizerKind::momentum);
    EXPECT_EQ(added.batch_size, 64);
    EXPECT_EQ(added.log2_effective_learning_rate, expected_rates[k]);
    EXPECT_EQ(added.seed_index, static_cast<std::int32_t>(k % 3));
    const Trial* twin = find_trial(wide_trials, added.optimizer, 64, expected_rates[k], added.seed_index);
    ASSERT_NE(twin, nullptr);
    expect_same_trial(added, *twin);
  }
}

TEST(Grid, ExtensionsAreIdempotent) {
  Spec spec = small_spec();
  const GridExtension entry{OptimizerKind::sgd, 2, 16, {-3}, {}};
  spec.grid_extensions = {entry};
  const auto once = expand_grid(spec, {1000, 200});
  spec.grid_extensions = {entry, entry, {OptimizerKind::sgd, 2, 16, {-6, -5}, {}}};
  const auto repeated = expand_grid(spec, {1000, 200});
  ASSERT_EQ(repeated.size(), once.size());
  EXPECT_EQ(once.size(), expand_grid(small_spec(), {1000, 200}).size() + 3);
  // A rate written in decimal that differs from the grid's in the last bits is the same rate.
  spec.grid_extensions = {{OptimizerKind::sgd, 2, 16, {-5 + 1e-12}, {}}};
  EXPECT_EQ(expand_grid(spec, {1000, 200}).size(), expand_grid(small_spec(), {1000, 200}).size());
}

TEST(Grid, ExtensionsOfADecoupledGridPairWithFinalRates) {
  Spec spec = decoupled_spec();
  const std::size_t grid = expand_grid(spec, {1000, 200}).size();
  ASSERT_EQ(grid, 3u);
  // The spec's final rates: (1, −8), (1, −1). Its own final rates: (−2, −9) is new, (−2, −8) is in
  // the grid, (−2, −1) has εf > ε0.
  spec.grid_extensions = {{OptimizerKind::momentum, 2, 64, {1}, {-8, -1}},
                          {OptimizerKind::momentum, 2, 64, {-2}, {-9, -8, -1}}};
  const auto trials = expand_grid(spec, {1000, 200});
  ASSERT_EQ(trials.size(), grid + 3);
  EXPECT_EQ(trials[3].log2_effective_learning_rate, 1);
  EXPECT_DOUBLE_EQ(trials[3].final_effective_learning_rate, std::exp2(-8));
  EXPECT_DOUBLE_EQ(trials[3].gamma, std::exp2(0.9));
  EXPECT_DOUBLE_EQ(trials[4].final_effective_learning_rate, std::exp2(-1));
  EXPECT_EQ(trials[5].log2_effective_learning_rate, -2);
  EXPECT_DOUBLE_EQ(trials[5].final_effective_learning_rate, std::exp2(-9));
}

TEST(Grid, ExtensionsPickTheirBudget) {
  Spec spec = small_spec();
  spec.budgets = {1, 4};
  spec.batch_sizes = {64};
  spec.seeds = 1;
  spec.grid_extensions = {{OptimizerKind::sgd, 4, 64, {-3}, {}}};
  const auto trials = expand_grid(spec, {1000, 200});
  ASSERT_EQ(trials.size(), 2u * 2 * 2 + 1);
  EXPECT_EQ(trials.back().steps, 60);  // 4 epochs of 15 steps
  EXPECT_EQ(trials.back().log2_effective_learning_rate, -3);
}
