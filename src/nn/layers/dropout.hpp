// Inverted dropout, forward and backward, with masks that are a pure function of (trial seed,
// step, site, position in the step's batch): the same mask whatever microbatch or rank computes
// it. A model numbers its dropout sites 0, 1, 2, … and places element i of a site at position
// dropout_position(site, i).
#pragma once

#include <cstdint>

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

// dx = dy · mask (dx may alias dy).
inline void dropout_backward(ops::Backend& backend, const float* mask, const float* dy, float* dx,
                             std::int64_t count) {
  backend.multiply(dy, mask, dx, count);
}

}  // namespace sgdsweep::nn
