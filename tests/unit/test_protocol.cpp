// Tests of the analysis protocol (postprocess/protocol.hpp) against cases worked out by hand below.
#include "protocol.hpp"
#include "refine.hpp"
#include "tables.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace sgdsweep::analysis {
namespace {

using spec::TrialStatus;

const double inf = std::numeric_limits<double>::infinity();

ConfigKey autoencoder_sgd(std::int64_t batch_size = 64) {
  return {"autoencoder", "sgd", "1000 steps", batch_size};
}

// A trial at effective learning rate 2^log2_rate.
Observation trial(const ConfigKey& config, double log2_rate, std::int32_t seed_index,
                  TrialStatus status, double test_metric, double train_loss = 0.0) {
  Observation observation;
  observation.config = config;
  observation.log2_effective_learning_rate = log2_rate;
  observation.effective_learning_rate = std::exp2(log2_rate);
  observation.seed_index = seed_index;
  observation.status = status;
  observation.test_metric = test_metric;
  observation.train_loss = train_loss;
  return observation;
}

Observation finished(const ConfigKey& config, double log2_rate, std::int32_t seed_index,
                     double test_metric, double train_loss = 0.0) {
  return trial(config, log2_rate, seed_index, TrialStatus::finished, test_metric, train_loss);
}

// One finished seed per listed metric (seed i gets metrics[i]) at one rate.
void add_seeds(std::vector<Observation>& observations, const ConfigKey& config, double log2_rate,
               const std::vector<double>& metrics) {
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    observations.push_back(finished(config, log2_rate, static_cast<std::int32_t>(i), metrics[i]));
  }
}

// Seven seeds at one rate: metrics {5, 1, 3, 7, 2, 6, 4}, train loss = seed index.
std::vector<Observation> seven_seeds() {
  const std::vector<double> metrics = {5, 1, 3, 7, 2, 6, 4};
  std::vector<Observation> observations;
  for (int seed = 0; seed < 7; ++seed) {
    observations.push_back(finished(autoencoder_sgd(), -3, seed, metrics[seed], seed));
  }
  return observations;
}

TEST(Protocol, BestKLowerIsBetter) {
  // Best 5 (lowest) of {5,1,3,7,2,6,4} are {1,2,3,4,5} from seeds {1,4,2,6,0}:
  // mean 3, population variance (4+1+0+1+4)/5 = 2, train loss mean (1+4+2+6+0)/5 = 2.6.
  const auto results = analyze(seven_seeds(), 5, Direction::lower_is_better);
  ASSERT_EQ(results.size(), 1u);
  ASSERT_EQ(results[0].rates.size(), 1u);
  const RateSummary& rate = results[0].rates[0];
  EXPECT_EQ(rate.finished, 7);
  EXPECT_EQ(rate.diverged, 0);
  EXPECT_EQ(rate.missing, 0);
  EXPECT_EQ(rate.test.used, 5);
  EXPECT_TRUE(rate.test.usable);
  EXPECT_DOUBLE_EQ(rate.test.mean, 3.0);
  EXPECT_DOUBLE_EQ(rate.test.std, std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(rate.test.other, 2.6);
  EXPECT_DOUBLE_EQ(rate.effective_learning_rate, 0.125);
}

TEST(Protocol, BestKHigherIsBetter) {
  // Best 5 (highest) are {7,6,5,4,3} from seeds {3,5,0,6,2}: mean 5, variance 2,
  // train loss mean (3+5+0+6+2)/5 = 3.2.
  const auto results = analyze(seven_seeds(), 5, Direction::higher_is_better);
  const RateSummary& rate = results.at(0).rates.at(0);
  EXPECT_EQ(rate.test.used, 5);
  EXPECT_TRUE(rate.test.usable);
  EXPECT_DOUBLE_EQ(rate.test.mean, 5.0);
  EXPECT_DOUBLE_EQ(rate.test.std, std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(rate.test.other, 3.2);
}

TEST(Protocol, PopulationStandardDeviation) {
  // {2,4,4,4,5,5,7,9}: mean 5, squared deviations 9+1+1+1+0+0+4+16 = 32, 32/8 = 4 -> std 2
  // (the sample std, 32/7, would be 2.138).
  std::vector<Observation> observations;
  add_seeds(observations, autoencoder_sgd(), 0, {2, 4, 4, 4, 5, 5, 7, 9});
  const RateSummary& rate = analyze(observations, 8, Direction::lower_is_better).at(0).rates.at(0);
  EXPECT_DOUBLE_EQ(rate.test.mean, 5.0);
  EXPECT_DOUBLE_EQ(rate.test.std, 2.0);
}

// Five rates 2^-3 … 2^1, best 2 of 3 seeds, lower is better:
//   index  log2  metrics        best 2     mean  std  |mean - 5|
//   0      -3    {10, 12, 20}   {10, 12}   11    1    6    out
//   1      -2    {6, 8, 30}     {6, 8}     7     1    2    in (equal to std_opt: inclusive)
//   2      -1    {3, 7, 9}      {3, 7}     5     2    0    optimum, std_opt = 2
//   3       0    {5.5, 7.5, 8}  {5.5, 7.5} 6.5   1    1.5  in
//   4       1    {7, 9, 11}     {7, 9}     8     1    3    out
// Optimum index 2 (ε_eff 0.5), error bar [1, 3] = [0.25, 1]; neither touches the edge.
// Train losses at the optimum: seeds 0, 1, 2 have 0.25, 0.75, 2 -> mean of the best two 0.5.
std::vector<Observation> five_rates() {
  const ConfigKey config = autoencoder_sgd();
  std::vector<Observation> observations;
  add_seeds(observations, config, 1, {7, 9, 11});  // given out of order on purpose
  add_seeds(observations, config, -3, {10, 12, 20});
  add_seeds(observations, config, -2, {6, 8, 30});
  observations.push_back(finished(config, -1, 0, 3, 0.25));
  observations.push_back(finished(config, -1, 1, 7, 0.75));
  observations.push_back(finished(config, -1, 2, 9, 2.0));
  add_seeds(observations, config, 0, {5.5, 7.5, 8});
  return observations;
}

TEST(Protocol, OptimumAndErrorBarFiveRates) {
  const auto results = analyze(five_rates(), 2, Direction::lower_is_better);
  ASSERT_EQ(results.size(), 1u);
  const ConfigResult& result = results[0];
  ASSERT_EQ(result.rates.size(), 5u);
  const double expected_log2[] = {-3, -2, -1, 0, 1};
  const double expected_mean[] = {11, 7, 5, 6.5, 8};
  const double expected_std[] = {1, 1, 2, 1, 1};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(result.rates[i].log2_effective_learning_rate, expected_log2[i]) << "rate " << i;
    EXPECT_DOUBLE_EQ(result.rates[i].test.mean, expected_mean[i]) << "rate " << i;
    EXPECT_DOUBLE_EQ(result.rates[i].test.std, expected_std[i]) << "rate " << i;
    EXPECT_TRUE(result.rates[i].test.usable) << "rate " << i;
  }
  EXPECT_EQ(result.test.index, 2);
  EXPECT_EQ(result.test.bar_low, 1);
  EXPECT_EQ(result.test.bar_high, 3);
  EXPECT_FALSE(result.test.at_edge);
  EXPECT_FALSE(result.test.bar_at_edge);
  EXPECT_TRUE(result.complete);
  EXPECT_DOUBLE_EQ(result.rates[2].test.other, 0.5);
}

TEST(Protocol, ErrorBarSpansAGapAndTouchesTheLowEdge) {
  // k = 2, lower is better:
  //   0: {5, 6} mean 5.5   |5.5 - 5| = 0.5 <= 1  in
  //   1: {7, 9} mean 8     3 > 1                 out (but inside the span)
  //   2: {4, 6} mean 5, std 1                    optimum (interior)
  //   3: {8, 10} mean 9    out
  // Bar = [0, 2]: the optimum is interior, the bar reaches the low edge.
  std::vector<Observation> observations;
  add_seeds(observations, autoencoder_sgd(), -2, {5, 6});
  add_seeds(observations, autoencoder_sgd(), -1, {7, 9});
  add_seeds(observations, autoencoder_sgd(), 0, {4, 6});
  add_seeds(observations, autoencoder_sgd(), 1, {8, 10});
  const ConfigResult result = analyze(observations, 2, Direction::lower_is_better).at(0);
  EXPECT_EQ(result.test.index, 2);
  EXPECT_EQ(result.test.bar_low, 0);
  EXPECT_EQ(result.test.bar_high, 2);
  EXPECT_FALSE(result.test.at_edge);
  EXPECT_TRUE(result.test.bar_at_edge);
}

TEST(Protocol, OptimumAtLowEdge) {
  // k = 1 (std 0, so the bar is the optimum alone); means 1, 2, 3 lower-better -> index 0.
  std::vector<Observation> observations;
  add_seeds(observations, autoencoder_sgd(), -4, {1});
  add_seeds(observations, autoencoder_sgd(), -3, {2});
  add_seeds(observations, autoencoder_sgd(), -2, {3});
  const ConfigResult result = analyze(observations, 1, Direction::lower_is_better).at(0);
  EXPECT_EQ(result.test.index, 0);
  EXPECT_EQ(result.test.bar_low, 0);
  EXPECT_EQ(result.test.bar_high, 0);
  EXPECT_TRUE(result.test.at_edge);
  EXPECT_TRUE(result.test.bar_at_edge);

  // The same numbers as accuracies: the highest mean (3) is the last rate.
  const ConfigResult accuracy = analyze(observations, 1, Direction::higher_is_better).at(0);
  EXPECT_EQ(accuracy.test.index, 2);
  EXPECT_EQ(accuracy.test.bar_low, 2);
  EXPECT_EQ(accuracy.test.bar_high, 2);
  EXPECT_TRUE(accuracy.test.at_edge);
  EXPECT_TRUE(accuracy.test.bar_at_edge);
}

TEST(Protocol, OptimumAtHighEdge) {
  // means 3, 2, 1 lower-better -> index 2, the last rate.
  std::vector<Observation> observations;
  add_seeds(observations, autoencoder_sgd(), -4, {3});
  add_seeds(observations, autoencoder_sgd(), -3, {2});
  add_seeds(observations, autoencoder_sgd(), -2, {1});
  const ConfigResult result = analyze(observations, 1, Direction::lower_is_better).at(0);
  EXPECT_EQ(result.test.index, 2);
  EXPECT_EQ(result.test.bar_low, 2);
  EXPECT_EQ(result.test.bar_high, 2);
  EXPECT_TRUE(result.test.at_edge);
  EXPECT_TRUE(result.test.bar_at_edge);
}

TEST(Protocol, UnusableRateStillBelongsToTheGrid) {
  // Rate 2^-4 diverged on every seed; the optimum (2^-3, mean 1) is interior because the grid
  // edge is the first observed rate, usable or not.
  std::vector<Observation> observations;
  observations.push_back(trial(autoencoder_sgd(), -4, 0, TrialStatus::diverged, NAN));
  add_seeds(observations, autoencoder_sgd(), -3, {1});
  add_seeds(observations, autoencoder_sgd(), -2, {2});
  const ConfigResult result = analyze(observations, 1, Direction::lower_is_better).at(0);
  EXPECT_FALSE(result.rates[0].test.usable);
  EXPECT_EQ(result.rates[0].test.mean, inf);
  EXPECT_EQ(result.test.index, 1);
  EXPECT_EQ(result.test.bar_low, 1);
  EXPECT_EQ(result.test.bar_high, 1);
  EXPECT_FALSE(result.test.at_edge);
  EXPECT_FALSE(result.test.bar_at_edge);
}

TEST(Protocol, DivergedRunInsideBestKMakesRateUnusable) {
  // k = 2 at 2^-1: {1.0 finished, diverged, diverged} -> best 2 = {1.0, diverged}: unusable,
  // mean = worst possible. 2^0: {4, 5} usable, so it is the optimum despite its worse mean.
  std::vector<Observation> observations;
  observations.push_back(finished(autoencoder_sgd(), -1, 0, 1.0));
  observations.push_back(trial(autoencoder_sgd(), -1, 1, TrialStatus::diverged, NAN));
  observations.push_back(trial(autoencoder_sgd(), -1, 2, TrialStatus::diverged, NAN));
  add_seeds(observations, autoencoder_sgd(), 0, {4, 5});

  const ConfigResult lower = analyze(observations, 2, Direction::lower_is_better).at(0);
  const RateSummary& rate = lower.rates.at(0);
  EXPECT_EQ(rate.finished, 1);
  EXPECT_EQ(rate.diverged, 2);
  EXPECT_EQ(rate.test.used, 2);
  EXPECT_FALSE(rate.test.usable);
  EXPECT_EQ(rate.test.mean, inf);
  EXPECT_TRUE(std::isnan(rate.test.std));
  EXPECT_EQ(lower.test.index, 1);
  EXPECT_DOUBLE_EQ(lower.rates[1].test.mean, 4.5);

  const ConfigResult higher = analyze(observations, 2, Direction::higher_is_better).at(0);
  EXPECT_EQ(higher.rates.at(0).test.mean, -inf);
  EXPECT_FALSE(higher.rates.at(0).test.usable);
  EXPECT_EQ(higher.test.index, 1);
}

TEST(Protocol, DivergedRunOutsideBestKIsIgnored) {
  // k = 2: {1, 2, diverged}. The diverged run ranks last even though its recorded metric (0 when
  // lower is better, 100 when higher is better) would otherwise be the best: mean 1.5, std 0.5.
  std::vector<Observation> lower_obs;
  add_seeds(lower_obs, autoencoder_sgd(), 0, {1, 2});
  lower_obs.push_back(trial(autoencoder_sgd(), 0, 2, TrialStatus::diverged, 0.0));
  const RateSummary lower = analyze(lower_obs, 2, Direction::lower_is_better).at(0).rates.at(0);
  EXPECT_TRUE(lower.test.usable);
  EXPECT_EQ(lower.diverged, 1);
  EXPECT_DOUBLE_EQ(lower.test.mean, 1.5);
  EXPECT_DOUBLE_EQ(lower.test.std, 0.5);

  std::vector<Observation> higher_obs;
  add_seeds(higher_obs, autoencoder_sgd(), 0, {1, 2});
  higher_obs.push_back(trial(autoencoder_sgd(), 0, 2, TrialStatus::diverged, 100.0));
  const RateSummary higher = analyze(higher_obs, 2, Direction::higher_is_better).at(0).rates.at(0);
  EXPECT_TRUE(higher.test.usable);
  EXPECT_DOUBLE_EQ(higher.test.mean, 1.5);
  EXPECT_DOUBLE_EQ(higher.test.std, 0.5);
}

TEST(Protocol, FinishedRunWithNonFiniteMetricRanksLikeDiverged) {
  // k = 2: {1 finished, NaN finished, 3 finished} -> best 2 are {1, 3}: mean 2, std 1.
  std::vector<Observation> observations;
  add_seeds(observations, autoencoder_sgd(), 0, {1, NAN, 3});
  const RateSummary rate = analyze(observations, 2, Direction::lower_is_better).at(0).rates.at(0);
  EXPECT_TRUE(rate.test.usable);
  EXPECT_DOUBLE_EQ(rate.test.mean, 2.0);
  EXPECT_DOUBLE_EQ(rate.test.std, 1.0);
}

TEST(Protocol, MissingRunsMakeConfigIncompleteAndRateUnusable) {
  // k = 2. 2^-1: {1 finished, pending, failed} -> 1 available < 2: used 1, mean 1, std 0, not
  // usable. 2^0: {3, 4 finished, pending} -> usable, mean 3.5: the optimum despite 1 < 3.5.
  const ConfigKey config = autoencoder_sgd();
  std::vector<Observation> observations;
  observations.push_back(finished(config, -1, 0, 1.0));
  observations.push_back(trial(config, -1, 1, TrialStatus::pending, NAN));
  observations.push_back(trial(config, -1, 2, TrialStatus::failed, NAN));
  observations.push_back(finished(config, 0, 0, 3.0));
  observations.push_back(finished(config, 0, 1, 4.0));
  observations.push_back(trial(config, 0, 2, TrialStatus::pending, NAN));
  // A second, fully finished configuration stays complete.
  add_seeds(observations, autoencoder_sgd(128), 0, {1, 2});

  const auto results = analyze(observations, 2, Direction::lower_is_better);
  ASSERT_EQ(results.size(), 2u);
  const ConfigResult& result = results[0];
  EXPECT_FALSE(result.complete);
  EXPECT_EQ(result.rates[0].missing, 2);
  EXPECT_EQ(result.rates[0].finished, 1);
  EXPECT_EQ(result.rates[0].test.used, 1);
  EXPECT_FALSE(result.rates[0].test.usable);
  EXPECT_DOUBLE_EQ(result.rates[0].test.mean, 1.0);
  EXPECT_DOUBLE_EQ(result.rates[0].test.std, 0.0);
  EXPECT_EQ(result.rates[1].missing, 1);
  EXPECT_TRUE(result.rates[1].test.usable);
  EXPECT_DOUBLE_EQ(result.rates[1].test.mean, 3.5);
  EXPECT_EQ(result.test.index, 1);
  EXPECT_TRUE(results[1].complete);
}

TEST(Protocol, NoUsableRate) {
  std::vector<Observation> observations;
  add_seeds(observations, autoencoder_sgd(), 0, {1});  // 1 run, k = 2
  const ConfigResult result = analyze(observations, 2, Direction::lower_is_better).at(0);
  EXPECT_EQ(result.test.index, -1);
  EXPECT_EQ(result.test.bar_low, -1);
  EXPECT_EQ(result.test.bar_high, -1);
  EXPECT_FALSE(result.test.at_edge);
  EXPECT_FALSE(result.test.bar_at_edge);
}

TEST(Protocol, TiesGoToTheSmallerRate) {
  // k = 1, lower is better: 2^-1 -> 3, 2^0 -> 3, 2^1 -> 4. The two means of 3 tie and the smaller
  // rate (index 0) wins. The optimum's std is 0, and |3 - 3| <= 0 puts 2^0 in the bar: [0, 1].
  // The larger rate is listed first to check that rates are sorted ascending.
  std::vector<Observation> observations;
  add_seeds(observations, autoencoder_sgd(), 0, {3});
  add_seeds(observations, autoencoder_sgd(), -1, {3});
  add_seeds(observations, autoencoder_sgd(), 1, {4});
  const ConfigResult lower = analyze(observations, 1, Direction::lower_is_better).at(0);
  EXPECT_EQ(lower.rates[0].log2_effective_learning_rate, -1);
  EXPECT_EQ(lower.rates[1].log2_effective_learning_rate, 0);
  EXPECT_EQ(lower.test.index, 0);
  EXPECT_EQ(lower.test.bar_low, 0);
  EXPECT_EQ(lower.test.bar_high, 1);

  // Accuracies 90, 90, 80: the tie at 90 again goes to 2^-1.
  std::vector<Observation> accuracies;
  add_seeds(accuracies, autoencoder_sgd(), 0, {90});
  add_seeds(accuracies, autoencoder_sgd(), -1, {90});
  add_seeds(accuracies, autoencoder_sgd(), 1, {80});
  const ConfigResult higher = analyze(accuracies, 1, Direction::higher_is_better).at(0);
  EXPECT_EQ(higher.test.index, 0);
}

TEST(Protocol, EqualMetricsKeepTheLowerSeed) {
  // k = 1: seeds 1 and 0 both score 2; the lower seed index ranks first, so the training loss
  // averaged is seed 0's (0.1), not seed 1's (0.9), however the trials are listed.
  std::vector<Observation> observations;
  observations.push_back(finished(autoencoder_sgd(), 0, 1, 2.0, 0.9));
  observations.push_back(finished(autoencoder_sgd(), 0, 0, 2.0, 0.1));
  const RateSummary rate = analyze(observations, 1, Direction::lower_is_better).at(0).rates.at(0);
  EXPECT_DOUBLE_EQ(rate.test.mean, 2.0);
  EXPECT_DOUBLE_EQ(rate.test.other, 0.1);
}

TEST(Protocol, ConfigurationsOrderedByKey) {
  // Model and optimizer by name, then the budget (epochs before steps, then by value: 20 before
  // 200), then the batch size as a number (256 before 1024).
  std::vector<Observation> observations;
  const ConfigKey wrn{"wrn-16-4", "sgd", "200 epochs", 64, 0, 200};
  const ConfigKey sgd_1024{"autoencoder", "sgd", "200 epochs", 1024, 0, 200};
  const ConfigKey sgd_256{"autoencoder", "sgd", "200 epochs", 256, 0, 200};
  const ConfigKey short_budget{"autoencoder", "sgd", "20 epochs", 8192, 0, 20};
  const ConfigKey momentum{"autoencoder", "momentum", "200 epochs", 4096, 0, 200};
  const ConfigKey steps{"autoencoder", "sgd", "1000 steps", 16, 1, 1000};
  for (const ConfigKey& config : {wrn, sgd_1024, sgd_256, short_budget, momentum, steps}) {
    add_seeds(observations, config, 0, {1});
  }
  const auto results = analyze(observations, 1, Direction::lower_is_better);
  ASSERT_EQ(results.size(), 6u);
  EXPECT_EQ(results[0].config, momentum);
  EXPECT_EQ(results[1].config, short_budget);
  EXPECT_EQ(results[2].config, sgd_256);
  EXPECT_EQ(results[3].config, sgd_1024);
  EXPECT_EQ(results[4].config, steps);
  EXPECT_EQ(results[5].config, wrn);
}

TEST(Protocol, RejectsBadInput) {
  std::vector<Observation> observations;
  add_seeds(observations, autoencoder_sgd(), 0, {1, 2});
  EXPECT_THROW(analyze(observations, 0, Direction::lower_is_better), Error);
  observations.push_back(finished(autoencoder_sgd(), 0, 1, 3));  // seed 1 again
  EXPECT_THROW(analyze(observations, 1, Direction::lower_is_better), Error);
  std::vector<Observation> bad_rate = {finished(autoencoder_sgd(), NAN, 0, 1)};
  EXPECT_THROW(analyze(bad_rate, 1, Direction::lower_is_better), Error);
}

TEST(Protocol, FormatsRates) {
  // 2^-7 = 0.0078125: four significant digits, the exact tie rounds to even -> 0.007812.
  EXPECT_EQ(format_learning_rate(0.0078125, -7), "0.007812 (2^-7)");
  EXPECT_EQ(format_learning_rate(std::exp2(-6.5), -6.5), "0.01105 (2^-6.5)");
  EXPECT_EQ(format_learning_rate(4, 2), "4 (2^2)");
  EXPECT_EQ(format_significant(94.91234), "94.91");
  EXPECT_EQ(format_significant(NAN), "nan");
  EXPECT_EQ(format_significant(-inf), "-inf");
}

TEST(Protocol, TrainingLossOptimumIsSeparate) {
  // 004 §7: the rate that minimises the final training loss is found on its own best k.
  // k = 2, three rates, (test metric, train loss) per seed:
  //   2^-2: (4, 3.0) (6, 2.0) (9, 1.0)   test best {4, 6}: 5 ± 1, train there (3 + 2)/2 = 2.5
  //                                      train best {1.0, 2.0}: 1.5 ± 0.5, test there (9 + 6)/2 = 7.5
  //   2^-1: (7, 0.5) (8, 0.7) (9, 0.9)   test best {7, 8}: 7.5 ± 0.5; train best {0.5, 0.7}: 0.6 ± 0.1
  //   2^0:  (9, 2.0) (9, 2.2) (9, 2.4)   test 9 ± 0; train 2.1 ± 0.1
  // Test optimum 2^-2 (at the low edge), training-loss optimum 2^-1 (interior, bar alone:
  // |1.5 - 0.6| > 0.1).
  const ConfigKey config = autoencoder_sgd();
  std::vector<Observation> observations;
  const double rows[3][3][2] = {{{4, 3.0}, {6, 2.0}, {9, 1.0}},
                                {{7, 0.5}, {8, 0.7}, {9, 0.9}},
                                {{9, 2.0}, {9, 2.2}, {9, 2.4}}};
  for (int r = 0; r < 3; ++r) {
    for (int seed = 0; seed < 3; ++seed) {
      observations.push_back(finished(config, r - 2, seed, rows[r][seed][0], rows[r][seed][1]));
    }
  }
  const ConfigResult result = analyze(observations, 2, Direction::lower_is_better).at(0);
  EXPECT_EQ(result.test.index, 0);
  EXPECT_TRUE(result.test.at_edge);
  EXPECT_DOUBLE_EQ(result.rates[0].test.other, 2.5);
  EXPECT_DOUBLE_EQ(result.rates[0].train.mean, 1.5);
  EXPECT_DOUBLE_EQ(result.rates[0].train.other, 7.5);
  EXPECT_EQ(result.train.index, 1);
  EXPECT_DOUBLE_EQ(result.rates[1].train.mean, 0.6);
  EXPECT_NEAR(result.rates[1].train.std, 0.1, 1e-12);
  EXPECT_EQ(result.train.bar_low, 1);
  EXPECT_EQ(result.train.bar_high, 1);
  EXPECT_FALSE(result.train.at_edge);
  EXPECT_FALSE(result.train.bar_at_edge);
}

// A decoupled trial (004 §7.1): initial rate 2^a, final rate 2^f.
Observation pair(const ConfigKey& config, double a, double f, std::int32_t seed, double metric) {
  Observation observation = finished(config, a, seed, metric, metric);
  observation.log2_final_effective_learning_rate = f;
  observation.final_effective_learning_rate = std::exp2(f);
  return observation;
}

TEST(Protocol, DecoupledPairs) {
  // Pairs (initial, final) with final <= initial, k = 1, lower is better:
  //   (-2,-4) 5   (-2,-3) 4   (-2,-2) 6
  //   (-1,-4) 3   (-1,-3) 1   (-1,-2) 2   (-1,-1) 7
  // Optimum (-1,-3) = 1 (std 0: the bar is the optimum alone); interior on both axes? The initial
  // -1 is the top of the initial rates: at the edge. Rates are ordered initial, then final.
  const ConfigKey config = autoencoder_sgd();
  std::vector<Observation> observations = {
      pair(config, -1, -1, 0, 7), pair(config, -2, -4, 0, 5), pair(config, -2, -3, 0, 4),
      pair(config, -2, -2, 0, 6), pair(config, -1, -4, 0, 3), pair(config, -1, -3, 0, 1),
      pair(config, -1, -2, 0, 2)};
  const ConfigResult result = analyze(observations, 1, Direction::lower_is_better).at(0);
  EXPECT_TRUE(result.decoupled);
  ASSERT_EQ(result.rates.size(), 7u);
  EXPECT_EQ(result.rates[0].log2_final_effective_learning_rate, -4);
  EXPECT_EQ(result.rates[3].log2_effective_learning_rate, -1);
  EXPECT_EQ(result.test.index, 4);
  EXPECT_EQ(result.rates[4].log2_final_effective_learning_rate, -3);
  EXPECT_TRUE(result.test.at_edge);
  EXPECT_EQ(result.test.bar_log2_final_low, -3);
  EXPECT_EQ(result.test.bar_log2_final_high, -3);

  // With k = 1 and a tie of (-1,-3) with (-2,-2) at 1: the smaller initial rate wins.
  observations[3].test_metric = 1;
  const ConfigResult tie = analyze(observations, 1, Direction::lower_is_better).at(0);
  EXPECT_EQ(tie.test.index, 2);
  EXPECT_EQ(tie.test.bar_log2_low, -2);  // (-1,-3) is within 0 of the optimum: in the bar
  EXPECT_EQ(tie.test.bar_log2_high, -1);
  EXPECT_EQ(tie.test.bar_log2_final_low, -3);
  EXPECT_EQ(tie.test.bar_log2_final_high, -2);
}

const TableLabels labels{"test squared error", "final training loss", 2, 3};

// five_rates() plus configurations that exercise flags, quoting and full precision.
std::vector<ConfigResult> table_results() {
  std::vector<Observation> observations = five_rates();
  const ConfigKey edge{"autoencoder", "sgd", "1000 steps", 128};  // optimum at the low edge
  add_seeds(observations, edge, -4, {1.0 / 3, 1.0 / 3});
  add_seeds(observations, edge, -3, {2, 2});
  observations.push_back(trial(edge, -3, 2, TrialStatus::pending, NAN));
  add_seeds(observations, {"unusable", "sgd", "1000 steps", 64}, 0, {1});  // 1 run < k = 2
  add_seeds(observations, {"wrn-16-4, ghost bn", "sgd", "1000 steps", 64}, 0, {1, 1});
  return analyze(observations, 2, Direction::lower_is_better);
}

TEST(Tables, MarkdownTables) {
  const std::string table = markdown_tables(table_results(), labels, {Field::model, Field::optimizer, Field::budget});
  EXPECT_NE(table.find("#### autoencoder · sgd · 1000 steps: the test-optimal rate\n\n"
                       "| B | test squared error (best 2 of 3) | optimal ε_eff | error bar (1σ) | "
                       "final training loss there | trials |\n|---|---:|---:|---:|---:|---:|\n"),
            std::string::npos)
      << table;
  // Five-rate example: mean 5 ± 2 from the best 2 of 3, optimum 2^-1 with bar [2^-2, 2^0],
  // training loss there 0.5; 15 trials.
  EXPECT_NE(table.find("| 64 | 5 ± 2 | 2^-1 | 2^-2 … 2^0 | 0.5 | 15/15 |\n"), std::string::npos) << table;
  // 1/3 to 4 digits; 2^-4 is the first rate of the grid; a pending trial.
  EXPECT_NE(table.find("| 128 | 0.3333 ± 0 | 2^-4 (edge) | 2^-4 (edge) | 0 | 4/5 (incomplete) |\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("#### unusable · sgd · 1000 steps: the test-optimal rate"), std::string::npos);
  EXPECT_NE(table.find("| 64 | – | – | – | – | 1/1 |\n"), std::string::npos) << table;
  // The training-loss table of the five-rate example: every train loss there is 0 except the
  // optimum's seeds (0.25, 0.75, 2): the smallest mean is 0 at 2^-3 (the first rate).
  EXPECT_NE(table.find("#### autoencoder · sgd · 1000 steps: the training-loss-optimal rate (004 §7)\n\n"
                       "| B | final training loss (best 2 of 3) | optimal ε_eff | error bar (1σ) | "
                       "test squared error there | trials |\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("| 64 | 0 ± 0 | 2^-3 (edge) | 2^-3 … 2^1 (edge) | 11 | 15/15 |\n"), std::string::npos)
      << table;

  // One table for everything: every field labels the rows.
  const std::string single = markdown_tables(table_results(), labels, {});
  EXPECT_NE(single.find("#### all configurations: the test-optimal rate\n\n| model | optimizer | budget | B | "),
            std::string::npos)
      << single;
  EXPECT_NE(single.find("| autoencoder | sgd | 1000 steps | 64 | 5 ± 2 | 2^-1 |"), std::string::npos) << single;
}

TEST(Tables, LatexTables) {
  const std::string table = latex_tables(table_results(), {"test error (%)", "final loss", 2, 3},
                                         {Field::model, Field::optimizer, Field::budget});
  EXPECT_NE(table.find("\\begin{tabular}{lrcccr}\n\\toprule\nB & test error (\\%) (best 2 of 3) & "),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("64 & 5 $\\pm$ 2 & $2^{-1}$ & $2^{-2}$--$2^{0}$ & 0.5 & 15/15 \\\\\n"), std::string::npos)
      << table;
  EXPECT_NE(table.find("128 & 0.3333 $\\pm$ 0 & $2^{-4}$$^\\dagger$ &"), std::string::npos) << table;
  EXPECT_NE(table.find("\\bottomrule\n\\end{tabular}\n"), std::string::npos);
}

TEST(Tables, Sections) {
  EXPECT_EQ(parse_fields("optimizer,batch_size"), (std::vector<Field>{Field::optimizer, Field::batch_size}));
  EXPECT_TRUE(parse_fields("").empty());
  EXPECT_THROW(parse_fields("optimizer,seed"), Error);
  EXPECT_THROW(parse_fields("budget,budget"), Error);
  // An epoch-budget study (several budgets, one B): a table per B, a row per budget.
  std::vector<Observation> observations;
  add_seeds(observations, {"autoencoder", "sgd", "10 epochs", 64, 0, 10}, 0, {1});
  add_seeds(observations, {"autoencoder", "sgd", "20 epochs", 64, 0, 20}, 0, {1});
  const auto budgets = analyze(observations, 1, Direction::lower_is_better);
  EXPECT_EQ(default_sections(budgets), (std::vector<Field>{Field::model, Field::optimizer, Field::batch_size}));
  EXPECT_EQ(default_sections(table_results()), (std::vector<Field>{Field::model, Field::optimizer, Field::budget}));
  const std::string table = markdown_tables(budgets, labels, default_sections(budgets));
  EXPECT_NE(table.find("#### autoencoder · sgd · B = 64: the test-optimal rate\n\n| budget |"), std::string::npos)
      << table;
}

TEST(Tables, Csv) {
  const std::string table = csv_table(table_results());
  std::string header = "model,optimizer,budget_kind,budget,batch_size,complete";
  for (const char* p : {"test", "train"}) {
    for (const char* column : {"mean", "std", "k", "n", "optimal_effective_lr", "optimal_log2_effective_lr",
                               "optimal_final_effective_lr", "bar_log2_low", "bar_log2_high",
                               "bar_log2_final_low", "bar_log2_final_high", "other_mean", "optimum_at_edge",
                               "bar_at_edge"}) {
      header += std::string(",") + p + "_" + column;
    }
  }
  EXPECT_EQ(table.substr(0, table.find('\n')), header);
  EXPECT_NE(table.find("\nautoencoder,sgd,epochs,0,64,true,5,2,2,3,0.5,-1,nan,-2,0,nan,nan,0.5,false,false,"
                       "0,0,2,3,0.125,-3,nan,-3,1,nan,nan,11,true,true\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("\nautoencoder,sgd,epochs,0,128,false,0.33333333333333331,0,2,2,0.0625,-4,"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("\nunusable,sgd,epochs,0,64,true,nan,nan,nan,nan,nan,nan,nan,nan,nan,nan,nan,nan,false,false,"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("\n\"wrn-16-4, ghost bn\",sgd,epochs,0,64,true,1,0,"), std::string::npos) << table;
}

TEST(Refine, EdgesAddRatesBeyond) {
  // five_rates(): test optimum interior (bar 2^-2 … 2^0 inside -3 … 1) but the training-loss
  // optimum is 2^-3, the bottom, with a bar to the top (every other rate has training loss 0):
  // -5, -4 and 2, 3. The 128 configuration's test optimum sits at 2^-4, the bottom of {-4, -3}
  // (-6, -5), its training-loss bar spans both rates (-2, -1 too). "unusable" has no optimum but a
  // finished run: lower rates. The single rate of "wrn-16-4, ghost bn" is both edges.
  const std::vector<Extension> extensions = refine(table_results(), 2);
  ASSERT_EQ(extensions.size(), 4u);
  EXPECT_EQ(extensions[0].config.batch_size, 64);
  EXPECT_EQ(extensions[0].log2_rates, (std::vector<double>{-5, -4, 2, 3}));
  EXPECT_EQ(extensions[0].reason, "train optimum or error bar at the bottom and top");
  EXPECT_EQ(extensions[1].config.batch_size, 128);
  EXPECT_EQ(extensions[1].log2_rates, (std::vector<double>{-6, -5, -2, -1}));
  EXPECT_EQ(extensions[2].config.model, "unusable");
  EXPECT_EQ(extensions[2].log2_rates, (std::vector<double>{-2, -1}));
  EXPECT_EQ(extensions[3].log2_rates, (std::vector<double>{-2, -1, 1, 2}));
  EXPECT_THROW(refine(table_results(), 0), Error);

  const std::string toml = extension_toml({extensions[1]}, true);
  EXPECT_EQ(toml,
            "\n# sgd, B = 128, 1000 steps: test optimum or error bar at the bottom; train optimum or error bar at "
            "the bottom and top\n[[grid.extend]]\noptimizer = \"sgd\"\nbatch_size = 128\nbudget = 0\n"
            "log2_effective_lr = [-6, -5, -2, -1]\n");
}

TEST(Refine, InteriorOptimaAddNothingAndDecoupledExtendsFinals) {
  // k = 1, lower is better, rates -3, -2, -1 with metrics 3, 1, 3 and train losses 3, 1, 3: both
  // optima interior, bars alone (std 0).
  std::vector<Observation> observations;
  for (int r = 0; r < 3; ++r) {
    observations.push_back(finished(autoencoder_sgd(), r - 3, 0, r == 1 ? 1 : 3, r == 1 ? 1 : 3));
  }
  EXPECT_TRUE(refine(analyze(observations, 1, Direction::lower_is_better), 2).empty());

  // Decoupled: initial {-1} final {-3, -2}; the optimum's final rate -3 is the bottom of the finals:
  // finals -5, -4 added; the initial rate -1 alone is both edges of its axis: -3, -2 and 0, 1.
  const ConfigKey config = autoencoder_sgd();
  const std::vector<Observation> pairs = {pair(config, -1, -3, 0, 1), pair(config, -1, -2, 0, 2)};
  const auto extensions = refine(analyze(pairs, 1, Direction::lower_is_better), 2);
  ASSERT_EQ(extensions.size(), 1u);
  EXPECT_EQ(extensions[0].log2_rates, (std::vector<double>{-3, -2, -1, 0, 1}));
  EXPECT_EQ(extensions[0].log2_final_rates, (std::vector<double>{-5, -4, -3, -2}));
}

}  // namespace
}  // namespace sgdsweep::analysis
