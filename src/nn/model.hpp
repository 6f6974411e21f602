// The model interface the trainer drives: forward + backward on a batch, evaluation, parameters.
#pragma once

#include <cstdint>

#include "nn/parameters.hpp"

namespace sgdsweep::nn {

// A minibatch in backend memory. Which fields a model reads is its own business: the autoencoder
// reads `features` ([size, 784], its own target); classifiers will read `labels`.
struct Batch {
  const float* features = nullptr;
  const std::int32_t* labels = nullptr;
  std::int64_t size = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual Parameters& parameters() = 0;
  // Largest batch forward/backward/evaluate accept (activations are allocated for it).
  virtual std::int64_t max_batch() const = 0;

  // Training step half: *loss_sum ← Σ over the batch of the per-example loss (backend memory);
  // parameters().gradients() ← loss_scale · ∂(Σ loss)/∂θ (overwritten, not accumulated).
  virtual void forward_backward(const Batch& batch, float loss_scale, double* loss_sum) = 0;

  // Evaluation: *loss_sum ← Σ per-example loss, *metric_sum ← Σ per-example metric (both
  // backend memory). Deterministic (dropout off, running statistics).
  virtual void evaluate(const Batch& batch, double* loss_sum, double* metric_sum) = 0;
};

}  // namespace sgdsweep::nn
