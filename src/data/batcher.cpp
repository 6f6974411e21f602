// Seeded epoch permutations and the per-step batch lookup.
#include "data/batcher.hpp"

#include <numeric>
#include <utility>

#include "util/error.hpp"
#include "util/rng.hpp"

namespace sgdsweep::data {

std::vector<std::int32_t> epoch_permutation(std::uint64_t seed, std::int64_t examples,
                                            std::int64_t epoch) {
  std::vector<std::int32_t> permutation(static_cast<std::size_t>(examples));
  std::iota(permutation.begin(), permutation.end(), 0);
  const CounterRng rng(seed, RngPurpose::shuffle);
  for (std::int64_t i = examples - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(
        rng.below(static_cast<std::uint64_t>(i + 1), static_cast<std::uint32_t>(epoch),
                  static_cast<std::uint64_t>(i)));
    std::swap(permutation[i], permutation[j]);
  }
  return permutation;
}

EpochSampler::EpochSampler(std::uint64_t seed, std::int64_t examples, std::int64_t batch_size)
    : seed_(seed), examples_(examples), batch_size_(batch_size),
      steps_per_epoch_(batch_size > 0 ? examples / batch_size : 0) {
  if (batch_size <= 0 || batch_size > examples) {
    fail("batch size ", batch_size, " must be between 1 and the ", examples,
         " training examples");
  }
}

const std::int32_t* EpochSampler::batch(std::int64_t step) {
  const std::int64_t epoch = step / steps_per_epoch_;
  if (epoch != cached_epoch_) {
    permutation_ = epoch_permutation(seed_, examples_, epoch);
    cached_epoch_ = epoch;
  }
  return permutation_.data() + (step % steps_per_epoch_) * batch_size_;
}

}  // namespace sgdsweep::data
