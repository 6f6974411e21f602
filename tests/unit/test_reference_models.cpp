// WRN-16-4 (ghost BN and Regularized SkipInit), one WRN block, one LSTM layer, the LSTM language
// model, max pooling, the ResNet-50 stem, its two kinds of bottleneck block and the whole ResNet-50
// against PyTorch (ground truth from outside): the same weights and inputs give the same outputs,
// losses and gradients, from the fixture tests/reference/models_torch.py writes (float64). The
// fixture's path comes in SGDSWEEP_MODELS_FIXTURE (set by CTest); without it the tests skip.
//
// Tolerances (single precision against double): each tensor within 1e-4 of its largest |torch|
// value (plus 1e-8), every value finite; losses within 1e-5 relative. Values after an optimizer
// step: within 1e-4 of the step's largest change, plus two float ulps of the tensor's magnitude.
// Layouts: the fixture is PyTorch's (NCHW activations, OIHW conv weights); ours is NHWC / OHWI,
// the same permutation [a, b, c, d] → [a, c, d, b] for both.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/layers/batch_norm.hpp"
#include "nn/layers/conv2d.hpp"
#include "nn/layers/lstm.hpp"
#include "nn/models/lstm_lm.hpp"
#include "nn/models/resnet.hpp"
#include "nn/models/wide_resnet.hpp"
#include "ops/registry.hpp"
#include "backend_support.hpp"
#include "reference_fixture.hpp"
#include "train/optimizer.hpp"

using namespace sgdsweep;

namespace {

constexpr double kTensorTolerance = 1e-4;  // of the tensor's largest |torch| value
constexpr double kAbsoluteFloor = 1e-8;
constexpr double kLossTolerance = 1e-5;  // relative

using sgdsweep::testing::Fixture;
using sgdsweep::testing::read_fixture;

// The fixture, read once per process; null when SGDSWEEP_MODELS_FIXTURE is not set.
const Fixture* fixture() {
  static const char* path = std::getenv("SGDSWEEP_MODELS_FIXTURE");
  if (!path) return nullptr;
  static const Fixture records = read_fixture(path);
  return &records;
}

#define REQUIRE_FIXTURE()                                                                            \
  const Fixture* fixture_pointer = fixture();                                                        \
  if (!fixture_pointer) {                                                                            \
    GTEST_SKIP() << "SGDSWEEP_MODELS_FIXTURE not set (CTest sets it after running models_torch.py)"; \
  }                                                                                                  \
  const Fixture& f = *fixture_pointer

const std::vector<double>& record(const Fixture& f, const std::string& name) {
  const auto found = f.find(name);
  if (found == f.end()) throw std::runtime_error("the fixture has no record '" + name + "'");
  return found->second;
}

std::int64_t integer(const std::vector<double>& values, std::size_t index) {
  return static_cast<std::int64_t>(values.at(index));
}

std::vector<float> narrow(const std::vector<double>& values) { return {values.begin(), values.end()}; }

std::vector<std::int32_t> integers(const std::vector<double>& values) {
  return {values.begin(), values.end()};
}

// PyTorch's [a, b, c, d] (NCHW activations, OIHW conv weights) → ours [a, c, d, b] (NHWC, OHWI).
std::vector<double> channels_last(const std::vector<double>& values, std::int64_t a, std::int64_t b,
                                  std::int64_t c, std::int64_t d) {
  if (static_cast<std::int64_t>(values.size()) != a * b * c * d) {
    throw std::runtime_error("channels_last: " + std::to_string(values.size()) +
                             " values for a 4-D shape of " + std::to_string(a * b * c * d));
  }
  std::vector<double> out(values.size());
  for (std::int64_t i = 0; i < a; ++i)
    for (std::int64_t j = 0; j < b; ++j)
      for (std::int64_t k = 0; k < c; ++k)
        for (std::int64_t l = 0; l < d; ++l)
          out[((i * c + k) * d + l) * b + j] = values[((i * b + j) * c + k) * d + l];
  return out;
}

// A parameter's fixture values in our layout: 4-D tensors (conv weights, per `<shapes>.<name>`)
// permuted to OHWI.
std::vector<double> in_our_layout(const Fixture& f, const std::string& shapes, const std::string& name,
                                  const std::vector<double>& values) {
  const auto shape = f.find(shapes + name);
  if (shape == f.end() || shape->second.size() != 4) return values;
  const std::vector<double>& s = shape->second;
  return channels_last(values, integer(s, 0), integer(s, 1), integer(s, 2), integer(s, 3));
}

// The worst record of a test per kind (outputs, gradients, after step, losses), for the log:
// its error over its limit (≤ 1 passes; the decision itself is EXPECT_*) and over its scale.
struct Worst {
  struct Entry {
    double of_limit = -1, relative = 0;
    std::string what;
  };
  std::map<std::string, Entry> by_kind;
  void see(const std::string& kind, double of_limit, double relative, const std::string& what) {
    Entry& entry = by_kind[kind];
    if (of_limit > entry.of_limit) entry = {of_limit, relative, what};
  }
  void print(const std::string& test) const {
    for (const auto& [kind, entry] : by_kind) {
      std::cout << "[ reference ] " << test << " " << kind << ": error/limit " << entry.of_limit
                << ", relative error " << entry.relative << " (" << entry.what << ")\n";
    }
  }
};

// max |ours − torch| ≤ tolerance · scale + floor, where scale defaults to max |torch|.
void expect_close(const std::string& what, const float* ours, const std::vector<double>& torch, Worst& worst,
                  double scale = -1, double floor = kAbsoluteFloor) {
  double largest = 0, error = 0;
  std::size_t worst_index = 0;
  for (std::size_t i = 0; i < torch.size(); ++i) {
    ASSERT_TRUE(std::isfinite(ours[i])) << what << "[" << i << "] = " << ours[i];
    largest = std::max(largest, std::abs(torch[i]));
    const double e = std::abs(static_cast<double>(ours[i]) - torch[i]);
    if (e > error) error = e, worst_index = i;
  }
  if (scale < 0) scale = largest;
  const double limit = kTensorTolerance * scale + floor;
  const std::string kind = what.rfind("grad", 0) == 0    ? "gradients"
                           : what.rfind("after", 0) == 0 ? "after step"
                                                         : "outputs";
  worst.see(kind, error / limit, scale > 0 ? error / scale : error, what);
  EXPECT_LE(error, limit) << what << ": max |ours − torch| " << error << " at [" << worst_index
                          << "] (ours " << ours[worst_index] << ", torch " << torch[worst_index]
                          << "), scale " << scale;
}

void expect_loss(const std::string& what, double ours, double torch, Worst& worst) {
  ASSERT_TRUE(std::isfinite(ours)) << what;
  const double relative = std::abs(ours - torch) / std::abs(torch);
  worst.see("losses", relative / kLossTolerance, relative, what);
  EXPECT_NEAR(ours, torch, kLossTolerance * std::abs(torch)) << what;
}

std::vector<float> download(ops::Backend& backend, const float* data, std::int64_t count) {
  std::vector<float> host(static_cast<std::size_t>(count));
  backend.copy_to_host(host.data(), data, host.size() * sizeof(float));
  return host;
}

double download_one(const ops::Buffer<double>& value) {
  double host = 0;
  value.download(&host, 1);
  return host;
}

template <class T>
ops::Buffer<T> upload(ops::Backend& backend, const std::vector<T>& host) {
  return sgdsweep::testing::to_backend(backend, host);
}

// Overlays `initial` with the fixture's `<prefix>param.<name>` for every tensor (required unless a
// running statistic) and uploads it.
void upload_parameters(nn::Parameters& parameters, const Fixture& f, const std::string& prefix,
                       std::vector<float> initial = {}) {
  if (initial.empty()) initial.assign(static_cast<std::size_t>(parameters.size()), 0.0f);
  for (const nn::ParameterTensor& tensor : parameters.tensors()) {
    const auto found = f.find(prefix + "param." + tensor.name);
    if (found == f.end()) {
      if (tensor.role == nn::ParameterRole::running_statistic) continue;
      throw std::runtime_error("the fixture has no record '" + prefix + "param." + tensor.name + "'");
    }
    const std::vector<double> values = in_our_layout(f, prefix + "shape.", tensor.name, found->second);
    if (static_cast<std::int64_t>(values.size()) != tensor.count) {
      throw std::runtime_error(tensor.name + ": " + std::to_string(values.size()) +
                               " values in the fixture, " + std::to_string(tensor.count) + " in the model");
    }
    std::copy(values.begin(), values.end(), initial.begin() + tensor.offset);
  }
  parameters.upload_values(initial);
}

// Every trained tensor's gradient against `<grad_prefix><name>` (running statistics' slots hold
// batch statistics, not gradients: skipped).
void expect_gradients(const nn::Parameters& parameters, const Fixture& f, const std::string& grad_prefix,
                      const std::string& shapes, Worst& worst, const std::string& suffix = "") {
  const std::vector<float> gradients = parameters.download_gradients();
  for (const nn::ParameterTensor& tensor : parameters.tensors()) {
    if (tensor.role == nn::ParameterRole::running_statistic) continue;
    const std::vector<double> expected =
        in_our_layout(f, shapes, tensor.name, record(f, grad_prefix + tensor.name));
    ASSERT_EQ(static_cast<std::int64_t>(expected.size()), tensor.count) << tensor.name;
    expect_close("grad." + tensor.name + suffix, gradients.data() + tensor.offset, expected, worst);
  }
}

// The whole WRN-16-4 on 4 images: loss, ∂L/∂logits, every gradient; one heavy-ball step with L2 on
// weights only (running statistics folded in); the losses of a second forward.
void check_wide_resnet(const Fixture& f, const std::string& device, bool batch_norm) {
  const std::string name = batch_norm ? "wrn_bn" : "wrn_skip";
  const std::string prefix = name + ".";
  Worst worst;
  const std::vector<double>& shape = record(f, "wrn.shape");
  const std::int64_t images = integer(shape, 3), height = integer(shape, 4), width = integer(shape, 5),
                     channels = integer(shape, 6), classes = integer(shape, 2);
  nn::WideResNetConfig config;
  config.depth = integer(shape, 0);
  config.width = integer(shape, 1);
  config.batch_norm = batch_norm;
  config.dropout = 0.0f;  // Philox masks cannot be reproduced in PyTorch; dropout is tested elsewhere
  config.classes = classes;
  config.image_height = height;
  config.image_width = width;
  config.image_channels = channels;

  const auto backend = ops::make_backend(device);
  nn::WideResNet model(*backend, images, config, 1);
  nn::Parameters& parameters = model.parameters();
  ASSERT_EQ(static_cast<double>(parameters.tensors().size()), record(f, prefix + "tensor_count")[0])
      << "the number of parameter tensors differs from PyTorch's model";
  upload_parameters(parameters, f, "wrn.");
  const std::vector<float> before = parameters.download_values();

  // As the trainer feeds it: NHWC float images, int32 labels, the whole batch one microbatch.
  const auto features =
      upload(*backend, narrow(channels_last(record(f, "wrn.input"), images, channels, height, width)));
  const auto labels = upload(*backend, integers(record(f, "wrn.labels")));
  nn::Batch batch;
  batch.features = features.data();
  batch.labels = labels.data();
  batch.size = images;
  batch.first_row = 0;
  batch.step_rows = images;
  ops::Buffer<double> loss_sum(*backend, 1), correct(*backend, 1);
  const nn::EvaluationSums sums{loss_sum.data(), correct.data()};

  if (!batch_norm) {  // without BN or dropout, evaluation mode computes the training logits
    model.evaluate(batch, sums);
    expect_close("logits", download(*backend, model.logits(), images * classes).data(),
                 record(f, prefix + "logits"), worst);
  }
  model.forward_backward(batch, 1.0f / static_cast<float>(images), loss_sum.data());
  expect_loss("loss", download_one(loss_sum) / images, record(f, prefix + "loss")[0], worst);
  // softmax_cross_entropy writes ∂L/∂logits over the logits: what the buffer holds now.
  expect_close("grad.logits", download(*backend, model.logits(), images * classes).data(),
               record(f, prefix + "grad.logits"), worst);
  expect_gradients(parameters, f, prefix + "grad.", "wrn.shape.", worst);

  const std::vector<double>& hyper = record(f, "wrn.hyperparameters");
  train::Optimizer optimizer(parameters, hyper[1], hyper[2]);
  optimizer.step(hyper[0], 1);
  const std::vector<float> after = parameters.download_values();
  int compared = 0;
  for (const nn::ParameterTensor& tensor : parameters.tensors()) {
    const auto found = f.find(prefix + "after." + tensor.name);
    if (found == f.end()) continue;
    const std::vector<double> expected = in_our_layout(f, "wrn.shape.", tensor.name, found->second);
    ASSERT_EQ(static_cast<std::int64_t>(expected.size()), tensor.count) << tensor.name;
    double change = 0, magnitude = 0;
    for (std::int64_t i = 0; i < tensor.count; ++i) {
      change = std::max(change, std::abs(expected[i] - before[tensor.offset + i]));
      magnitude = std::max(magnitude, std::abs(expected[i]));
    }
    // Relative to the step's change (an L2 term on the wrong role moves it by lr·l2·w); the ulp
    // term: a float update rounds to the value's precision.
    expect_close("after." + tensor.name, after.data() + tensor.offset, expected, worst, change,
                 std::ldexp(magnitude, -22) + kAbsoluteFloor);
    ++compared;
  }
  EXPECT_GT(compared, 0) << "no after-step records in the fixture";

  if (batch_norm) {  // evaluation mode reads the running statistics the step folded in
    model.evaluate(batch, sums);
    expect_loss("evaluation loss after the step", download_one(loss_sum) / images,
                record(f, prefix + "evaluation_loss_after_step")[0], worst);
    expect_close("evaluation logits after the step",
                 download(*backend, model.logits(), images * classes).data(),
                 record(f, prefix + "evaluation_logits_after_step"), worst);
  }
  model.forward_backward(batch, 1.0f / static_cast<float>(images), loss_sum.data());
  expect_loss("loss after the step", download_one(loss_sum) / images,
              record(f, prefix + "loss_after_step")[0], worst);
  worst.print(name);
}

// The batch statistics a training-mode forward left in the running statistics' gradient slots
// against `<prefix>batch.<tensor name>` (mean and unbiased variance); every BN must have them.
void expect_batch_statistics(const nn::Parameters& parameters, const Fixture& f, const std::string& prefix,
                             Worst& worst) {
  const std::vector<float> gradients = parameters.download_gradients();
  int compared = 0;
  for (const nn::ParameterTensor& tensor : parameters.tensors()) {
    if (tensor.role != nn::ParameterRole::running_statistic) continue;
    const std::vector<double>& expected = record(f, prefix + "batch." + tensor.name);
    ASSERT_EQ(static_cast<std::int64_t>(expected.size()), tensor.count) << tensor.name;
    expect_close("batch statistic " + tensor.name, gradients.data() + tensor.offset, expected, worst);
    ++compared;
  }
  EXPECT_GT(compared, 0);
}

// A ResNet-50 bottleneck block alone (resnet.hpp's Bottleneck, the class the model is built of):
// output, batch statistics, ∂L/∂x and every gradient for L = Σ out · upstream.
void check_bottleneck(const Fixture& f, const std::string& device, const std::string& name) {
  const std::string prefix = name + ".";
  Worst worst;
  const std::vector<double>& shape = record(f, prefix + "shape");
  const std::int64_t images = integer(shape, 0), size = integer(shape, 1), in_channels = integer(shape, 3),
                     width = integer(shape, 4), stride = integer(shape, 5);
  const auto backend = ops::make_backend(device);
  nn::Parameters parameters(*backend);
  nn::Bottleneck block(parameters, "block", in_channels, width, stride, images, size, size);
  parameters.allocate();
  std::vector<float> initial(static_cast<std::size_t>(parameters.size()), 0.0f);
  std::uint32_t stream = 0;
  block.initialise(initial, CounterRng(5, RngPurpose::init), stream);
  upload_parameters(parameters, f, prefix, initial);
  EXPECT_EQ(block.has_projection(), stride != 1 || in_channels != 4 * width);

  const std::int64_t out_size = block.out_height(), out_channels = block.out_channels();
  ASSERT_EQ(block.out_width(), out_size);
  const std::int64_t in_count = images * size * size * in_channels;
  const std::int64_t out_count = images * out_size * out_size * out_channels;
  const auto x = upload(*backend, narrow(channels_last(record(f, prefix + "input"), images, in_channels, size, size)));
  auto dout = upload(*backend,
                     narrow(channels_last(record(f, prefix + "upstream"), images, out_channels, out_size, out_size)));
  const std::int64_t scratch = images * block.scratch_per_image();
  ops::Buffer<float> dx(*backend, in_count), c(*backend, scratch), d(*backend, scratch);
  block.forward(parameters, x.data(), images, true, c.data());
  expect_close("output", download(*backend, block.output(), out_count).data(),
               channels_last(record(f, prefix + "output"), images, out_channels, out_size, out_size), worst);
  expect_batch_statistics(parameters, f, prefix, worst);
  block.backward(parameters, x.data(), dout.data(), dx.data(), images, c.data(), d.data());
  expect_close("grad.input", download(*backend, dx.data(), in_count).data(),
               channels_last(record(f, prefix + "grad.input"), images, in_channels, size, size), worst);
  expect_gradients(parameters, f, prefix + "grad.", prefix + "shape.", worst);
  worst.print(name);
}

// models_torch.py's hashed_uniform: u(t, i) in [−1, 1), the same float32 bits.
float hashed_uniform(std::uint32_t tensor, std::uint64_t index) {
  auto x = static_cast<std::uint32_t>(index * 0x9E3779B1ULL + (tensor + 1ULL) * 0x85EBCA77ULL);
  x ^= x >> 16;
  x *= 0x7FEB352DU;
  x ^= x >> 15;
  x *= 0x846CA68BU;
  x ^= x >> 16;
  return static_cast<float>(x >> 8) * 0x1p-23f - 1.0f;
}

// The index in our layout (OHWI) of element `index` of a PyTorch OIHW tensor of `shape`; 2-D and
// 1-D tensors are laid out alike.
std::int64_t our_index(const std::vector<double>* shape, std::int64_t index) {
  if (!shape) return index;
  const std::int64_t in = integer(*shape, 1), kh = integer(*shape, 2), kw = integer(*shape, 3);
  const std::int64_t o = index / (in * kh * kw), i = index / (kh * kw) % in, y = index / kw % kh, x = index % kw;
  return ((o * kh + y) * kw + x) * in + i;
}

}  // namespace

class ReferenceModels : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::unique_ptr<ops::Backend> probe;  // the tests make their own
    SGDSWEEP_BACKEND_OR_SKIP(probe, GetParam());
  }
};

// max_pool2d(3, 2, 1) on values with many ties: the output, and the gradient routed to the first
// largest value of each window (PyTorch's argmax; a later tie would move it).
TEST_P(ReferenceModels, MaxPoolTiesGoToTheFirstLargestValue) {
  REQUIRE_FIXTURE();
  Worst worst;
  const std::vector<double>& shape = record(f, "maxpool.shape");
  ops::Pool2dShape s{integer(shape, 0), integer(shape, 2), integer(shape, 3), integer(shape, 1), 3, 2, 1};
  const auto backend = ops::make_backend(GetParam());
  const auto x = upload(*backend, narrow(channels_last(record(f, "maxpool.input"), s.batch, s.channels, s.height,
                                                       s.width)));
  const auto dy = upload(*backend, narrow(channels_last(record(f, "maxpool.upstream"), s.batch, s.channels,
                                                        s.out_height(), s.out_width())));
  ops::Buffer<float> y(*backend, s.output_count()), dx(*backend, s.input_count());
  ops::Buffer<std::int32_t> argmax(*backend, s.output_count());
  backend->max_pool_forward(s, x.data(), y.data(), argmax.data());
  expect_close("output", download(*backend, y.data(), s.output_count()).data(),
               channels_last(record(f, "maxpool.output"), s.batch, s.channels, s.out_height(), s.out_width()), worst);
  backend->max_pool_backward(s, dy.data(), argmax.data(), dx.data());
  expect_close("grad.input", download(*backend, dx.data(), s.input_count()).data(),
               channels_last(record(f, "maxpool.grad.input"), s.batch, s.channels, s.height, s.width), worst);
  worst.print("maxpool");
}

// The ResNet-50 stem (conv7×7/2 → BN → ReLU → max pool 3×3/2) on odd-sized images: output, batch
// statistics, ∂L/∂x and every gradient for L = Σ out · upstream.
TEST_P(ReferenceModels, ResNetStem) {
  REQUIRE_FIXTURE();
  Worst worst;
  const std::vector<double>& shape = record(f, "resnet_stem.shape");
  const std::int64_t images = integer(shape, 0), in_channels = integer(shape, 1), height = integer(shape, 2),
                     width = integer(shape, 3), out_channels = integer(shape, 4);
  const auto backend = ops::make_backend(GetParam());
  nn::Parameters parameters(*backend);
  nn::ResNetStem stem(parameters, "stem", in_channels, out_channels, images, height, width);
  parameters.allocate();
  std::vector<float> initial(static_cast<std::size_t>(parameters.size()), 0.0f);
  std::uint32_t stream = 0;
  stem.initialise(initial, CounterRng(5, RngPurpose::init), stream);
  upload_parameters(parameters, f, "resnet_stem.", initial);

  const std::int64_t oh = stem.out_height(), ow = stem.out_width();
  EXPECT_EQ(oh, 9);  // 33 → conv 17 → pool 9
  EXPECT_EQ(ow, 8);  // 31 → conv 16 → pool 8
  const std::int64_t in_count = images * height * width * in_channels, out_count = images * oh * ow * out_channels;
  const auto x = upload(*backend, narrow(channels_last(record(f, "resnet_stem.input"), images, in_channels, height,
                                                       width)));
  const auto dout = upload(*backend, narrow(channels_last(record(f, "resnet_stem.upstream"), images, out_channels,
                                                          oh, ow)));
  ops::Buffer<float> dx(*backend, in_count), scratch(*backend, images * stem.scratch_per_image());
  stem.forward(parameters, x.data(), images, true);
  expect_close("output", download(*backend, stem.output(), out_count).data(),
               channels_last(record(f, "resnet_stem.output"), images, out_channels, oh, ow), worst);
  expect_batch_statistics(parameters, f, "resnet_stem.", worst);
  stem.backward(parameters, x.data(), dout.data(), dx.data(), images, scratch.data());
  expect_close("grad.input", download(*backend, dx.data(), in_count).data(),
               channels_last(record(f, "resnet_stem.grad.input"), images, in_channels, height, width), worst);
  expect_gradients(parameters, f, "resnet_stem.grad.", "resnet_stem.shape.", worst);
  worst.print("resnet_stem");
}

// Group 1, block 0 of ResNet-50: 256 → 128 → 512 channels, the stride 2 in the 3×3 convolution,
// a projection shortcut (1×1 with stride 2, then BN).
TEST_P(ReferenceModels, ResNetBottleneckDownsampling) {
  REQUIRE_FIXTURE();
  check_bottleneck(f, GetParam(), "bottleneck_down");
}

// A block of group 1 after the first: 512 → 128 → 512, stride 1, the identity shortcut.
TEST_P(ReferenceModels, ResNetBottleneckIdentity) {
  REQUIRE_FIXTURE();
  check_bottleneck(f, GetParam(), "bottleneck_identity");
}

// The whole ResNet-50 (10 classes) on 8 images of 32×32 in training mode: loss, logits, ∂L/∂logits,
// ∂L/∂x, every BN's batch statistics and every gradient (its norm, and a strided sample within 1e-4
// of its largest value); then the logits in evaluation mode. The weights come from the fixture's
// hashed rule (23.5 million values are not stored).
TEST_P(ReferenceModels, ResNet50Whole32x32) {
  REQUIRE_FIXTURE();
  Worst worst;
  const std::vector<double>& shape = record(f, "resnet50.shape");
  nn::ResNetConfig config;
  for (std::size_t g = 0; g < 4; ++g) config.blocks[g] = integer(shape, g);
  config.width = integer(shape, 4);
  config.classes = integer(shape, 5);
  const std::int64_t images = integer(shape, 6);
  config.image_height = integer(shape, 7);
  config.image_width = integer(shape, 8);
  config.image_channels = integer(shape, 9);
  const std::int64_t classes = config.classes;

  const auto backend = ops::make_backend(GetParam());
  nn::ResNet model(*backend, images, config, 1);
  model.keep_input_gradient();
  nn::Parameters& parameters = model.parameters();
  ASSERT_EQ(static_cast<double>(parameters.tensors().size()), record(f, "resnet50.tensor_count")[0])
      << "the number of parameter tensors differs from PyTorch's model";
  std::vector<float> values(static_cast<std::size_t>(parameters.size()));
  for (const nn::ParameterTensor& tensor : parameters.tensors()) {
    const std::vector<double>& rule = record(f, "resnet50.rule." + tensor.name);
    const auto found = f.find("resnet50.shape." + tensor.name);
    const std::vector<double>* torch_shape = found == f.end() ? nullptr : &found->second;
    const auto stream = static_cast<std::uint32_t>(rule[0]);
    const auto offset = static_cast<float>(rule[1]), scale = static_cast<float>(rule[2]);
    for (std::int64_t i = 0; i < tensor.count; ++i) {
      values[tensor.offset + our_index(torch_shape, i)] = offset + scale * hashed_uniform(stream, i);
    }
  }
  parameters.upload_values(values);

  const std::int64_t input_count = images * config.image_height * config.image_width * config.image_channels;
  const auto features = upload(*backend, narrow(channels_last(record(f, "resnet50.input"), images,
                                                              config.image_channels, config.image_height,
                                                              config.image_width)));
  const auto labels = upload(*backend, integers(record(f, "resnet50.labels")));
  nn::Batch batch;
  batch.features = features.data();
  batch.labels = labels.data();
  batch.size = images;
  batch.step_rows = images;
  ops::Buffer<double> loss_sum(*backend, 1), correct(*backend, 1);

  model.forward_backward(batch, 1.0f / static_cast<float>(images), loss_sum.data());
  expect_loss("loss", download_one(loss_sum) / images, record(f, "resnet50.loss")[0], worst);
  expect_close("grad.logits", download(*backend, model.logits(), images * classes).data(),
               record(f, "resnet50.grad.logits"), worst);
  expect_close("grad.input", download(*backend, model.input_gradient(), input_count).data(),
               channels_last(record(f, "resnet50.grad.input"), images, config.image_channels, config.image_height,
                             config.image_width), worst);
  expect_batch_statistics(parameters, f, "resnet50.", worst);
  const std::vector<float> gradients = parameters.download_gradients();
  for (const nn::ParameterTensor& tensor : parameters.tensors()) {
    if (tensor.role == nn::ParameterRole::running_statistic) continue;
    const auto found = f.find("resnet50.shape." + tensor.name);
    const std::vector<double>* torch_shape = found == f.end() ? nullptr : &found->second;
    const std::vector<double>& sample = record(f, "resnet50.grad_sample." + tensor.name);
    const auto count = static_cast<std::int64_t>(sample.size());
    std::vector<float> ours(sample.size());
    double squares = 0;
    for (std::int64_t i = 0; i < tensor.count; ++i) {
      const double g = gradients[tensor.offset + i];
      squares += g * g;
    }
    for (std::int64_t k = 0; k < count; ++k) {
      ours[k] = gradients[tensor.offset + our_index(torch_shape, k * tensor.count / count)];
    }
    expect_close("grad." + tensor.name, ours.data(), sample, worst, record(f, "resnet50.grad_max." + tensor.name)[0]);
    const float norm = static_cast<float>(std::sqrt(squares));
    expect_close("grad norm " + tensor.name, &norm, record(f, "resnet50.grad_norm." + tensor.name), worst);
  }

  model.evaluate(batch, {loss_sum.data(), correct.data()});
  expect_close("evaluation logits", download(*backend, model.logits(), images * classes).data(),
               record(f, "resnet50.evaluation_logits"), worst);
  expect_loss("evaluation loss", download_one(loss_sum) / images, record(f, "resnet50.evaluation_loss")[0], worst);
  worst.print("resnet50");
}

TEST_P(ReferenceModels, WideResNetGhostBatchNorm) {
  REQUIRE_FIXTURE();
  check_wide_resnet(f, GetParam(), true);
}

TEST_P(ReferenceModels, WideResNetSkipInit) {
  REQUIRE_FIXTURE();
  check_wide_resnet(f, GetParam(), false);
}

// Group 1, block 0 of the ghost-BN WRN (64 → 128 channels, stride 2, 1×1 shortcut), composed from
// the layers as wide_resnet.cpp composes it: output, batch statistics, ∂L/∂x and every gradient
// for L = Σ out · upstream.
TEST_P(ReferenceModels, WideResNetBlock) {
  REQUIRE_FIXTURE();
  Worst worst;
  const std::vector<double>& shape = record(f, "block.shape");
  const std::int64_t images = integer(shape, 0), size = integer(shape, 1), in_channels = integer(shape, 3),
                     out_channels = integer(shape, 4), stride = integer(shape, 5);
  const std::int64_t out_size = (size - 1) / stride + 1;
  const std::int64_t rows_in = images * size * size, rows_out = images * out_size * out_size;
  const std::int64_t in_count = rows_in * in_channels, out_count = rows_out * out_channels;

  const auto backend = ops::make_backend(GetParam());
  nn::Parameters parameters(*backend);
  nn::BatchNorm norm1(parameters, "norm1", in_channels);
  nn::Conv2d conv1(parameters, "conv1", in_channels, out_channels, 3, stride, 1, false);
  nn::BatchNorm norm2(parameters, "norm2", out_channels);
  nn::Conv2d conv2(parameters, "conv2", out_channels, out_channels, 3, 1, 1, false);
  nn::Conv2d shortcut(parameters, "shortcut", in_channels, out_channels, 1, stride, 0, false);
  parameters.allocate();
  std::vector<float> initial(static_cast<std::size_t>(parameters.size()), 0.0f);
  norm1.initialise(initial);
  norm2.initialise(initial);
  upload_parameters(parameters, f, "block.", initial);

  const auto x =
      upload(*backend, narrow(channels_last(record(f, "block.input"), images, in_channels, size, size)));
  const auto dout = upload(
      *backend, narrow(channels_last(record(f, "block.upstream"), images, out_channels, out_size, out_size)));
  ops::Buffer<float> a1(*backend, in_count), y(*backend, out_count), a2(*backend, out_count),
      s(*backend, out_count), out(*backend, out_count), d(*backend, out_count), da1(*backend, in_count),
      ds(*backend, in_count);

  norm1.forward_training(parameters, x.data(), a1.data(), rows_in);
  backend->relu_forward(a1.data(), a1.data(), in_count);
  conv1.forward(parameters, a1.data(), y.data(), images, size, size);
  norm2.forward_training(parameters, y.data(), a2.data(), rows_out);
  backend->relu_forward(a2.data(), a2.data(), out_count);
  conv2.forward(parameters, a2.data(), out.data(), images, out_size, out_size);
  shortcut.forward(parameters, a1.data(), s.data(), images, size, size);
  backend->add_scaled(out.data(), s.data(), nullptr, out.data(), out_count);
  expect_close("output", download(*backend, out.data(), out_count).data(),
               channels_last(record(f, "block.output"), images, out_channels, out_size, out_size), worst);

  conv2.backward(parameters, a2.data(), dout.data(), d.data(), images, out_size, out_size);
  backend->relu_backward(a2.data(), d.data(), d.data(), out_count);
  norm2.backward(parameters, y.data(), d.data(), rows_out);
  conv1.backward(parameters, a1.data(), d.data(), da1.data(), images, size, size);
  shortcut.backward(parameters, a1.data(), dout.data(), ds.data(), images, size, size);
  backend->axpby(1.0f, ds.data(), 1.0f, da1.data(), in_count);
  backend->relu_backward(a1.data(), da1.data(), da1.data(), in_count);
  norm1.backward(parameters, x.data(), da1.data(), rows_in);
  expect_close("grad.input", download(*backend, da1.data(), in_count).data(),
               channels_last(record(f, "block.grad.input"), images, in_channels, size, size), worst);
  expect_gradients(parameters, f, "block.grad.", "block.shape.", worst);

  // Training-mode BN leaves the batch mean and unbiased variance in the running statistics' slots.
  const std::vector<float> gradients = parameters.download_gradients();
  for (const nn::BatchNorm* norm : {&norm1, &norm2}) {
    const std::string which = norm == &norm1 ? "norm1" : "norm2";
    expect_close("batch mean " + which, gradients.data() + norm->running_mean_offset(),
                 record(f, "block.batch_mean." + which), worst);
    expect_close("batch variance " + which, gradients.data() + norm->running_variance_offset(),
                 record(f, "block.batch_variance." + which), worst);
  }
  worst.print("block");
}

// One LSTM layer over T steps from a non-zero (h0, c0) against torch.nn.LSTM: every h_t and c_t,
// and for L = Σ h · upstream the gradients of W_ih, W_hh, the bias and x.
TEST_P(ReferenceModels, LstmLayer) {
  REQUIRE_FIXTURE();
  Worst worst;
  const std::vector<double>& shape = record(f, "lstm_layer.shape");
  const std::int64_t steps = integer(shape, 0), rows = integer(shape, 1), features = integer(shape, 2),
                     hidden = integer(shape, 3);
  const auto backend = ops::make_backend(GetParam());
  nn::Parameters parameters(*backend);
  nn::Lstm lstm(parameters, "lstm", features, hidden);
  parameters.allocate();
  upload_parameters(parameters, f, "lstm_layer.");

  const auto x = upload(*backend, narrow(record(f, "lstm_layer.input")));
  const auto h0 = upload(*backend, narrow(record(f, "lstm_layer.h0")));
  const auto c0 = upload(*backend, narrow(record(f, "lstm_layer.c0")));
  auto dh = upload(*backend, narrow(record(f, "lstm_layer.upstream")));
  const std::int64_t state = steps * rows * hidden;
  ops::Buffer<float> gates(*backend, 4 * state), c(*backend, state), h(*backend, state),
      dx(*backend, steps * rows * features), gate_gradient(*backend, 4 * state),
      dh_next(*backend, rows * hidden), dc(*backend, rows * hidden);
  lstm.forward(parameters, x.data(), h0.data(), c0.data(), gates.data(), c.data(), h.data(), steps, rows);
  expect_close("h", download(*backend, h.data(), state).data(), record(f, "lstm_layer.h"), worst);
  expect_close("c", download(*backend, c.data(), state).data(), record(f, "lstm_layer.c"), worst);
  lstm.backward(parameters, x.data(), h0.data(), c0.data(), gates.data(), c.data(), h.data(), dh.data(),
                dx.data(), gate_gradient.data(), dh_next.data(), dc.data(), steps, rows);
  expect_close("grad.input", download(*backend, dx.data(), steps * rows * features).data(),
               record(f, "lstm_layer.grad.input"), worst);
  expect_gradients(parameters, f, "lstm_layer.grad.", "lstm_layer.shape.", worst);
  worst.print("lstm_layer");
}

// The language model over two consecutive windows, the second from the state the first left:
// losses, ∂L/∂logits and every gradient of each window (training), then the logits of both
// windows in evaluation mode (no dropout: the same forward).
TEST_P(ReferenceModels, LstmLanguageModel) {
  REQUIRE_FIXTURE();
  Worst worst;
  const std::vector<double>& shape = record(f, "lm.shape");
  nn::LstmLanguageModelConfig config;
  config.vocabulary = integer(shape, 0);
  config.hidden = integer(shape, 1);
  config.layers = integer(shape, 2);
  config.window = integer(shape, 3);
  config.dropout = 0.0f;  // Philox masks cannot be reproduced in PyTorch; dropout is tested elsewhere
  const std::int64_t streams = integer(shape, 4), terms = streams * config.window;

  const auto backend = ops::make_backend(GetParam());
  nn::LstmLanguageModel model(*backend, streams, streams, streams, config, 1);
  ASSERT_EQ(static_cast<double>(model.parameters().tensors().size()), record(f, "lm.tensor_count")[0]);
  upload_parameters(model.parameters(), f, "lm.");
  model.reset_training_state(0);
  model.reset_evaluation_state();

  // Time-major [window, streams] token ids, as language_task.cpp stages them.
  std::vector<ops::Buffer<std::int32_t>> tokens, labels;
  std::vector<nn::Batch> windows;
  for (int w = 0; w < 2; ++w) {
    tokens.push_back(upload(*backend, integers(record(f, "lm.tokens" + std::to_string(w)))));
    labels.push_back(upload(*backend, integers(record(f, "lm.labels" + std::to_string(w)))));
    nn::Batch batch;
    batch.tokens = tokens.back().data();
    batch.labels = labels.back().data();
    batch.size = streams;
    batch.first_row = 0;
    batch.step_rows = streams;
    batch.step = w;
    windows.push_back(batch);
  }
  ops::Buffer<double> loss_sum(*backend, 1), metric(*backend, 1);
  for (int w = 0; w < 2; ++w) {
    const std::string window = std::to_string(w);
    model.forward_backward(windows[w], 1.0f / static_cast<float>(terms), loss_sum.data());
    expect_loss("loss, window " + window, download_one(loss_sum) / terms, record(f, "lm.loss" + window)[0],
                worst);
    expect_close("grad.logits, window " + window,
                 download(*backend, model.logits(), terms * config.vocabulary).data(),
                 record(f, "lm.grad" + window + ".logits"), worst);
    expect_gradients(model.parameters(), f, "lm.grad" + window + ".", "lm.shape.", worst,
                     ", window " + window);
  }
  for (int w = 0; w < 2; ++w) {
    const std::string window = std::to_string(w);
    model.evaluate(windows[w], {loss_sum.data(), metric.data()});
    expect_loss("evaluation loss, window " + window, download_one(loss_sum) / terms,
                record(f, "lm.loss" + window)[0], worst);
    expect_close("logits, window " + window,
                 download(*backend, model.logits(), terms * config.vocabulary).data(),
                 record(f, "lm.logits" + window), worst);
  }
  worst.print("lstm_lm");
}

INSTANTIATE_TEST_SUITE_P(Backends, ReferenceModels, ::testing::ValuesIn(sgdsweep::ops::available_devices()),
                         [](const auto& param_info) { return param_info.param; });
