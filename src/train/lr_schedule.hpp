// The paper's learning-rate schedule (004 appendix B.1, 001 appendix A): hold ε for the first half
// of the budget, then divide by γ every 1/20 of it (10 drops, ending at ε·γ^−10), with an optional
// linear warmup from 0. For a budget of S steps: H = floor(S/2), D = max(1, floor(S/20)),
//   drops(t) = 0 for t < H, min(10, 1 + floor((t − H)/D)) otherwise,
//   ε(t) = ε · γ^−drops(t) · min(1, (t + 1)/W)   (W = warmup steps; no factor when W = 0).
// With S = 9765 this holds for 4882 updates and then drops every 488, as in the paper's Table 1.
#pragma once

#include <cstdint>

namespace sgdsweep::train {

class LearningRateSchedule {
 public:
  static constexpr int kDrops = 10;

  LearningRateSchedule(double learning_rate, std::int64_t steps, double gamma,
                       std::int64_t warmup_steps);

  // The rate of update `step` (0-based).
  double at(std::int64_t step) const;
  int drops_before(std::int64_t step) const;  // drops(t) above

  std::int64_t hold_steps() const { return hold_steps_; }
  std::int64_t drop_interval() const { return drop_interval_; }

 private:
  double learning_rate_;
  double gamma_;
  std::int64_t warmup_steps_;
  std::int64_t hold_steps_;
  std::int64_t drop_interval_;
};

}  // namespace sgdsweep::train
