// The paper's step schedule with optional warmup (see lr_schedule.hpp for the formula).
#include "train/lr_schedule.hpp"

#include <algorithm>
#include <cmath>

namespace sgdsweep::train {

LearningRateSchedule::LearningRateSchedule(double learning_rate, std::int64_t steps, double gamma,
                                           std::int64_t warmup_steps)
    : learning_rate_(learning_rate),
      gamma_(gamma),
      warmup_steps_(warmup_steps),
      hold_steps_(steps / 2),
      drop_interval_(std::max<std::int64_t>(1, steps / 20)) {}

int LearningRateSchedule::drops_before(std::int64_t step) const {
  if (step < hold_steps_) return 0;
  return static_cast<int>(std::min<std::int64_t>(kDrops, 1 + (step - hold_steps_) / drop_interval_));
}

double LearningRateSchedule::at(std::int64_t step) const {
  double rate = learning_rate_ * std::pow(gamma_, -drops_before(step));
  if (warmup_steps_ > 0 && step < warmup_steps_) {
    rate *= static_cast<double>(step + 1) / static_cast<double>(warmup_steps_);
  }
  return rate;
}

}  // namespace sgdsweep::train
