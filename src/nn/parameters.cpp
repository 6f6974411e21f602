// Flat parameter storage: declaration, allocation, host transfers.
#include "nn/parameters.hpp"

#include "util/error.hpp"

namespace sgdsweep::nn {

std::int64_t Parameters::declare(std::string name, std::int64_t count, ParameterRole role) {
  if (values_.size() != 0) fail("parameter '", name, "' declared after allocation");
  const std::int64_t offset = size_;
  tensors_.push_back({std::move(name), offset, count, role});
  size_ += count;
  return offset;
}

const ParameterTensor& Parameters::tensor(const std::string& name) const {
  for (const ParameterTensor& tensor : tensors_) {
    if (tensor.name == name) return tensor;
  }
  fail("no parameter tensor named '", name, "'");
}

void Parameters::allocate() {
  if (copies_ < 1) fail("a pack of ", copies_, " models");
  values_ = ops::Buffer<float>(backend_, static_cast<std::size_t>(total_size()));
  gradients_ = ops::Buffer<float>(backend_, static_cast<std::size_t>(total_size()));
}

void Parameters::upload_values(const std::vector<float>& host, std::int64_t copy) {
  if (static_cast<std::int64_t>(host.size()) != size_ || copy < 0 || copy >= copies_) {
    fail("parameter upload of ", host.size(), " values into copy ", copy, " of ", copies_, " models of ", size_);
  }
  values_.upload(host.data(), host.size(), static_cast<std::size_t>(copy * stride()));
}

std::vector<float> Parameters::download_values() const {
  std::vector<float> host(static_cast<std::size_t>(total_size()));
  values_.download(host.data(), host.size());
  return host;
}

std::vector<float> Parameters::download_gradients() const {
  std::vector<float> host(static_cast<std::size_t>(total_size()));
  gradients_.download(host.data(), host.size());
  return host;
}

}  // namespace sgdsweep::nn
