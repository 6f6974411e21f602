// Parameter updates through the backend's fused sgd_update op, tensor by tensor (L2 per tensor).
#include "train/optimizer.hpp"

#include "util/error.hpp"

namespace sgdsweep::train {

Optimizer::Optimizer(nn::Parameters& parameters, double momentum, double l2)
    : parameters_(parameters),
      momentum_(static_cast<float>(momentum)),
      l2_(static_cast<float>(l2)),
      rates_(parameters.backend(), static_cast<std::size_t>(parameters.copies())),
      staged_rates_(static_cast<std::size_t>(parameters.copies())) {
  if (momentum_ != 0.0f) {
    velocity_ = ops::Buffer<float>(parameters.backend(), static_cast<std::size_t>(parameters.total_size()));
  }
}

void Optimizer::step(double learning_rate, std::int64_t microbatches) {
  set_rate(learning_rate);
  apply(microbatches);
}

void Optimizer::set_rates(const std::vector<double>& learning_rates) {
  if (learning_rates.size() != staged_rates_.size()) {
    fail("optimizer: ", learning_rates.size(), " learning rates for a pack of ", staged_rates_.size());
  }
  for (std::size_t c = 0; c < learning_rates.size(); ++c) staged_rates_[c] = static_cast<float>(learning_rates[c]);
  rates_.upload(staged_rates_.data(), staged_rates_.size());
}

void Optimizer::reset(std::int64_t copy) {
  if (momentum_ == 0.0f) return;
  parameters_.backend().fill(velocity_.data() + copy * parameters_.stride(), parameters_.size(), 0.0f);
}

void Optimizer::apply(std::int64_t microbatches) {
  ops::Backend& backend = parameters_.backend();
  const std::int64_t copies = parameters_.copies(), stride = parameters_.stride();
  for (const nn::ParameterTensor& tensor : parameters_.tensors()) {
    float* value = parameters_.values() + tensor.offset;
    float* gradient = parameters_.gradients() + tensor.offset;
    if (tensor.role == nn::ParameterRole::running_statistic) {
      const float rho = nn::kRunningStatisticMomentum;
      backend.axpby_packed(copies, rho / static_cast<float>(microbatches), gradient, stride, 1.0f - rho, value, stride,
                           tensor.count);
      continue;
    }
    float* velocity = momentum_ != 0.0f ? velocity_.data() + tensor.offset : nullptr;
    backend.sgd_update_packed(copies, value, gradient, velocity, stride, tensor.count, rates_.data(), momentum_,
                              tensor.role == nn::ParameterRole::weight ? l2_ : 0.0f);
  }
}

}  // namespace sgdsweep::train
