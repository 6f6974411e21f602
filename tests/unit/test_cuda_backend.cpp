// The CUDA backend against the host backend, op by op, on random inputs (issue #4): the ops whose
// contract fixes an order the GPU keeps (elementwise, gathers, scatter, row sums, pooling, the
// optimizer update) must give the host's bits; the reductions in double, cuBLASLt GEMMs and cuDNN
// convolutions must agree to a stated tolerance; and everything must repeat bit for bit on the
// GPU. DeviceOps/cuda is skipped, with the reason, where the build has no CUDA backend or the
// machine no GPU; DeviceOps/host runs the same tests with the host backend as the device under
// test, so CI checks the tests themselves (sizes, padding, what they compare) before a GPU does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "backend_support.hpp"
#include "ops/registry.hpp"
#include "util/error.hpp"
#include "util/rng.hpp"

using namespace sgdsweep;

namespace {

// `floats` rounded up to 64 floats, the alignment the models give each copy of a pack (cuDNN may
// refuse, or choose other kernels for, operands aligned to less than 16 bytes).
std::int64_t aligned(std::int64_t floats) { return (floats + 63) / 64 * 64; }

// The same values in host-backend and CUDA-backend memory.
template <class T>
struct Twin {
  ops::Buffer<T> host, device;
  T* h() { return host.data(); }
  T* d() { return device.data(); }
};

// The device under test: GetParam() (cuda on a GPU; host in CI, which checks the tests).
class DeviceOps : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    host_ = ops::make_backend("host");
    SGDSWEEP_BACKEND_OR_SKIP(device_, GetParam());
  }

  template <class T>
  Twin<T> twin(const std::vector<T>& values) {
    Twin<T> t{ops::Buffer<T>(*host_, values.size()), ops::Buffer<T>(*device_, values.size())};
    t.host.upload(values.data(), values.size());
    t.device.upload(values.data(), values.size());
    return t;
  }
  Twin<float> normal(std::size_t count, std::uint32_t stream, float scale = 1.0f) {
    const CounterRng rng(17, RngPurpose::test);
    std::vector<float> values(count);
    for (std::size_t i = 0; i < count; ++i) values[i] = scale * static_cast<float>(rng.normal(stream, i));
    return twin(values);
  }
  Twin<float> zeros(std::size_t count) { return twin(std::vector<float>(count, 0.0f)); }
  template <class T>
  static std::vector<T> read(const ops::Buffer<T>& buffer) {
    std::vector<T> values(buffer.size());
    buffer.download(values.data(), values.size());
    return values;
  }

  // Every element the same bits on both backends.
  template <class T>
  void expect_same_bits(const Twin<T>& t, const std::string& what) {
    const std::vector<T> a = read(t.host), b = read(t.device);
    ASSERT_EQ(a.size(), b.size());
    std::size_t differing = 0, first = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0 && differing++ == 0) first = i;
    }
    EXPECT_EQ(differing, 0u) << what << ": " << differing << " of " << a.size()
                             << " elements differ from the host; first at " << first << ": host "
                             << +a[first] << ", device " << +b[first];
  }
  // |device − host| ≤ tolerance · max(1, max |host|) everywhere.
  template <class T>
  void expect_close(const Twin<T>& t, double tolerance, const std::string& what) {
    const std::vector<T> a = read(t.host), b = read(t.device);
    double scale = 1.0, worst = 0.0;
    for (const T& v : a) scale = std::max(scale, std::abs(static_cast<double>(v)));
    for (std::size_t i = 0; i < a.size(); ++i) {
      const double error = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
      worst = std::isnan(error) ? INFINITY : std::max(worst, error);
    }
    EXPECT_LE(worst / scale, tolerance) << what << ": largest difference " << worst << " (scale " << scale << ")";
  }

  // A CUDA-memory copy of a buffer (the state an in-place op starts from, for a second run).
  template <class T>
  ops::Buffer<T> clone(const ops::Buffer<T>& buffer) {
    ops::Buffer<T> copy(*device_, buffer.size());
    device_->copy(copy.data(), buffer.data(), buffer.size() * sizeof(T));
    return copy;
  }
  // Elements [offset, offset + count) — one problem — have the same bits in both buffers.
  template <class T>
  static void expect_same_problem(const ops::Buffer<T>& packed, const ops::Buffer<T>& alone, std::int64_t offset,
                                  std::int64_t count, const std::string& what) {
    const std::vector<T> a = read(packed), b = read(alone);
    ASSERT_LE(static_cast<std::size_t>(offset + count), std::min(a.size(), b.size())) << what;
    EXPECT_EQ(std::memcmp(a.data() + offset, b.data() + offset, static_cast<std::size_t>(count) * sizeof(T)), 0)
        << what << ": the problem alone in a pack of 1 differs from the same problem in the pack";
  }

  std::unique_ptr<ops::Backend> host_, device_;
};

// ---- linear algebra and rows -------------------------------------------------------------------

TEST_P(DeviceOps, GemmAllTransposesWithLeadingDimensionsAndBeta) {
  const std::int64_t m = 37, n = 53, k = 129, pad = 3;
  for (const bool ta : {false, true}) {
    for (const bool tb : {false, true}) {
      const std::int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
      auto a = normal(static_cast<std::size_t>((ta ? k : m) * lda), 1);
      auto b = normal(static_cast<std::size_t>((tb ? n : k) * ldb), 2);
      auto c = normal(static_cast<std::size_t>(m * ldc), 3);
      const auto transpose_a = ta ? ops::Transpose::yes : ops::Transpose::no;
      const auto transpose_b = tb ? ops::Transpose::yes : ops::Transpose::no;
      host_->gemm(transpose_a, transpose_b, m, n, k, 0.75f, a.h(), lda, b.h(), ldb, 0.5f, c.h(), ldc);
      device_->gemm(transpose_a, transpose_b, m, n, k, 0.75f, a.d(), lda, b.d(), ldb, 0.5f, c.d(), ldc);
      expect_close(c, 1e-5, concat("gemm ta=", ta, " tb=", tb));
    }
  }
  // k = 0: C = β·C (zeros where β = 0), as BLAS gives.
  auto a = normal(1, 1), b = normal(static_cast<std::size_t>(n), 2);
  for (const float beta : {0.0f, 0.5f}) {
    auto c = normal(static_cast<std::size_t>(m * (n + pad)), 3);
    host_->gemm(ops::Transpose::no, ops::Transpose::no, m, n, 0, 1.0f, a.h(), 1, b.h(), n, beta, c.h(), n + pad);
    device_->gemm(ops::Transpose::no, ops::Transpose::no, m, n, 0, 1.0f, a.d(), 1, b.d(), n, beta, c.d(), n + pad);
    expect_same_bits(c, concat("gemm k=0 beta=", beta));
  }
}

TEST_P(DeviceOps, BlasLikeAndRowOpsGiveTheHostBits) {
  const std::int64_t rows = 300, columns = 77;
  auto x = normal(rows * columns, 4), y = normal(rows * columns, 5), bias = normal(columns, 6);
  host_->axpby(0.3f, x.h(), -1.25f, y.h(), rows * columns);
  device_->axpby(0.3f, x.d(), -1.25f, y.d(), rows * columns);
  expect_same_bits(y, "axpby");
  host_->add_row_vector(y.h(), bias.h(), rows, columns);
  device_->add_row_vector(y.d(), bias.d(), rows, columns);
  expect_same_bits(y, "add_row_vector");
  for (const float beta : {0.0f, 0.5f}) {
    auto out = normal(columns, 7);
    host_->sum_rows(y.h(), rows, columns, beta, out.h());
    device_->sum_rows(y.d(), rows, columns, beta, out.d());
    expect_same_bits(out, concat("sum_rows beta=", beta));
  }
  auto filled = zeros(1000);
  host_->fill(filled.h(), 1000, 2.5f);
  device_->fill(filled.d(), 1000, 2.5f);
  expect_same_bits(filled, "fill");
}

TEST_P(DeviceOps, DotAndSumOfSquaresAgree) {
  for (const std::int64_t count : {1, 1000, 1000003}) {
    auto x = normal(static_cast<std::size_t>(count), 8), y = normal(static_cast<std::size_t>(count), 9);
    auto out = zeros(1);
    host_->dot(x.h(), y.h(), count, out.h());
    device_->dot(x.d(), y.d(), count, out.d());
    expect_close(out, 1e-6, concat("dot of ", count));
    const double a = host_->sum_of_squares(x.h(), count), b = device_->sum_of_squares(x.d(), count);
    EXPECT_NEAR(b, a, 1e-12 * a) << "sum_of_squares of " << count;
  }
}

TEST_P(DeviceOps, SgdUpdateGivesTheHostBits) {
  for (const float momentum : {0.0f, 0.9f}) {
    const std::int64_t count = 10007;
    auto w = normal(count, 10), g = normal(count, 11), v = normal(count, 12);
    auto rate = twin(std::vector<float>{0.05f});
    for (int step = 0; step < 3; ++step) {
      host_->sgd_update(w.h(), g.h(), v.h(), count, rate.h(), momentum, 5e-4f);
      device_->sgd_update(w.d(), g.d(), v.d(), count, rate.d(), momentum, 5e-4f);
    }
    expect_same_bits(w, concat("sgd_update weights, momentum ", momentum));
    expect_same_bits(v, concat("sgd_update velocity, momentum ", momentum));
  }
}

// Clipping factors: 3 tensors × 4 problems, one under the threshold, two over, one NaN.
TEST_P(DeviceOps, ClipScalesGiveTheHostBits) {
  const std::int64_t pack = 4, tensors = 3;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto squares = twin(std::vector<double>{0.5, 30.25, 1e6, 1.0, 0.25, 12.5, 3e5, nan, 0.125, 7.0, 2e6, 2.0});
  auto scales = zeros(static_cast<std::size_t>(pack));
  host_->clip_scales(pack, squares.h(), tensors, 2.5, scales.h());
  device_->clip_scales(pack, squares.d(), tensors, 2.5, scales.d());
  expect_same_bits(scales, "clip_scales");
  const std::vector<float> host_scales = read(scales.host);
  EXPECT_EQ(host_scales[0], 1.0f);  // √0.875 under 2.5
  EXPECT_LT(host_scales[1], 1.0f);
  EXPECT_LT(host_scales[2], 0.01f);
  EXPECT_EQ(host_scales[3], 1.0f);  // NaN clips nothing
}

// ---- elementwise -----------------------------------------------------------------------------------

TEST_P(DeviceOps, ElementwiseOpsGiveTheHostBits) {
  const std::int64_t count = 4099;
  auto x = normal(count, 13, 4.0f), dy = normal(count, 14), scale = normal(1, 15);
  auto y = zeros(count), dx = zeros(count);
  host_->sigmoid_forward(x.h(), y.h(), count);
  device_->sigmoid_forward(x.d(), y.d(), count);
  expect_same_bits(y, "sigmoid_forward");
  host_->sigmoid_backward(y.h(), dy.h(), dx.h(), count);
  device_->sigmoid_backward(y.d(), dy.d(), dx.d(), count);
  expect_same_bits(dx, "sigmoid_backward");
  host_->relu_forward(x.h(), y.h(), count);
  device_->relu_forward(x.d(), y.d(), count);
  expect_same_bits(y, "relu_forward");
  host_->relu_backward(y.h(), dy.h(), dx.h(), count);
  device_->relu_backward(y.d(), dy.d(), dx.d(), count);
  expect_same_bits(dx, "relu_backward");
  host_->multiply(x.h(), dy.h(), y.h(), count);
  device_->multiply(x.d(), dy.d(), y.d(), count);
  expect_same_bits(y, "multiply");
  host_->add_scaled(x.h(), dy.h(), scale.h(), y.h(), count);
  device_->add_scaled(x.d(), dy.d(), scale.d(), y.d(), count);
  expect_same_bits(y, "add_scaled");
  host_->add_scaled(nullptr, dy.h(), scale.h(), y.h(), count);
  device_->add_scaled(nullptr, dy.d(), scale.d(), y.d(), count);
  expect_same_bits(y, "add_scaled without a");
  host_->add_scaled(y.h(), dy.h(), nullptr, y.h(), count);
  device_->add_scaled(y.d(), dy.d(), nullptr, y.d(), count);
  expect_same_bits(y, "add_scaled in place, no scale");
  auto mask = zeros(count);
  host_->dropout_forward(x.h(), y.h(), mask.h(), count, 0.3f, 1234, 7, 999);
  device_->dropout_forward(x.d(), y.d(), mask.d(), count, 0.3f, 1234, 7, 999);
  expect_same_bits(mask, "dropout mask");
  expect_same_bits(y, "dropout output");
}

// ---- data --------------------------------------------------------------------------------------------

TEST_P(DeviceOps, GathersAndTheOrderedScatterGiveTheHostBits) {
  const std::int64_t table_rows = 50, columns = 33, count = 80;
  std::vector<std::uint8_t> bytes(table_rows * columns);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>((i * 37 + 11) % 256);
  std::vector<std::int32_t> rows(count);
  for (std::int64_t i = 0; i < count; ++i) rows[i] = static_cast<std::int32_t>((i * 7) % table_rows);  // repeats
  auto table_u8 = twin(bytes);
  auto row_ids = twin(rows);
  auto out = zeros(count * columns);
  host_->gather_rows_u8(table_u8.h(), columns, row_ids.h(), count, 1.0f / 255.0f, out.h());
  device_->gather_rows_u8(table_u8.d(), columns, row_ids.d(), count, 1.0f / 255.0f, out.d());
  expect_same_bits(out, "gather_rows_u8");
  auto table = normal(table_rows * columns, 16);
  host_->gather_rows(table.h(), columns, row_ids.h(), count, out.h());
  device_->gather_rows(table.d(), columns, row_ids.d(), count, out.d());
  expect_same_bits(out, "gather_rows");
  auto x = normal(count * columns, 17);
  host_->scatter_add_rows(x.h(), columns, row_ids.h(), count, table.h());
  device_->scatter_add_rows(x.d(), columns, row_ids.d(), count, table.d());
  expect_same_bits(table, "scatter_add_rows (repeated rows)");
}

TEST_P(DeviceOps, AugmentedImageGatherGivesTheHostBits) {
  const std::int64_t height = 8, width = 6, channels = 3, images = 5, count = 4, padding = 2;
  std::vector<std::uint8_t> pixels(images * height * width * channels);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>((i * 91 + 3) % 256);
  auto table = twin(pixels);
  auto rows = twin(std::vector<std::int32_t>{4, 0, 2, 4});
  auto augmentation = twin(std::vector<std::int32_t>{0, 0, 0, 4, 4, 1, 2, 1, 1, 3, 0, 0});
  auto mean = twin(std::vector<float>{0.4f, 0.5f, 0.6f});
  auto inv_std = twin(std::vector<float>{4.0f, 3.5f, 5.0f});
  auto out = zeros(count * height * width * channels);
  for (const bool augment : {false, true}) {
    host_->gather_images_u8(table.h(), height, width, channels, rows.h(), augment ? augmentation.h() : nullptr,
                            padding, count, mean.h(), inv_std.h(), out.h());
    device_->gather_images_u8(table.d(), height, width, channels, rows.d(), augment ? augmentation.d() : nullptr,
                            padding, count, mean.d(), inv_std.d(), out.d());
    expect_same_bits(out, concat("gather_images_u8, augment ", augment));
  }
}

// ---- convolution -------------------------------------------------------------------------------------

TEST_P(DeviceOps, ConvolutionsAgreeForEveryShapeTheModelsUse) {
  // 3×3 same and strided (WRN), 1×1 (WRN shortcuts, ResNet bottlenecks), 1×1 strided, 7×7/2 (ResNet stem).
  const std::vector<ops::Conv2dShape> shapes = {
      {4, 12, 12, 16, 32, 3, 1, 1}, {4, 12, 12, 16, 32, 3, 2, 1}, {4, 9, 9, 24, 8, 1, 1, 0},
      {4, 9, 9, 24, 8, 1, 2, 0},    {2, 20, 20, 3, 16, 7, 2, 3},
  };
  for (const ops::Conv2dShape& s : shapes) {
    const auto x_count = static_cast<std::size_t>(s.batch * s.height * s.width * s.in_channels);
    const auto y_count = static_cast<std::size_t>(s.batch * s.out_height() * s.out_width() * s.out_channels);
    auto x = normal(x_count, 18), w = normal(static_cast<std::size_t>(s.weight_count()), 19, 0.2f);
    auto dy = normal(y_count, 20);
    auto y = zeros(y_count), dx = zeros(x_count), dw = zeros(static_cast<std::size_t>(s.weight_count()));
    const std::string name = concat("conv ", s.kernel, "×", s.kernel, "/", s.stride, " pad ", s.padding);
    host_->conv2d_forward(s, x.h(), w.h(), y.h());
    device_->conv2d_forward(s, x.d(), w.d(), y.d());
    expect_close(y, 1e-5, name + " forward");
    host_->conv2d_backward_data(s, dy.h(), w.h(), dx.h());
    device_->conv2d_backward_data(s, dy.d(), w.d(), dx.d());
    expect_close(dx, 1e-5, name + " backward data");
    host_->conv2d_backward_filter(s, x.h(), dy.h(), dw.h());
    device_->conv2d_backward_filter(s, x.d(), dy.d(), dw.d());
    expect_close(dw, 1e-5, name + " backward filter");
  }
}

// ---- normalisation and pooling -------------------------------------------------------------------

TEST_P(DeviceOps, BatchNormAgreesInTrainingInferenceAndBackward) {
  for (const std::int64_t rows : {1, 7, 3000}) {
    const std::int64_t channels = 19;
    auto x = normal(rows * channels, 21, 3.0f), dy = normal(rows * channels, 22);
    auto gamma = normal(channels, 23), beta = normal(channels, 24);
    auto y = zeros(rows * channels), mean = zeros(channels), inv_std = zeros(channels);
    auto variance = zeros(channels), dgamma = zeros(channels), dbeta = zeros(channels);
    const std::string name = concat("batch norm over ", rows, " rows");
    host_->batch_norm_forward_training(x.h(), rows, channels, gamma.h(), beta.h(), 1e-5f, y.h(), mean.h(),
                                       inv_std.h(), variance.h());
    device_->batch_norm_forward_training(x.d(), rows, channels, gamma.d(), beta.d(), 1e-5f, y.d(), mean.d(),
                                       inv_std.d(), variance.d());
    expect_close(mean, 1e-6, name + ": mean");
    expect_close(inv_std, 1e-6, name + ": inv_std");
    expect_close(variance, 1e-6, name + ": unbiased variance");
    expect_close(y, 1e-5, name + ": output");
    // Backward from the host's saved statistics on both, so only the op itself is compared.
    device_->copy_to_device(mean.d(), read(mean.host).data(), channels * sizeof(float));
    device_->copy_to_device(inv_std.d(), read(inv_std.host).data(), channels * sizeof(float));
    host_->batch_norm_backward(x.h(), dy.h(), rows, channels, gamma.h(), mean.h(), inv_std.h(), dy.h(),
                               dgamma.h(), dbeta.h());
    device_->batch_norm_backward(x.d(), dy.d(), rows, channels, gamma.d(), mean.d(), inv_std.d(), dy.d(),
                               dgamma.d(), dbeta.d());
    expect_close(dbeta, 1e-6, name + ": beta gradient");
    expect_close(dgamma, 1e-6, name + ": gamma gradient");
    expect_close(dy, 1e-5, name + ": input gradient (in place)");
    auto running_variance = twin(std::vector<float>(channels, 0.7f));
    host_->batch_norm_forward_inference(x.h(), rows, channels, gamma.h(), beta.h(), mean.h(), running_variance.h(),
                                        1e-5f, y.h());
    device_->batch_norm_forward_inference(x.d(), rows, channels, gamma.d(), beta.d(), mean.d(),
                                        running_variance.d(), 1e-5f, y.d());
    expect_same_bits(y, name + ": inference");
  }
}

TEST_P(DeviceOps, PoolingGivesTheHostBits) {
  const std::int64_t batch = 3, pixels = 49, channels = 10;
  auto x = normal(batch * pixels * channels, 25), dy = normal(batch * channels, 26);
  auto y = zeros(batch * channels), dx = zeros(batch * pixels * channels);
  host_->average_pool_forward(x.h(), batch, pixels, channels, y.h());
  device_->average_pool_forward(x.d(), batch, pixels, channels, y.d());
  expect_same_bits(y, "average_pool_forward");
  host_->average_pool_backward(dy.h(), batch, pixels, channels, dx.h());
  device_->average_pool_backward(dy.d(), batch, pixels, channels, dx.d());
  expect_same_bits(dx, "average_pool_backward");

  for (const ops::Pool2dShape& s : {ops::Pool2dShape{2, 11, 9, 5, 3, 2, 1}, ops::Pool2dShape{2, 8, 8, 4, 2, 2, 0},
                                    ops::Pool2dShape{1, 7, 7, 3, 3, 1, 1}}) {
    // Values from a few levels, so windows hold ties and the first-largest rule matters.
    std::vector<float> values(static_cast<std::size_t>(s.input_count()));
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>((i * 7919) % 5);
    auto input = twin(values);
    auto output = zeros(static_cast<std::size_t>(s.output_count()));
    auto argmax = twin(std::vector<std::int32_t>(static_cast<std::size_t>(s.output_count()), -1));
    auto gradient = normal(static_cast<std::size_t>(s.output_count()), 27);
    auto input_gradient = normal(static_cast<std::size_t>(s.input_count()), 28);  // overwritten
    const std::string name = concat("max pool ", s.kernel, "/", s.stride, " pad ", s.padding);
    host_->max_pool_forward(s, input.h(), output.h(), argmax.h());
    device_->max_pool_forward(s, input.d(), output.d(), argmax.d());
    expect_same_bits(output, name + " forward");
    expect_same_bits(argmax, name + " argmax");
    host_->max_pool_backward(s, gradient.h(), argmax.h(), input_gradient.h());
    device_->max_pool_backward(s, gradient.d(), argmax.d(), input_gradient.d());
    expect_same_bits(input_gradient, name + " backward");
  }
}

// ---- recurrent and losses ------------------------------------------------------------------------------

TEST_P(DeviceOps, LstmCellAgrees) {
  const std::int64_t rows = 6, hidden = 40;
  auto gates = normal(rows * 4 * hidden, 29, 2.0f), c_prev = normal(rows * hidden, 30);
  auto c = zeros(rows * hidden), h = zeros(rows * hidden);
  host_->lstm_cell_forward(gates.h(), c_prev.h(), c.h(), h.h(), rows, hidden);
  device_->lstm_cell_forward(gates.d(), c_prev.d(), c.d(), h.d(), rows, hidden);
  // CUDA's tanhf and glibc's are each within about 2 ulp: 2e-6 of scale.
  expect_close(gates, 2e-6, "lstm forward: activated gates");
  expect_close(c, 2e-6, "lstm forward: cell state");
  expect_close(h, 2e-6, "lstm forward: output");
  auto dh = normal(rows * hidden, 31), dc = normal(rows * hidden, 32), gate_gradient = zeros(rows * 4 * hidden);
  host_->lstm_cell_backward(gates.h(), c_prev.h(), c.h(), dh.h(), dc.h(), gate_gradient.h(), rows, hidden);
  device_->lstm_cell_backward(gates.d(), c_prev.d(), c.d(), dh.d(), dc.d(), gate_gradient.d(), rows, hidden);
  expect_close(gate_gradient, 1e-5, "lstm backward: gate gradient");
  expect_close(dc, 1e-5, "lstm backward: cell gradient");
}

TEST_P(DeviceOps, LossesAgree) {
  const std::int64_t rows = 70, columns = 784;
  auto y = normal(rows * columns, 33), target = normal(rows * columns, 34), gradient = zeros(rows * columns);
  auto loss = twin(std::vector<double>(2, 0.0));
  host_->squared_error(y.h(), target.h(), rows, columns, gradient.h(), 0.01f, loss.h());
  device_->squared_error(y.d(), target.d(), rows, columns, gradient.d(), 0.01f, loss.d());
  expect_same_bits(gradient, "squared_error gradient");
  expect_close(loss, 1e-12, "squared_error loss");
  for (const std::int64_t classes : {10, 1000}) {
    std::vector<std::int32_t> labels(rows);
    for (std::int64_t i = 0; i < rows; ++i) labels[i] = static_cast<std::int32_t>((i * 13) % classes);
    auto label = twin(labels);
    auto logits = normal(rows * classes, 35, 3.0f);
    auto sums = twin(std::vector<double>(2, 0.0));
    const std::string name = concat("softmax cross-entropy over ", classes, " classes");
    host_->softmax_cross_entropy(logits.h(), label.h(), rows, classes, nullptr, 0.0f, sums.h(), sums.h() + 1);
    device_->softmax_cross_entropy(logits.d(), label.d(), rows, classes, nullptr, 0.0f, sums.d(), sums.d() + 1);
    expect_close(sums, 1e-12, name + ": loss and correct count");
    // The gradient written over the logits, as the classifiers call it.
    host_->softmax_cross_entropy(logits.h(), label.h(), rows, classes, logits.h(), 0.5f, sums.h(), sums.h() + 1);
    device_->softmax_cross_entropy(logits.d(), label.d(), rows, classes, logits.d(), 0.5f, sums.d(), sums.d() + 1);
    expect_close(logits, 1e-6, name + ": gradient in place");
  }
}

// ---- determinism -------------------------------------------------------------------------------------------

TEST_P(DeviceOps, ReductionsAndConvolutionGradientsRepeatBitForBit) {
  const ops::Conv2dShape s{8, 16, 16, 32, 32, 3, 1, 1};
  const auto x_count = static_cast<std::size_t>(s.batch * s.height * s.width * s.in_channels);
  auto x = normal(x_count, 36), dy = normal(x_count, 37);
  auto first = zeros(static_cast<std::size_t>(s.weight_count())), second = zeros(static_cast<std::size_t>(s.weight_count()));
  device_->conv2d_backward_filter(s, x.d(), dy.d(), first.d());
  device_->conv2d_backward_filter(s, x.d(), dy.d(), second.d());
  EXPECT_EQ(read(first.device), read(second.device)) << "conv2d_backward_filter differs between two runs";
  const std::int64_t rows = s.batch * s.height * s.width, channels = s.in_channels;
  auto dgamma_a = zeros(channels), dgamma_b = zeros(channels), dbeta = zeros(channels), out = zeros(x_count);
  auto ones = twin(std::vector<float>(channels, 1.0f)), mean = zeros(channels);
  for (ops::Buffer<float>* dgamma : {&dgamma_a.device, &dgamma_b.device}) {
    device_->batch_norm_backward(x.d(), dy.d(), rows, channels, ones.d(), mean.d(), ones.d(), out.d(), dgamma->data(),
                               dbeta.d());
  }
  EXPECT_EQ(read(dgamma_a.device), read(dgamma_b.device)) << "batch_norm_backward differs between two runs";
}

// ---- packs (issue #9) ---------------------------------------------------------------------------------------

// The packed ops over 5 problems at strides larger than a problem (and 0 for a shared operand):
// each problem agrees with the host's unpacked op on it (the same bits where the unpacked op gives
// the host's bits), and the CUDA pack of one on each problem gives exactly the bits of the pack
// of five: a trial's arithmetic does not depend on the pack it trains in.
TEST_P(DeviceOps, PackedOpsMatchTheHostAndDoNotDependOnThePack) {
  const std::int64_t pack = 5, pad = 11;
  const auto bitwise_equal = [](const ops::Buffer<float>& x, const ops::Buffer<float>& y) {
    const std::vector<float> a = read(x), b = read(y);
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  };
  const std::int64_t m = 37, n = 53, k = 129;
  for (const bool ta : {false, true}) {
    for (const bool tb : {false, true}) {
      const std::int64_t lda = ta ? m : k, ldb = tb ? k : n, ldc = n;
      const std::int64_t sa = ta && tb ? 0 : (ta ? k : m) * lda + pad;  // shared A in one case
      const std::int64_t sb = (tb ? n : k) * ldb + pad, sc = m * ldc + pad;
      auto a = normal(static_cast<std::size_t>(std::max<std::int64_t>(sa, (ta ? k : m) * lda) * pack), 40);
      auto b = normal(static_cast<std::size_t>(sb * pack), 41);
      auto c = normal(static_cast<std::size_t>(sc * pack), 42), alone = twin(read(c.device));
      const auto transpose_a = ta ? ops::Transpose::yes : ops::Transpose::no;
      const auto transpose_b = tb ? ops::Transpose::yes : ops::Transpose::no;
      for (std::int64_t p = 0; p < pack; ++p) {
        host_->gemm(transpose_a, transpose_b, m, n, k, 0.75f, a.h() + p * sa, lda, b.h() + p * sb, ldb, 0.5f,
                    c.h() + p * sc, ldc);
        device_->gemm_packed(1, transpose_a, transpose_b, m, n, k, 0.75f, a.d() + p * sa, lda, sa, b.d() + p * sb, ldb,
                           sb, 0.5f, alone.d() + p * sc, ldc, sc);
      }
      device_->gemm_packed(pack, transpose_a, transpose_b, m, n, k, 0.75f, a.d(), lda, sa, b.d(), ldb, sb, 0.5f, c.d(),
                         ldc, sc);
      const std::string what = concat("gemm_packed ta=", ta, " tb=", tb);
      expect_close(c, 1e-5, what);
      EXPECT_TRUE(bitwise_equal(c.device, alone.device)) << what << ": a pack of 1 differs from the pack of " << pack;
    }
  }
  // A weight gradient's shape as the models give it (dW = dYᵀ·X over a long k, 16-byte aligned,
  // strides rounded to 64 floats), β = 0 over NaN (C is not read), and a long k, where a library
  // left to itself would split k for one problem but not for five.
  {
    const std::int64_t side = 64, depth = 65536, sa = aligned(depth * side), sb = sa, sc = aligned(side * side);
    auto a = normal(static_cast<std::size_t>(sa * pack), 49, 0.1f), b = normal(static_cast<std::size_t>(sb * pack), 50);
    auto c = twin(std::vector<float>(static_cast<std::size_t>(sc * pack), std::numeric_limits<float>::quiet_NaN()));
    auto alone = twin(read(c.device));
    for (std::int64_t p = 0; p < pack; ++p) {
      host_->gemm(ops::Transpose::yes, ops::Transpose::no, side, side, depth, 1.0f, a.h() + p * sa, side,
                  b.h() + p * sb, side, 0.0f, c.h() + p * sc, side);
      device_->gemm_packed(1, ops::Transpose::yes, ops::Transpose::no, side, side, depth, 1.0f, a.d() + p * sa, side, sa,
                         b.d() + p * sb, side, sb, 0.0f, alone.d() + p * sc, side, sc);
    }
    device_->gemm_packed(pack, ops::Transpose::yes, ops::Transpose::no, side, side, depth, 1.0f, a.d(), side, sa, b.d(),
                       side, sb, 0.0f, c.d(), side, sc);
    expect_close(c, 1e-4, "gemm_packed, long k, beta 0 over NaN");
    EXPECT_TRUE(bitwise_equal(c.device, alone.device)) << "long k: a pack of 1 differs from the pack of " << pack;
  }

  const std::int64_t rows = 40, columns = 77, sy = rows * columns + pad, sbias = columns + 3, sout = columns + 5;
  auto y = normal(static_cast<std::size_t>(sy * pack), 43), bias = normal(static_cast<std::size_t>(sbias * pack), 44);
  for (std::int64_t p = 0; p < pack; ++p) host_->add_row_vector(y.h() + p * sy, bias.h() + p * sbias, rows, columns);
  device_->add_row_vector_packed(pack, y.d(), sy, bias.d(), sbias, rows, columns);
  expect_same_bits(y, "add_row_vector_packed");
  auto out = normal(static_cast<std::size_t>(sout * pack), 45);
  for (std::int64_t p = 0; p < pack; ++p) host_->sum_rows(y.h() + p * sy, rows, columns, 0.5f, out.h() + p * sout);
  device_->sum_rows_packed(pack, y.d(), sy, rows, columns, 0.5f, out.d(), sout);
  expect_same_bits(out, "sum_rows_packed");

  for (const float momentum : {0.0f, 0.9f}) {
    const std::int64_t count = 1001, stride = count + pad;
    auto w = normal(static_cast<std::size_t>(stride * pack), 46), g = normal(static_cast<std::size_t>(stride * pack), 47);
    auto v = normal(static_cast<std::size_t>(stride * pack), 48);
    auto rates = twin(std::vector<float>{0.05f, 0.1f, 0.0f, 3.0f, 1e-3f});
    for (int step = 0; step < 3; ++step) {
      for (std::int64_t p = 0; p < pack; ++p) {
        host_->sgd_update(w.h() + p * stride, g.h() + p * stride, v.h() + p * stride, count, rates.h() + p, momentum,
                          5e-4f);
      }
      device_->sgd_update_packed(pack, w.d(), g.d(), v.d(), stride, count, rates.d(), momentum, 5e-4f);
    }
    expect_same_bits(w, concat("sgd_update_packed weights, momentum ", momentum));
    expect_same_bits(v, concat("sgd_update_packed velocity, momentum ", momentum));
  }

  for (const bool shared_target : {false, true}) {
    const std::int64_t st = shared_target ? 0 : sy;
    auto target = normal(static_cast<std::size_t>(sy * pack), 49), gradient = zeros(static_cast<std::size_t>(sy * pack));
    auto loss = twin(std::vector<double>(pack, 0.0)), loss_alone = twin(std::vector<double>(pack, 0.0));
    auto gradient_alone = zeros(static_cast<std::size_t>(sy * pack));
    for (std::int64_t p = 0; p < pack; ++p) {
      host_->squared_error(y.h() + p * sy, target.h() + p * st, rows, columns, gradient.h() + p * sy, 0.01f,
                           loss.h() + p);
      device_->squared_error_packed(1, y.d() + p * sy, sy, target.d() + p * st, st, rows, columns,
                                  gradient_alone.d() + p * sy, 0.01f, loss_alone.d() + p);
    }
    device_->squared_error_packed(pack, y.d(), sy, target.d(), st, rows, columns, gradient.d(), 0.01f, loss.d());
    const std::string what = concat("squared_error_packed, shared target ", shared_target);
    expect_same_bits(gradient, what + ": gradient");
    expect_close(loss, 1e-12, what + ": loss");
    EXPECT_EQ(read(loss.device), read(loss_alone.device)) << what << ": a pack of 1 differs from the pack of " << pack;
    EXPECT_TRUE(bitwise_equal(gradient.device, gradient_alone.device)) << what << ": gradient of a pack of 1";
  }
}

// The language model's packed ops over 3 problems at padded strides (and 0 for a shared operand):
// each problem agrees with the host (the same bits where the unpacked op gives them), and problem 1
// alone, in a pack of 1, gives exactly its bits in the pack of 3 — for the reductions too, whose
// unpacked CUDA ops are that pack of one.
TEST_P(DeviceOps, RecurrentPackedOpsMatchTheHostAndDoNotDependOnThePack) {
  const std::int64_t pack = 3, pad = 7, q = 1;  // q: the problem also run alone
  const auto n = [](std::int64_t count) { return static_cast<std::size_t>(count); };

  const std::int64_t count = 1001, stride = count + pad;
  {
    auto x = normal(n(stride * pack), 60), alone = twin(read(x.device));
    host_->fill_packed(pack, x.h(), stride, count, -1.5f);
    device_->fill_packed(pack, x.d(), stride, count, -1.5f);
    device_->fill_packed(1, alone.d() + q * stride, stride, count, -1.5f);
    expect_same_bits(x, "fill_packed");
    expect_same_problem(x.device, alone.device, q * stride, count, "fill_packed");
  }
  for (const std::int64_t source_stride : {count + 3, count, std::int64_t{0}}) {  // 2-D copy, tight, shared
    auto source = normal(n(std::max(source_stride, count) * pack), 61);
    auto destination = normal(n(stride * pack), 62), alone = twin(read(destination.device));
    host_->copy_packed(pack, destination.h(), stride, source.h(), source_stride, count);
    device_->copy_packed(pack, destination.d(), stride, source.d(), source_stride, count);
    device_->copy_packed(1, alone.d() + q * stride, stride, source.d() + q * source_stride, source_stride, count);
    const std::string what = concat("copy_packed, source stride ", source_stride);
    expect_same_bits(destination, what);
    expect_same_problem(destination.device, alone.device, q * stride, count, what);
  }
  for (const std::int64_t x_stride : {count + 3, std::int64_t{0}}) {
    auto x = normal(n(std::max(x_stride, count) * pack), 63);
    auto y = normal(n(stride * pack), 64), alone = twin(read(y.device));
    host_->axpby_packed(pack, 0.3f, x.h(), x_stride, -1.25f, y.h(), stride, count);
    device_->axpby_packed(pack, 0.3f, x.d(), x_stride, -1.25f, y.d(), stride, count);
    device_->axpby_packed(1, 0.3f, x.d() + q * x_stride, x_stride, -1.25f, alone.d() + q * stride, stride, count);
    const std::string what = concat("axpby_packed, x stride ", x_stride);
    expect_same_bits(y, what);
    expect_same_problem(y.device, alone.device, q * stride, count, what);
  }

  for (const std::int64_t length : {1, 1000, 1000003}) {
    const std::int64_t s = length + pad;
    auto x = normal(n(s * pack), 65);
    auto out = twin(std::vector<double>(n(pack), 0.0)), alone = twin(std::vector<double>(n(pack), 0.0));
    host_->sum_of_squares_packed(pack, x.h(), s, length, out.h());
    device_->sum_of_squares_packed(pack, x.d(), s, length, out.d());
    device_->sum_of_squares_packed(1, x.d() + q * s, s, length, alone.d() + q);
    const std::string what = concat("sum_of_squares_packed of ", length);
    expect_close(out, 1e-12, what);
    expect_same_problem(out.device, alone.device, q, 1, what);
    const double unpacked = device_->sum_of_squares(x.d() + q * s, length);
    EXPECT_EQ(std::memcmp(&unpacked, read(out.device).data() + q, sizeof unpacked), 0)
        << what << ": the unpacked op differs from its problem in the pack";
  }

  {
    const std::int64_t length = 4099, s = length + pad;
    const std::uint64_t first_position = 999;
    auto seeds = twin(std::vector<std::uint64_t>{1234, 99, (std::uint64_t{1} << 40) | 5});
    auto streams = twin(std::vector<std::uint32_t>{7, 0, 3});
    auto x = normal(n(s * pack), 66, 4.0f), y = zeros(n(s * pack)), mask = zeros(n(s * pack));
    auto y_alone = zeros(n(s * pack)), mask_alone = zeros(n(s * pack));
    host_->dropout_forward_packed(pack, x.h(), y.h(), mask.h(), s, length, 0.3f, seeds.h(), streams.h(),
                                  first_position);
    device_->dropout_forward_packed(pack, x.d(), y.d(), mask.d(), s, length, 0.3f, seeds.d(), streams.d(),
                                  first_position);
    device_->dropout_forward_packed(1, x.d() + q * s, y_alone.d() + q * s, mask_alone.d() + q * s, s, length, 0.3f,
                                  seeds.d() + q, streams.d() + q, first_position);
    expect_same_bits(mask, "dropout_forward_packed mask");
    expect_same_bits(y, "dropout_forward_packed output");
    expect_same_problem(mask.device, mask_alone.device, q * s, length, "dropout_forward_packed mask");
    expect_same_problem(y.device, y_alone.device, q * s, length, "dropout_forward_packed output");
    device_->dropout_forward(x.d() + q * s, y_alone.d() + q * s, mask_alone.d() + q * s, length, 0.3f, 99, 0,
                           first_position);
    expect_same_problem(mask.device, mask_alone.device, q * s, length, "dropout_forward (unpacked) mask");
  }

  {
    const std::int64_t table_rows = 50, columns = 33, length = 80;
    const std::int64_t stride_rows = length + 2, stride_x = length * columns + pad;
    std::vector<std::int32_t> ids(n(stride_rows * pack), 0);
    for (std::int64_t p = 0; p < pack; ++p) {
      for (std::int64_t i = 0; i < length; ++i) {
        ids[n(p * stride_rows + i)] = static_cast<std::int32_t>((i * 7 + p * 3) % table_rows);  // repeats
      }
    }
    auto rows = twin(ids);
    for (const bool shared_table : {false, true}) {
      const std::int64_t stride_table = shared_table ? 0 : table_rows * columns + pad;
      auto table = normal(n(std::max(stride_table, table_rows * columns) * pack), 67);
      auto out = zeros(n(stride_x * pack)), alone = zeros(n(stride_x * pack));
      host_->gather_rows_packed(pack, table.h(), stride_table, columns, rows.h(), stride_rows, length, out.h(),
                                stride_x);
      device_->gather_rows_packed(pack, table.d(), stride_table, columns, rows.d(), stride_rows, length, out.d(),
                                stride_x);
      device_->gather_rows_packed(1, table.d() + q * stride_table, stride_table, columns, rows.d() + q * stride_rows,
                                stride_rows, length, alone.d() + q * stride_x, stride_x);
      const std::string what = concat("gather_rows_packed, shared table ", shared_table);
      expect_same_bits(out, what);
      expect_same_problem(out.device, alone.device, q * stride_x, length * columns, what);
    }
    const std::int64_t stride_table = table_rows * columns + pad;
    auto table = normal(n(stride_table * pack), 68), x = normal(n(stride_x * pack), 69);
    auto alone = clone(table.device);
    host_->scatter_add_rows_packed(pack, x.h(), stride_x, columns, rows.h(), stride_rows, length, table.h(),
                                   stride_table);
    device_->scatter_add_rows_packed(pack, x.d(), stride_x, columns, rows.d(), stride_rows, length, table.d(),
                                   stride_table);
    device_->scatter_add_rows_packed(1, x.d() + q * stride_x, stride_x, columns, rows.d() + q * stride_rows,
                                   stride_rows, length, alone.data() + q * stride_table, stride_table);
    expect_same_bits(table, "scatter_add_rows_packed (repeated rows)");
    expect_same_problem(table.device, alone, q * stride_table, table_rows * columns, "scatter_add_rows_packed");
  }

  {
    const std::int64_t rows = 6, hidden = 40, gate_count = rows * 4 * hidden, state_count = rows * hidden;
    const std::int64_t stride_gates = gate_count + pad, stride_c_prev = state_count + 3;
    const std::int64_t stride_state = state_count + pad, stride_dc = state_count + 5;
    auto gates = normal(n(stride_gates * pack), 70, 2.0f), c_prev = normal(n(stride_c_prev * pack), 71);
    auto c = zeros(n(stride_state * pack)), h = zeros(n(stride_state * pack));
    auto gates_alone = clone(gates.device), c_alone = clone(c.device), h_alone = clone(h.device);
    host_->lstm_cell_forward_packed(pack, gates.h(), stride_gates, c_prev.h(), stride_c_prev, c.h(), h.h(),
                                    stride_state, rows, hidden);
    device_->lstm_cell_forward_packed(pack, gates.d(), stride_gates, c_prev.d(), stride_c_prev, c.d(), h.d(),
                                    stride_state, rows, hidden);
    device_->lstm_cell_forward_packed(1, gates_alone.data() + q * stride_gates, stride_gates,
                                    c_prev.d() + q * stride_c_prev, stride_c_prev, c_alone.data() + q * stride_state,
                                    h_alone.data() + q * stride_state, stride_state, rows, hidden);
    expect_close(gates, 1e-6, "lstm_cell_forward_packed: activated gates");
    expect_close(c, 1e-6, "lstm_cell_forward_packed: cell state");
    expect_close(h, 1e-6, "lstm_cell_forward_packed: output");
    expect_same_problem(gates.device, gates_alone, q * stride_gates, gate_count, "lstm_cell_forward_packed gates");
    expect_same_problem(c.device, c_alone, q * stride_state, state_count, "lstm_cell_forward_packed cell state");
    expect_same_problem(h.device, h_alone, q * stride_state, state_count, "lstm_cell_forward_packed output");

    auto dh = normal(n(stride_state * pack), 72), dc = normal(n(stride_dc * pack), 73);
    auto gate_gradient = zeros(n(stride_gates * pack));
    auto dc_alone = clone(dc.device), gate_gradient_alone = clone(gate_gradient.device);
    host_->lstm_cell_backward_packed(pack, gates.h(), gate_gradient.h(), stride_gates, c_prev.h(), stride_c_prev,
                                     c.h(), dh.h(), stride_state, dc.h(), stride_dc, rows, hidden);
    device_->lstm_cell_backward_packed(pack, gates.d(), gate_gradient.d(), stride_gates, c_prev.d(), stride_c_prev,
                                     c.d(), dh.d(), stride_state, dc.d(), stride_dc, rows, hidden);
    device_->lstm_cell_backward_packed(1, gates.d() + q * stride_gates, gate_gradient_alone.data() + q * stride_gates,
                                     stride_gates, c_prev.d() + q * stride_c_prev, stride_c_prev,
                                     c.d() + q * stride_state, dh.d() + q * stride_state, stride_state,
                                     dc_alone.data() + q * stride_dc, stride_dc, rows, hidden);
    expect_close(gate_gradient, 1e-5, "lstm_cell_backward_packed: gate gradient");
    expect_close(dc, 1e-5, "lstm_cell_backward_packed: cell gradient");
    expect_same_problem(gate_gradient.device, gate_gradient_alone, q * stride_gates, gate_count,
                        "lstm_cell_backward_packed gate gradient");
    expect_same_problem(dc.device, dc_alone, q * stride_dc, state_count, "lstm_cell_backward_packed cell gradient");
  }

  const std::int64_t rows = 70, stride_labels = rows + 2;
  for (const std::int64_t classes : {10, 1000}) {
    const std::int64_t stride_logits = rows * classes + pad;
    std::vector<std::int32_t> labels(n(stride_labels * pack), 0);
    for (std::int64_t p = 0; p < pack; ++p) {
      for (std::int64_t i = 0; i < rows; ++i) {
        labels[n(p * stride_labels + i)] = static_cast<std::int32_t>((i * 13 + p * 5) % classes);
      }
    }
    auto label = twin(labels);
    auto logits = normal(n(stride_logits * pack), 74, 3.0f);
    auto loss = twin(std::vector<double>(n(pack), 0.0)), correct = twin(std::vector<double>(n(pack), 0.0));
    ops::Buffer<double> loss_alone(*device_, n(pack)), correct_alone(*device_, n(pack));
    const std::string name = concat("softmax_cross_entropy_packed over ", classes, " classes");
    for (const bool with_gradient : {false, true}) {
      // With the gradient: written over the logits, as the language model calls it.
      const std::string what = name + (with_gradient ? ", gradient in place" : ", no gradient");
      auto logits_alone = clone(logits.device);
      host_->softmax_cross_entropy_packed(pack, logits.h(), stride_logits, label.h(), stride_labels, rows, classes,
                                          with_gradient ? logits.h() : nullptr, 0.5f, loss.h(), correct.h());
      device_->softmax_cross_entropy_packed(pack, logits.d(), stride_logits, label.d(), stride_labels, rows, classes,
                                          with_gradient ? logits.d() : nullptr, 0.5f, loss.d(), correct.d());
      float* logits_q = logits_alone.data() + q * stride_logits;
      device_->softmax_cross_entropy_packed(1, logits_q, stride_logits, label.d() + q * stride_labels, stride_labels,
                                          rows, classes, with_gradient ? logits_q : nullptr, 0.5f,
                                          loss_alone.data() + q, correct_alone.data() + q);
      expect_close(loss, 1e-12, what + ": loss");
      expect_close(correct, 1e-12, what + ": correct count");
      expect_close(logits, 1e-6, what + ": gradient");
      expect_same_problem(loss.device, loss_alone, q, 1, what + ": loss");
      expect_same_problem(correct.device, correct_alone, q, 1, what + ": correct count");
      expect_same_problem(logits.device, logits_alone, q * stride_logits, rows * classes, what + ": gradient");
    }
  }
}

// The Wide-ResNet's packed ops over 3 problems at padded strides: each problem agrees with the host's op (to the
// unpacked ops' tolerances above, or bit for bit where the unpacked op gives the host's bits), and problem 1
// alone — in a pack of 1 and through the unpacked op — gives exactly its bits in the pack of 3. For the
// convolutions that is its cuDNN call on a side stream of the pack against the same call on the backend's stream.
TEST_P(DeviceOps, WideResNetPackedOpsMatchTheHostAndDoNotDependOnThePack) {
  const std::int64_t pack = 3, pad = 7, q = 1;  // q: the problem also run alone
  const auto n = [](std::int64_t count) { return static_cast<std::size_t>(count); };

  // 3×3 same (every block), 3×3 strided (a group's first block) and 1×1 strided (its shortcut).
  for (const ops::Conv2dShape& s : {ops::Conv2dShape{4, 12, 12, 16, 32, 3, 1, 1},
                                    ops::Conv2dShape{4, 12, 12, 16, 32, 3, 2, 1},
                                    ops::Conv2dShape{4, 12, 12, 16, 32, 1, 2, 0}}) {
    const std::int64_t x_count = s.batch * s.height * s.width * s.in_channels;
    const std::int64_t y_count = s.batch * s.out_height() * s.out_width() * s.out_channels;
    const std::int64_t w_count = s.weight_count();
    // Padded, and aligned as Parameters::stride() and the activations align a copy (64 floats).
    const std::int64_t sx = aligned(x_count + pad), sy = aligned(y_count + 5), sw = aligned(w_count + 3);
    auto x = normal(n(sx * pack), 80), w = normal(n(sw * pack), 81, 0.2f), dy = normal(n(sy * pack), 82);
    const std::string name = concat("conv ", s.kernel, "×", s.kernel, "/", s.stride, " pad ", s.padding);

    auto y = zeros(n(sy * pack));
    ops::Buffer<float> y_alone(*device_, n(sy * pack)), y_unpacked(*device_, n(sy * pack));
    host_->conv2d_forward_packed(pack, s, x.h(), sx, w.h(), sw, y.h(), sy);
    device_->conv2d_forward_packed(pack, s, x.d(), sx, w.d(), sw, y.d(), sy);
    device_->conv2d_forward_packed(1, s, x.d() + q * sx, sx, w.d() + q * sw, sw, y_alone.data() + q * sy, sy);
    device_->conv2d_forward(s, x.d() + q * sx, w.d() + q * sw, y_unpacked.data() + q * sy);
    expect_close(y, 1e-5, name + " forward_packed");
    expect_same_problem(y.device, y_alone, q * sy, y_count, name + " forward_packed");
    expect_same_problem(y.device, y_unpacked, q * sy, y_count, name + " forward (unpacked)");

    auto dx = zeros(n(sx * pack));
    ops::Buffer<float> dx_alone(*device_, n(sx * pack)), dx_unpacked(*device_, n(sx * pack));
    host_->conv2d_backward_data_packed(pack, s, dy.h(), sy, w.h(), sw, dx.h(), sx);
    device_->conv2d_backward_data_packed(pack, s, dy.d(), sy, w.d(), sw, dx.d(), sx);
    device_->conv2d_backward_data_packed(1, s, dy.d() + q * sy, sy, w.d() + q * sw, sw, dx_alone.data() + q * sx, sx);
    device_->conv2d_backward_data(s, dy.d() + q * sy, w.d() + q * sw, dx_unpacked.data() + q * sx);
    expect_close(dx, 1e-5, name + " backward_data_packed");
    expect_same_problem(dx.device, dx_alone, q * sx, x_count, name + " backward_data_packed");
    expect_same_problem(dx.device, dx_unpacked, q * sx, x_count, name + " backward data (unpacked)");

    auto dw = zeros(n(sw * pack));
    ops::Buffer<float> dw_alone(*device_, n(sw * pack)), dw_unpacked(*device_, n(sw * pack));
    host_->conv2d_backward_filter_packed(pack, s, x.h(), sx, dy.h(), sy, dw.h(), sw);
    device_->conv2d_backward_filter_packed(pack, s, x.d(), sx, dy.d(), sy, dw.d(), sw);
    device_->conv2d_backward_filter_packed(1, s, x.d() + q * sx, sx, dy.d() + q * sy, sy, dw_alone.data() + q * sw, sw);
    device_->conv2d_backward_filter(s, x.d() + q * sx, dy.d() + q * sy, dw_unpacked.data() + q * sw);
    expect_close(dw, 1e-5, name + " backward_filter_packed");
    expect_same_problem(dw.device, dw_alone, q * sw, w_count, name + " backward_filter_packed");
    expect_same_problem(dw.device, dw_unpacked, q * sw, w_count, name + " backward filter (unpacked)");
  }

  for (const std::int64_t rows : {1, 7, 3000}) {
    const std::int64_t channels = 19, count = rows * channels, sx = count + pad, sp = channels + 4;
    const std::string name = concat("batch norm packed over ", rows, " rows");
    auto x = normal(n(sx * pack), 83, 3.0f), gamma = normal(n(sp * pack), 84), beta = normal(n(sp * pack), 85);
    auto y = zeros(n(sx * pack)), mean = zeros(n(sp * pack)), inv_std = zeros(n(channels * pack));
    auto variance = zeros(n(sp * pack));
    struct Statistics {
      ops::Buffer<float> y, mean, inv_std, variance;
    };
    const auto statistics = [&] {
      return Statistics{ops::Buffer<float>(*device_, n(sx * pack)), ops::Buffer<float>(*device_, n(sp * pack)),
                        ops::Buffer<float>(*device_, n(channels * pack)), ops::Buffer<float>(*device_, n(sp * pack))};
    };
    Statistics alone = statistics(), unpacked = statistics();
    host_->batch_norm_forward_training_packed(pack, x.h(), sx, rows, channels, gamma.h(), beta.h(), sp, 1e-5f, y.h(),
                                              mean.h(), inv_std.h(), variance.h());
    device_->batch_norm_forward_training_packed(pack, x.d(), sx, rows, channels, gamma.d(), beta.d(), sp, 1e-5f, y.d(),
                                              mean.d(), inv_std.d(), variance.d());
    device_->batch_norm_forward_training_packed(1, x.d() + q * sx, sx, rows, channels, gamma.d() + q * sp,
                                              beta.d() + q * sp, sp, 1e-5f, alone.y.data() + q * sx,
                                              alone.mean.data() + q * sp, alone.inv_std.data() + q * channels,
                                              alone.variance.data() + q * sp);
    device_->batch_norm_forward_training(x.d() + q * sx, rows, channels, gamma.d() + q * sp, beta.d() + q * sp, 1e-5f,
                                       unpacked.y.data() + q * sx, unpacked.mean.data() + q * sp,
                                       unpacked.inv_std.data() + q * channels, unpacked.variance.data() + q * sp);
    expect_close(mean, 1e-6, name + ": mean");
    expect_close(inv_std, 1e-6, name + ": inv_std");
    expect_close(variance, 1e-6, name + ": unbiased variance");
    expect_close(y, 1e-5, name + ": output");
    for (const Statistics* other : {&alone, &unpacked}) {
      const std::string what = name + (other == &alone ? " (a pack of 1)" : " (the unpacked op)");
      expect_same_problem(y.device, other->y, q * sx, count, what + ": output");
      expect_same_problem(mean.device, other->mean, q * sp, channels, what + ": mean");
      expect_same_problem(inv_std.device, other->inv_std, q * channels, channels, what + ": inv_std");
      expect_same_problem(variance.device, other->variance, q * sp, channels, what + ": unbiased variance");
    }

    // Backward from the host's saved statistics on both, so only the op itself is compared; dx separate, then
    // written over dy as BatchNorm::backward calls it.
    device_->copy_to_device(mean.d(), read(mean.host).data(), n(sp * pack) * sizeof(float));
    device_->copy_to_device(inv_std.d(), read(inv_std.host).data(), n(channels * pack) * sizeof(float));
    for (const bool in_place : {false, true}) {
      const std::string what = name + (in_place ? ", backward in place" : ", backward");
      auto dy = normal(n(sx * pack), 86), dx_apart = zeros(n(sx * pack));
      auto dgamma = zeros(n(sp * pack)), dbeta = zeros(n(sp * pack));
      Twin<float>& dx = in_place ? dy : dx_apart;
      ops::Buffer<float> dy_alone = clone(dy.device), dy_unpacked = clone(dy.device);
      ops::Buffer<float> dx_alone(*device_, n(sx * pack)), dx_unpacked(*device_, n(sx * pack));
      ops::Buffer<float> dgamma_alone(*device_, n(sp * pack)), dbeta_alone(*device_, n(sp * pack));
      ops::Buffer<float> dgamma_unpacked(*device_, n(sp * pack)), dbeta_unpacked(*device_, n(sp * pack));
      ops::Buffer<float>& dx_alone_out = in_place ? dy_alone : dx_alone;
      ops::Buffer<float>& dx_unpacked_out = in_place ? dy_unpacked : dx_unpacked;
      host_->batch_norm_backward_packed(pack, x.h(), dy.h(), sx, rows, channels, gamma.h(), mean.h(), sp, inv_std.h(),
                                        dx.h(), dgamma.h(), dbeta.h());
      device_->batch_norm_backward_packed(pack, x.d(), dy.d(), sx, rows, channels, gamma.d(), mean.d(), sp, inv_std.d(),
                                        dx.d(), dgamma.d(), dbeta.d());
      device_->batch_norm_backward_packed(1, x.d() + q * sx, dy_alone.data() + q * sx, sx, rows, channels,
                                        gamma.d() + q * sp, mean.d() + q * sp, sp, inv_std.d() + q * channels,
                                        dx_alone_out.data() + q * sx, dgamma_alone.data() + q * sp,
                                        dbeta_alone.data() + q * sp);
      device_->batch_norm_backward(x.d() + q * sx, dy_unpacked.data() + q * sx, rows, channels, gamma.d() + q * sp,
                                 mean.d() + q * sp, inv_std.d() + q * channels, dx_unpacked_out.data() + q * sx,
                                 dgamma_unpacked.data() + q * sp, dbeta_unpacked.data() + q * sp);
      expect_close(dbeta, 1e-6, what + ": beta gradient");
      expect_close(dgamma, 1e-6, what + ": gamma gradient");
      expect_close(dx, 1e-5, what + ": input gradient");
      expect_same_problem(dbeta.device, dbeta_alone, q * sp, channels, what + " (a pack of 1): beta gradient");
      expect_same_problem(dgamma.device, dgamma_alone, q * sp, channels, what + " (a pack of 1): gamma gradient");
      expect_same_problem(dx.device, dx_alone_out, q * sx, count, what + " (a pack of 1): input gradient");
      expect_same_problem(dbeta.device, dbeta_unpacked, q * sp, channels, what + " (the unpacked op): beta gradient");
      expect_same_problem(dgamma.device, dgamma_unpacked, q * sp, channels, what + " (the unpacked op): gamma gradient");
      expect_same_problem(dx.device, dx_unpacked_out, q * sx, count, what + " (the unpacked op): input gradient");
    }
  }

  {
    const std::int64_t count = 1001, stride = count + pad, stride_scalar = 2;
    auto scale = normal(n(stride_scalar * pack), 87);
    // y = a + s_p·b into a buffer of its own; y = s_p·b over b (a null, as the WRN's SkipInit backward and the
    // clipping call it); y = a + b over a (no scale: the same for every problem, stride 0 — the host's default
    // loop offsets the scale pointer).
    for (const int variant : {0, 1, 2}) {
      auto a = normal(n(stride * pack), 88), b = normal(n(stride * pack), 89), apart = zeros(n(stride * pack));
      Twin<float>& y = variant == 1 ? b : variant == 2 ? a : apart;
      const bool with_a = variant != 1, with_scale = variant != 2;
      const std::int64_t ss = with_scale ? stride_scalar : 0;
      const std::string what = concat("add_scaled_packed", with_a ? "" : " without a", with_scale ? "" : " without a scale",
                                      variant == 0 ? "" : " in place");
      ops::Buffer<float> alone = clone(y.device), unpacked = clone(y.device);
      const auto operand = [&](Twin<float>& t, ops::Buffer<float>& own) { return &t == &y ? own.data() : t.d(); };
      host_->add_scaled_packed(pack, with_a ? a.h() : nullptr, b.h(), stride, with_scale ? scale.h() : nullptr, ss,
                               y.h(), count);
      device_->add_scaled_packed(pack, with_a ? a.d() : nullptr, b.d(), stride, with_scale ? scale.d() : nullptr, ss,
                               y.d(), count);
      device_->add_scaled_packed(1, with_a ? operand(a, alone) + q * stride : nullptr, operand(b, alone) + q * stride,
                               stride, with_scale ? scale.d() + q * ss : nullptr, ss, alone.data() + q * stride, count);
      device_->add_scaled(with_a ? operand(a, unpacked) + q * stride : nullptr, operand(b, unpacked) + q * stride,
                        with_scale ? scale.d() + q * ss : nullptr, unpacked.data() + q * stride, count);
      expect_same_bits(y, what);
      expect_same_problem(y.device, alone, q * stride, count, what + " (a pack of 1)");
      expect_same_problem(y.device, unpacked, q * stride, count, what + " (the unpacked op)");
    }
  }

  for (const std::int64_t length : {1, 1000, 1000003}) {
    const std::int64_t s = length + pad, stride_scalar = 3;
    auto x = normal(n(s * pack), 90), y = normal(n(s * pack), 91), out = zeros(n(stride_scalar * pack));
    ops::Buffer<float> alone(*device_, n(stride_scalar * pack)), unpacked(*device_, n(stride_scalar * pack));
    host_->dot_packed(pack, x.h(), y.h(), s, length, out.h(), stride_scalar);
    device_->dot_packed(pack, x.d(), y.d(), s, length, out.d(), stride_scalar);
    device_->dot_packed(1, x.d() + q * s, y.d() + q * s, s, length, alone.data() + q * stride_scalar, stride_scalar);
    device_->dot(x.d() + q * s, y.d() + q * s, length, unpacked.data() + q * stride_scalar);
    const std::string what = concat("dot_packed of ", length);
    expect_close(out, 1e-6, what);
    expect_same_problem(out.device, alone, q * stride_scalar, 1, what + " (a pack of 1)");
    expect_same_problem(out.device, unpacked, q * stride_scalar, 1, what + " (the unpacked op)");
  }
}

// The packed convolutions inside a recorded step — a CUDA graph into which the side streams fork from the
// backend's stream and join back — give the bits they give op by op, and so do the ops around them that make
// their input (before the fork) and read their output (after the join). Five problems: more than side streams.
TEST_P(DeviceOps, RecordedPackedConvolutionsGiveTheirBitsOpByOp) {
  const std::int64_t pack = 5, pad = 7;
  const auto n = [](std::int64_t count) { return static_cast<std::size_t>(count); };
  const ops::Conv2dShape s{4, 12, 12, 16, 32, 3, 1, 1};
  const std::int64_t x_count = s.batch * s.height * s.width * s.in_channels;
  const std::int64_t y_count = s.batch * s.out_height() * s.out_width() * s.out_channels;
  const std::int64_t sx = aligned(x_count + pad), sy = aligned(y_count + pad), sw = aligned(s.weight_count() + pad);
  auto x = normal(n(sx * pack), 92), w = normal(n(sw * pack), 93, 0.2f), dy = normal(n(sy * pack), 94);
  struct Outputs {
    ops::Buffer<float> input, y, dx, dw;
  };
  const auto outputs = [&] {
    return Outputs{ops::Buffer<float>(*device_, n(sx * pack)), ops::Buffer<float>(*device_, n(sy * pack)),
                   ops::Buffer<float>(*device_, n(sx * pack)), ops::Buffer<float>(*device_, n(sw * pack))};
  };
  const auto step = [&](Outputs& o) {
    device_->relu_forward(x.d(), o.input.data(), sx * pack);
    device_->conv2d_forward_packed(pack, s, o.input.data(), sx, w.d(), sw, o.y.data(), sy);
    device_->relu_forward(o.y.data(), o.y.data(), sy * pack);
    device_->conv2d_backward_data_packed(pack, s, dy.d(), sy, w.d(), sw, o.dx.data(), sx);
    device_->conv2d_backward_filter_packed(pack, s, o.input.data(), sx, o.y.data(), sy, o.dw.data(), sw);
  };
  Outputs eager = outputs(), recorded = outputs();
  for (Outputs* o : {&eager, &recorded}) {  // the same padding between problems (NaN) on both sides
    for (ops::Buffer<float>* b : {&o->input, &o->y, &o->dx, &o->dw}) {
      device_->fill(b->data(), static_cast<std::int64_t>(b->size()), std::nanf(""));
    }
  }
  step(eager);  // also sizes the side streams' workspaces, as a step's first, unrecorded run does
  const auto recording = device_->record([&] { step(recorded); });
  for (ops::Buffer<float>* b : {&recorded.input, &recorded.y, &recorded.dx, &recorded.dw}) {
    device_->fill(b->data(), static_cast<std::int64_t>(b->size()), std::nanf(""));
  }
  recording->replay();
  const std::pair<const char*, ops::Buffer<float> Outputs::*> fields[] = {
      {"relu before the fork", &Outputs::input}, {"forward, relu after the join", &Outputs::y},
      {"backward data", &Outputs::dx}, {"backward filter", &Outputs::dw}};
  for (const auto& [what, field] : fields) {
    const std::vector<float> a = read(eager.*field), b = read(recorded.*field);
    EXPECT_TRUE(a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0)
        << what << ": the replayed recording differs from the ops run one by one";
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, DeviceOps, ::testing::ValuesIn(ops::available_devices()),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
