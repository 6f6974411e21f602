// A model's parameters as one flat buffer (values) with a twin of the same layout (gradients):
// one reduction, one checksum and one optimizer sweep cover the whole model. Each named tensor is
// a slice [offset, offset + count) with a role that tells the optimizer what to do with it.
//
// A pack of models trained together (Model::copies) keeps `copies` such buffers back to back:
// copy c's tensor at c · stride() + offset, in values and gradients alike.
//
// Running statistics (batch normalisation's running mean and variance) live here too: their
// "gradient" slots receive the microbatch's batch statistics during forward, are summed over the
// step's microbatches exactly like gradients (so teams of ranks reduce them in the same pass),
// and the optimizer folds the average into the running value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/backend.hpp"

namespace sgdsweep::nn {

enum class ParameterRole {
  weight,             // trained, L2-regularised (convolution and linear weights, embeddings)
  unregularized,      // trained, no L2 (biases, normalisation scales and shifts, residual scalars)
  running_statistic,  // not trained: an exponential average of per-step batch statistics
};

// ρ of the running statistics, r ← (1 − ρ)·r + ρ·batch statistic (PyTorch's BatchNorm default).
inline constexpr float kRunningStatisticMomentum = 0.1f;

struct ParameterTensor {
  std::string name;
  std::int64_t offset = 0;
  std::int64_t count = 0;
  ParameterRole role = ParameterRole::weight;
};

class Parameters {
 public:
  explicit Parameters(ops::Backend& backend, std::int64_t copies = 1) : backend_(backend), copies_(copies) {}

  // Declares a tensor of `count` values and returns its offset; only before allocate().
  std::int64_t declare(std::string name, std::int64_t count, ParameterRole role);
  // Allocates values and gradients (zero) for everything declared, `copies` times.
  void allocate();

  std::int64_t size() const { return size_; }  // of one copy
  std::int64_t copies() const { return copies_; }
  // From one copy to the next: size() in a model of one copy, else rounded up to 64 values (256
  // bytes), so that every copy has the first one's alignment (a GPU library may pick its kernels
  // by the alignment of its operands, and a copy's bits must not depend on where it sits).
  std::int64_t stride() const { return copies_ == 1 ? size_ : (size_ + 63) / 64 * 64; }
  std::int64_t total_size() const { return stride() * copies_; }
  const std::vector<ParameterTensor>& tensors() const { return tensors_; }
  const ParameterTensor& tensor(const std::string& name) const;
  ops::Backend& backend() { return backend_; }

  float* values() { return values_.data(); }
  float* gradients() { return gradients_.data(); }
  const float* values() const { return values_.data(); }
  const float* gradients() const { return gradients_.data(); }

  // Copy `copy`'s values (size() of them); download: every copy's, at its stride().
  void upload_values(const std::vector<float>& host, std::int64_t copy = 0);
  std::vector<float> download_values() const;
  std::vector<float> download_gradients() const;

 private:
  ops::Backend& backend_;
  std::vector<ParameterTensor> tensors_;
  std::int64_t size_ = 0;
  std::int64_t copies_ = 1;
  ops::Buffer<float> values_;
  ops::Buffer<float> gradients_;
};

}  // namespace sgdsweep::nn
