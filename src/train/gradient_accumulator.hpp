// Sums the gradients of a step's microbatches in a fixed binary tree: microbatch gradients are
// added like a binary counter (g0+g1, g2+g3, (g0+g1)+(g2+g3), …), so the sum of 2^k microbatches
// is a balanced tree, and any contiguous, aligned run of microbatches forms one of its subtrees.
// That is what makes a trial give the same bits whether one rank computes all microbatches or a
// team of ranks computes aligned runs of them and combines the partial sums in the same tree.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/backend.hpp"

namespace sgdsweep::train {

class GradientAccumulator {
 public:
  GradientAccumulator(ops::Backend& backend, std::int64_t size, std::int64_t max_microbatches);

  void reset();
  // Adds the next microbatch's gradient (size values of backend memory).
  void add(const float* gradient);
  // Writes the sum of everything added since reset() into `out`: the occupied levels combined
  // from the highest (the oldest partial sums) down.
  void finish(float* out);

 private:
  ops::Backend& backend_;
  std::int64_t size_;
  std::vector<ops::Buffer<float>> levels_;  // levels_[k] holds a sum of 2^k microbatches
  std::vector<bool> occupied_;
  ops::Buffer<float> carry_;
};

}  // namespace sgdsweep::train
