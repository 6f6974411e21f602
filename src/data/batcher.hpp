// The order in which a trial visits its training set: batches drawn without replacement from a
// fresh seeded permutation every epoch. Step t belongs to epoch e = t / steps_per_epoch and takes
// positions [(t mod steps_per_epoch)·B, … + B) of that epoch's permutation; the last partial batch
// of an epoch is dropped. Everything is a pure function of (seed, examples, B, t), so a trial gets
// the same batches on any rank, after a resume, and when a team splits the batch.
#pragma once

#include <cstdint>
#include <vector>

namespace sgdsweep::data {

// The permutation of 0 … examples−1 for `epoch` (Fisher–Yates on the counter-based RNG).
std::vector<std::int32_t> epoch_permutation(std::uint64_t seed, std::int64_t examples,
                                            std::int64_t epoch);

class EpochSampler {
 public:
  EpochSampler(std::uint64_t seed, std::int64_t examples, std::int64_t batch_size);

  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  // The batch_size example indices of step `step`; valid until the next call.
  const std::int32_t* batch(std::int64_t step);

 private:
  std::uint64_t seed_;
  std::int64_t examples_;
  std::int64_t batch_size_;
  std::int64_t steps_per_epoch_;
  std::int64_t cached_epoch_ = -1;
  std::vector<std::int32_t> permutation_;
};

}  // namespace sgdsweep::data
