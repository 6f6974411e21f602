// The paper's schedule at its breakpoints (004 appendix B.1 and §5's 9765-step example), warmup.
#include <gtest/gtest.h>

#include <cmath>

#include "train/lr_schedule.hpp"

using sgdsweep::train::LearningRateSchedule;

TEST(LearningRateSchedule, PaperConstantStepBudget) {
  // Table 1: 9765 updates, "hold the learning rate constant for 4882 updates, and then decay the
  // learning rate by a factor of 2 every 488 steps".
  const LearningRateSchedule schedule(0.8, 9765, 2.0, 0);
  EXPECT_EQ(schedule.hold_steps(), 4882);
  EXPECT_EQ(schedule.drop_interval(), 488);
  EXPECT_DOUBLE_EQ(schedule.at(0), 0.8);
  EXPECT_DOUBLE_EQ(schedule.at(4881), 0.8);
  EXPECT_DOUBLE_EQ(schedule.at(4882), 0.4);
  EXPECT_DOUBLE_EQ(schedule.at(4882 + 487), 0.4);
  EXPECT_DOUBLE_EQ(schedule.at(4882 + 488), 0.2);
  EXPECT_EQ(schedule.drops_before(4882 + 9 * 488 - 1), 9);
  EXPECT_EQ(schedule.drops_before(4882 + 9 * 488), 10);
  EXPECT_DOUBLE_EQ(schedule.at(9764), 0.8 / 1024);  // ten drops in all: ε_f = ε·γ^−10
}

TEST(LearningRateSchedule, NeverMoreThanTenDrops) {
  const LearningRateSchedule schedule(1.0, 41, 3.0, 0);  // H = 20, D = 2
  EXPECT_EQ(schedule.drops_before(19), 0);
  EXPECT_EQ(schedule.drops_before(20), 1);
  EXPECT_EQ(schedule.drops_before(39), 10);
  EXPECT_EQ(schedule.drops_before(40), 10);
  EXPECT_DOUBLE_EQ(schedule.at(40), std::pow(3.0, -10));
  const LearningRateSchedule tiny(1.0, 10, 2.0, 0);  // fewer than 20 steps: D = 1
  EXPECT_EQ(tiny.drops_before(4), 0);
  EXPECT_EQ(tiny.drops_before(5), 1);
  EXPECT_EQ(tiny.drops_before(9), 5);
}

TEST(LearningRateSchedule, LinearWarmupFromZero) {
  const LearningRateSchedule schedule(0.5, 1000, 2.0, 10);
  EXPECT_DOUBLE_EQ(schedule.at(0), 0.05);
  EXPECT_DOUBLE_EQ(schedule.at(4), 0.25);
  EXPECT_DOUBLE_EQ(schedule.at(9), 0.5);
  EXPECT_DOUBLE_EQ(schedule.at(10), 0.5);
  EXPECT_DOUBLE_EQ(schedule.at(500), 0.25);
}
