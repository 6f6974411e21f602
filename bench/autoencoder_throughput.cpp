// Throughput of the autoencoder on the host backend (examples per second, one rank = one core):
// one full training step exactly as train_trial runs it (src/train/trainer.cpp), and one
// evaluation pass over a 500-row chunk as its Evaluator runs it.
//
// Usage: sgdsweep-bench-autoencoder [--data DIR] [--benchmark_* flags]
//   DIR is an MNIST-layout folder (train-images-idx3-ubyte[.gz], t10k-images-idx3-ubyte[.gz]);
//   default $SGDSWEEP_BENCH_DATA, else /usr/share/datasets/fashion-mnist.
// Run it pinned with a single-threaded BLAS, e.g.
//   OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 taskset -c 0 build/bench/bench/sgdsweep-bench-autoencoder
// bench/run_autoencoder_vs_pytorch.sh does that and sets PyTorch beside it.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "data/batcher.hpp"
#include "data/image_set.hpp"
#include "nn/models/autoencoder.hpp"
#include "ops/host_backend.hpp"
#include "ops/registry.hpp"
#include "train/optimizer.hpp"
#include "train/trainer.hpp"
#include "train/training_data.hpp"
#include "util/error.hpp"
#include "util/version.hpp"

namespace sgdsweep::bench {
namespace {

// The demo sweep's hyperparameters (input/fashion-mnist-demo.toml): Momentum 0.9, L2 1e-5 on
// weights, ε = 0.005 (ε_eff = ε / (1 − m) = 0.05, inside its grid), sparse initialisation.
constexpr double kLearningRate = 0.005;
constexpr double kMomentum = 0.9;
constexpr double kL2 = 1e-5;
constexpr std::uint64_t kSeed = 2020;
constexpr float kPixelScale = 1.0f / 255.0f;

// One training step per iteration: index upload, gather of the minibatch from the staged u8
// pixels, forward + backward, loss download, optimizer step. The model, optimizer and buffers are
// built outside the timed loop, as train_trial builds them once per trial.
void train_step(benchmark::State& state, ops::Backend& backend, const train::StagedData& data) {
  const std::int64_t batch_size = state.range(0);
  const std::int64_t features = data.features();
  nn::Autoencoder model(backend, std::max(batch_size, train::kEvaluationRows),
                        nn::AutoencoderInit::sparse, kSeed);
  train::Optimizer optimizer(model.parameters(), kMomentum, kL2);
  data::EpochSampler sampler(kSeed, data.train_count(), batch_size);
  ops::Buffer<std::int32_t> batch_rows(backend, static_cast<std::size_t>(batch_size));
  ops::Buffer<float> batch(backend, static_cast<std::size_t>(batch_size * features));
  ops::Buffer<double> loss_sum(backend, 1);

  std::int64_t step = 0;
  double minibatch_loss = 0.0;
  for (auto _ : state) {
    batch_rows.upload(sampler.batch(step), static_cast<std::size_t>(batch_size));
    backend.gather_rows_u8(data.train_pixels(), features, batch_rows.data(), batch_size,
                           kPixelScale, batch.data());
    model.forward_backward({batch.data(), nullptr, batch_size},
                           1.0f / static_cast<float>(batch_size), loss_sum.data());
    loss_sum.download(&minibatch_loss, 1);
    minibatch_loss /= static_cast<double>(batch_size);
    optimizer.step(kLearningRate);
    ++step;
  }
  backend.synchronize();
  state.SetItemsProcessed(state.iterations() * batch_size);
  // The last minibatch loss: a finite, falling number says the steps timed were real training.
  state.counters["loss"] = minibatch_loss;
  if (!std::isfinite(minibatch_loss)) state.SkipWithError("non-finite training loss");
}

// One evaluation chunk per iteration: a contiguous slice of the test set through the gather op
// (identity rows), the forward pass, loss and metric download; chunks cycle over the test set.
void evaluate_chunk(benchmark::State& state, ops::Backend& backend, const train::StagedData& data) {
  const std::int64_t chunk_rows = state.range(0);
  const std::int64_t features = data.features();
  const std::int64_t chunks = data.test_count() / chunk_rows;
  if (chunks == 0) {
    state.SkipWithError("test set smaller than one evaluation chunk");
    return;
  }
  nn::Autoencoder model(backend, chunk_rows, nn::AutoencoderInit::sparse, kSeed);
  std::vector<std::int32_t> identity(static_cast<std::size_t>(chunk_rows));
  for (std::int64_t i = 0; i < chunk_rows; ++i) identity[i] = static_cast<std::int32_t>(i);
  ops::Buffer<std::int32_t> rows(backend, identity.size());
  rows.upload(identity.data(), identity.size());
  ops::Buffer<float> batch(backend, static_cast<std::size_t>(chunk_rows * features));
  ops::Buffer<double> sums(backend, 2);

  std::int64_t chunk = 0;
  double host[2] = {0.0, 0.0};
  for (auto _ : state) {
    const std::uint8_t* pixels = data.test_pixels() + (chunk % chunks) * chunk_rows * features;
    backend.gather_rows_u8(pixels, features, rows.data(), chunk_rows, kPixelScale, batch.data());
    model.evaluate({batch.data(), nullptr, chunk_rows}, sums.data(), sums.data() + 1);
    sums.download(host, 2);
    ++chunk;
  }
  backend.synchronize();
  state.SetItemsProcessed(state.iterations() * chunk_rows);
  state.counters["loss"] = host[0] / static_cast<double>(chunk_rows);
}

// Removes `--data DIR` / `--data=DIR` from argv (Google Benchmark rejects flags it does not know).
std::string take_data_flag(int& argc, char** argv) {
  const char* from_environment = std::getenv("SGDSWEEP_BENCH_DATA");
  std::string folder = from_environment && *from_environment ? from_environment
                                                             : "/usr/share/datasets/fashion-mnist";
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--data" && i + 1 < argc) {
      folder = argv[++i];
    } else if (argument.rfind("--data=", 0) == 0) {
      folder = argument.substr(std::strlen("--data="));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  argv[argc] = nullptr;
  return folder;
}

int run(int& argc, char** argv) {
  const std::string folder = take_data_flag(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  train::TrainingData host_data;
  try {
    host_data.train = data::load_idx_images(data::mnist_images_path(folder, "train"), 0);
    host_data.test = data::load_idx_images(data::mnist_images_path(folder, "test"), 0);
  } catch (const Error& error) {
    std::cerr << "sgdsweep-bench-autoencoder: " << error.what()
              << " (pass --data DIR or set SGDSWEEP_BENCH_DATA)\n";
    return 1;
  }
  const std::unique_ptr<ops::Backend> backend = ops::make_host_backend();
  const train::StagedData staged(*backend, host_data);

  benchmark::AddCustomContext("sgdsweep_git_describe", kGitDescribe);
  benchmark::AddCustomContext("backend", backend->name());
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  benchmark::AddCustomContext("openblas_threads", std::to_string(openblas_get_num_threads()));
  benchmark::AddCustomContext("train_images", host_data.train.source);
  benchmark::AddCustomContext("test_images", host_data.test.source);

  benchmark::RegisterBenchmark("sgdsweep::autoencoder_train_step", train_step, std::ref(*backend),
                               std::cref(staged))
      ->ArgName("B")
      ->Arg(16)
      ->Arg(128)
      ->Arg(1024)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("sgdsweep::autoencoder_evaluate", evaluate_chunk,
                               std::ref(*backend), std::cref(staged))
      ->ArgName("rows")
      ->Arg(train::kEvaluationRows)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace
}  // namespace sgdsweep::bench

int main(int argc, char** argv) {
  // Kokkos first; every backend buffer lives inside run() and is freed before the runtime
  // finalises Kokkos.
  const sgdsweep::ops::Runtime runtime;
  return sgdsweep::bench::run(argc, argv);
}
