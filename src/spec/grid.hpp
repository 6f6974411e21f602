// The grid: a validated Spec expanded into the ordered list of trials, and the static partition of
// those trials over ranks.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "spec/spec.hpp"
#include "spec/trial.hpp"

namespace sgdsweep::spec {

// The seed of seed index `index` in a sweep seeded with `sweep_seed` (SplitMix64; below 2^63 so
// it fits the file's int64 column). Trials that differ only in learning rate share a seed: same
// initial weights and same batch order (common random numbers across the grid).
std::uint64_t derive_seed(std::uint64_t sweep_seed, std::int32_t index);

// The sizes of the data actually in use (after the spec's limits): examples, or tokens for a
// language model.
struct DataShape {
  std::int64_t train_examples = 0;
  std::int64_t test_examples = 0;
};

// Steps in one epoch at batch size B: floor(N/B) (the last partial batch is dropped); for the
// language model, B streams of floor(N/B) tokens read in windows of `unroll`:
// floor((floor(N/B) − 1) / unroll). 0 when the data is too small for B.
std::int64_t steps_per_epoch(const Spec& spec, const DataShape& data, std::int64_t batch_size);

// Rows of one forward/backward at batch size B: the ghost batch for batch-normalised networks
// (min(B, ghost_batch_size)), else [model].microbatch (0: B for the autoencoder and the Wide-ResNet,
// min(B, 64) streams for the LSTM), never more than B.
std::int64_t microbatch_size(const Spec& spec, std::int64_t batch_size);

// The height and width of the images a classifier sees: [data].image_size for an image folder,
// the native 32 × 32 for CIFAR.
std::pair<std::int64_t, std::int64_t> image_size(const Spec& spec);

// Forward+backward cost of one example in FLOPs (for partitioning and planning; approximate).
double flops_per_example(const Spec& spec);

// All trials, in the order optimizer × budget × batch size × learning rate [× final learning
// rate] × seed (seed fastest), then, for each [[grid.extend]] entry in order, its rates [× final
// rates] × seed, leaving out (configuration, rate[, final rate]) pairs already present (rates within
// 1e-9 are the same). Throws Error when a batch size exceeds the training set or a budget rounds to
// zero steps.
std::vector<Trial> expand_grid(const Spec& spec, const DataShape& data);

// Static partition over `ranks`: longest predicted cost first, each trial to the least-loaded rank
// (ties to the lower rank). Returns, per rank, its trial indices in execution order. Deterministic.
std::vector<std::vector<std::int64_t>> partition(const std::vector<Trial>& trials, int ranks);

}  // namespace sgdsweep::spec
