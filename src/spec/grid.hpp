// The grid: a validated Spec expanded into the ordered list of trials, and the static partition of
// those trials over ranks.
#pragma once

#include <cstdint>
#include <vector>

#include "spec/spec.hpp"
#include "spec/trial.hpp"

namespace sgdsweep::spec {

// The seed of seed index `index` in a sweep seeded with `sweep_seed` (SplitMix64; below 2^63 so
// it fits the file's int64 column). Trials that differ only in learning rate share a seed: same
// initial weights and same batch order (common random numbers across the grid).
std::uint64_t derive_seed(std::uint64_t sweep_seed, std::int32_t index);

// All trials, in the order model × optimizer × batch size × learning rate × seed (seed fastest).
// `train_examples` and `test_examples` are the sizes of the sets actually used (after the spec's
// limits); they fix steps per epoch and the cost estimate. Throws Error when a batch size exceeds
// the training set or a budget rounds to zero steps.
std::vector<Trial> expand_grid(const Spec& spec, std::int64_t train_examples,
                               std::int64_t test_examples);

// Static partition over `ranks`: longest predicted cost first, each trial to the least-loaded rank
// (ties to the lower rank). Returns, per rank, its trial indices in execution order. Deterministic.
std::vector<std::vector<std::int64_t>> partition(const std::vector<Trial>& trials, int ranks);

}  // namespace sgdsweep::spec
