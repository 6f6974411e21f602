// The autoencoder against PyTorch (ground truth from outside): loss, every gradient, and the losses
// of three heavy-ball steps with L2, from the fixture tests/reference/autoencoder_torch.py writes.
// The fixture's path comes in SGDSWEEP_TORCH_FIXTURE (set by CTest); without it the test skips.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include "nn/models/autoencoder.hpp"
#include "reference_fixture.hpp"
#include "backend_support.hpp"
#include "ops/registry.hpp"
#include "train/optimizer.hpp"

using namespace sgdsweep;

namespace {

std::vector<float> narrow(const std::vector<double>& values) { return {values.begin(), values.end()}; }

}  // namespace

class ReferenceTorch : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::unique_ptr<ops::Backend> probe;  // the tests make their own
    SGDSWEEP_BACKEND_OR_SKIP(probe, GetParam());
  }
};

TEST_P(ReferenceTorch, AutoencoderLossGradientsAndMomentumSteps) {
  const char* path = std::getenv("SGDSWEEP_TORCH_FIXTURE");
  if (!path) GTEST_SKIP() << "SGDSWEEP_TORCH_FIXTURE not set (CTest sets it after running autoencoder_torch.py)";
  const auto fixture = sgdsweep::testing::read_fixture(path);
  const std::vector<double>& hyper = fixture.at("hyperparameters");
  const std::vector<float> input = narrow(fixture.at("input"));
  const std::int64_t batch = static_cast<std::int64_t>(input.size()) / 784;

  const auto backend = ops::make_backend(GetParam());
  nn::Autoencoder model(*backend, batch, nn::AutoencoderInit::glorot, 1);
  std::vector<float> theta(static_cast<std::size_t>(model.parameters().size()));
  for (const nn::ParameterTensor& tensor : model.parameters().tensors()) {
    const std::vector<double>& values = fixture.at(tensor.name);
    ASSERT_EQ(static_cast<std::int64_t>(values.size()), tensor.count) << tensor.name;
    std::copy(values.begin(), values.end(), theta.begin() + tensor.offset);
  }
  model.parameters().upload_values(theta);
  ops::Buffer<float> x(*backend, input.size());
  x.upload(input.data(), input.size());
  ops::Buffer<double> loss_sum(*backend, 1);
  train::Optimizer optimizer(model.parameters(), hyper[1], hyper[2]);

  const std::vector<double>& losses = fixture.at("losses");
  for (std::size_t step = 0; step < losses.size(); ++step) {
    nn::Batch microbatch;
    microbatch.features = x.data();
    microbatch.size = batch;
    model.forward_backward(microbatch, 1.0f / batch, loss_sum.data());
    double loss = 0;
    loss_sum.download(&loss, 1);
    loss /= batch;
    EXPECT_NEAR(loss, losses[step], 2e-5 * losses[step]) << "step " << step;
    if (step == 0) {
      const std::vector<float> gradient = model.parameters().download_gradients();
      for (const nn::ParameterTensor& tensor : model.parameters().tensors()) {
        const std::vector<double>& expected = fixture.at("grad." + tensor.name);
        double largest = 0, worst = 0;
        for (std::int64_t i = 0; i < tensor.count; ++i) {
          ASSERT_TRUE(std::isfinite(gradient[tensor.offset + i])) << tensor.name << "[" << i << "]";
          largest = std::max(largest, std::abs(expected[i]));
          worst = std::max(worst, std::abs(gradient[tensor.offset + i] - expected[i]));
        }
        // Single against double precision: within 1e-4 of the tensor's largest gradient.
        EXPECT_LE(worst, 1e-4 * largest + 1e-7) << tensor.name << ": largest |grad| " << largest;
      }
    }
    optimizer.step(hyper[0]);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ReferenceTorch, ::testing::ValuesIn(sgdsweep::ops::available_devices()),
                         [](const auto& param_info) { return param_info.param; });
