// ResNet-50 as Goyal et al. 2017 ("Accurate, large minibatch SGD") train it on ImageNet, on NHWC
// images of any size, with ghost batch normalisation (the trainer feeds one ghost batch at a time):
//  - stem: conv7×7/2 (padding 3) → BN → ReLU → max pool 3×3/2 (padding 1);
//  - four groups of bottleneck blocks ([3, 4, 6, 3] for ResNet-50) of widths 64, 128, 256, 512
//    (outputs 4× the width), stride 2 in the first block of groups 2–4. A block is
//    conv1×1 → BN → ReLU → conv3×3 (the block's stride: "ResNet v1.5") → BN → ReLU → conv1×1 → BN,
//    plus the shortcut (identity, or conv1×1 with the stride → BN where the shape changes), then
//    ReLU;
//  - global average pooling, a linear classifier.
// No biases in convolutions (BN follows each). Goyal et al.'s initialisation: the γ of the last BN
// of every residual branch starts at 0, so every block starts as the identity.
// Loss: softmax cross-entropy; metric: correct predictions (accuracy).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/layers/batch_norm.hpp"
#include "nn/layers/conv2d.hpp"
#include "nn/layers/dense.hpp"
#include "nn/model.hpp"
#include "util/rng.hpp"

namespace sgdsweep::nn {

// conv7×7/2 (padding 3, no bias) → BN → ReLU → max pool 3×3/2 (padding 1) on NHWC images; keeps
// what backward reads (the convolution's output, the ReLU's output, the pool's argmax).
class ResNetStem {
 public:
  ResNetStem(Parameters& parameters, const std::string& name, std::int64_t in_channels,
             std::int64_t out_channels, std::int64_t max_batch, std::int64_t height, std::int64_t width);

  // output() ← the stem of x [n, height, width, in_channels].
  void forward(Parameters& parameters, const float* x, std::int64_t n, bool training);
  // From x and dout = ∂L/∂output() (kept): every parameter's gradient (overwritten), and dx unless
  // null. `scratch`: scratch_per_image() floats per image.
  void backward(Parameters& parameters, const float* x, const float* dout, float* dx, std::int64_t n,
                float* scratch);

  // He normal over fan out (torchvision), γ = 1, β = 0, running statistics 0 and 1; one stream.
  void initialise(std::vector<float>& values, const CounterRng& rng, std::uint32_t& stream) const;

  const float* output() const { return pooled_.data(); }
  std::int64_t out_channels() const { return conv_.out_channels(); }
  std::int64_t out_height() const { return pool_.out_height(); }
  std::int64_t out_width() const { return pool_.out_width(); }
  std::int64_t scratch_per_image() const { return conv_height_ * conv_width_ * conv_.out_channels(); }

 private:
  std::int64_t height_, width_, conv_height_, conv_width_;
  Conv2d conv_;
  BatchNorm norm_;
  ops::Pool2dShape pool_;  // batch set per call
  ops::Buffer<float> y_, a_, pooled_;  // conv output, ReLU(BN(y)), the pool's output
  ops::Buffer<std::int32_t> argmax_;
};

// The bottleneck block: out = ReLU(BN3(conv3(ReLU(BN2(conv2(ReLU(BN1(conv1(x))))))) + s), with
// conv1 1×1 in → width, conv2 3×3 width → width with the block's stride, conv3 1×1 width → 4·width,
// and s = BN(conv1×1 with the stride (x)) where the shape changes, else x.
class Bottleneck {
 public:
  static constexpr std::int64_t kExpansion = 4;

  Bottleneck(Parameters& parameters, const std::string& name, std::int64_t in_channels,
             std::int64_t width, std::int64_t stride, std::int64_t max_batch, std::int64_t height,
             std::int64_t image_width);

  // output() ← the block of x [n, in_height, in_width, in_channels]. `scratch`: scratch_per_image()
  // floats per image.
  void forward(Parameters& parameters, const float* x, std::int64_t n, bool training, float* scratch);
  // From x and dout = ∂L/∂output() (clobbered): every parameter's gradient (overwritten) and
  // dx = ∂L/∂x. scratch_c and scratch_d: scratch_per_image() floats per image each.
  void backward(Parameters& parameters, const float* x, float* dout, float* dx, std::int64_t n,
                float* scratch_c, float* scratch_d);

  // He normal over fan out for the convolutions (one stream each), BN γ = 1 and β = 0 except γ = 0
  // in BN3 (Goyal et al.; torchvision's zero_init_residual).
  void initialise(std::vector<float>& values, const CounterRng& rng, std::uint32_t& stream) const;

  const float* output() const { return out_.data(); }
  float* output() { return out_.data(); }
  bool has_projection() const { return shortcut_ != nullptr; }
  std::int64_t in_channels() const { return in_channels_; }
  std::int64_t out_channels() const { return out_channels_; }
  std::int64_t out_height() const { return out_height_; }
  std::int64_t out_width() const { return out_width_; }
  // The largest activation of the block, per image: what each scratch buffer must hold.
  std::int64_t scratch_per_image() const;
  const BatchNorm& norm3() const { return *norm3_; }

 private:
  std::int64_t in_channels_, width_, out_channels_, stride_, in_height_, in_width_, out_height_, out_width_;
  std::unique_ptr<Conv2d> conv1_, conv2_, conv3_, shortcut_;  // shortcut_: null for the identity
  std::unique_ptr<BatchNorm> norm1_, norm2_, norm3_, shortcut_norm_;
  // y1 = conv1(x), a1 = ReLU(BN1(y1)), y2 = conv2(a1), a2 = ReLU(BN2(y2)), y3 = conv3(a2),
  // ys = shortcut(x), out.
  ops::Buffer<float> y1_, a1_, y2_, a2_, y3_, ys_, out_;
};

struct ResNetConfig {
  std::array<std::int64_t, 4> blocks = {3, 4, 6, 3};  // bottleneck blocks per group (ResNet-50)
  std::int64_t width = 64;  // the stem's channels and the first group's width (×2 per group)
  std::int64_t classes = 1000;
  std::int64_t image_height = 224;
  std::int64_t image_width = 224;
  std::int64_t image_channels = 3;
};

class ResNet final : public Model {
 public:
  // Initial weights from `seed` (torchvision's resnet50 with zero_init_residual=True):
  // convolutions He normal over fan out (sqrt(2 / (out·k·k))), BN γ = 1 and β = 0 except γ = 0 in
  // the last BN of every residual branch, classifier weight and bias U(±1/sqrt(in)). Activations
  // sized for `max_batch` images.
  ResNet(ops::Backend& backend, std::int64_t max_batch, const ResNetConfig& config, std::uint64_t seed);

  Parameters& parameters() override { return parameters_; }
  std::int64_t max_batch() const override { return max_batch_; }
  void forward_backward(const Batch& batch, float loss_scale, double* loss_sum) override;
  void evaluate(const Batch& batch, const EvaluationSums& sums) override;

  const ResNetConfig& config() const { return config_; }
  const std::vector<std::unique_ptr<Bottleneck>>& blocks() const { return blocks_; }
  // The logits of the last evaluate(); after forward_backward the buffer holds ∂L/∂logits (the
  // loss writes its gradient over them). For tests.
  const float* logits() const { return logits_.data(); }
  // Keep ∂L/∂(input images) from the next forward_backward on (the trainer never needs it); null
  // until then. For tests.
  void keep_input_gradient();
  const float* input_gradient() const { return input_gradient_.data(); }

 private:
  void forward(const Batch& batch, bool training);
  void check_batch(const Batch& batch) const;

  ops::Backend& backend_;
  std::int64_t max_batch_;
  ResNetConfig config_;
  Parameters parameters_;
  std::unique_ptr<ResNetStem> stem_;
  std::vector<std::unique_ptr<Bottleneck>> blocks_;
  std::unique_ptr<Dense> classifier_;
  std::int64_t feature_channels_ = 0, feature_pixels_ = 0;
  ops::Buffer<float> pooled_, logits_;
  ops::Buffer<float> gradient_a_, gradient_b_, gradient_c_, gradient_d_;  // scratch, the largest activation
  ops::Buffer<float> input_gradient_;
  ops::Buffer<double> correct_;
};

}  // namespace sgdsweep::nn
