// SGD and heavy-ball Momentum (PyTorch form: v ← m·v + g, w ← w − ε·v) with L2 added to the
// gradient of every `weight` tensor, one fused op per parameter tensor; running statistics move
// towards the step's average batch statistic: r ← (1 − ρ)·r + ρ·(Σ over microbatches)/microbatches.
// A pack of models (Parameters::copies) is updated by one packed op per tensor, each copy at its
// own rate; momentum and L2 are the pack's.
#pragma once

#include <cstdint>
#include <vector>

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
  // The two halves of step() for a recorded step: set_rates copies the rates (one per copy) into
  // backend memory (outside the recording), apply issues the update ops only (inside it) and reads
  // those rates.
  void set_rate(double learning_rate) { set_rates({learning_rate}); }
  void set_rates(const std::vector<double>& learning_rates);
  void apply(std::int64_t microbatches);
  // Zeroes copy `copy`'s velocity (a pack slot starting its next trial).
  void reset(std::int64_t copy);

 private:
  nn::Parameters& parameters_;
  float momentum_;
  float l2_;
  ops::Buffer<float> velocity_;
  ops::Buffer<float> rates_;  // this step's ε of each copy
  std::vector<float> staged_rates_;
};

}  // namespace sgdsweep::train
