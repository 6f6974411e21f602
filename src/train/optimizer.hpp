// SGD and heavy-ball Momentum (PyTorch form: v ← m·v + g, w ← w − ε·v) with L2 added to the
// gradient of every `weight` tensor, one fused op per parameter tensor; running statistics move
// towards the step's average batch statistic: r ← (1 − ρ)·r + ρ·(Σ over microbatches)/microbatches.
#pragma once

#include <cstdint>

#include "nn/parameters.hpp"
#include "ops/backend.hpp"

namespace sgdsweep::train {

class Optimizer {
 public:
  // momentum == 0: plain SGD (no velocity buffer).
  Optimizer(nn::Parameters& parameters, double momentum, double l2);

  // One update at rate `learning_rate` (ε, not ε_eff) from parameters.gradients(), whose running-
  // statistic slots hold the sum of `microbatches` batch statistics: set_rate, then apply.
  void step(double learning_rate, std::int64_t microbatches = 1);
  // The two halves of step() for a recorded step: set_rate copies the rate into backend memory
  // (outside the recording), apply issues the update ops only (inside it) and reads that rate.
  void set_rate(double learning_rate);
  void apply(std::int64_t microbatches);

 private:
  nn::Parameters& parameters_;
  float momentum_;
  float l2_;
  ops::Buffer<float> velocity_;
  ops::Buffer<float> rate_;  // one float: this step's ε
};

}  // namespace sgdsweep::train
