// Fully connected layer with an optional logistic activation, forward and backward side by side:
//   z[B, out] = x[B, in] · Wᵀ + b,   y = σ(z) (Activation::sigmoid) or y = z (Activation::none),
// with W stored [out, in] as in PyTorch's nn.Linear. The caller owns x and y (the cache that
// backward reads). For a pack of models (Parameters::copies() = P) every array holds P copies back
// to back (x [P, batch, in], y [P, batch, out]) and each op is one packed op over the copies.
#pragma once

#include <cstdint>
#include <string>

#include "nn/parameters.hpp"
#include "ops/backend.hpp"

namespace sgdsweep::nn {

enum class Activation { none, sigmoid };

class Dense {
 public:
  Dense(Parameters& parameters, const std::string& name, std::int64_t in_features,
        std::int64_t out_features, Activation activation);

  // y[batch, out] = act(x[batch, in] · Wᵀ + b); copy >= 0: that copy of a pack alone (x and y of
  // one copy), by the ops of a model of one copy.
  void forward(Parameters& parameters, const float* x, float* y, std::int64_t batch,
               std::int64_t copy = -1) const;

  // From x[batch, in], the forward output y[batch, out] and dy = ∂L/∂y (overwritten with ∂L/∂z):
  // ∂L/∂W and ∂L/∂b into the gradient buffer (overwritten) and dx[batch, in] = ∂L/∂x unless null.
  void backward(Parameters& parameters, const float* x, const float* y, float* dy, float* dx,
                std::int64_t batch) const;

  std::int64_t in_features() const { return in_features_; }
  std::int64_t out_features() const { return out_features_; }
  std::int64_t weight_offset() const { return weight_offset_; }
  std::int64_t bias_offset() const { return bias_offset_; }
  Activation activation() const { return activation_; }

 private:
  std::int64_t in_features_;
  std::int64_t out_features_;
  Activation activation_;
  std::int64_t weight_offset_;
  std::int64_t bias_offset_;
};

}  // namespace sgdsweep::nn
