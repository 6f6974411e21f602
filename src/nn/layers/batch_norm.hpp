// Batch normalisation over the rows of [rows, channels] (NHWC images: rows = batch·height·width),
// forward and backward side by side. Ghost batch normalisation is this layer applied to each
// microbatch of `ghost_batch_size` examples: the trainer feeds the model one ghost batch at a
// time, so the statistics never span more than one.
//
// Training mode writes the microbatch's mean and unbiased variance into the gradient slots of
// the running statistics (see parameters.hpp), and keeps 1/σ for backward.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/parameters.hpp"

namespace sgdsweep::nn {

class BatchNorm {
 public:
  static constexpr float kEpsilon = 1e-5f;

  BatchNorm(Parameters& parameters, const std::string& name, std::int64_t channels);

  // A pack of models (Parameters::copies() = P): x, y, dy and dx hold the P copies back to back
  // (`rows` each), each copy normalised by its own statistics and parameters.
  void forward_training(Parameters& parameters, const float* x, float* y, std::int64_t rows);
  // copy >= 0: that copy of a pack alone (x and y of one copy).
  void forward_inference(Parameters& parameters, const float* x, float* y, std::int64_t rows,
                         std::int64_t copy = -1) const;
  // From x and dy (overwritten with dx): ∂L/∂γ, ∂L/∂β into the gradients. Uses the statistics of
  // the last forward_training.
  void backward(Parameters& parameters, const float* x, float* dy, std::int64_t rows);
  // The same with ∂L/∂x written to dx (dy kept; dx may alias dy).
  void backward(Parameters& parameters, const float* x, const float* dy, float* dx, std::int64_t rows);

  std::int64_t channels() const { return channels_; }
  std::int64_t gamma_offset() const { return gamma_offset_; }
  std::int64_t beta_offset() const { return beta_offset_; }
  std::int64_t running_mean_offset() const { return mean_offset_; }
  std::int64_t running_variance_offset() const { return variance_offset_; }
  // γ = 1, β = 0, running mean 0, running variance 1 in a host copy of the parameters.
  void initialise(std::vector<float>& values) const;

 private:
  std::int64_t channels_;
  std::int64_t gamma_offset_, beta_offset_, mean_offset_, variance_offset_;
  ops::Buffer<float> inv_std_;  // [copies, channels]
};

}  // namespace sgdsweep::nn
