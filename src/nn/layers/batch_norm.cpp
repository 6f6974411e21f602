// Batch normalisation layer on the backend's batch_norm ops.
#include "nn/layers/batch_norm.hpp"

#include <algorithm>

#include "util/error.hpp"

namespace sgdsweep::nn {

BatchNorm::BatchNorm(Parameters& parameters, const std::string& name, std::int64_t channels)
    : channels_(channels),
      gamma_offset_(parameters.declare(name + ".gamma", channels, ParameterRole::unregularized)),
      beta_offset_(parameters.declare(name + ".beta", channels, ParameterRole::unregularized)),
      mean_offset_(parameters.declare(name + ".running_mean", channels, ParameterRole::running_statistic)),
      variance_offset_(
          parameters.declare(name + ".running_variance", channels, ParameterRole::running_statistic)),
      inv_std_(parameters.backend(), static_cast<std::size_t>(parameters.copies() * channels)) {}

void BatchNorm::initialise(std::vector<float>& values) const {
  std::fill_n(values.begin() + gamma_offset_, channels_, 1.0f);
  std::fill_n(values.begin() + beta_offset_, channels_, 0.0f);
  std::fill_n(values.begin() + mean_offset_, channels_, 0.0f);
  std::fill_n(values.begin() + variance_offset_, channels_, 1.0f);
}

void BatchNorm::forward_training(Parameters& parameters, const float* x, float* y, std::int64_t rows) {
  const float* values = parameters.values();
  float* statistics = parameters.gradients();
  parameters.backend().batch_norm_forward_training_packed(
      parameters.copies(), x, rows * channels_, rows, channels_, values + gamma_offset_, values + beta_offset_,
      parameters.stride(), kEpsilon, y, statistics + mean_offset_, inv_std_.data(), statistics + variance_offset_);
}

void BatchNorm::forward_inference(Parameters& parameters, const float* x, float* y, std::int64_t rows,
                                  std::int64_t copy) const {
  if (copy < 0 && parameters.copies() != 1) fail("batch norm: inference one copy of a pack at a time");
  const float* values = parameters.values() + std::max<std::int64_t>(copy, 0) * parameters.stride();
  parameters.backend().batch_norm_forward_inference(
      x, rows, channels_, values + gamma_offset_, values + beta_offset_, values + mean_offset_,
      values + variance_offset_, kEpsilon, y);
}

void BatchNorm::backward(Parameters& parameters, const float* x, float* dy, std::int64_t rows) {
  backward(parameters, x, dy, dy, rows);
}

void BatchNorm::backward(Parameters& parameters, const float* x, const float* dy, float* dx,
                         std::int64_t rows) {
  float* gradients = parameters.gradients();
  parameters.backend().batch_norm_backward_packed(parameters.copies(), x, dy, rows * channels_, rows, channels_,
                                                  parameters.values() + gamma_offset_, gradients + mean_offset_,
                                                  parameters.stride(), inv_std_.data(), dx, gradients + gamma_offset_,
                                                  gradients + beta_offset_);
}

}  // namespace sgdsweep::nn
