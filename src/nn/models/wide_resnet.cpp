// Pre-activation Wide-ResNet (ghost BN or Regularized SkipInit): construction, initialisation,
// forward, backward. Backward ping-pongs ∂L/∂activation between scratch buffers a and b; a block
// uses c and d for its branch.
#include "nn/models/wide_resnet.hpp"

#include <algorithm>
#include <cmath>

#include "nn/init.hpp"
#include "nn/layers/dropout.hpp"
#include "util/error.hpp"

namespace sgdsweep::nn {
namespace {
constexpr std::uint32_t kClassifierDropoutSite = 0;
}  // namespace

WideResNet::WideResNet(ops::Backend& backend, std::int64_t max_batch, const WideResNetConfig& config,
                       std::uint64_t seed, std::int64_t copies)
    : backend_(backend), max_batch_(max_batch), config_(config), parameters_(backend, copies),
      dropout_(backend, copies) {
  if (config.depth < 10 || (config.depth - 4) % 6 != 0) {
    fail("wrn-", config.depth, "-", config.width, ": the depth must be 6n + 4 with n >= 1 (16, 22, 28, …)");
  }
  if (config.width < 1) fail("wrn-", config.depth, "-", config.width, ": the width must be >= 1");
  const bool skipinit = !config.batch_norm;
  const std::int64_t blocks_per_group = (config.depth - 4) / 6;
  std::int64_t height = config.image_height, width = config.image_width;
  std::int64_t largest = height * width * 16;  // the stem's output

  stem_ = std::make_unique<Conv2d>(parameters_, "stem", config.image_channels, 16, 3, 1, 1, skipinit);
  std::int64_t channels = 16;
  const std::int64_t group_channels[3] = {16 * config.width, 32 * config.width, 64 * config.width};
  const std::int64_t group_strides[3] = {1, 2, 2};
  for (int group = 0; group < 3; ++group) {
    for (std::int64_t b = 0; b < blocks_per_group; ++b) {
      const std::string name = concat("group", group, ".block", b);
      Block block;
      block.in_channels = channels;
      block.out_channels = group_channels[group];
      block.stride = b == 0 ? group_strides[group] : 1;
      block.in_height = height;
      block.in_width = width;
      block.out_height = (height - 1) / block.stride + 1;
      block.out_width = (width - 1) / block.stride + 1;
      if (!skipinit) block.norm1 = std::make_unique<BatchNorm>(parameters_, name + ".norm1", channels);
      block.conv1 = std::make_unique<Conv2d>(parameters_, name + ".conv1", channels, block.out_channels, 3,
                                             block.stride, 1, skipinit);
      if (!skipinit) block.norm2 = std::make_unique<BatchNorm>(parameters_, name + ".norm2", block.out_channels);
      block.conv2 = std::make_unique<Conv2d>(parameters_, name + ".conv2", block.out_channels,
                                             block.out_channels, 3, 1, 1, skipinit);
      if (block.stride != 1 || block.in_channels != block.out_channels) {
        block.shortcut = std::make_unique<Conv2d>(parameters_, name + ".shortcut", channels,
                                                  block.out_channels, 1, block.stride, 0, skipinit);
      }
      if (skipinit) block.scalar_offset = parameters_.declare(name + ".skipinit_scale", 1, ParameterRole::unregularized);
      const std::int64_t in_size = copies * max_batch * height * width * channels;
      const std::int64_t out_size = copies * max_batch * block.out_height * block.out_width * block.out_channels;
      block.a1 = ops::Buffer<float>(backend, static_cast<std::size_t>(in_size));
      block.y = ops::Buffer<float>(backend, static_cast<std::size_t>(out_size));
      block.a2 = ops::Buffer<float>(backend, static_cast<std::size_t>(out_size));
      if (skipinit) block.z = ops::Buffer<float>(backend, static_cast<std::size_t>(out_size));
      block.out = ops::Buffer<float>(backend, static_cast<std::size_t>(out_size));
      largest = std::max({largest, height * width * channels,
                          block.out_height * block.out_width * block.out_channels});
      height = block.out_height;
      width = block.out_width;
      channels = block.out_channels;
      blocks_.push_back(std::move(block));
    }
  }
  feature_channels_ = channels;
  feature_height_ = height;
  feature_width_ = width;
  if (!skipinit) final_norm_ = std::make_unique<BatchNorm>(parameters_, "final_norm", channels);
  classifier_ = std::make_unique<Dense>(parameters_, "classifier", channels, config.classes, Activation::none);
  parameters_.allocate();

  const auto size = [&](std::int64_t count) { return static_cast<std::size_t>(copies * count); };
  stem_out_ = ops::Buffer<float>(backend, size(max_batch * config.image_height * config.image_width * 16));
  features_ = ops::Buffer<float>(backend, size(max_batch * height * width * channels));
  pooled_ = ops::Buffer<float>(backend, size(max_batch * channels));
  dropped_ = ops::Buffer<float>(backend, size(max_batch * channels));
  dropout_mask_ = ops::Buffer<float>(backend, size(max_batch * channels));
  logits_ = ops::Buffer<float>(backend, size(max_batch * config.classes));
  gradient_a_ = ops::Buffer<float>(backend, size(max_batch * largest));
  gradient_b_ = ops::Buffer<float>(backend, size(max_batch * largest));
  gradient_c_ = ops::Buffer<float>(backend, size(max_batch * largest));
  correct_ = ops::Buffer<double>(backend, size(1));
  for (std::int64_t c = 0; c < copies; ++c) initialize(c, seed);
}

std::int64_t WideResNet::activation_floats_per_image(const WideResNetConfig& config) {
  const bool skipinit = !config.batch_norm;
  std::int64_t height = config.image_height, width = config.image_width, channels = 16;
  std::int64_t largest = height * width * 16, floats = height * width * 16;  // the stem's output
  const std::int64_t group_channels[3] = {16 * config.width, 32 * config.width, 64 * config.width};
  for (int group = 0; group < 3; ++group) {
    for (std::int64_t b = 0; b < (config.depth - 4) / 6; ++b) {
      const std::int64_t stride = b == 0 && group > 0 ? 2 : 1;
      const std::int64_t in = height * width * channels;
      height = (height - 1) / stride + 1;
      width = (width - 1) / stride + 1;
      channels = group_channels[group];
      const std::int64_t out = height * width * channels;
      floats += in + (skipinit ? 4 : 3) * out;  // a1; y, a2, out (and z)
      largest = std::max({largest, in, out});
    }
  }
  // features, pooled, dropped, the dropout mask, the logits, three gradient buffers
  return floats + height * width * channels + 3 * channels + config.classes + 3 * largest;
}

void WideResNet::initialize(std::int64_t copy, std::uint64_t seed) {
  // Initial values, drawn on the host.
  std::vector<float> initial(static_cast<std::size_t>(parameters_.size()), 0.0f);
  const CounterRng rng(seed, RngPurpose::init);
  std::uint32_t stream = 0;
  const auto he_normal = [&](const Conv2d& conv) {
    const double deviation = std::sqrt(2.0 / static_cast<double>(conv.kernel() * conv.kernel() * conv.in_channels()));
    const std::int64_t count = conv.out_channels() * conv.kernel() * conv.kernel() * conv.in_channels();
    for (std::int64_t i = 0; i < count; ++i) {
      initial[conv.weight_offset() + i] = static_cast<float>(deviation * rng.normal(stream, i));
    }
    ++stream;
  };
  he_normal(*stem_);
  for (const Block& block : blocks_) {
    he_normal(*block.conv1);
    he_normal(*block.conv2);
    if (block.shortcut) he_normal(*block.shortcut);
    if (block.norm1) block.norm1->initialise(initial);
    if (block.norm2) block.norm2->initialise(initial);
  }
  if (final_norm_) final_norm_->initialise(initial);
  glorot_uniform_init(initial.data() + classifier_->weight_offset(), config_.classes, feature_channels_, rng, stream);
  parameters_.upload_values(initial, copy);
  dropout_.set_seed(copy, seed);
}

void WideResNet::check_batch(const Batch& batch) const {
  if (batch.size <= 0 || batch.size > max_batch_) {
    fail("wrn-", config_.depth, "-", config_.width, ": batch of ", batch.size,
         " images (allocated for 1 … ", max_batch_, ")");
  }
}

void WideResNet::block_forward(Block& block, const float* x, std::int64_t n, bool training, std::int64_t copy) {
  const std::int64_t copies = copy < 0 ? parameters_.copies() : 1;
  const std::int64_t rows_in = n * block.in_height * block.in_width;
  const std::int64_t rows_out = n * block.out_height * block.out_width;
  const std::int64_t in_count = rows_in * block.in_channels, count = rows_out * block.out_channels;  // a copy's
  if (block.norm1) {
    if (training) block.norm1->forward_training(parameters_, x, block.a1.data(), rows_in);
    else block.norm1->forward_inference(parameters_, x, block.a1.data(), rows_in, copy);
    backend_.relu_forward(block.a1.data(), block.a1.data(), copies * in_count);
  } else {
    backend_.relu_forward(x, block.a1.data(), copies * in_count);
  }
  block.conv1->forward(parameters_, block.a1.data(), block.y.data(), n, block.in_height, block.in_width, copy);
  if (block.norm2) {
    if (training) block.norm2->forward_training(parameters_, block.y.data(), block.a2.data(), rows_out);
    else block.norm2->forward_inference(parameters_, block.y.data(), block.a2.data(), rows_out, copy);
    backend_.relu_forward(block.a2.data(), block.a2.data(), copies * count);
  } else {
    backend_.relu_forward(block.y.data(), block.a2.data(), copies * count);
  }
  const float* shortcut = x;
  if (block.shortcut) {
    block.shortcut->forward(parameters_, block.a1.data(), gradient_c_.data(), n, block.in_height, block.in_width,
                            copy);
    shortcut = gradient_c_.data();
  }
  if (block.scalar_offset >= 0) {
    block.conv2->forward(parameters_, block.a2.data(), block.z.data(), n, block.out_height, block.out_width, copy);
    const std::int64_t stride = parameters_.stride();
    const float* scale = parameters_.values() + (copy < 0 ? 0 : copy * stride) + block.scalar_offset;
    backend_.add_scaled_packed(copies, shortcut, block.z.data(), count, scale, stride, block.out.data(), count);
  } else {
    block.conv2->forward(parameters_, block.a2.data(), block.out.data(), n, block.out_height, block.out_width, copy);
    backend_.add_scaled(block.out.data(), shortcut, nullptr, block.out.data(), copies * count);
  }
}

void WideResNet::forward(const Batch& batch, bool training, std::int64_t copy) {
  check_batch(batch);
  const std::int64_t n = batch.size, copies = copy < 0 ? parameters_.copies() : 1;
  stem_->forward(parameters_, batch.features, stem_out_.data(), n, config_.image_height, config_.image_width, copy);
  const float* x = stem_out_.data();
  for (Block& block : blocks_) {
    block_forward(block, x, n, training, copy);
    x = block.out.data();
  }
  const std::int64_t rows = n * feature_height_ * feature_width_;  // of a copy
  if (final_norm_) {
    if (training) final_norm_->forward_training(parameters_, x, features_.data(), rows);
    else final_norm_->forward_inference(parameters_, x, features_.data(), rows, copy);
    backend_.relu_forward(features_.data(), features_.data(), copies * rows * feature_channels_);
  } else {
    backend_.relu_forward(x, features_.data(), copies * rows * feature_channels_);
  }
  backend_.average_pool_forward(features_.data(), copies * n, feature_height_ * feature_width_, feature_channels_,
                                pooled_.data());
  const float* head = pooled_.data();
  if (training && config_.dropout > 0.0f) {
    const std::int64_t count = n * feature_channels_;
    dropout_.set_steps(batch);
    dropout_.forward(config_.dropout, pooled_.data(), dropped_.data(), dropout_mask_.data(), count, count,
                     dropout_position(kClassifierDropoutSite, static_cast<std::uint64_t>(batch.first_row * feature_channels_)));
    head = dropped_.data();
  }
  classifier_->forward(parameters_, head, logits_.data(), n, copy);
}

void WideResNet::block_backward(Block& block, const float* x, float* dout, float* dx, std::int64_t n) {
  const std::int64_t copies = parameters_.copies(), stride = parameters_.stride();
  const std::int64_t rows_in = n * block.in_height * block.in_width;
  const std::int64_t rows_out = n * block.out_height * block.out_width;
  const std::int64_t out_count = rows_out * block.out_channels;  // a copy's
  const std::int64_t in_count = rows_in * block.in_channels;
  float* c = gradient_c_.data();
  float* d = dx;  // dx is free until the end: use it for the branch's inner gradient
  const float* branch_gradient = dout;
  if (block.scalar_offset >= 0) {
    // out = shortcut + α·z: ∂L/∂α = Σ dout·z, ∂L/∂z = α·dout
    backend_.dot_packed(copies, dout, block.z.data(), out_count, out_count, parameters_.gradients() + block.scalar_offset,
                        stride);
    backend_.add_scaled_packed(copies, nullptr, dout, out_count, parameters_.values() + block.scalar_offset, stride, c,
                               out_count);
    branch_gradient = c;
  }
  block.conv2->backward(parameters_, block.a2.data(), branch_gradient, d, n, block.out_height, block.out_width);
  backend_.relu_backward(block.a2.data(), d, d, copies * out_count);
  if (block.norm2) block.norm2->backward(parameters_, block.y.data(), d, rows_out);
  block.conv1->backward(parameters_, block.a1.data(), d, c, n, block.in_height, block.in_width);
  if (block.shortcut) {
    block.shortcut->backward(parameters_, block.a1.data(), dout, d, n, block.in_height, block.in_width);
    backend_.axpby(1.0f, d, 1.0f, c, copies * in_count);
  }
  backend_.relu_backward(block.a1.data(), c, c, copies * in_count);
  if (block.norm1) block.norm1->backward(parameters_, x, c, rows_in);
  if (block.shortcut) {
    backend_.copy(dx, c, static_cast<std::size_t>(copies * in_count) * sizeof(float));
  } else {
    backend_.add_scaled(c, dout, nullptr, dx, copies * in_count);  // the identity shortcut
  }
}

void WideResNet::forward_backward(const Batch& batch, float loss_scale, double* loss_sum) {
  forward(batch, true, -1);
  const std::int64_t n = batch.size, copies = parameters_.copies();
  backend_.softmax_cross_entropy_packed(copies, logits_.data(), n * config_.classes, batch.labels, n, n,
                                        config_.classes, logits_.data(), loss_scale, loss_sum, correct_.data());
  float* a = gradient_a_.data();
  float* b = gradient_b_.data();
  const bool dropped = config_.dropout > 0.0f;
  classifier_->backward(parameters_, dropped ? dropped_.data() : pooled_.data(), logits_.data(),
                        logits_.data(), a, n);
  if (dropped) dropout_backward(backend_, dropout_mask_.data(), a, a, copies * n * feature_channels_);
  const std::int64_t pixels = feature_height_ * feature_width_;
  backend_.average_pool_backward(a, copies * n, pixels, feature_channels_, b);
  backend_.relu_backward(features_.data(), b, b, copies * n * pixels * feature_channels_);
  if (final_norm_) final_norm_->backward(parameters_, blocks_.back().out.data(), b, n * pixels);
  for (std::size_t i = blocks_.size(); i-- > 0;) {
    const float* x = i == 0 ? stem_out_.data() : blocks_[i - 1].out.data();
    block_backward(blocks_[i], x, b, a, n);
    std::swap(a, b);
  }
  stem_->backward(parameters_, batch.features, b, nullptr, n, config_.image_height, config_.image_width);
}

void WideResNet::evaluate(const Batch& batch, const EvaluationSums& sums) {
  if (sums.copy < 0 && parameters_.copies() != 1) fail("wrn: evaluate one copy of a pack at a time");
  if (sums.copy >= parameters_.copies()) fail("wrn: no copy ", sums.copy, " in a pack of ", parameters_.copies());
  forward(batch, false, std::max<std::int64_t>(sums.copy, 0));
  backend_.softmax_cross_entropy_packed(1, logits_.data(), 0, batch.labels, 0, batch.size, config_.classes, nullptr,
                                        0.0f, sums.loss, sums.metric);
}

}  // namespace sgdsweep::nn
