// Parameter updates through the backend's fused sgd_update op, tensor by tensor (L2 per tensor).
#include "train/optimizer.hpp"

namespace sgdsweep::train {

Optimizer::Optimizer(nn::Parameters& parameters, double momentum, double l2)
    : parameters_(parameters),
      momentum_(static_cast<float>(momentum)),
      l2_(static_cast<float>(l2)),
      rate_(parameters.backend(), 1) {
  if (momentum_ != 0.0f) {
    velocity_ = ops::Buffer<float>(parameters.backend(), static_cast<std::size_t>(parameters.size()));
  }
}

void Optimizer::step(double learning_rate, std::int64_t microbatches) {
  set_rate(learning_rate);
  apply(microbatches);
}

void Optimizer::set_rate(double learning_rate) {
  const auto rate = static_cast<float>(learning_rate);
  rate_.upload(&rate, 1);
}

void Optimizer::apply(std::int64_t microbatches) {
  ops::Backend& backend = parameters_.backend();
  for (const nn::ParameterTensor& tensor : parameters_.tensors()) {
    float* value = parameters_.values() + tensor.offset;
    float* gradient = parameters_.gradients() + tensor.offset;
    if (tensor.role == nn::ParameterRole::running_statistic) {
      const float rho = nn::kRunningStatisticMomentum;
      backend.axpby(rho / static_cast<float>(microbatches), gradient, 1.0f - rho, value, tensor.count);
      continue;
    }
    float* velocity = momentum_ != 0.0f ? velocity_.data() + tensor.offset : nullptr;
    backend.sgd_update(value, gradient, velocity, tensor.count, rate_.data(), momentum_,
                       tensor.role == nn::ParameterRole::weight ? l2_ : 0.0f);
  }
}

}  // namespace sgdsweep::train
