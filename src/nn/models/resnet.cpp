// ResNet-50 (Goyal et al. 2017) with ghost BN: the stem, the bottleneck block and the model —
// construction, initialisation, forward, backward. The model's backward ping-pongs ∂L/∂activation
// between scratch buffers a and b; a block uses c and d for its branch and its projection.
#include "nn/models/resnet.hpp"

#include <algorithm>
#include <cmath>

#include "nn/init.hpp"
#include "util/error.hpp"

namespace sgdsweep::nn {
namespace {

// The output size of a convolution or pooling window along one axis.
std::int64_t window_output(std::int64_t size, std::int64_t kernel, std::int64_t stride, std::int64_t padding) {
  return (size + 2 * padding - kernel) / stride + 1;
}

std::size_t floats(std::int64_t count) { return static_cast<std::size_t>(count); }

// torchvision's kaiming_normal_(mode="fan_out", nonlinearity="relu"): N(0, 2 / (out·k·k)).
void he_normal_fan_out(std::vector<float>& values, const Conv2d& conv, const CounterRng& rng,
                       std::uint32_t& stream) {
  const std::int64_t fan_out = conv.out_channels() * conv.kernel() * conv.kernel();
  normal_init(values.data() + conv.weight_offset(), fan_out * conv.in_channels(),
              std::sqrt(2.0 / static_cast<double>(fan_out)), rng, stream++);
}

void normalise(Parameters& parameters, BatchNorm& norm, const float* x, float* y, std::int64_t rows,
               bool training) {
  if (training) norm.forward_training(parameters, x, y, rows);
  else norm.forward_inference(parameters, x, y, rows);
}

}  // namespace

// ---- stem ----------------------------------------------------------------------------------------

ResNetStem::ResNetStem(Parameters& parameters, const std::string& name, std::int64_t in_channels,
                       std::int64_t out_channels, std::int64_t max_batch, std::int64_t height,
                       std::int64_t width)
    : height_(height), width_(width), conv_height_(window_output(height, 7, 2, 3)),
      conv_width_(window_output(width, 7, 2, 3)),
      conv_(parameters, name + ".conv", in_channels, out_channels, 7, 2, 3, false),
      norm_(parameters, name + ".norm", out_channels),
      pool_{0, conv_height_, conv_width_, out_channels, 3, 2, 1} {
  if (height < 1 || width < 1) fail(name, ": images of ", height, "×", width, " pixels");
  ops::Backend& backend = parameters.backend();
  const std::int64_t conv_count = max_batch * conv_height_ * conv_width_ * out_channels;
  y_ = ops::Buffer<float>(backend, floats(conv_count));
  a_ = ops::Buffer<float>(backend, floats(conv_count));
  pooled_ = ops::Buffer<float>(backend, floats(max_batch * pool_.out_height() * pool_.out_width() * out_channels));
  argmax_ = ops::Buffer<std::int32_t>(backend, pooled_.size());
}

void ResNetStem::forward(Parameters& parameters, const float* x, std::int64_t n, bool training) {
  const std::int64_t rows = n * conv_height_ * conv_width_;
  conv_.forward(parameters, x, y_.data(), n, height_, width_);
  normalise(parameters, norm_, y_.data(), a_.data(), rows, training);
  parameters.backend().relu_forward(a_.data(), a_.data(), rows * conv_.out_channels());
  ops::Pool2dShape pool = pool_;
  pool.batch = n;
  parameters.backend().max_pool_forward(pool, a_.data(), pooled_.data(), argmax_.data());
}

void ResNetStem::backward(Parameters& parameters, const float* x, const float* dout, float* dx,
                          std::int64_t n, float* scratch) {
  const std::int64_t rows = n * conv_height_ * conv_width_;
  ops::Pool2dShape pool = pool_;
  pool.batch = n;
  ops::Backend& backend = parameters.backend();
  backend.max_pool_backward(pool, dout, argmax_.data(), scratch);
  backend.relu_backward(a_.data(), scratch, scratch, rows * conv_.out_channels());
  norm_.backward(parameters, y_.data(), scratch, rows);
  conv_.backward(parameters, x, scratch, dx, n, height_, width_);
}

void ResNetStem::initialise(std::vector<float>& values, const CounterRng& rng, std::uint32_t& stream) const {
  he_normal_fan_out(values, conv_, rng, stream);
  norm_.initialise(values);
}

// ---- bottleneck block ------------------------------------------------------------------------------

Bottleneck::Bottleneck(Parameters& parameters, const std::string& name, std::int64_t in_channels,
                       std::int64_t width, std::int64_t stride, std::int64_t max_batch, std::int64_t height,
                       std::int64_t image_width)
    : in_channels_(in_channels), width_(width), out_channels_(width * kExpansion), stride_(stride),
      in_height_(height), in_width_(image_width), out_height_(window_output(height, 3, stride, 1)),
      out_width_(window_output(image_width, 3, stride, 1)) {
  conv1_ = std::make_unique<Conv2d>(parameters, name + ".conv1", in_channels, width, 1, 1, 0, false);
  norm1_ = std::make_unique<BatchNorm>(parameters, name + ".norm1", width);
  conv2_ = std::make_unique<Conv2d>(parameters, name + ".conv2", width, width, 3, stride, 1, false);
  norm2_ = std::make_unique<BatchNorm>(parameters, name + ".norm2", width);
  conv3_ = std::make_unique<Conv2d>(parameters, name + ".conv3", width, out_channels_, 1, 1, 0, false);
  norm3_ = std::make_unique<BatchNorm>(parameters, name + ".norm3", out_channels_);
  if (stride != 1 || in_channels != out_channels_) {
    shortcut_ = std::make_unique<Conv2d>(parameters, name + ".shortcut", in_channels, out_channels_, 1, stride,
                                         0, false);
    shortcut_norm_ = std::make_unique<BatchNorm>(parameters, name + ".shortcut_norm", out_channels_);
  }
  ops::Backend& backend = parameters.backend();
  const std::int64_t in_pixels = max_batch * in_height_ * in_width_;
  const std::int64_t out_pixels = max_batch * out_height_ * out_width_;
  y1_ = ops::Buffer<float>(backend, floats(in_pixels * width));
  a1_ = ops::Buffer<float>(backend, floats(in_pixels * width));
  y2_ = ops::Buffer<float>(backend, floats(out_pixels * width));
  a2_ = ops::Buffer<float>(backend, floats(out_pixels * width));
  y3_ = ops::Buffer<float>(backend, floats(out_pixels * out_channels_));
  if (shortcut_) ys_ = ops::Buffer<float>(backend, floats(out_pixels * out_channels_));
  out_ = ops::Buffer<float>(backend, floats(out_pixels * out_channels_));
}

std::int64_t Bottleneck::scratch_per_image() const {
  const std::int64_t in_pixels = in_height_ * in_width_, out_pixels = out_height_ * out_width_;
  return std::max({in_pixels * in_channels_, in_pixels * width_, out_pixels * out_channels_});
}

void Bottleneck::forward(Parameters& parameters, const float* x, std::int64_t n, bool training, float* scratch) {
  ops::Backend& backend = parameters.backend();
  const std::int64_t rows_in = n * in_height_ * in_width_, rows_out = n * out_height_ * out_width_;
  conv1_->forward(parameters, x, y1_.data(), n, in_height_, in_width_);
  normalise(parameters, *norm1_, y1_.data(), a1_.data(), rows_in, training);
  backend.relu_forward(a1_.data(), a1_.data(), rows_in * width_);
  conv2_->forward(parameters, a1_.data(), y2_.data(), n, in_height_, in_width_);
  normalise(parameters, *norm2_, y2_.data(), a2_.data(), rows_out, training);
  backend.relu_forward(a2_.data(), a2_.data(), rows_out * width_);
  conv3_->forward(parameters, a2_.data(), y3_.data(), n, out_height_, out_width_);
  normalise(parameters, *norm3_, y3_.data(), out_.data(), rows_out, training);
  const float* shortcut = x;
  if (shortcut_) {
    shortcut_->forward(parameters, x, ys_.data(), n, in_height_, in_width_);
    normalise(parameters, *shortcut_norm_, ys_.data(), scratch, rows_out, training);
    shortcut = scratch;
  }
  const std::int64_t count = rows_out * out_channels_;
  backend.add_scaled(out_.data(), shortcut, nullptr, out_.data(), count);
  backend.relu_forward(out_.data(), out_.data(), count);
}

void Bottleneck::backward(Parameters& parameters, const float* x, float* dout, float* dx, std::int64_t n,
                          float* scratch_c, float* scratch_d) {
  ops::Backend& backend = parameters.backend();
  const std::int64_t rows_in = n * in_height_ * in_width_, rows_out = n * out_height_ * out_width_;
  float* c = scratch_c;
  float* d = scratch_d;
  backend.relu_backward(out_.data(), dout, dout, rows_out * out_channels_);  // ∂L/∂(the sum)
  norm3_->backward(parameters, y3_.data(), dout, c, rows_out);                // dout kept for the shortcut
  conv3_->backward(parameters, a2_.data(), c, d, n, out_height_, out_width_);
  backend.relu_backward(a2_.data(), d, d, rows_out * width_);
  norm2_->backward(parameters, y2_.data(), d, rows_out);
  conv2_->backward(parameters, a1_.data(), d, c, n, in_height_, in_width_);
  backend.relu_backward(a1_.data(), c, c, rows_in * width_);
  norm1_->backward(parameters, y1_.data(), c, rows_in);
  conv1_->backward(parameters, x, c, dx, n, in_height_, in_width_);
  const std::int64_t in_count = rows_in * in_channels_;
  if (shortcut_) {
    shortcut_norm_->backward(parameters, ys_.data(), dout, rows_out);
    shortcut_->backward(parameters, x, dout, d, n, in_height_, in_width_);
    backend.axpby(1.0f, d, 1.0f, dx, in_count);
  } else {
    backend.axpby(1.0f, dout, 1.0f, dx, in_count);  // the identity shortcut
  }
}

void Bottleneck::initialise(std::vector<float>& values, const CounterRng& rng, std::uint32_t& stream) const {
  he_normal_fan_out(values, *conv1_, rng, stream);
  he_normal_fan_out(values, *conv2_, rng, stream);
  he_normal_fan_out(values, *conv3_, rng, stream);
  norm1_->initialise(values);
  norm2_->initialise(values);
  norm3_->initialise(values);
  std::fill_n(values.begin() + norm3_->gamma_offset(), out_channels_, 0.0f);  // the branch starts at 0
  if (shortcut_) {
    he_normal_fan_out(values, *shortcut_, rng, stream);
    shortcut_norm_->initialise(values);
  }
}

// ---- the model ---------------------------------------------------------------------------------------

ResNet::ResNet(ops::Backend& backend, std::int64_t max_batch, const ResNetConfig& config, std::uint64_t seed)
    : backend_(backend), max_batch_(max_batch), config_(config), parameters_(backend) {
  if (config.width < 1 || config.classes < 1 || config.image_channels < 1) {
    fail("resnet: width ", config.width, ", ", config.classes, " classes and ", config.image_channels,
         " image channels must all be >= 1");
  }
  for (const std::int64_t count : config.blocks) {
    if (count < 1) fail("resnet: every group needs at least one block");
  }
  if (config.image_height < 1 || config.image_width < 1) {
    fail("resnet: images of ", config.image_height, "×", config.image_width, " pixels");
  }
  if (max_batch < 1) fail("resnet: activations for ", max_batch, " images");

  stem_ = std::make_unique<ResNetStem>(parameters_, "stem", config.image_channels, config.width, max_batch,
                                       config.image_height, config.image_width);
  std::int64_t height = stem_->out_height(), width = stem_->out_width(), channels = config.width;
  std::int64_t largest = stem_->scratch_per_image();
  for (int group = 0; group < 4; ++group) {
    for (std::int64_t b = 0; b < config.blocks[group]; ++b) {
      const std::int64_t stride = b == 0 && group > 0 ? 2 : 1;
      blocks_.push_back(std::make_unique<Bottleneck>(parameters_, concat("group", group, ".block", b), channels,
                                                     config.width << group, stride, max_batch, height, width));
      const Bottleneck& block = *blocks_.back();
      largest = std::max(largest, block.scratch_per_image());
      height = block.out_height();
      width = block.out_width();
      channels = block.out_channels();
    }
  }
  feature_channels_ = channels;
  feature_pixels_ = height * width;
  classifier_ = std::make_unique<Dense>(parameters_, "classifier", channels, config.classes, Activation::none);
  parameters_.allocate();

  pooled_ = ops::Buffer<float>(backend, floats(max_batch * channels));
  logits_ = ops::Buffer<float>(backend, floats(max_batch * config.classes));
  gradient_a_ = ops::Buffer<float>(backend, floats(max_batch * largest));
  gradient_b_ = ops::Buffer<float>(backend, floats(max_batch * largest));
  gradient_c_ = ops::Buffer<float>(backend, floats(max_batch * largest));
  gradient_d_ = ops::Buffer<float>(backend, floats(max_batch * largest));
  correct_ = ops::Buffer<double>(backend, 1);

  // Initial values, drawn on the host: one RNG stream per tensor drawn, in declaration order.
  std::vector<float> initial(floats(parameters_.size()), 0.0f);
  const CounterRng rng(seed, RngPurpose::init);
  std::uint32_t stream = 0;
  stem_->initialise(initial, rng, stream);
  for (const auto& block : blocks_) block->initialise(initial, rng, stream);
  const double bound = 1.0 / std::sqrt(static_cast<double>(channels));  // nn.Linear's default
  uniform_init(initial.data() + classifier_->weight_offset(), config.classes * channels, bound, rng, stream++);
  uniform_init(initial.data() + classifier_->bias_offset(), config.classes, bound, rng, stream++);
  parameters_.upload_values(initial);
}

void ResNet::keep_input_gradient() {
  if (input_gradient_.size() == 0) {
    input_gradient_ = ops::Buffer<float>(
        backend_, floats(max_batch_ * config_.image_height * config_.image_width * config_.image_channels));
  }
}

void ResNet::check_batch(const Batch& batch) const {
  if (batch.size <= 0 || batch.size > max_batch_) {
    fail("resnet: batch of ", batch.size, " images (allocated for 1 … ", max_batch_, ")");
  }
}

void ResNet::forward(const Batch& batch, bool training) {
  check_batch(batch);
  const std::int64_t n = batch.size;
  stem_->forward(parameters_, batch.features, n, training);
  const float* x = stem_->output();
  for (const auto& block : blocks_) {
    block->forward(parameters_, x, n, training, gradient_c_.data());
    x = block->output();
  }
  backend_.average_pool_forward(x, n, feature_pixels_, feature_channels_, pooled_.data());
  classifier_->forward(parameters_, pooled_.data(), logits_.data(), n);
}

void ResNet::forward_backward(const Batch& batch, float loss_scale, double* loss_sum) {
  forward(batch, true);
  const std::int64_t n = batch.size;
  backend_.softmax_cross_entropy(logits_.data(), batch.labels, n, config_.classes, logits_.data(),
                                 loss_scale, loss_sum, correct_.data());
  float* a = gradient_a_.data();
  float* b = gradient_b_.data();
  classifier_->backward(parameters_, pooled_.data(), logits_.data(), logits_.data(), a, n);
  backend_.average_pool_backward(a, n, feature_pixels_, feature_channels_, b);
  for (std::size_t i = blocks_.size(); i-- > 0;) {
    const float* x = i == 0 ? stem_->output() : blocks_[i - 1]->output();
    blocks_[i]->backward(parameters_, x, b, a, n, gradient_c_.data(), gradient_d_.data());
    std::swap(a, b);
  }
  stem_->backward(parameters_, batch.features, b, input_gradient_.size() ? input_gradient_.data() : nullptr, n, a);
}

void ResNet::evaluate(const Batch& batch, const EvaluationSums& sums) {
  forward(batch, false);
  backend_.softmax_cross_entropy(logits_.data(), batch.labels, batch.size, config_.classes, nullptr, 0.0f,
                                 sums.loss, sums.metric);
}

}  // namespace sgdsweep::nn
