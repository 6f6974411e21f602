// Throughput of the autoencoder on the host backend (examples per second, one rank = one core):
// one full training step exactly as train_trial runs it (src/train/trainer.cpp), and one
// evaluation pass over a 500-row chunk as the task's evaluate() runs it.
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

#include "comm/gradient_reducer.hpp"
#include "data/image_set.hpp"
#include "ops/host_backend.hpp"
#include "ops/registry.hpp"
#include "spec/grid.hpp"
#include "spec/spec.hpp"
#include "train/optimizer.hpp"
#include "train/task_data.hpp"
#include "train/trainer.hpp"
#include "util/error.hpp"
#include "util/version.hpp"

namespace sgdsweep::bench {
namespace {

// The demo sweep's hyperparameters (input/fashion-mnist-demo.toml): Momentum 0.9, L2 1e-5 on
// weights, ε_eff = 0.05 (ε = ε_eff·(1 − m) = 0.005), sparse initialisation.
std::string bench_spec(const std::string& folder, std::int64_t batch_size) {
  return concat("[sweep]\nseed = 2020\n[model]\nname = \"autoencoder\"\n[data]\npath = \"", folder,
                "\"\n[budget]\nepochs = 1\n[optimizer]\nnames = [\"momentum\"]\n[grid]\nbatch_sizes = [",
                batch_size, "]\nlog2_effective_lr = [", std::log2(0.05), "]\n");
}

// One training step per iteration, through the trainer's own pieces: the task stages the batch
// (index upload, gather of the u8 pixels), forward + backward, loss download, optimizer step.
// The model, optimizer and buffers are built outside the timed loop, as train_trial builds them
// once per trial.
void train_step(benchmark::State& state, ops::Backend& backend, const std::string& folder) {
  const spec::Spec spec = spec::parse_spec(bench_spec(folder, state.range(0)), "<bench>");
  const std::unique_ptr<train::TaskData> task = train::load_task_data(spec, backend);
  const spec::Trial trial = spec::expand_grid(spec, task->shape()).at(0);
  const std::unique_ptr<nn::Model> model = train::make_model(spec, trial, *task, backend);
  train::Optimizer optimizer(model->parameters(), trial.momentum, trial.l2);
  const std::unique_ptr<train::TrialBatches> batches = task->batches(trial);
  ops::Buffer<double> loss_sum(backend, 1);

  std::int64_t step = 0;
  double minibatch_loss = 0.0;
  for (auto _ : state) {
    model->forward_backward(batches->batch(step, 0, trial.batch_size),
                            1.0f / static_cast<float>(trial.batch_size), loss_sum.data());
    loss_sum.download(&minibatch_loss, 1);
    minibatch_loss /= static_cast<double>(trial.batch_size);
    optimizer.step(trial.learning_rate);
    ++step;
  }
  backend.synchronize();
  state.SetItemsProcessed(state.iterations() * trial.batch_size);
  // The last minibatch loss: a finite, falling number says the steps timed were real training.
  state.counters["loss"] = minibatch_loss;
  if (!std::isfinite(minibatch_loss)) state.SkipWithError("non-finite training loss");
}

// One evaluation chunk per iteration, as the trainer evaluates: the task's evaluate() over the
// first `rows` training images (one chunk of kEvaluationRows): gather, forward, sums download.
void evaluate_chunk(benchmark::State& state, ops::Backend& backend, const std::string& folder) {
  const std::int64_t chunk_rows = state.range(0);
  const spec::Spec spec = spec::parse_spec(bench_spec(folder, 16), "<bench>");
  const std::unique_ptr<train::TaskData> task = train::load_task_data(spec, backend);
  const spec::Trial trial = spec::expand_grid(spec, task->shape()).at(0);
  const std::unique_ptr<nn::Model> model = train::make_model(spec, trial, *task, backend);
  const auto alone = comm::make_identity_reducer();
  train::Evaluation evaluation;
  for (auto _ : state) evaluation = task->evaluate(*model, false, chunk_rows, *alone);
  backend.synchronize();
  state.SetItemsProcessed(state.iterations() * chunk_rows);
  state.counters["loss"] = evaluation.loss;
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

  std::string train_images, test_images;
  try {
    train_images = data::mnist_images_path(folder, "train");
    test_images = data::mnist_images_path(folder, "test");
  } catch (const Error& error) {
    std::cerr << "sgdsweep-bench-autoencoder: " << error.what()
              << " (pass --data DIR or set SGDSWEEP_BENCH_DATA)\n";
    return 1;
  }
  const std::unique_ptr<ops::Backend> backend = ops::make_host_backend();

  benchmark::AddCustomContext("sgdsweep_git_describe", kGitDescribe);
  benchmark::AddCustomContext("backend", backend->name());
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  benchmark::AddCustomContext("openblas_threads", std::to_string(openblas_get_num_threads()));
  benchmark::AddCustomContext("train_images", train_images);
  benchmark::AddCustomContext("test_images", test_images);

  benchmark::RegisterBenchmark("sgdsweep::autoencoder_train_step", train_step, std::ref(*backend),
                               folder)
      ->ArgName("B")
      ->Arg(16)
      ->Arg(128)
      ->Arg(1024)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("sgdsweep::autoencoder_evaluate", evaluate_chunk,
                               std::ref(*backend), folder)
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
