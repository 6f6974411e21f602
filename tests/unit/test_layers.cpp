// Finite-difference gradient checks of every layer and the loss, on every backend this build has
// (one contract test per backend), plus the host ops against plain loops.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "nn/layers/dense.hpp"
#include "nn/models/autoencoder.hpp"
#include "ops/registry.hpp"
#include "backend_support.hpp"
#include "util/error.hpp"
#include "util/rng.hpp"

namespace {

using sgdsweep::CounterRng;
using sgdsweep::RngPurpose;
using namespace sgdsweep;
using sgdsweep::testing::random_values;
using sgdsweep::testing::to_backend;
using sgdsweep::testing::to_host;

// |analytic − numeric| ≤ 1e-2·max(|analytic|, |numeric|) + absolute: central differences in single
// precision with step 1e-2 are good to about three digits.
void expect_gradient_close(double analytic, double numeric, double absolute, const std::string& what) {
  EXPECT_LE(std::abs(analytic - numeric), 1e-2 * std::max(std::abs(analytic), std::abs(numeric)) + absolute)
      << what << ": analytic " << analytic << ", finite difference " << numeric;
}

class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    SGDSWEEP_BACKEND_OR_SKIP(backend_, GetParam());
  }
  ops::Backend& backend() { return *backend_; }
  std::unique_ptr<ops::Backend> backend_;
};

// L = Σ r ⊙ dense(x): checks ∂L/∂W, ∂L/∂b and ∂L/∂x of a Dense layer.
void check_dense(ops::Backend& backend, nn::Activation activation) {
  const std::int64_t batch = 3, in = 5, out = 4;
  nn::Parameters parameters(backend);
  nn::Dense layer(parameters, "dense", in, out, activation);
  parameters.allocate();
  std::vector<float> theta = random_values(static_cast<std::size_t>(parameters.size()), 1);
  parameters.upload_values(theta);
  std::vector<float> x = random_values(batch * in, 2, 2.0);
  const std::vector<float> r = random_values(batch * out, 3);
  ops::Buffer<float> y(backend, batch * out), dy(backend, batch * out), dx(backend, batch * in);

  auto loss = [&](const std::vector<float>& input) {
    ops::Buffer<float> xb = to_backend(backend, input);
    layer.forward(parameters, xb.data(), y.data(), batch);
    const std::vector<float> yh = to_host(y);
    double total = 0;
    for (std::size_t i = 0; i < yh.size(); ++i) total += static_cast<double>(r[i]) * yh[i];
    return total;
  };

  ops::Buffer<float> xb = to_backend(backend, x);
  layer.forward(parameters, xb.data(), y.data(), batch);
  dy.upload(r.data(), r.size());
  layer.backward(parameters, xb.data(), y.data(), dy.data(), dx.data(), batch);
  const std::vector<float> gradient = parameters.download_gradients();
  const std::vector<float> input_gradient = to_host(dx);

  const float step = 1e-2f;
  for (std::size_t p = 0; p < theta.size(); ++p) {
    const float saved = theta[p];
    theta[p] = saved + step;
    parameters.upload_values(theta);
    const double plus = loss(x);
    theta[p] = saved - step;
    parameters.upload_values(theta);
    const double minus = loss(x);
    theta[p] = saved;
    parameters.upload_values(theta);
    expect_gradient_close(gradient[p], (plus - minus) / (2 * step), 1e-4, "parameter " + std::to_string(p));
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float saved = x[i];
    x[i] = saved + step;
    const double plus = loss(x);
    x[i] = saved - step;
    const double minus = loss(x);
    x[i] = saved;
    expect_gradient_close(input_gradient[i], (plus - minus) / (2 * step), 1e-4, "input " + std::to_string(i));
  }
}

}  // namespace

TEST_P(BackendTest, DenseLinearGradientsMatchFiniteDifferences) {
  check_dense(backend(), nn::Activation::none);
}

TEST_P(BackendTest, DenseSigmoidGradientsMatchFiniteDifferences) {
  check_dense(backend(), nn::Activation::sigmoid);
}

TEST_P(BackendTest, SquaredErrorValueAndGradient) {
  const std::int64_t rows = 4, columns = 6;
  std::vector<float> y = random_values(rows * columns, 4);
  const std::vector<float> t = random_values(rows * columns, 5);
  ops::Buffer<float> yb = to_backend(backend(), y), tb = to_backend(backend(), t);
  ops::Buffer<float> gradient(backend(), rows * columns);
  ops::Buffer<double> loss(backend(), 1);
  const float scale = 0.25f;
  backend().squared_error(yb.data(), tb.data(), rows, columns, gradient.data(), scale, loss.data());
  double expected = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const float difference = y[i] - t[i];  // the contract: a float difference, squared in double
    expected += static_cast<double>(difference) * difference;
  }
  EXPECT_NEAR(to_host(loss)[0], expected, 1e-13 * expected);

  const std::vector<float> analytic = to_host(gradient);
  const float step = 1e-2f;
  for (std::size_t i = 0; i < y.size(); ++i) {
    auto value = [&](float yi) {
      std::vector<float> moved = y;
      moved[i] = yi;
      ops::Buffer<float> mb = to_backend(backend(), moved);
      backend().squared_error(mb.data(), tb.data(), rows, columns, nullptr, 0.0f, loss.data());
      return scale * to_host(loss)[0];
    };
    expect_gradient_close(analytic[i], (value(y[i] + step) - value(y[i] - step)) / (2 * step), 1e-5,
                          "element " + std::to_string(i));
  }
}

TEST_P(BackendTest, AutoencoderGradientsMatchFiniteDifferences) {
  const std::int64_t batch = 3;
  nn::Autoencoder model(backend(), batch, nn::AutoencoderInit::glorot, 77);
  const std::vector<float> pixels = random_values(batch * 784, 6);
  std::vector<float> input(pixels.size());
  for (std::size_t i = 0; i < input.size(); ++i) input[i] = 0.5f + 0.5f * pixels[i];  // in [0, 1]
  ops::Buffer<float> x = to_backend(backend(), input);
  ops::Buffer<double> loss(backend(), 1);
  const float scale = 1.0f / batch;
  nn::Batch microbatch;
  microbatch.features = x.data();
  microbatch.size = batch;
  model.forward_backward(microbatch, scale, loss.data());
  const std::vector<float> gradient = model.parameters().download_gradients();
  std::vector<float> theta = model.parameters().download_values();

  auto mean_loss = [&] {
    double sums[2];
    ops::Buffer<double> both(backend(), 2);
    model.evaluate(microbatch, {both.data(), both.data() + 1});
    both.download(sums, 2);
    return sums[0] * scale;
  };
  // 8 coordinates in every weight and bias tensor: the first, the last, and six at random.
  const CounterRng rng(99, RngPurpose::test);
  const float step = 1e-2f;
  for (const nn::ParameterTensor& tensor : model.parameters().tensors()) {
    for (int n = 0; n < 8; ++n) {
      const std::int64_t local = n == 0 ? 0 : n == 1 ? tensor.count - 1
                                                      : static_cast<std::int64_t>(rng.below(tensor.count, 0, tensor.offset + n));
      const std::size_t p = static_cast<std::size_t>(tensor.offset + local);
      const float saved = theta[p];
      theta[p] = saved + step;
      model.parameters().upload_values(theta);
      const double plus = mean_loss();
      theta[p] = saved - step;
      model.parameters().upload_values(theta);
      const double minus = mean_loss();
      theta[p] = saved;
      model.parameters().upload_values(theta);
      expect_gradient_close(gradient[p], (plus - minus) / (2 * step), 2e-3, tensor.name + "[" + std::to_string(local) + "]");
    }
  }
}

TEST_P(BackendTest, SigmoidIsAccurateMonotonicAndSaturatesCleanly) {
  std::vector<float> x;
  for (float v = -100.0f; v <= 100.0f; v += 0.003f) x.push_back(v);
  x.push_back(0.0f);
  x.push_back(1e30f);
  x.push_back(-1e30f);
  ops::Buffer<float> xb = to_backend(backend(), x), yb(backend(), x.size());
  backend().sigmoid_forward(xb.data(), yb.data(), static_cast<std::int64_t>(x.size()));
  const std::vector<float> y = to_host(yb);
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    ASSERT_TRUE(std::isfinite(y[i])) << x[i];
    ASSERT_GE(y[i], 0.0f);
    ASSERT_LE(y[i], 1.0f);
    const double exact = 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])));
    if (std::abs(x[i]) <= 80.0f) {
      worst = std::max(worst, std::abs(y[i] - exact) / exact);
    } else {
      EXPECT_LE(std::abs(y[i] - exact), 1e-30) << x[i];
    }
    if (i > 0 && i + 3 < x.size()) {
      EXPECT_LE(y[i - 1], y[i]) << "not monotonic at " << x[i];
    }
  }
  EXPECT_LE(worst, 4e-7);  // a few float ulps
  EXPECT_EQ(y[y.size() - 3], 0.5f);
}

TEST_P(BackendTest, SumRowsAddRowVectorAndGatherMatchLoops) {
  const std::int64_t rows = 7, columns = 300;  // more columns than one host tile
  const std::vector<float> x = random_values(rows * columns, 7);
  const std::vector<float> bias = random_values(columns, 8);
  ops::Buffer<float> xb = to_backend(backend(), x), bb = to_backend(backend(), bias);
  ops::Buffer<float> sums = to_backend(backend(), std::vector<float>(columns, 1.0f));
  backend().sum_rows(xb.data(), rows, columns, 0.5f, sums.data());
  const std::vector<float> got = to_host(sums);
  for (std::int64_t j = 0; j < columns; ++j) {
    float expected = 0;
    for (std::int64_t i = 0; i < rows; ++i) expected += x[i * columns + j];
    ASSERT_EQ(got[j], 0.5f + expected) << j;  // same order of summation: bitwise equal
  }
  backend().add_row_vector(xb.data(), bb.data(), rows, columns);
  const std::vector<float> shifted = to_host(xb);
  for (std::int64_t i = 0; i < rows * columns; ++i) ASSERT_EQ(shifted[i], x[i] + bias[i % columns]);

  std::vector<std::uint8_t> table(5 * 3);
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = static_cast<std::uint8_t>(17 * i);
  ops::Buffer<std::uint8_t> tb = to_backend(backend(), table);
  ops::Buffer<std::int32_t> rb = to_backend(backend(), std::vector<std::int32_t>{4, 0, 4});
  ops::Buffer<float> out(backend(), 9);
  backend().gather_rows_u8(tb.data(), 3, rb.data(), 3, 0.5f, out.data());
  EXPECT_EQ(to_host(out), (std::vector<float>{102, 110.5f, 119, 0, 8.5f, 17, 102, 110.5f, 119}));
}

// The pad-and-crop with flip of gather_images_u8, against positions worked out by hand: image 1
// of two 3×4 two-channel images, padded by 1. Window at (0, 2) of the padded image, flipped:
// output (y, x) reads source (y − 1, 1 + (3 − x)), zero outside; normalised by mean 1, inv_std 255
// (so the output is the pixel byte minus 255). Without augmentation, image 0 as it is.
TEST_P(BackendTest, ImageGatherCropsFlipsAndNormalises) {
  const std::int64_t height = 3, width = 4, channels = 2;
  std::vector<std::uint8_t> pixels(2 * height * width * channels);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(10 + i);
  const auto table = to_backend(backend(), pixels);
  const auto mean = to_backend(backend(), std::vector<float>{1.0f, 1.0f});
  const auto inv_std = to_backend(backend(), std::vector<float>{255.0f, 255.0f});
  const auto rows = to_backend(backend(), std::vector<std::int32_t>{1, 0});
  const auto augmentation = to_backend(backend(), std::vector<std::int32_t>{0, 2, 1, 1, 1, 0});
  ops::Buffer<float> out(backend(), static_cast<std::size_t>(2 * height * width * channels));
  backend().gather_images_u8(table.data(), height, width, channels, rows.data(), augmentation.data(), 1, 2,
                             mean.data(), inv_std.data(), out.data());
  const std::vector<float> got = to_host(out);
  const auto expected = [&](std::int64_t image, std::int64_t sy, std::int64_t sx, std::int64_t c) {
    const bool inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
    const float byte = inside ? pixels[((image * height + sy) * width + sx) * channels + c] : 0.0f;
    return (byte * (1.0f / 255.0f) - 1.0f) * 255.0f;
  };
  for (std::int64_t y = 0; y < height; ++y) {
    for (std::int64_t x = 0; x < width; ++x) {
      for (std::int64_t c = 0; c < channels; ++c) {
        const std::int64_t k = (y * width + x) * channels + c, second = height * width * channels + k;
        EXPECT_EQ(got[k], expected(1, y - 1, 1 + (3 - x), c)) << "flipped crop at " << y << ", " << x << ", " << c;
        EXPECT_EQ(got[second], expected(0, y, x, c)) << "offset (1, 1) without flip at " << y << ", " << x;
      }
    }
  }
}

TEST_P(BackendTest, GemmMatchesNaiveProductInAllTransposes) {
  const std::int64_t m = 5, n = 4, k = 3;
  const std::vector<float> a = random_values(m * k, 9), b = random_values(k * n, 10);
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      // Store A as [m,k] or its transpose [k,m]; likewise B.
      std::vector<float> as(a.size()), bs(b.size());
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t l = 0; l < k; ++l) as[ta ? l * m + i : i * k + l] = a[i * k + l];
      for (std::int64_t l = 0; l < k; ++l)
        for (std::int64_t j = 0; j < n; ++j) bs[tb ? j * k + l : l * n + j] = b[l * n + j];
      ops::Buffer<float> ab = to_backend(backend(), as), bb = to_backend(backend(), bs);
      ops::Buffer<float> c = to_backend(backend(), std::vector<float>(m * n, 1.0f));
      backend().gemm(ta ? ops::Transpose::yes : ops::Transpose::no, tb ? ops::Transpose::yes : ops::Transpose::no,
                     m, n, k, 2.0f, ab.data(), ta ? m : k, bb.data(), tb ? k : n, 0.5f, c.data(), n);
      const std::vector<float> got = to_host(c);
      for (std::int64_t i = 0; i < m; ++i) {
        for (std::int64_t j = 0; j < n; ++j) {
          double expected = 0.5;
          for (std::int64_t l = 0; l < k; ++l) expected += 2.0 * a[i * k + l] * b[l * n + j];
          EXPECT_NEAR(got[i * n + j], expected, 1e-5) << "ta " << ta << " tb " << tb;
        }
      }
    }
  }
}

TEST_P(BackendTest, SgdAndMomentumUpdatesFollowPyTorchsForm) {
  const std::vector<float> w0 = {1.0f, -2.0f}, g0 = {0.5f, 0.25f};
  ops::Buffer<float> w = to_backend(backend(), w0), g = to_backend(backend(), g0);
  // SGD with L2 0.1: g' = g + 0.1 w; w' = w − 0.5 g'.
  const ops::Buffer<float> half = to_backend(backend(), std::vector<float>{0.5f});
  backend().sgd_update(w.data(), g.data(), nullptr, 2, half.data(), 0.0f, 0.1f);
  EXPECT_EQ(to_host(w), (std::vector<float>{1.0f - 0.5f * 0.6f, -2.0f - 0.5f * (0.25f - 0.2f)}));
  // Momentum 0.9 twice from v = 0 with a constant gradient 1 and no L2:
  // v1 = 1, w1 = w0 − ε; v2 = 1.9, w2 = w1 − 1.9 ε.
  ops::Buffer<float> w2 = to_backend(backend(), std::vector<float>{0.0f});
  ops::Buffer<float> v = to_backend(backend(), std::vector<float>{0.0f});
  const ops::Buffer<float> rate = to_backend(backend(), std::vector<float>{0.1f});
  for (int step = 0; step < 2; ++step) {
    ops::Buffer<float> one = to_backend(backend(), std::vector<float>{1.0f});
    backend().sgd_update(w2.data(), one.data(), v.data(), 1, rate.data(), 0.9f, 0.0f);
  }
  EXPECT_FLOAT_EQ(to_host(v)[0], 1.9f);
  EXPECT_FLOAT_EQ(to_host(w2)[0], -0.1f - 0.19f);
}

// A recorded step is replayed with the pointers and arguments it was recorded with: what a replay
// cannot repeat is refused, on the host as on a GPU (which would bake it into its graph), and a
// step of ops alone replays.
TEST_P(BackendTest, RecordedStepsRefuseWhatAReplayCannotRepeat) {
  ops::Buffer<float> x = to_backend(backend(), std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f});
  ops::Buffer<float> y(backend(), 4), mask(backend(), 4);
  EXPECT_THROW(backend().record([&] { ops::Buffer<float> scratch(backend(), 4); }), Error) << "allocation";
  EXPECT_THROW(backend().record([&] { backend().copy_to_device(y.data(), std::vector<float>(4).data(), 16); }), Error)
      << "copy from the host";
  EXPECT_THROW(backend().record([&] { backend().dropout_forward(x.data(), y.data(), mask.data(), 4, 0.5f, 7, 3, 0); }),
               Error)
      << "dropout with a seed and step from the host";
  auto doomed = std::make_unique<ops::Buffer<float>>(backend(), 4);
  EXPECT_THROW(backend().record([&] { doomed.reset(); }), Error) << "a free (replayed, a double free)";

  // Ops alone: recorded once (and run), replayed twice: y = 2·x + y three times from y = 0.
  backend().fill(y.data(), 4, 0.0f);
  const auto recording = backend().record([&] { backend().axpby(2.0f, x.data(), 1.0f, y.data(), 4); });
  recording->replay();
  recording->replay();
  EXPECT_EQ(to_host(y), (std::vector<float>{6.0f, 12.0f, 18.0f, 24.0f}));
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendTest, ::testing::ValuesIn(sgdsweep::ops::available_devices()),
                         [](const auto& param_info) { return param_info.param; });
