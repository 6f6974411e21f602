// Finite-difference checks of the Wide-ResNet, ResNet and LSTM layers (convolution with stride and
// padding, batch normalisation in training mode, average and max pooling, dropout with a fixed
// mask, softmax cross-entropy, the LSTM through time) and of whole small models; ghost batch
// normalisation as independent microbatches; the gradient accumulator's tree; ResNet-50's size and
// initialisation. Every backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <utility>

#include "nn/layers/batch_norm.hpp"
#include "nn/layers/conv2d.hpp"
#include "nn/layers/dropout.hpp"
#include "nn/layers/lstm.hpp"
#include "nn/models/lstm_lm.hpp"
#include "nn/models/resnet.hpp"
#include "nn/models/wide_resnet.hpp"
#include "ops/registry.hpp"
#include "spec/model_size.hpp"
#include "spec/spec.hpp"
#include "train/gradient_accumulator.hpp"
#include "train/optimizer.hpp"
#include "backend_support.hpp"
#include "util/rng.hpp"

namespace {

using namespace sgdsweep;
using sgdsweep::testing::random_values;
using sgdsweep::testing::to_backend;
using sgdsweep::testing::to_host;

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double total = 0;
  for (std::size_t i = 0; i < a.size(); ++i) total += static_cast<double>(a[i]) * b[i];
  return total;
}

// Central differences of `loss` over every element of `values` (or `limit` of them, spread over
// the vector), against `analytic`: |a − n| <= 1e-2·max(|a|, |n|) + absolute.
void check_gradient(std::vector<float>& values, const std::vector<float>& analytic,
                    const std::function<double()>& loss, const std::function<void()>& upload,
                    double absolute, const std::string& what, std::size_t limit = 0,
                    float step = 1e-2f) {
  const std::size_t stride = limit && values.size() > limit ? values.size() / limit : 1;
  for (std::size_t i = 0; i < values.size(); i += stride) {
    const float saved = values[i];
    values[i] = saved + step;
    upload();
    const double plus = loss();
    values[i] = saved - step;
    upload();
    const double minus = loss();
    values[i] = saved;
    upload();
    const double numeric = (plus - minus) / (2 * step);
    EXPECT_LE(std::abs(analytic[i] - numeric), 1e-2 * std::max<double>(std::abs(analytic[i]), std::abs(numeric)) + absolute)
        << what << "[" << i << "]: analytic " << analytic[i] << ", finite difference " << numeric;
  }
}

class NetworkLayers : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    SGDSWEEP_BACKEND_OR_SKIP(backend_, GetParam());
  }
  ops::Backend& backend() { return *backend_; }
  std::unique_ptr<ops::Backend> backend_;
};

void check_conv(ops::Backend& backend, std::int64_t kernel, std::int64_t stride, std::int64_t padding, bool bias) {
  const std::int64_t batch = 2, height = 5, width = 6, in = 3, out = 4;
  nn::Parameters parameters(backend);
  nn::Conv2d conv(parameters, "conv", in, out, kernel, stride, padding, bias);
  parameters.allocate();
  std::vector<float> theta = random_values(static_cast<std::size_t>(parameters.size()), 1);
  parameters.upload_values(theta);
  const ops::Conv2dShape shape = conv.shape(batch, height, width);
  std::vector<float> x = random_values(batch * height * width * in, 2);
  const std::vector<float> r = random_values(batch * shape.out_height() * shape.out_width() * out, 3);
  ops::Buffer<float> xb = to_backend(backend, x), y(backend, r.size()), dx(backend, x.size());
  ops::Buffer<float> rb = to_backend(backend, r);
  auto loss = [&] {
    xb.upload(x.data(), x.size());
    conv.forward(parameters, xb.data(), y.data(), batch, height, width);
    return dot(to_host(y), r);
  };
  loss();
  conv.backward(parameters, xb.data(), rb.data(), dx.data(), batch, height, width);
  const std::vector<float> gradient = parameters.download_gradients();
  const std::vector<float> input_gradient = to_host(dx);
  const std::string what = "conv k" + std::to_string(kernel) + " s" + std::to_string(stride);
  check_gradient(theta, gradient, loss, [&] { parameters.upload_values(theta); }, 1e-4, what + " parameter");
  check_gradient(x, input_gradient, loss, [] {}, 1e-4, what + " input");
}

}  // namespace

TEST_P(NetworkLayers, Conv2dStrideAndPaddingMatchFiniteDifferences) {
  check_conv(backend(), 3, 1, 1, false);
  check_conv(backend(), 3, 2, 1, true);
  check_conv(backend(), 1, 2, 0, true);
  check_conv(backend(), 1, 1, 0, false);
}

TEST_P(NetworkLayers, Conv2dMatchesADirectLoop) {
  const ops::Conv2dShape s{2, 5, 4, 3, 2, 3, 2, 1};
  const std::vector<float> x = random_values(s.batch * s.height * s.width * s.in_channels, 4);
  const std::vector<float> w = random_values(s.weight_count(), 5);
  ops::Buffer<float> xb = to_backend(backend(), x), wb = to_backend(backend(), w);
  ops::Buffer<float> y(backend(), s.batch * s.out_height() * s.out_width() * s.out_channels);
  backend().conv2d_forward(s, xb.data(), wb.data(), y.data());
  const std::vector<float> got = to_host(y);
  for (std::int64_t b = 0; b < s.batch; ++b)
    for (std::int64_t oy = 0; oy < s.out_height(); ++oy)
      for (std::int64_t ox = 0; ox < s.out_width(); ++ox)
        for (std::int64_t o = 0; o < s.out_channels; ++o) {
          double expected = 0;
          for (std::int64_t ky = 0; ky < 3; ++ky)
            for (std::int64_t kx = 0; kx < 3; ++kx) {
              const std::int64_t iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
              if (iy < 0 || iy >= s.height || ix < 0 || ix >= s.width) continue;
              for (std::int64_t c = 0; c < s.in_channels; ++c)
                expected += double(w[((o * 3 + ky) * 3 + kx) * s.in_channels + c]) *
                            x[((b * s.height + iy) * s.width + ix) * s.in_channels + c];
            }
          EXPECT_NEAR(got[((b * s.out_height() + oy) * s.out_width() + ox) * s.out_channels + o], expected, 1e-5);
        }
}

TEST_P(NetworkLayers, BatchNormTrainingModeMatchesFiniteDifferences) {
  const std::int64_t rows = 6, channels = 3;
  nn::Parameters parameters(backend());
  nn::BatchNorm norm(parameters, "norm", channels);
  parameters.allocate();
  std::vector<float> theta(static_cast<std::size_t>(parameters.size()));
  norm.initialise(theta);
  const std::vector<float> gamma = random_values(channels, 6, 2.0), beta = random_values(channels, 7);
  for (std::int64_t c = 0; c < channels; ++c) {
    theta[norm.gamma_offset() + c] = gamma[c];
    theta[norm.beta_offset() + c] = beta[c];
  }
  parameters.upload_values(theta);
  std::vector<float> x = random_values(rows * channels, 8, 3.0);
  const std::vector<float> r = random_values(rows * channels, 9);
  ops::Buffer<float> xb = to_backend(backend(), x), y(backend(), x.size());
  auto loss = [&] {
    xb.upload(x.data(), x.size());
    norm.forward_training(parameters, xb.data(), y.data(), rows);
    return dot(to_host(y), r);
  };
  loss();
  // Batch statistics land in the running statistics' gradient slots: mean and unbiased variance.
  const std::vector<float> statistics = parameters.download_gradients();
  for (std::int64_t c = 0; c < channels; ++c) {
    double mean = 0, squares = 0;
    for (std::int64_t i = 0; i < rows; ++i) mean += x[i * channels + c] / double(rows);
    for (std::int64_t i = 0; i < rows; ++i) squares += (x[i * channels + c] - mean) * (x[i * channels + c] - mean);
    EXPECT_NEAR(statistics[norm.running_mean_offset() + c], mean, 1e-6);
    EXPECT_NEAR(statistics[norm.running_variance_offset() + c], squares / (rows - 1), 1e-5);
  }
  ops::Buffer<float> dy = to_backend(backend(), r);
  norm.backward(parameters, xb.data(), dy.data(), rows);
  const std::vector<float> gradient = parameters.download_gradients();
  const std::vector<float> input_gradient = to_host(dy);
  std::vector<float> affine(theta.begin(), theta.begin() + 2 * channels);  // γ then β
  check_gradient(affine, std::vector<float>(gradient.begin(), gradient.begin() + 2 * channels), loss,
                 [&] {
                   std::copy(affine.begin(), affine.end(), theta.begin());
                   parameters.upload_values(theta);
                 },
                 1e-4, "batch norm gamma/beta");
  check_gradient(x, input_gradient, loss, [] {}, 1e-3, "batch norm input");
}

TEST_P(NetworkLayers, AveragePoolAndSoftmaxCrossEntropyMatchFiniteDifferences) {
  const std::int64_t batch = 2, pixels = 5, channels = 3, classes = 4;
  std::vector<float> x = random_values(batch * pixels * channels, 10);
  const std::vector<float> r = random_values(batch * channels, 11);
  ops::Buffer<float> xb = to_backend(backend(), x), y(backend(), batch * channels);
  ops::Buffer<float> rb = to_backend(backend(), r), dx(backend(), x.size());
  auto pool_loss = [&] {
    xb.upload(x.data(), x.size());
    backend().average_pool_forward(xb.data(), batch, pixels, channels, y.data());
    return dot(to_host(y), r);
  };
  pool_loss();
  backend().average_pool_backward(rb.data(), batch, pixels, channels, dx.data());
  check_gradient(x, to_host(dx), pool_loss, [] {}, 1e-5, "average pool");

  std::vector<float> logits = random_values(batch * classes, 12, 3.0);
  const std::vector<std::int32_t> labels = {2, 0};
  ops::Buffer<std::int32_t> lb = to_backend(backend(), labels);
  ops::Buffer<float> zb = to_backend(backend(), logits), gradient(backend(), logits.size());
  ops::Buffer<double> sums(backend(), 2);
  auto ce_loss = [&] {
    zb.upload(logits.data(), logits.size());
    backend().softmax_cross_entropy(zb.data(), lb.data(), batch, classes, nullptr, 0.0f, sums.data(), sums.data() + 1);
    return to_host(sums)[0];
  };
  double expected = 0;
  double correct = 0;
  for (std::int64_t i = 0; i < batch; ++i) {
    double partition = 0;
    int argmax = 0;
    for (int j = 0; j < classes; ++j) {
      partition += std::exp(double(logits[i * classes + j]));
      if (logits[i * classes + j] > logits[i * classes + argmax]) argmax = j;
    }
    expected += std::log(partition) - logits[i * classes + labels[i]];
    correct += argmax == labels[i];
  }
  EXPECT_NEAR(ce_loss(), expected, 1e-6);
  EXPECT_EQ(to_host(sums)[1], correct);
  backend().softmax_cross_entropy(zb.data(), lb.data(), batch, classes, gradient.data(), 1.0f, sums.data(), sums.data() + 1);
  check_gradient(logits, to_host(gradient), ce_loss, [] {}, 1e-5, "softmax cross-entropy");
}

// Max pooling against a direct loop (the padding never wins, even over negative values) and its
// backward against finite differences, for the stem's 3×3/2/1 and two other windows. Continuous
// random inputs have no ties (test_reference_models.cpp checks ties against PyTorch).
TEST_P(NetworkLayers, MaxPoolMatchesALoopAndFiniteDifferences) {
  const std::int64_t windows[3][3] = {{3, 2, 1}, {2, 2, 0}, {3, 1, 1}};
  for (const auto& window : windows) {
    const ops::Pool2dShape s{2, 7, 6, 3, window[0], window[1], window[2]};
    SCOPED_TRACE("max pool " + std::to_string(s.kernel) + "/" + std::to_string(s.stride) + "/" +
                 std::to_string(s.padding));
    std::vector<float> x = random_values(s.input_count(), 40);
    for (float& value : x) value -= 1.5f;  // mostly negative: a zero from the padding would show
    const std::vector<float> r = random_values(s.output_count(), 41);
    ops::Buffer<float> xb = to_backend(backend(), x), y(backend(), s.output_count());
    ops::Buffer<float> rb = to_backend(backend(), r), dx(backend(), s.input_count());
    ops::Buffer<std::int32_t> argmax(backend(), s.output_count());
    auto loss = [&] {
      xb.upload(x.data(), x.size());
      backend().max_pool_forward(s, xb.data(), y.data(), argmax.data());
      return dot(to_host(y), r);
    };
    loss();
    const std::vector<float> got = to_host(y);
    for (std::int64_t b = 0; b < s.batch; ++b)
      for (std::int64_t oy = 0; oy < s.out_height(); ++oy)
        for (std::int64_t ox = 0; ox < s.out_width(); ++ox)
          for (std::int64_t c = 0; c < s.channels; ++c) {
            float expected = -INFINITY;
            for (std::int64_t ky = 0; ky < s.kernel; ++ky)
              for (std::int64_t kx = 0; kx < s.kernel; ++kx) {
                const std::int64_t iy = oy * s.stride - s.padding + ky, ix = ox * s.stride - s.padding + kx;
                if (iy < 0 || iy >= s.height || ix < 0 || ix >= s.width) continue;
                expected = std::max(expected, x[((b * s.height + iy) * s.width + ix) * s.channels + c]);
              }
            ASSERT_EQ(got[((b * s.out_height() + oy) * s.out_width() + ox) * s.channels + c], expected);
          }
    backend().max_pool_backward(s, rb.data(), argmax.data(), dx.data());
    check_gradient(x, to_host(dx), loss, [] {}, 1e-5, "max pool input", 0, 1e-3f);
  }
}

TEST_P(NetworkLayers, DropoutMaskIsFixedSplitIndependentAndBackwardMatches) {
  const std::int64_t count = 4000;
  const float p = 0.6f;
  std::vector<float> x = random_values(count, 13);
  ops::Buffer<float> xb = to_backend(backend(), x), y(backend(), count), mask(backend(), count);
  nn::dropout_forward(backend(), p, xb.data(), y.data(), mask.data(), count, 77, 5, nn::dropout_position(1, 0));
  const std::vector<float> whole = to_host(mask);
  // The same positions computed in two pieces give the same mask.
  ops::Buffer<float> y2(backend(), count), mask2(backend(), count);
  nn::dropout_forward(backend(), p, xb.data(), y2.data(), mask2.data(), 1500, 77, 5, nn::dropout_position(1, 0));
  nn::dropout_forward(backend(), p, xb.data() + 1500, y2.data() + 1500, mask2.data() + 1500, count - 1500, 77, 5,
                      nn::dropout_position(1, 1500));
  EXPECT_EQ(to_host(mask2), whole);
  std::int64_t dropped = 0;
  for (float m : whole) {
    ASSERT_TRUE(m == 0.0f || m == 1.0f / (1.0f - p)) << m;
    dropped += m == 0.0f;
  }
  EXPECT_NEAR(static_cast<double>(dropped) / count, p, 0.03);
  // Another step, site or seed: another mask.
  nn::dropout_forward(backend(), p, xb.data(), y2.data(), mask2.data(), count, 77, 6, nn::dropout_position(1, 0));
  EXPECT_NE(to_host(mask2), whole);
  // Backward with the fixed mask: y = x·mask is linear, dx = dy·mask.
  const std::vector<float> r = random_values(count, 14);
  ops::Buffer<float> dy = to_backend(backend(), r), dx(backend(), count);
  nn::dropout_backward(backend(), mask.data(), dy.data(), dx.data(), count);
  auto loss = [&] {
    xb.upload(x.data(), x.size());
    backend().multiply(xb.data(), mask.data(), y.data(), count);
    return dot(to_host(y), r);
  };
  check_gradient(x, to_host(dx), loss, [] {}, 1e-4, "dropout", 50);
}

TEST_P(NetworkLayers, LstmThroughTimeMatchesFiniteDifferences) {
  const std::int64_t in = 3, hidden = 4, steps = 5, rows = 2;
  nn::Parameters parameters(backend());
  nn::Lstm lstm(parameters, "lstm", in, hidden);
  parameters.allocate();
  std::vector<float> theta = random_values(static_cast<std::size_t>(parameters.size()), 15, 0.5);
  parameters.upload_values(theta);
  std::vector<float> x = random_values(steps * rows * in, 16);
  const std::vector<float> h0 = random_values(rows * hidden, 17, 0.5), c0 = random_values(rows * hidden, 18, 0.5);
  const std::vector<float> r = random_values(steps * rows * hidden, 19);
  ops::Buffer<float> xb = to_backend(backend(), x), h0b = to_backend(backend(), h0), c0b = to_backend(backend(), c0);
  ops::Buffer<float> gates(backend(), steps * rows * 4 * hidden), c(backend(), steps * rows * hidden);
  ops::Buffer<float> h(backend(), steps * rows * hidden), dx(backend(), x.size());
  ops::Buffer<float> gate_gradient(backend(), gates.size()), dh_next(backend(), rows * hidden), dc(backend(), rows * hidden);
  auto loss = [&] {
    xb.upload(x.data(), x.size());
    lstm.forward(parameters, xb.data(), h0b.data(), c0b.data(), gates.data(), c.data(), h.data(), steps, rows);
    return dot(to_host(h), r);
  };
  loss();
  ops::Buffer<float> dh = to_backend(backend(), r);
  lstm.backward(parameters, xb.data(), h0b.data(), c0b.data(), gates.data(), c.data(), h.data(), dh.data(),
                dx.data(), gate_gradient.data(), dh_next.data(), dc.data(), steps, rows);
  const std::vector<float> gradient = parameters.download_gradients();
  const std::vector<float> input_gradient = to_host(dx);
  check_gradient(theta, gradient, loss, [&] { parameters.upload_values(theta); }, 1e-4, "lstm parameter");
  check_gradient(x, input_gradient, loss, [] {}, 1e-4, "lstm input");
}

namespace {

// A small Wide-ResNet (wrn-10-1 on 8×8 images) and a small LSTM model: finite differences on a
// sample of every tensor's coordinates.
// `step`: small for ReLU networks, whose kinks a step of 1e-2 crosses often enough to spoil the
// difference quotient (measured: 60 of ~200 samples off at 1e-2, none at 3e-4).
void check_model(nn::Model& model, const nn::Batch& batch, double absolute, float step = 1e-2f) {
  ops::Backend& backend = model.parameters().backend();
  ops::Buffer<double> loss_sum(backend, 1);
  const double examples = static_cast<double>(batch.size * model.terms_per_example());
  model.forward_backward(batch, static_cast<float>(1.0 / examples), loss_sum.data());
  std::vector<float> gradient = model.parameters().download_gradients();
  std::vector<float> theta = model.parameters().download_values();
  auto loss = [&] {
    model.forward_backward(batch, 0.0f, loss_sum.data());
    return to_host(loss_sum)[0] / examples;
  };
  for (const nn::ParameterTensor& tensor : model.parameters().tensors()) {
    if (tensor.role == nn::ParameterRole::running_statistic) continue;
    std::vector<float> slice(theta.begin() + tensor.offset, theta.begin() + tensor.offset + tensor.count);
    const std::vector<float> analytic(gradient.begin() + tensor.offset, gradient.begin() + tensor.offset + tensor.count);
    check_gradient(slice, analytic, loss,
                   [&] {
                     std::copy(slice.begin(), slice.end(), theta.begin() + tensor.offset);
                     model.parameters().upload_values(theta);
                   },
                   absolute, tensor.name, 6, step);
  }
}

// check_model for networks with many kinks (ReLUs after BN over few rows, max pooling): a step that
// crosses a kink spoils the difference quotient whatever the step (measured on the ResNet below:
// one coordinate in ~30 at 3e-4, still several at 1e-4, where float32 noise is already 1e-3). So
// each sampled coordinate's quotient is taken at two steps, h and h/2: where they disagree by more
// than the tolerance a kink lies within h and the next coordinate is tried instead. Every tensor
// still gets `samples` checked coordinates (three quarters of those of a tensor with no more than
// `samples`), and at most a fifth of all tries may be skipped, so a wrong gradient cannot hide
// behind "kinks".
void check_model_between_kinks(nn::Model& model, const nn::Batch& batch, double absolute, float step,
                               std::int64_t samples) {
  ops::Backend& backend = model.parameters().backend();
  ops::Buffer<double> loss_sum(backend, 1);
  const double examples = static_cast<double>(batch.size * model.terms_per_example());
  model.forward_backward(batch, static_cast<float>(1.0 / examples), loss_sum.data());
  const std::vector<float> gradient = model.parameters().download_gradients();
  std::vector<float> theta = model.parameters().download_values();
  const auto quotient = [&](std::int64_t i, float h) {
    const float saved = theta[i];
    double sides[2];
    for (int side = 0; side < 2; ++side) {
      theta[i] = saved + (side == 0 ? h : -h);
      model.parameters().upload_values(theta);
      model.forward_backward(batch, 0.0f, loss_sum.data());
      sides[side] = to_host(loss_sum)[0] / examples;
    }
    theta[i] = saved;
    model.parameters().upload_values(theta);
    return (sides[0] - sides[1]) / (2.0 * h);
  };
  std::int64_t tried = 0, skipped = 0;
  for (const nn::ParameterTensor& tensor : model.parameters().tensors()) {
    if (tensor.role == nn::ParameterRole::running_statistic) continue;
    const std::int64_t wanted = std::min(samples, tensor.count);
    const std::int64_t stride = tensor.count / wanted;
    std::int64_t checked = 0;
    for (std::int64_t k = 0; k < wanted; ++k) {
      for (std::int64_t j = k * stride; j < (k + 1) * stride; ++j) {  // tensors of <= samples: one try each
        const std::int64_t i = tensor.offset + j;
        const double coarse = quotient(i, step), fine = quotient(i, step / 2);
        const double limit = 1e-2 * std::max(std::abs(coarse), std::abs(fine)) + absolute;
        ++tried;
        if (std::abs(coarse - fine) > limit) {
          ++skipped;
          continue;
        }
        EXPECT_LE(std::abs(gradient[i] - fine), 1e-2 * std::max<double>(std::abs(gradient[i]), std::abs(fine)) + absolute)
            << tensor.name << "[" << j << "]: analytic " << gradient[i] << ", finite differences " << fine
            << " (step " << step / 2 << ") and " << coarse << " (step " << step << ")";
        ++checked;
        break;
      }
    }
    EXPECT_GE(4 * checked, 3 * wanted) << tensor.name << ": " << wanted - checked << " of " << wanted
                                       << " sampled coordinates sit near a kink";
  }
  EXPECT_LE(skipped * 5, tried) << skipped << " of " << tried << " coordinates skipped as near a kink";
  std::cout << "[ finite differences ] " << tried - skipped << " coordinates checked, " << skipped
            << " skipped near a kink\n";
}

nn::WideResNetConfig tiny_wrn(bool batch_norm) {
  nn::WideResNetConfig config;
  config.depth = 10;
  config.width = 1;
  config.batch_norm = batch_norm;
  config.classes = 5;
  config.image_height = 8;
  config.image_width = 8;
  return config;
}

}  // namespace

TEST_P(NetworkLayers, WideResNetGradientsMatchFiniteDifferences) {
  const std::int64_t n = 4;
  const std::vector<float> images = random_values(n * 8 * 8 * 3, 20);
  ops::Buffer<float> features = to_backend(backend(), images);
  ops::Buffer<std::int32_t> labels = to_backend(backend(), std::vector<std::int32_t>{0, 3, 1, 4});
  nn::Batch batch;
  batch.features = features.data();
  batch.labels = labels.data();
  batch.size = n;
  for (bool batch_norm : {true, false}) {
    nn::WideResNet model(backend(), n, tiny_wrn(batch_norm), 9);
    if (!batch_norm) {
      // SkipInit starts its residual scalars at 0: move them so the branches carry gradient.
      std::vector<float> theta = model.parameters().download_values();
      for (const nn::ParameterTensor& tensor : model.parameters().tensors()) {
        if (tensor.name.find("skipinit_scale") != std::string::npos) theta[tensor.offset] = 0.7f;
      }
      model.parameters().upload_values(theta);
    }
    SCOPED_TRACE(batch_norm ? "ghost batch norm" : "skipinit");
    // Absolute 5e-3: float central differences at this step leave about 2e-3 of rounding noise
    // (measured on the host; cuDNN and cuBLAS round otherwise), and the relative 1e-2 still
    // catches a wrong gradient.
    check_model(model, batch, 5e-3, 3e-4f);
  }
}

// A narrow ResNet with one bottleneck block per group (all four stages, projections, the stem's
// max pool) on non-square 18×13 images: finite differences of every tensor. The zero-initialised
// γ of each branch's last BN is moved so that the branches carry gradient.
TEST_P(NetworkLayers, ResNetGradientsMatchFiniteDifferences) {
  nn::ResNetConfig config;
  config.blocks = {1, 1, 1, 1};
  config.width = 4;
  config.classes = 5;
  config.image_height = 18;
  config.image_width = 13;
  const std::int64_t n = 4;
  nn::ResNet model(backend(), n, config, 9);
  std::vector<float> theta = model.parameters().download_values();
  for (const auto& block : model.blocks()) {
    for (std::int64_t c = 0; c < block->out_channels(); ++c) theta[block->norm3().gamma_offset() + c] = 0.7f;
  }
  model.parameters().upload_values(theta);
  const std::vector<float> images = random_values(n * 18 * 13 * 3, 42);
  ops::Buffer<float> features = to_backend(backend(), images);
  ops::Buffer<std::int32_t> labels = to_backend(backend(), std::vector<std::int32_t>{0, 3, 1, 4});
  nn::Batch batch;
  batch.features = features.data();
  batch.labels = labels.data();
  batch.size = n;
  // Measured: group0.block0.conv3's coordinate 40 has a kink within 3e-4 (quotient −0.4241 for an
  // analytic −0.4331; −0.4328 at a step of 1e-4).
  check_model_between_kinks(model, batch, 5e-3, 3e-4f, 6);  // absolute 5e-3: as for the Wide-ResNet
}

// ResNet-50 as torchvision counts it (25,557,032 trained values for 1000 classes), the count the
// planner computes from a spec, and Goyal et al.'s initialisation: γ = 0 in the last BN of every
// branch and only there, β = 0, He normal (fan out) convolutions, nn.Linear's classifier. Any
// image size works: the stem and pooling shrink, global pooling absorbs the rest.
TEST_P(NetworkLayers, ResNet50HasTorchvisionsSizeAndGoyalsInitialisation) {
  nn::ResNetConfig config;
  config.classes = 1000;
  config.image_height = 32;
  config.image_width = 32;
  nn::ResNet model(backend(), 2, config, 17);
  const nn::Parameters& parameters = model.parameters();
  std::int64_t trained = 0, running = 0, zero_gammas = 0;
  for (const nn::ParameterTensor& tensor : parameters.tensors()) {
    (tensor.role == nn::ParameterRole::running_statistic ? running : trained) += tensor.count;
  }
  EXPECT_EQ(trained, 25557032);
  EXPECT_EQ(running, 53120);
  spec::Spec spec;
  spec.model = spec::ModelKind::resnet;
  spec.model_name = "resnet50";
  EXPECT_EQ(spec::parameter_count(spec, 1000), parameters.size());
  EXPECT_EQ(spec::parameter_count(spec, 10), parameters.size() - 990 * 2049);

  const std::vector<float> values = parameters.download_values();
  const auto slice = [&](const nn::ParameterTensor& tensor) {
    return std::vector<float>(values.begin() + tensor.offset, values.begin() + tensor.offset + tensor.count);
  };
  for (const nn::ParameterTensor& tensor : parameters.tensors()) {
    const std::vector<float> v = slice(tensor);
    const auto ends_with = [&](const std::string& tail) {
      const std::string& name = tensor.name;
      return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
    };
    if (ends_with(".gamma")) {
      const float expected = ends_with(".norm3.gamma") ? 0.0f : 1.0f;
      for (float g : v) ASSERT_EQ(g, expected) << tensor.name;
      zero_gammas += expected == 0.0f;
      EXPECT_EQ(tensor.role, nn::ParameterRole::unregularized) << tensor.name;
    } else if (ends_with(".beta")) {
      for (float b : v) ASSERT_EQ(b, 0.0f) << tensor.name;
      EXPECT_EQ(tensor.role, nn::ParameterRole::unregularized) << tensor.name;
    } else if (tensor.role != nn::ParameterRole::running_statistic && tensor.name != "classifier.bias") {
      // Convolutions (no biases: BN follows each) and the classifier: L2-regularised weights.
      EXPECT_TRUE(ends_with(".weight")) << tensor.name;
      EXPECT_EQ(tensor.role, nn::ParameterRole::weight) << tensor.name;
    }
  }
  EXPECT_EQ(zero_gammas, 16);  // one per block: 3 + 4 + 6 + 3
  EXPECT_EQ(parameters.tensor("group1.block0.shortcut.weight").count, 256 * 512);
  EXPECT_THROW(static_cast<void>(parameters.tensor("group1.block1.shortcut.weight")), std::exception);

  // The stem's deviation, sqrt(2 / (64·7·7)), and a 3×3's, sqrt(2 / (512·3·3)), within 2%.
  for (const auto& [name, fan_out] : {std::pair<std::string, double>{"stem.conv.weight", 64.0 * 49},
                                      std::pair<std::string, double>{"group3.block1.conv2.weight", 512.0 * 9}}) {
    const std::vector<float> v = slice(parameters.tensor(name));
    double squares = 0, sum = 0;
    for (float w : v) squares += double(w) * w, sum += w;
    EXPECT_NEAR(std::sqrt(squares / v.size()), std::sqrt(2.0 / fan_out), 0.02 * std::sqrt(2.0 / fan_out)) << name;
    EXPECT_NEAR(sum / v.size(), 0.0, 0.05 * std::sqrt(2.0 / fan_out)) << name;
  }
  const double bound = 1.0 / std::sqrt(2048.0);
  for (const std::string name : {"classifier.weight", "classifier.bias"}) {
    const std::vector<float> v = slice(parameters.tensor(name));
    const auto [lowest, highest] = std::minmax_element(v.begin(), v.end());
    EXPECT_GE(*lowest, -bound) << name;
    EXPECT_LE(*highest, bound) << name;
    EXPECT_LT(*lowest, -0.9 * bound) << name;
    EXPECT_GT(*highest, 0.9 * bound) << name;
  }

  // At 64×64 the same weights (same seed) run; the last feature map is 2×2 there, 1×1 at 32×32.
  config.image_height = config.image_width = 64;
  nn::ResNet larger(backend(), 2, config, 17);
  EXPECT_EQ(larger.parameters().download_values(), values);
  const std::vector<float> images = random_values(2 * 64 * 64 * 3, 43);
  ops::Buffer<float> features = to_backend(backend(), images);
  ops::Buffer<std::int32_t> labels = to_backend(backend(), std::vector<std::int32_t>{7, 999});
  ops::Buffer<double> sums(backend(), 2);
  nn::Batch batch;
  batch.features = features.data();
  batch.labels = labels.data();
  batch.size = 2;
  larger.forward_backward(batch, 0.5f, sums.data());
  const double loss = to_host(sums)[0] / 2;
  // The branches start at 0 and the classifier is small: the loss is near log(1000).
  EXPECT_NEAR(loss, std::log(1000.0), 0.5);
  larger.evaluate(batch, {sums.data(), sums.data() + 1});
  EXPECT_TRUE(std::isfinite(to_host(sums)[0]));
}

TEST_P(NetworkLayers, LstmLanguageModelGradientsMatchFiniteDifferences) {
  nn::LstmLanguageModelConfig config;
  config.vocabulary = 7;
  config.hidden = 5;
  config.layers = 2;
  config.window = 4;
  config.dropout = 0.3f;  // a fixed mask: the same (seed, step) in every forward
  config.init_scale = 0.3f;
  const std::int64_t streams = 3;
  nn::LstmLanguageModel model(backend(), streams, streams, 1, config, 11);
  // Time-major tokens and next-token targets.
  const std::vector<std::int32_t> tokens = {1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5};
  const std::vector<std::int32_t> targets = {2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6};
  ops::Buffer<std::int32_t> tb = to_backend(backend(), tokens), lb = to_backend(backend(), targets);
  nn::Batch batch;
  batch.tokens = tb.data();
  batch.labels = lb.data();
  batch.size = streams;
  batch.step = 3;
  // The carried state changes each forward; reset it so every evaluation starts alike.
  struct Resetting final : nn::Model {
    explicit Resetting(nn::LstmLanguageModel& inner) : inner_(inner) {}
    nn::Parameters& parameters() override { return inner_.parameters(); }
    std::int64_t max_batch() const override { return inner_.max_batch(); }
    std::int64_t terms_per_example() const override { return inner_.terms_per_example(); }
    void forward_backward(const nn::Batch& b, float scale, double* loss) override {
      inner_.reset_training_state(0);
      inner_.forward_backward(b, scale, loss);
    }
    void evaluate(const nn::Batch& b, const nn::EvaluationSums& sums) override { inner_.evaluate(b, sums); }
    nn::LstmLanguageModel& inner_;
  } resetting(model);
  check_model(resetting, batch, 1e-3);
}

TEST_P(NetworkLayers, GhostBatchNormIsFourIndependentMicrobatches) {
  // A step of B = 256 with ghost batches of 64: the accumulated gradient is the tree sum of four
  // independent 64-image forward/backward passes (each normalised with its own statistics), and
  // the running statistics move by the average of the four batch statistics.
  const std::int64_t ghost = 64, batch_size = 256;
  const std::vector<float> images = random_values(batch_size * 8 * 8 * 3, 21);
  std::vector<std::int32_t> label_values(batch_size);
  for (std::int64_t i = 0; i < batch_size; ++i) label_values[i] = static_cast<std::int32_t>(i % 5);
  ops::Buffer<float> features = to_backend(backend(), images);
  ops::Buffer<std::int32_t> labels = to_backend(backend(), label_values);
  ops::Buffer<double> loss(backend(), 1);
  const auto microbatch = [&](std::int64_t m, std::int64_t size) {
    nn::Batch batch;
    batch.features = features.data() + m * size * 8 * 8 * 3;
    batch.labels = labels.data() + m * size;
    batch.size = size;
    batch.first_row = m * size;
    batch.step_rows = batch_size;
    return batch;
  };

  nn::WideResNet model(backend(), ghost, tiny_wrn(true), 13);
  train::GradientAccumulator accumulator(backend(), model.parameters().size(), 4);
  std::vector<std::vector<float>> alone;
  for (std::int64_t m = 0; m < 4; ++m) {
    model.forward_backward(microbatch(m, ghost), 1.0f / batch_size, loss.data());
    accumulator.add(model.parameters().gradients());
    alone.push_back(model.parameters().download_gradients());
  }
  accumulator.finish(model.parameters().gradients());
  const std::vector<float> summed = model.parameters().download_gradients();
  for (std::size_t i = 0; i < summed.size(); ++i) {
    ASSERT_EQ(summed[i], (alone[0][i] + alone[1][i]) + (alone[2][i] + alone[3][i])) << i;
  }
  train::Optimizer optimizer(model.parameters(), 0.9, 0.0);
  optimizer.step(0.0, 4);  // rate 0: only the running statistics move
  const std::vector<float> after = model.parameters().download_values();
  for (const nn::ParameterTensor& tensor : model.parameters().tensors()) {
    if (tensor.role != nn::ParameterRole::running_statistic) continue;
    const float initial = tensor.name.find("variance") != std::string::npos ? 1.0f : 0.0f;
    for (std::int64_t i = 0; i < tensor.count; ++i) {
      const float average = summed[tensor.offset + i] / 4.0f;
      EXPECT_NEAR(after[tensor.offset + i], 0.9f * initial + 0.1f * average, 1e-6) << tensor.name;
    }
  }
  // One batch normalisation over all 256 images gives another gradient: ghost batching matters.
  nn::WideResNet whole(backend(), batch_size, tiny_wrn(true), 13);
  whole.forward_backward(microbatch(0, batch_size), 1.0f / batch_size, loss.data());
  const std::vector<float> full = whole.parameters().download_gradients();
  double difference = 0;
  for (std::size_t i = 0; i < full.size(); ++i) difference = std::max(difference, double(std::abs(full[i] - summed[i])));
  EXPECT_GT(difference, 1e-4);
}

TEST_P(NetworkLayers, GradientAccumulatorAddsInItsDocumentedTree) {
  for (std::int64_t n = 1; n <= 9; ++n) {
    train::GradientAccumulator accumulator(backend(), 3, n);
    std::vector<std::vector<float>> parts;
    for (std::int64_t m = 0; m < n; ++m) {
      parts.push_back(random_values(3, static_cast<std::uint32_t>(30 + m), 1e3));
      ops::Buffer<float> part = to_backend(backend(), parts.back());
      accumulator.add(part.data());
    }
    ops::Buffer<float> out(backend(), 3);
    accumulator.finish(out.data());
    const std::vector<float> got = to_host(out);
    // The documented tree: binary-counter levels, then the levels from the highest down.
    for (std::size_t j = 0; j < 3; ++j) {
      std::vector<float> levels;  // levels[k]: a sum of 2^k parts, or NaN when empty
      for (std::int64_t m = 0; m < n; ++m) {
        float carry = parts[m][j];
        std::size_t k = 0;
        while (k < levels.size() && !std::isnan(levels[k])) {
          carry = levels[k] + carry;
          levels[k] = NAN;
          ++k;
        }
        if (k == levels.size()) levels.push_back(NAN);
        levels[k] = carry;
      }
      float expected = NAN;
      for (std::size_t k = levels.size(); k-- > 0;) {
        if (std::isnan(levels[k])) continue;
        expected = std::isnan(expected) ? levels[k] : expected + levels[k];
      }
      EXPECT_EQ(got[j], expected) << n << " parts, element " << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, NetworkLayers, ::testing::ValuesIn(sgdsweep::ops::available_devices()),
                         [](const auto& param_info) { return param_info.param; });
