// SGD and heavy-ball Momentum (PyTorch form: v ← m·v + g, w ← w − ε·v) with L2 added to the
// gradient of every tensor marked `decay`, one fused op per parameter tensor.
#pragma once

#include "nn/parameters.hpp"
#include "ops/backend.hpp"

namespace sgdsweep::train {

class Optimizer {
 public:
  // momentum == 0: plain SGD (no velocity buffer).
  Optimizer(nn::Parameters& parameters, double momentum, double l2);

  // One update at rate `learning_rate` (ε, not ε_eff) from parameters.gradients().
  void step(double learning_rate);

 private:
  nn::Parameters& parameters_;
  float momentum_;
  float l2_;
  ops::Buffer<float> velocity_;
};

}  // namespace sgdsweep::train
