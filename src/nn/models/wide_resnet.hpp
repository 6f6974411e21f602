// Pre-activation Wide-ResNet WRN-depth-width (Zagoruyko & Komodakis 2016) on NHWC images, in the
// two forms of the paper (004 appendix B.2):
//  - ghost batch normalisation: BN → ReLU → conv3×3 → BN → ReLU → conv3×3, plus the shortcut
//    (identity, or a 1×1 convolution of the first BN-ReLU output when the shape changes);
//  - Regularized SkipInit (De & Smith 2020; 001 appendix C): no normalisation, a scalar
//    multiplier initialised to 0 at the end of every residual branch, biases in every
//    convolution, dropout before the classifier.
// Stem conv3×3 (3 → 16); three groups of (depth − 4)/6 blocks with 16·width, 32·width and
// 64·width channels, strides 1, 2, 2; final (BN-)ReLU, global average pooling, linear classifier.
// Loss: softmax cross-entropy; metric: correct predictions (accuracy).
// It packs (Model::copies): `copies` networks, each its own trial (its seed: initial weights and
// dropout masks), trained by one packed op per operation on activations that hold the copies back
// to back ([P, batch, height, width, channels]).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/layers/batch_norm.hpp"
#include "nn/layers/conv2d.hpp"
#include "nn/layers/dense.hpp"
#include "nn/layers/dropout.hpp"
#include "nn/model.hpp"

namespace sgdsweep::nn {

struct WideResNetConfig {
  std::int64_t depth = 16;
  std::int64_t width = 4;
  bool batch_norm = true;  // false: Regularized SkipInit
  float dropout = 0.0f;    // before the classifier (the paper's SkipInit: 0.6)
  std::int64_t classes = 10;
  std::int64_t image_height = 32;
  std::int64_t image_width = 32;
  std::int64_t image_channels = 3;
};

class WideResNet final : public Model {
 public:
  // Initial weights from `seed`: convolutions He-normal (fan in), classifier Glorot-uniform,
  // biases 0, BN γ = 1 and β = 0, SkipInit scalars 0. Activations sized for `max_batch` images of
  // every copy.
  WideResNet(ops::Backend& backend, std::int64_t max_batch, const WideResNetConfig& config,
             std::uint64_t seed, std::int64_t copies = 1);
  void initialize(std::int64_t copy, std::uint64_t seed) override;
  // Floats of activations and scratch the constructor allocates per image of a copy (pack sizing).
  static std::int64_t activation_floats_per_image(const WideResNetConfig& config);

  Parameters& parameters() override { return parameters_; }
  std::int64_t max_batch() const override { return max_batch_; }
  void forward_backward(const Batch& batch, float loss_scale, double* loss_sum) override;
  void evaluate(const Batch& batch, const EvaluationSums& sums) override;

  const WideResNetConfig& config() const { return config_; }
  bool replayable() const override { return true; }
  void begin_step(const std::vector<std::int64_t>& steps) override {
    if (config_.dropout > 0.0f) dropout_.set_steps(steps.data(), 0);
  }
  // The logits of the last evaluate(); after forward_backward the buffer holds ∂L/∂logits (the
  // loss writes its gradient over them). For tests.
  const float* logits() const { return logits_.data(); }

 private:
  struct Block {
    std::int64_t in_channels, out_channels, stride, in_height, in_width, out_height, out_width;
    std::unique_ptr<BatchNorm> norm1, norm2;  // null for SkipInit
    std::unique_ptr<Conv2d> conv1, conv2, shortcut;
    std::int64_t scalar_offset = -1;  // SkipInit's residual multiplier
    ops::Buffer<float> a1, y, a2, z, out;  // a1 = (BN-)ReLU(x), y = conv1(a1), a2 = (BN-)ReLU(y)
  };

  // copy >= 0: that copy alone (evaluation), by the ops of one copy.
  void forward(const Batch& batch, bool training, std::int64_t copy);
  void block_forward(Block& block, const float* x, std::int64_t n, bool training, std::int64_t copy);
  // dout: ∂L/∂(block output) (clobbered); writes ∂L/∂(block input) into dx.
  void block_backward(Block& block, const float* x, float* dout, float* dx, std::int64_t n);
  void check_batch(const Batch& batch) const;

  ops::Backend& backend_;
  std::int64_t max_batch_;
  WideResNetConfig config_;
  Parameters parameters_;
  std::unique_ptr<Conv2d> stem_;
  std::vector<Block> blocks_;
  std::unique_ptr<BatchNorm> final_norm_;
  std::unique_ptr<Dense> classifier_;
  std::int64_t feature_channels_ = 0, feature_height_ = 0, feature_width_ = 0;
  ops::Buffer<float> stem_out_, features_, pooled_, dropped_, dropout_mask_, logits_;
  ops::Buffer<float> gradient_a_, gradient_b_, gradient_c_;  // scratch, the largest activation
  ops::Buffer<double> correct_;  // [copies]
  PackedDropout dropout_;
};

}  // namespace sgdsweep::nn
