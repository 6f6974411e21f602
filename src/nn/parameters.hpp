// A model's parameters as one flat buffer (values) with a twin of the same layout (gradients):
// one all-reduce, one checksum and one optimizer sweep cover the whole model. Each named tensor is
// a slice [offset, offset + count).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/backend.hpp"

namespace sgdsweep::nn {

struct ParameterTensor {
  std::string name;
  std::int64_t offset = 0;
  std::int64_t count = 0;
  bool decay = true;  // L2 applies (weights); false for biases and normalisation scales
};

class Parameters {
 public:
  explicit Parameters(ops::Backend& backend) : backend_(backend) {}

  // Declares a tensor of `count` values and returns its offset; only before allocate().
  std::int64_t declare(std::string name, std::int64_t count, bool decay);
  // Allocates values and gradients (zero) for everything declared.
  void allocate();

  std::int64_t size() const { return size_; }
  const std::vector<ParameterTensor>& tensors() const { return tensors_; }
  ops::Backend& backend() { return backend_; }

  float* values() { return values_.data(); }
  float* gradients() { return gradients_.data(); }
  const float* values() const { return values_.data(); }
  const float* gradients() const { return gradients_.data(); }

  void upload_values(const std::vector<float>& host);
  std::vector<float> download_values() const;
  std::vector<float> download_gradients() const;

 private:
  ops::Backend& backend_;
  std::vector<ParameterTensor> tensors_;
  std::int64_t size_ = 0;
  ops::Buffer<float> values_;
  ops::Buffer<float> gradients_;
};

}  // namespace sgdsweep::nn
