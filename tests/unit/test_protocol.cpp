// Tests of the analysis protocol (postprocess/protocol.hpp) against cases worked out by hand below.
#include "protocol.hpp"

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
  EXPECT_EQ(rate.used, 5);
  EXPECT_TRUE(rate.usable);
  EXPECT_DOUBLE_EQ(rate.mean, 3.0);
  EXPECT_DOUBLE_EQ(rate.std, std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(rate.train_loss_mean, 2.6);
  EXPECT_DOUBLE_EQ(rate.effective_learning_rate, 0.125);
}

TEST(Protocol, BestKHigherIsBetter) {
  // Best 5 (highest) are {7,6,5,4,3} from seeds {3,5,0,6,2}: mean 5, variance 2,
  // train loss mean (3+5+0+6+2)/5 = 3.2.
  const auto results = analyze(seven_seeds(), 5, Direction::higher_is_better);
  const RateSummary& rate = results.at(0).rates.at(0);
  EXPECT_EQ(rate.used, 5);
  EXPECT_TRUE(rate.usable);
  EXPECT_DOUBLE_EQ(rate.mean, 5.0);
  EXPECT_DOUBLE_EQ(rate.std, std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(rate.train_loss_mean, 3.2);
}

TEST(Protocol, PopulationStandardDeviation) {
  // {2,4,4,4,5,5,7,9}: mean 5, squared deviations 9+1+1+1+0+0+4+16 = 32, 32/8 = 4 -> std 2
  // (the sample std, 32/7, would be 2.138).
  std::vector<Observation> observations;
  add_seeds(observations, autoencoder_sgd(), 0, {2, 4, 4, 4, 5, 5, 7, 9});
  const RateSummary& rate = analyze(observations, 8, Direction::lower_is_better).at(0).rates.at(0);
  EXPECT_DOUBLE_EQ(rate.mean, 5.0);
  EXPECT_DOUBLE_EQ(rate.std, 2.0);
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
    EXPECT_DOUBLE_EQ(result.rates[i].mean, expected_mean[i]) << "rate " << i;
    EXPECT_DOUBLE_EQ(result.rates[i].std, expected_std[i]) << "rate " << i;
    EXPECT_TRUE(result.rates[i].usable) << "rate " << i;
  }
  EXPECT_EQ(result.optimum, 2);
  EXPECT_EQ(result.bar_low, 1);
  EXPECT_EQ(result.bar_high, 3);
  EXPECT_FALSE(result.optimum_at_edge);
  EXPECT_FALSE(result.bar_at_edge);
  EXPECT_TRUE(result.complete);
  EXPECT_DOUBLE_EQ(result.rates[2].train_loss_mean, 0.5);
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
  EXPECT_EQ(result.optimum, 2);
  EXPECT_EQ(result.bar_low, 0);
  EXPECT_EQ(result.bar_high, 2);
  EXPECT_FALSE(result.optimum_at_edge);
  EXPECT_TRUE(result.bar_at_edge);
}

TEST(Protocol, OptimumAtLowEdge) {
  // k = 1 (std 0, so the bar is the optimum alone); means 1, 2, 3 lower-better -> index 0.
  std::vector<Observation> observations;
  add_seeds(observations, autoencoder_sgd(), -4, {1});
  add_seeds(observations, autoencoder_sgd(), -3, {2});
  add_seeds(observations, autoencoder_sgd(), -2, {3});
  const ConfigResult result = analyze(observations, 1, Direction::lower_is_better).at(0);
  EXPECT_EQ(result.optimum, 0);
  EXPECT_EQ(result.bar_low, 0);
  EXPECT_EQ(result.bar_high, 0);
  EXPECT_TRUE(result.optimum_at_edge);
  EXPECT_TRUE(result.bar_at_edge);

  // The same numbers as accuracies: the highest mean (3) is the last rate.
  const ConfigResult accuracy = analyze(observations, 1, Direction::higher_is_better).at(0);
  EXPECT_EQ(accuracy.optimum, 2);
  EXPECT_EQ(accuracy.bar_low, 2);
  EXPECT_EQ(accuracy.bar_high, 2);
  EXPECT_TRUE(accuracy.optimum_at_edge);
  EXPECT_TRUE(accuracy.bar_at_edge);
}

TEST(Protocol, OptimumAtHighEdge) {
  // means 3, 2, 1 lower-better -> index 2, the last rate.
  std::vector<Observation> observations;
  add_seeds(observations, autoencoder_sgd(), -4, {3});
  add_seeds(observations, autoencoder_sgd(), -3, {2});
  add_seeds(observations, autoencoder_sgd(), -2, {1});
  const ConfigResult result = analyze(observations, 1, Direction::lower_is_better).at(0);
  EXPECT_EQ(result.optimum, 2);
  EXPECT_EQ(result.bar_low, 2);
  EXPECT_EQ(result.bar_high, 2);
  EXPECT_TRUE(result.optimum_at_edge);
  EXPECT_TRUE(result.bar_at_edge);
}

TEST(Protocol, UnusableRateStillBelongsToTheGrid) {
  // Rate 2^-4 diverged on every seed; the optimum (2^-3, mean 1) is interior because the grid
  // edge is the first observed rate, usable or not.
  std::vector<Observation> observations;
  observations.push_back(trial(autoencoder_sgd(), -4, 0, TrialStatus::diverged, NAN));
  add_seeds(observations, autoencoder_sgd(), -3, {1});
  add_seeds(observations, autoencoder_sgd(), -2, {2});
  const ConfigResult result = analyze(observations, 1, Direction::lower_is_better).at(0);
  EXPECT_FALSE(result.rates[0].usable);
  EXPECT_EQ(result.rates[0].mean, inf);
  EXPECT_EQ(result.optimum, 1);
  EXPECT_EQ(result.bar_low, 1);
  EXPECT_EQ(result.bar_high, 1);
  EXPECT_FALSE(result.optimum_at_edge);
  EXPECT_FALSE(result.bar_at_edge);
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
  EXPECT_EQ(rate.used, 2);
  EXPECT_FALSE(rate.usable);
  EXPECT_EQ(rate.mean, inf);
  EXPECT_TRUE(std::isnan(rate.std));
  EXPECT_EQ(lower.optimum, 1);
  EXPECT_DOUBLE_EQ(lower.rates[1].mean, 4.5);

  const ConfigResult higher = analyze(observations, 2, Direction::higher_is_better).at(0);
  EXPECT_EQ(higher.rates.at(0).mean, -inf);
  EXPECT_FALSE(higher.rates.at(0).usable);
  EXPECT_EQ(higher.optimum, 1);
}

TEST(Protocol, DivergedRunOutsideBestKIsIgnored) {
  // k = 2: {1, 2, diverged}. The diverged run ranks last even though its recorded metric (0 when
  // lower is better, 100 when higher is better) would otherwise be the best: mean 1.5, std 0.5.
  std::vector<Observation> lower_obs;
  add_seeds(lower_obs, autoencoder_sgd(), 0, {1, 2});
  lower_obs.push_back(trial(autoencoder_sgd(), 0, 2, TrialStatus::diverged, 0.0));
  const RateSummary lower = analyze(lower_obs, 2, Direction::lower_is_better).at(0).rates.at(0);
  EXPECT_TRUE(lower.usable);
  EXPECT_EQ(lower.diverged, 1);
  EXPECT_DOUBLE_EQ(lower.mean, 1.5);
  EXPECT_DOUBLE_EQ(lower.std, 0.5);

  std::vector<Observation> higher_obs;
  add_seeds(higher_obs, autoencoder_sgd(), 0, {1, 2});
  higher_obs.push_back(trial(autoencoder_sgd(), 0, 2, TrialStatus::diverged, 100.0));
  const RateSummary higher = analyze(higher_obs, 2, Direction::higher_is_better).at(0).rates.at(0);
  EXPECT_TRUE(higher.usable);
  EXPECT_DOUBLE_EQ(higher.mean, 1.5);
  EXPECT_DOUBLE_EQ(higher.std, 0.5);
}

TEST(Protocol, FinishedRunWithNonFiniteMetricRanksLikeDiverged) {
  // k = 2: {1 finished, NaN finished, 3 finished} -> best 2 are {1, 3}: mean 2, std 1.
  std::vector<Observation> observations;
  add_seeds(observations, autoencoder_sgd(), 0, {1, NAN, 3});
  const RateSummary rate = analyze(observations, 2, Direction::lower_is_better).at(0).rates.at(0);
  EXPECT_TRUE(rate.usable);
  EXPECT_DOUBLE_EQ(rate.mean, 2.0);
  EXPECT_DOUBLE_EQ(rate.std, 1.0);
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
  EXPECT_EQ(result.rates[0].used, 1);
  EXPECT_FALSE(result.rates[0].usable);
  EXPECT_DOUBLE_EQ(result.rates[0].mean, 1.0);
  EXPECT_DOUBLE_EQ(result.rates[0].std, 0.0);
  EXPECT_EQ(result.rates[1].missing, 1);
  EXPECT_TRUE(result.rates[1].usable);
  EXPECT_DOUBLE_EQ(result.rates[1].mean, 3.5);
  EXPECT_EQ(result.optimum, 1);
  EXPECT_TRUE(results[1].complete);
}

TEST(Protocol, NoUsableRate) {
  std::vector<Observation> observations;
  add_seeds(observations, autoencoder_sgd(), 0, {1});  // 1 run, k = 2
  const ConfigResult result = analyze(observations, 2, Direction::lower_is_better).at(0);
  EXPECT_EQ(result.optimum, -1);
  EXPECT_EQ(result.bar_low, -1);
  EXPECT_EQ(result.bar_high, -1);
  EXPECT_FALSE(result.optimum_at_edge);
  EXPECT_FALSE(result.bar_at_edge);
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
  EXPECT_EQ(lower.optimum, 0);
  EXPECT_EQ(lower.bar_low, 0);
  EXPECT_EQ(lower.bar_high, 1);

  // Accuracies 90, 90, 80: the tie at 90 again goes to 2^-1.
  std::vector<Observation> accuracies;
  add_seeds(accuracies, autoencoder_sgd(), 0, {90});
  add_seeds(accuracies, autoencoder_sgd(), -1, {90});
  add_seeds(accuracies, autoencoder_sgd(), 1, {80});
  const ConfigResult higher = analyze(accuracies, 1, Direction::higher_is_better).at(0);
  EXPECT_EQ(higher.optimum, 0);
}

TEST(Protocol, EqualMetricsKeepTheLowerSeed) {
  // k = 1: seeds 1 and 0 both score 2; the lower seed index ranks first, so the training loss
  // averaged is seed 0's (0.1), not seed 1's (0.9), however the trials are listed.
  std::vector<Observation> observations;
  observations.push_back(finished(autoencoder_sgd(), 0, 1, 2.0, 0.9));
  observations.push_back(finished(autoencoder_sgd(), 0, 0, 2.0, 0.1));
  const RateSummary rate = analyze(observations, 1, Direction::lower_is_better).at(0).rates.at(0);
  EXPECT_DOUBLE_EQ(rate.mean, 2.0);
  EXPECT_DOUBLE_EQ(rate.train_loss_mean, 0.1);
}

TEST(Protocol, ConfigurationsOrderedByKey) {
  // Batch sizes compare as numbers (256 before 1024), strings lexicographically.
  std::vector<Observation> observations;
  const ConfigKey wrn{"wrn-16-4", "sgd", "200 epochs", 64};
  const ConfigKey sgd_1024{"autoencoder", "sgd", "200 epochs", 1024};
  const ConfigKey sgd_256{"autoencoder", "sgd", "200 epochs", 256};
  const ConfigKey momentum{"autoencoder", "momentum", "200 epochs", 4096};
  const ConfigKey steps{"autoencoder", "sgd", "1000 steps", 8192};
  for (const ConfigKey& config : {wrn, sgd_1024, sgd_256, momentum, steps}) {
    add_seeds(observations, config, 0, {1});
  }
  const auto results = analyze(observations, 1, Direction::lower_is_better);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0].config, momentum);
  EXPECT_EQ(results[1].config, steps);  // "1000 steps" < "200 epochs"
  EXPECT_EQ(results[2].config, sgd_256);
  EXPECT_EQ(results[3].config, sgd_1024);
  EXPECT_EQ(results[4].config, wrn);
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

const TableLabels labels{"test squared error", "final training loss"};

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

TEST(Protocol, MarkdownTable) {
  const std::string table = markdown_table(table_results(), labels);
  EXPECT_NE(table.find("| Model | Optimizer | Budget | Batch size | test squared error (mean ± std, "
                       "best k of n) | Optimal ε_eff [error bar] | final training loss at "
                       "optimum | Flags |\n"),
            std::string::npos)
      << table;
  // Five-rate example: mean 5 ± 2 from the best 2 of 3, optimum 2^-1 with bar [2^-2, 2^0],
  // train loss 0.5, no flags.
  EXPECT_NE(table.find("| autoencoder | sgd | 1000 steps | 64 | 5 ± 2 (best 2 of 3) | "
                       "0.5 (2^-1) [0.25 (2^-2), 1 (2^0)] | 0.5 |  |\n"),
            std::string::npos)
      << table;
  // 1/3 to 4 digits; 2^-4 = 0.0625 is the first rate of the grid; a pending trial.
  EXPECT_NE(table.find("| autoencoder | sgd | 1000 steps | 128 | 0.3333 ± 0 (best 2 of 2) | "
                       "0.0625 (2^-4) [0.0625 (2^-4), 0.0625 (2^-4)] | 0 | optimum at grid edge, "
                       "error bar at grid edge, incomplete |\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("| unusable | sgd | 1000 steps | 64 | — | — | — | no usable rate |\n"),
            std::string::npos)
      << table;
}

TEST(Protocol, CsvTable) {
  const std::string table = csv_table(table_results(), labels);
  const std::string expected =
      "model,optimizer,budget,batch_size,metric_mean,metric_std,k,n,optimal_effective_lr,"
      "optimal_log2_effective_lr,bar_low_effective_lr,bar_high_effective_lr,"
      "train_loss_at_optimum,optimum_at_edge,bar_at_edge,complete\n"
      "autoencoder,sgd,1000 steps,64,5,2,2,3,0.5,-1,0.25,1,0.5,false,false,true\n"
      "autoencoder,sgd,1000 steps,128,0.33333333333333331,0,2,2,0.0625,-4,0.0625,0.0625,0,"
      "true,true,false\n"
      "unusable,sgd,1000 steps,64,nan,nan,0,0,nan,nan,nan,nan,nan,false,false,true\n"
      "\"wrn-16-4, ghost bn\",sgd,1000 steps,64,1,0,2,2,1,0,1,1,0,true,true,true\n";
  EXPECT_EQ(table, expected);
}

}  // namespace
}  // namespace sgdsweep::analysis
