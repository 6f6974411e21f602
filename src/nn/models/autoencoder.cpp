// The Sutskever et al. autoencoder: layer stack, initialisation, training and evaluation passes.
#include "nn/models/autoencoder.hpp"

#include <algorithm>

#include "nn/init.hpp"
#include "util/error.hpp"

namespace sgdsweep::nn {

namespace {
constexpr int kSparseConnections = 15;  // Martens (2010)
constexpr int kCodeLayer = 3;           // 250 → 30: the linear code
}  // namespace

AutoencoderInit parse_autoencoder_init(const std::string& name) {
  if (name == "sparse") return AutoencoderInit::sparse;
  if (name == "glorot") return AutoencoderInit::glorot;
  fail("unknown autoencoder init '", name, "' (valid: sparse, glorot)");
}

Autoencoder::Autoencoder(ops::Backend& backend, std::int64_t max_batch, AutoencoderInit init,
                         std::uint64_t seed, std::int64_t copies, std::int64_t max_training_rows)
    : backend_(backend), max_batch_(max_batch),
      max_training_rows_(max_training_rows > 0 ? max_training_rows : max_batch), init_(init),
      parameters_(backend, copies) {
  const std::int64_t rows = std::max(max_batch, copies * max_training_rows_);  // of all copies
  const int layer_count = static_cast<int>(kWidths.size()) - 1;
  layers_.reserve(layer_count);
  for (int l = 0; l < layer_count; ++l) {
    const Activation activation = l == kCodeLayer ? Activation::none : Activation::sigmoid;
    layers_.emplace_back(parameters_, concat("layer", l), kWidths[l], kWidths[l + 1], activation);
    activations_.emplace_back(backend, static_cast<std::size_t>(rows * kWidths[l + 1]));
  }
  parameters_.allocate();
  const std::int64_t widest = *std::max_element(kWidths.begin(), kWidths.end());
  gradient_a_ = ops::Buffer<float>(backend, static_cast<std::size_t>(copies * max_training_rows_ * widest));
  gradient_b_ = ops::Buffer<float>(backend, static_cast<std::size_t>(copies * max_training_rows_ * widest));
  initialize(0, seed);
  for (std::int64_t c = 1; c < copies; ++c) {
    backend.copy(parameters_.values() + c * parameters_.stride(), parameters_.values(),
                 static_cast<std::size_t>(parameters_.size()) * sizeof(float));
  }
}

void Autoencoder::initialize(std::int64_t copy, std::uint64_t seed) {
  std::vector<float> initial(static_cast<std::size_t>(parameters_.size()), 0.0f);
  const CounterRng rng(seed, RngPurpose::init);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Dense& layer = layers_[l];
    float* weights = initial.data() + layer.weight_offset();
    const auto stream = static_cast<std::uint32_t>(l);
    if (init_ == AutoencoderInit::sparse) {
      sparse_init(weights, layer.out_features(), layer.in_features(), kSparseConnections, rng, stream);
    } else {
      glorot_uniform_init(weights, layer.out_features(), layer.in_features(), rng, stream);
    }
  }
  parameters_.upload_values(initial, copy);
}

void Autoencoder::check_batch(const Batch& batch, std::int64_t limit) const {
  if (batch.size <= 0 || batch.size > limit) {
    fail("autoencoder: batch of ", batch.size, " rows (allocated for 1 … ", limit, ")");
  }
}

void Autoencoder::forward(const float* input, std::int64_t rows, std::int64_t copy) {
  const float* x = input;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    layers_[l].forward(parameters_, x, activations_[l].data(), rows, copy);
    x = activations_[l].data();
  }
}

void Autoencoder::forward_backward(const Batch& batch, float loss_scale, double* loss_sum) {
  check_batch(batch, max_training_rows_);
  forward(batch.features, batch.size, -1);
  float* dy = gradient_a_.data();
  float* dx = gradient_b_.data();
  const std::int64_t output = batch.size * kWidths.back();  // per copy
  backend_.squared_error_packed(parameters_.copies(), activations_.back().data(), output, batch.features, output,
                                batch.size, kWidths.back(), dy, loss_scale, loss_sum);
  for (int l = static_cast<int>(layers_.size()) - 1; l >= 0; --l) {
    const float* x = l == 0 ? batch.features : activations_[l - 1].data();
    layers_[l].backward(parameters_, x, activations_[l].data(), dy, l == 0 ? nullptr : dx,
                        batch.size);
    std::swap(dy, dx);
  }
}

void Autoencoder::evaluate(const Batch& batch, const EvaluationSums& sums) {
  check_batch(batch, max_batch_);
  if (sums.copy < 0 && parameters_.copies() != 1) fail("autoencoder: evaluate one copy of a pack at a time");
  if (sums.copy >= parameters_.copies()) fail("autoencoder: no copy ", sums.copy, " in a pack of ", parameters_.copies());
  forward(batch.features, batch.size, sums.copy);
  const std::int64_t output = batch.size * kWidths.back();
  backend_.squared_error_packed(1, activations_.back().data(), output, batch.features, output, batch.size,
                                kWidths.back(), nullptr, 0.0f, sums.loss);
  backend_.copy(sums.metric, sums.loss, sizeof(double));  // the metric is the loss itself
}

}  // namespace sgdsweep::nn
