// Inverted dropout, forward and backward, with masks that are a pure function of (trial seed,
// step, site, position in the step's batch): the same mask whatever microbatch or rank computes
// it. A model numbers its dropout sites 0, 1, 2, … and places element i of a site at position
// dropout_position(site, i).
#pragma once

#include <cstdint>
#include <vector>

#include "nn/model.hpp"
#include "ops/backend.hpp"

namespace sgdsweep::nn {

inline std::uint64_t dropout_position(std::uint32_t site, std::uint64_t index) {
  return (static_cast<std::uint64_t>(site) << 48) + index;
}

// y = x · mask, mask ∈ {0, 1/(1 − p)} saved for backward.
inline void dropout_forward(ops::Backend& backend, float probability, const float* x, float* y,
                            float* mask, std::int64_t count, std::uint64_t seed, std::int64_t step,
                            std::uint64_t first_position) {
  backend.dropout_forward(x, y, mask, count, probability, seed, static_cast<std::uint32_t>(step),
                          first_position);
}

// The masks of a pack of models (Model::copies): each copy draws its own trial's masks, from its
// seed and its step, which Backend::dropout_forward_packed reads from backend memory.
class PackedDropout {
 public:
  PackedDropout(ops::Backend& backend, std::int64_t copies)
      : backend_(backend), seeds_(static_cast<std::size_t>(copies)), streams_(seeds_.size()),
        device_seeds_(backend, seeds_.size()), device_streams_(backend, seeds_.size()) {}
  // Copy `copy`'s trial seed (a pack slot taking its next trial).
  void set_seed(std::int64_t copy, std::uint64_t seed) {
    seeds_.at(static_cast<std::size_t>(copy)) = seed;
    device_seeds_.upload(&seeds_[copy], 1, static_cast<std::size_t>(copy));
  }
  // Each copy's step (steps[c]; `step` for every copy where steps is null) into backend memory,
  // uploaded only where it changed: called before a step (Model::begin_step) and again by the
  // model's forward, which is then a no-op, so a recorded step (Backend::record) copies nothing
  // from the host and its replays read each step's streams from backend memory.
  void set_steps(const std::int64_t* steps, std::int64_t step) {
    bool changed = false;
    for (std::size_t c = 0; c < streams_.size(); ++c) {
      const auto stream = static_cast<std::uint32_t>(steps ? steps[c] : step);
      changed |= streams_[c] != stream;
      streams_[c] = stream;
    }
    if (changed) device_streams_.upload(streams_.data(), streams_.size());
  }
  void set_steps(const Batch& batch) { set_steps(batch.steps, batch.step); }
  // dropout_forward over every copy: x, y and mask of copy c at c · stride, `count` values each
  // from position first_position.
  void forward(float probability, const float* x, float* y, float* mask, std::int64_t stride, std::int64_t count,
               std::uint64_t first_position) {
    backend_.dropout_forward_packed(static_cast<std::int64_t>(seeds_.size()), x, y, mask, stride, count, probability,
                                    device_seeds_.data(), device_streams_.data(), first_position);
  }

 private:
  ops::Backend& backend_;
  std::vector<std::uint64_t> seeds_;
  std::vector<std::uint32_t> streams_;
  ops::Buffer<std::uint64_t> device_seeds_;
  ops::Buffer<std::uint32_t> device_streams_;
};

// dx = dy · mask (dx may alias dy).
inline void dropout_backward(ops::Backend& backend, const float* mask, const float* dy, float* dx,
                             std::int64_t count) {
  backend.multiply(dy, mask, dx, count);
}

}  // namespace sgdsweep::nn
