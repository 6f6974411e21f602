// One trial end to end on the host on synthetic images: the loss falls, a rerun gives the same
// bits, the evaluation points sit where the docs say, a huge rate is recorded as diverged.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/registry.hpp"
#include "spec/grid.hpp"
#include "train/trainer.hpp"
#include "util/rng.hpp"

using namespace sgdsweep;

namespace {

data::ImageSet synthetic_images(std::int64_t count, std::uint32_t stream) {
  // Smooth blobs (so there is structure to learn) plus noise.
  const CounterRng rng(5, RngPurpose::test);
  data::ImageSet images;
  images.source = "synthetic";
  images.count = count;
  images.features = 784;
  images.pixels.resize(static_cast<std::size_t>(count * 784));
  for (std::int64_t i = 0; i < count; ++i) {
    const double cx = 8 + 12 * rng.uniform(stream, 2 * i), cy = 8 + 12 * rng.uniform(stream, 2 * i + 1);
    for (int p = 0; p < 784; ++p) {
      const double d2 = (p / 28 - cy) * (p / 28 - cy) + (p % 28 - cx) * (p % 28 - cx);
      const double value = 255 * std::exp(-d2 / 20) + 20 * rng.uniform(stream + 1, i * 784 + p);
      images.pixels[i * 784 + p] = static_cast<std::uint8_t>(std::min(255.0, value));
    }
  }
  return images;
}

spec::Trial make_trial(double log2_rate, spec::OptimizerKind optimizer) {
  spec::Spec spec;
  spec.seeds = 1;
  spec.seed = 3;
  spec.optimizers = {optimizer};
  spec.momentum = 0.9;
  spec.l2 = 1e-5;
  spec.batch_sizes = {16};
  spec.log2_effective_learning_rates = {log2_rate};
  spec.budget_kind = spec::BudgetKind::epochs;
  spec.epochs = 4;
  spec.evaluations = 4;
  spec.step_loss_every = 3;
  return spec::expand_grid(spec, 256, 64).at(0);
}


}  // namespace

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = ops::make_backend("host");
    data_.train = synthetic_images(256, 10);
    data_.test = synthetic_images(64, 20);
    staged_ = std::make_unique<train::StagedData>(*backend_, data_);
  }
  spec::TrialOutcome run(const spec::Trial& trial) {
    train::TrialContext context{*backend_, *staged_, "glorot", 128};
    return train::train_trial(trial, context);
  }
  std::unique_ptr<ops::Backend> backend_;
  train::TrainingData data_;
  std::unique_ptr<train::StagedData> staged_;
};

TEST_F(TrainerTest, LossFallsAndTheCurveHasEveryPoint) {
  const spec::Trial trial = make_trial(-4, spec::OptimizerKind::momentum);
  ASSERT_EQ(trial.steps, 64);
  const spec::TrialOutcome outcome = run(trial);
  ASSERT_EQ(outcome.status, spec::TrialStatus::finished) << outcome.message;
  EXPECT_EQ(outcome.steps_completed, 64);
  ASSERT_EQ(outcome.curve.size(), 5u);
  const std::vector<std::int64_t> steps = {0, 16, 32, 48, 64};
  for (std::size_t k = 0; k < steps.size(); ++k) {
    EXPECT_EQ(outcome.curve[k].step, steps[k]);
    EXPECT_DOUBLE_EQ(outcome.curve[k].epoch, steps[k] / 16.0);
    EXPECT_TRUE(std::isfinite(outcome.curve[k].train_loss));
    EXPECT_TRUE(std::isfinite(outcome.curve[k].test_metric));
  }
  EXPECT_LT(outcome.curve.back().train_loss, 0.6 * outcome.curve.front().train_loss);
  EXPECT_LT(outcome.curve.back().test_metric, 0.6 * outcome.curve.front().test_metric);
  EXPECT_EQ(outcome.step_losses.size(), 22u);  // steps 0, 3, …, 63
  EXPECT_LT(outcome.step_losses.back(), outcome.step_losses.front());
  // The last point's rate is that of the last update: ε·2^−10 after ten drops.
  EXPECT_DOUBLE_EQ(outcome.curve.back().learning_rate, trial.learning_rate / 1024);
  EXPECT_GT(outcome.examples_per_second, 0);
}

TEST_F(TrainerTest, RerunGivesTheSameBits) {
  const spec::Trial trial = make_trial(-5, spec::OptimizerKind::sgd);
  const spec::TrialOutcome a = run(trial), b = run(trial);
  ASSERT_EQ(a.curve.size(), b.curve.size());
  for (std::size_t k = 0; k < a.curve.size(); ++k) {
    EXPECT_EQ(a.curve[k].train_loss, b.curve[k].train_loss);
    EXPECT_EQ(a.curve[k].test_metric, b.curve[k].test_metric);
  }
  EXPECT_EQ(a.step_losses, b.step_losses);
}

TEST_F(TrainerTest, HugeRateIsRecordedAsDivergedWithItsCurveSoFar) {
  const spec::Trial trial = make_trial(60, spec::OptimizerKind::momentum);
  const spec::TrialOutcome outcome = run(trial);
  EXPECT_EQ(outcome.status, spec::TrialStatus::diverged);
  EXPECT_NE(outcome.message.find("non-finite"), std::string::npos) << outcome.message;
  EXPECT_LT(outcome.steps_completed, trial.steps);
  ASSERT_GE(outcome.curve.size(), 1u);
  EXPECT_TRUE(std::isfinite(outcome.curve[0].train_loss));  // step 0 was fine
}
