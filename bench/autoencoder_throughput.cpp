// Training throughput of the engine's real training path (examples per second), on the host
// backend (one rank = one core) or a GPU (--device cuda): one full training step exactly as
// train_trial runs it (train::StepRunner: stage the batch, forward + backward per microbatch, the
// gradient tree, loss download, optimizer step; a replayed CUDA graph on a GPU), for the autoencoder at B = 16, 128, 1024 and
// (with --cifar) WRN-16-4 with ghost batch norm at B = 128; and one autoencoder evaluation pass
// over a 500-row chunk as the task's evaluate() runs it.
//
// And (issue #9) packed steps: P trials trained together, for each P of --packs: the autoencoder at
// B = 16, 64, 128, (with --ptb) the paper's LSTM (2 × 650, unroll 35, dropout 0.5, clipping 5) at
// B = 64 and (with --cifar) WRN-16-4 with ghost batch norm at B = 128.
//
// Usage: sgdsweep-bench-autoencoder [--data DIR] [--cifar DIR] [--ptb DIR] [--device host|cuda]
//        [--packs 1,8,64] [--benchmark_* flags]
//   DIR is an MNIST-layout folder (train-images-idx3-ubyte[.gz], t10k-images-idx3-ubyte[.gz]);
//   default $SGDSWEEP_BENCH_DATA, else /usr/share/datasets/fashion-mnist. --cifar names a
//   CIFAR-10 binary folder (data_batch_1..5.bin, test_batch.bin); without it WRN-16-4 is skipped.
//   --ptb names a folder with ptb.valid.txt (the training text here: ../shared has no
//   ptb.train.txt, so the vocabulary is the validation text's) and ptb.test.txt.
// On the host run it pinned with a single-threaded BLAS, e.g.
//   OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 taskset -c 0 build/bench/bench/sgdsweep-bench-autoencoder
// bench/run_autoencoder_vs_pytorch.sh does that and sets PyTorch beside it; bench/gpu/session.sh
// runs it with --device cuda beside PyTorch on the same GPU.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "comm/gradient_reducer.hpp"
#include "data/image_set.hpp"
#include "ops/registry.hpp"
#include "spec/grid.hpp"
#include "spec/spec.hpp"
#include "train/task_data.hpp"
#include "train/trainer.hpp"
#include "util/error.hpp"
#include "util/version.hpp"

namespace sgdsweep::bench {
namespace {

// The demo sweep's hyperparameters (input/fashion-mnist-demo.toml): Momentum 0.9, L2 1e-5 on
// weights, ε_eff = 0.05 (ε = ε_eff·(1 − m) = 0.005), sparse initialisation.
std::string autoencoder_spec(const std::string& folder, std::int64_t batch_size, const std::string& device) {
  return concat("[sweep]\nseed = 2020\ndevice = \"", device, "\"\n[model]\nname = \"autoencoder\"\n[data]\npath = \"",
                folder, "\"\n[budget]\nepochs = 1\n[optimizer]\nnames = [\"momentum\"]\n[grid]\nbatch_sizes = [",
                batch_size, "]\nlog2_effective_lr = [", std::log2(0.05), "]\n");
}

// WRN-16-4 as the paper trains it on CIFAR-10 (input/paper/fig1-wrn16-4-bn.toml): ghost batch
// norm over 64 examples, pad-4 crop and flip, Momentum 0.9, L2 5e-4.
std::string wrn_spec(const std::string& folder, std::int64_t batch_size, const std::string& device) {
  return concat("[sweep]\nseed = 2020\ndevice = \"", device, "\"\n[model]\nname = \"wrn-16-4\"\n",
                "normalization = \"ghost-bn\"\nghost_batch_size = 64\n[data]\ndataset = \"cifar10\"\npath = \"",
                folder, "\"\n[budget]\nepochs = 1\n[optimizer]\nnames = [\"momentum\"]\nl2 = 5e-4\n",
                "[grid]\nbatch_sizes = [", batch_size, "]\nlog2_effective_lr = [0]\n");
}

// The paper's LSTM (input/paper/fig7-lstm-ptb.toml: 2 × 650, unroll 35, dropout 0.5, clipping 5)
// with Momentum, trained on the validation text.
std::string lstm_spec(const std::string& folder, std::int64_t batch_size, const std::string& device) {
  return concat("[sweep]\nseed = 2020\ndevice = \"", device, "\"\n[model]\nname = \"lstm\"\n[data]\n",
                "dataset = \"ptb\"\npath = \"", folder, "\"\ntrain_file = \"ptb.valid.txt\"\n",
                "test_file = \"ptb.test.txt\"\n[budget]\nepochs = 1\n[optimizer]\nnames = [\"momentum\"]\n",
                "[grid]\nbatch_sizes = [", batch_size, "]\nlog2_effective_lr = [0]\n");
}

using SpecMaker = std::string (*)(const std::string&, std::int64_t, const std::string&);

// One training step per iteration, by the trainer's own StepRunner (recorded and replayed as a
// CUDA graph on a GPU, as train_trial runs it). The model, runner and buffers are built outside
// the timed loop, as train_trial builds them once per trial.
void train_step(benchmark::State& state, ops::Backend& backend, const std::string& folder, SpecMaker make_spec) {
  const spec::Spec spec = spec::parse_spec(make_spec(folder, state.range(0), backend.name()), "<bench>");
  const std::unique_ptr<train::TaskData> task = train::load_task_data(spec, backend);
  const spec::Trial trial = spec::expand_grid(spec, task->shape()).at(0);
  const std::unique_ptr<nn::Model> model = train::make_model(spec, trial, *task, backend);
  const std::unique_ptr<train::TrialBatches> batches = task->batches(trial);
  const auto alone = comm::make_identity_reducer();
  train::StepRunner runner(trial, *model, *batches, *alone, backend);
  std::int64_t step = 0;
  double minibatch_loss = runner.run(step++, trial.learning_rate);  // unrecorded warm-up (sizes scratch)
  for (auto _ : state) minibatch_loss = runner.run(step++, trial.learning_rate);
  backend.synchronize();
  state.SetItemsProcessed(state.iterations() * trial.batch_size);
  // The last minibatch loss: a finite, falling number says the steps timed were real training.
  state.counters["loss"] = minibatch_loss;
  state.counters["recorded"] = runner.recorded() ? 1 : 0;
  if (!std::isfinite(minibatch_loss)) state.SkipWithError("non-finite training loss");
}

// One packed step per iteration (issue #9): P trials at batch B (the spec's trial with seeds
// 0 … P−1) as the copies of one model, stepped together by the trainer's StepRunner over the pack
// as train_pack runs it (recorded and replayed on a GPU where the model allows). trial_steps_per_second
// = P × packed steps per second: the sweep throughput. P = 1 is one trial alone (its path is the
// pack of one).
void pack_step(benchmark::State& state, ops::Backend& backend, const std::string& folder, SpecMaker make_spec) {
  const std::int64_t batch = state.range(0), copies = state.range(1);
  spec::Spec spec = spec::parse_spec(make_spec(folder, batch, backend.name()), "<bench>");
  spec.seeds = static_cast<std::int32_t>(copies);
  const std::unique_ptr<train::TaskData> task = train::load_task_data(spec, backend);
  const std::vector<spec::Trial> trials = spec::expand_grid(spec, task->shape());
  // A pack the device cannot hold is skipped, named, rather than ending the run out of memory.
  spec.pack = copies;
  if (const std::int64_t fit =
          train::pack_copies(spec, trials.at(0), backend.free_memory_bytes(), task->classes_or_vocabulary());
      fit < copies) {
    state.SkipWithError(concat("P = ", copies, " does not fit in the free memory (", fit, " copies do)").c_str());
    return;
  }
  const std::unique_ptr<nn::Model> model = train::make_model(spec, trials.at(0), *task, backend, copies);
  const std::unique_ptr<train::PackBatches> batches = task->pack_batches(copies, trials[0].microbatch);
  for (std::int64_t c = 0; c < copies; ++c) {
    model->initialize(c, trials[c].seed);
    batches->assign(c, &trials[c]);
  }
  train::StepRunner runner(trials[0], *model, *batches, backend);
  std::vector<std::int64_t> steps(static_cast<std::size_t>(copies), 0);
  const std::vector<double> rates(static_cast<std::size_t>(copies), trials[0].learning_rate);
  const auto step = [&] {
    const std::vector<double>& losses = runner.run_pack(steps, rates);
    for (std::int64_t& s : steps) ++s;
    double mean = 0;
    for (double loss : losses) mean += loss / static_cast<double>(copies);
    return mean;
  };
  double mean_loss = step();  // unrecorded warm-up (sizes scratch)
  for (auto _ : state) mean_loss = step();
  backend.synchronize();
  const auto trial_steps = static_cast<double>(state.iterations() * copies);
  state.SetItemsProcessed(state.iterations() * copies * batch);
  state.counters["trial_steps_per_second"] = benchmark::Counter(trial_steps, benchmark::Counter::kIsRate);
  state.counters["loss"] = mean_loss;
  state.counters["recorded"] = runner.recorded() ? 1 : 0;
  if (!std::isfinite(mean_loss)) state.SkipWithError("non-finite training loss");
}

// One evaluation chunk per iteration, as the trainer evaluates: the task's evaluate() over the
// first `rows` training images (one chunk of kEvaluationRows): gather, forward, sums download.
void evaluate_chunk(benchmark::State& state, ops::Backend& backend, const std::string& folder) {
  const std::int64_t chunk_rows = state.range(0);
  const spec::Spec spec = spec::parse_spec(autoencoder_spec(folder, 16, backend.name()), "<bench>");
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

// Removes `--NAME VALUE` / `--NAME=VALUE` from argv (Google Benchmark rejects flags it does not
// know) and returns VALUE, or `fallback` when the flag is absent.
std::string take_flag(int& argc, char** argv, const std::string& name, std::string fallback) {
  const std::string flag = "--" + name, prefix = flag + "=";
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == flag && i + 1 < argc) {
      fallback = argv[++i];
    } else if (argument.rfind(prefix, 0) == 0) {
      fallback = argument.substr(prefix.size());
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  argv[argc] = nullptr;
  return fallback;
}

int run(int& argc, char** argv) {
  const char* from_environment = std::getenv("SGDSWEEP_BENCH_DATA");
  const std::string folder = take_flag(argc, argv, "data",
                                       from_environment && *from_environment ? from_environment
                                                                             : "/usr/share/datasets/fashion-mnist");
  const std::string cifar = take_flag(argc, argv, "cifar", "");
  const std::string device = take_flag(argc, argv, "device", "host");
  const std::string ptb = take_flag(argc, argv, "ptb", "");
  const std::string packs = take_flag(argc, argv, "packs", "1,8");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  std::string train_images, test_images;
  std::unique_ptr<ops::Backend> backend;
  try {
    train_images = data::mnist_images_path(folder, "train");
    test_images = data::mnist_images_path(folder, "test");
    backend = ops::make_backend(device);
  } catch (const Error& error) {
    std::cerr << "sgdsweep-bench-autoencoder: " << error.what()
              << " (pass --data DIR or set SGDSWEEP_BENCH_DATA; --device host or cuda)\n";
    return 1;
  }

  benchmark::AddCustomContext("sgdsweep_git_describe", kGitDescribe);
  benchmark::AddCustomContext("backend", backend->name());
  if (backend->host_addressable()) {
    benchmark::AddCustomContext("openblas_config", openblas_get_config());
    benchmark::AddCustomContext("openblas_core", openblas_get_corename());
    benchmark::AddCustomContext("openblas_threads", std::to_string(openblas_get_num_threads()));
  }
  benchmark::AddCustomContext("train_images", train_images);
  benchmark::AddCustomContext("test_images", test_images);
  if (!cifar.empty()) benchmark::AddCustomContext("cifar", cifar);
  if (!ptb.empty()) benchmark::AddCustomContext("ptb", ptb);

  benchmark::RegisterBenchmark("sgdsweep::autoencoder_train_step", train_step, std::ref(*backend), folder,
                               &autoencoder_spec)
      ->ArgName("B")
      ->Arg(16)
      ->Arg(128)
      ->Arg(1024)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  if (!cifar.empty()) {
    benchmark::RegisterBenchmark("sgdsweep::wrn16_4_train_step", train_step, std::ref(*backend), cifar, &wrn_spec)
        ->ArgName("B")
        ->Arg(128)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  const auto register_packs = [&](const char* name, const std::string& data, SpecMaker make_spec,
                                  std::initializer_list<std::int64_t> batches) {
    auto* packed = benchmark::RegisterBenchmark(name, pack_step, std::ref(*backend), data, make_spec)
                       ->ArgNames({"B", "P"})
                       ->UseRealTime()
                       ->Unit(benchmark::kMillisecond);
    for (const std::int64_t batch : batches) {
      for (std::size_t at = 0; at < packs.size();) {
        const std::size_t comma = std::min(packs.find(',', at), packs.size());
        packed->Args({batch, std::stoll(packs.substr(at, comma - at))});
        at = comma + 1;
      }
    }
  };
  register_packs("sgdsweep::autoencoder_pack_step", folder, &autoencoder_spec, {16, 64, 128});
  if (!ptb.empty()) register_packs("sgdsweep::lstm_pack_step", ptb, &lstm_spec, {64});
  if (!cifar.empty()) register_packs("sgdsweep::wrn16_4_pack_step", cifar, &wrn_spec, {128});
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
