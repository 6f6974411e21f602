// The deep autoencoder of Hinton & Salakhutdinov (2006) as used by Sutskever et al. (2013) and
// Smith et al. (2020, appendix B.2): widths 784-1000-500-250-30-250-500-1000-784, logistic hidden
// units, a linear 30-unit code, a logistic output. Loss and metric are the squared error per image
// (sum over pixels, mean over images); the input is its own target. It packs: `copies` autoencoders,
// each its own trial, trained by one packed op per layer operation (Model::copies).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "nn/layers/dense.hpp"
#include "nn/model.hpp"

namespace sgdsweep::nn {

enum class AutoencoderInit { sparse, glorot };

class Autoencoder final : public Model {
 public:
  bool replayable() const override { return true; }
  static constexpr std::array<std::int64_t, 9> kWidths = {784, 1000, 500, 250, 30,
                                                          250, 500, 1000, 784};

  // Draws the initial weights of every copy from `seed` (biases 0). Activations are sized for
  // `max_batch` rows (evaluation, one copy at a time) and for `max_training_rows` rows of every copy
  // (training; 0: max_batch).
  Autoencoder(ops::Backend& backend, std::int64_t max_batch, AutoencoderInit init,
              std::uint64_t seed, std::int64_t copies = 1, std::int64_t max_training_rows = 0);
  void initialize(std::int64_t copy, std::uint64_t seed) override;

  Parameters& parameters() override { return parameters_; }
  std::int64_t max_batch() const override { return max_batch_; }
  void forward_backward(const Batch& batch, float loss_scale, double* loss_sum) override;
  void evaluate(const Batch& batch, const EvaluationSums& sums) override;

  const std::vector<Dense>& layers() const { return layers_; }
  // The output of the last forward pass ([copies, rows, 784]), for tests.
  const float* reconstruction() const { return activations_.back().data(); }

 private:
  void forward(const float* input, std::int64_t rows, std::int64_t copy);
  void check_batch(const Batch& batch, std::int64_t limit) const;

  ops::Backend& backend_;
  std::int64_t max_batch_, max_training_rows_;
  AutoencoderInit init_;
  Parameters parameters_;
  std::vector<Dense> layers_;
  std::vector<ops::Buffer<float>> activations_;  // output of layer l at index l (l = 0 … 7), per copy
  ops::Buffer<float> gradient_a_;                // ∂L/∂(layer output), ping
  ops::Buffer<float> gradient_b_;                // and pong
};

AutoencoderInit parse_autoencoder_init(const std::string& name);

}  // namespace sgdsweep::nn
