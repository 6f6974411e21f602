// Weight initialisers, drawn on the host from the counter-based RNG (so the host and GPU backends
// start from the same bits) and uploaded once. `stream` separates tensors: use a distinct value
// per tensor of a model.
#pragma once

#include <cstdint>

#include "util/rng.hpp"

namespace sgdsweep::nn {

// Sparse initialisation (Martens 2010, used by Sutskever et al. 2013 for this autoencoder): each
// output unit gets `connections` randomly chosen nonzero inputs drawn from N(0, 1) (all inputs
// when in < connections); every other weight is 0. `weights` is [out, in].
void sparse_init(float* weights, std::int64_t out, std::int64_t in, int connections,
                 const CounterRng& rng, std::uint32_t stream);

// Glorot/Xavier uniform: U(−a, a), a = sqrt(6 / (in + out)). `weights` is [out, in].
void glorot_uniform_init(float* weights, std::int64_t out, std::int64_t in, const CounterRng& rng,
                         std::uint32_t stream);

// N(0, deviation²) for each of `count` values (He initialisation: deviation = sqrt(2 / fan)).
void normal_init(float* values, std::int64_t count, double deviation, const CounterRng& rng,
                 std::uint32_t stream);

// U(−bound, bound) for each of `count` values (PyTorch's nn.Linear default: bound = 1/sqrt(in) for
// the weight and the bias).
void uniform_init(float* values, std::int64_t count, double bound, const CounterRng& rng,
                  std::uint32_t stream);

}  // namespace sgdsweep::nn
