// Weight initialisers (see init.hpp).
#include "nn/init.hpp"

#include <cmath>
#include <numeric>
#include <utility>
#include <vector>

namespace sgdsweep::nn {

void sparse_init(float* weights, std::int64_t out, std::int64_t in, int connections,
                 const CounterRng& rng, std::uint32_t stream) {
  const std::int64_t chosen = std::min<std::int64_t>(connections, in);
  std::vector<std::int64_t> inputs(static_cast<std::size_t>(in));
  for (std::int64_t unit = 0; unit < out; ++unit) {
    float* row = weights + unit * in;
    std::fill(row, row + in, 0.0f);
    std::iota(inputs.begin(), inputs.end(), 0);
    // Partial Fisher–Yates: the first `chosen` entries become a uniform random subset.
    for (std::int64_t j = 0; j < chosen; ++j) {
      const std::uint64_t position = static_cast<std::uint64_t>(unit * in + j);
      const auto pick = j + static_cast<std::int64_t>(rng.below(in - j, 2 * stream, position));
      std::swap(inputs[j], inputs[pick]);
      row[inputs[j]] = static_cast<float>(rng.normal(2 * stream + 1, position));
    }
  }
}

void glorot_uniform_init(float* weights, std::int64_t out, std::int64_t in, const CounterRng& rng,
                         std::uint32_t stream) {
  const double bound = std::sqrt(6.0 / static_cast<double>(in + out));
  for (std::int64_t i = 0; i < out * in; ++i) {
    weights[i] = static_cast<float>((2.0 * rng.uniform(stream, i) - 1.0) * bound);
  }
}

void normal_init(float* values, std::int64_t count, double deviation, const CounterRng& rng,
                 std::uint32_t stream) {
  for (std::int64_t i = 0; i < count; ++i) values[i] = static_cast<float>(deviation * rng.normal(stream, i));
}

void uniform_init(float* values, std::int64_t count, double bound, const CounterRng& rng,
                  std::uint32_t stream) {
  for (std::int64_t i = 0; i < count; ++i) {
    values[i] = static_cast<float>((2.0 * rng.uniform(stream, i) - 1.0) * bound);
  }
}

}  // namespace sgdsweep::nn
