// Helpers for tests that run ops on a backend: reproducible random inputs and host ↔ backend copies.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/backend.hpp"
#include "util/rng.hpp"

namespace sgdsweep::testing {

// `count` values uniform in [−scale, scale), a pure function of (stream, index).
inline std::vector<float> random_values(std::size_t count, std::uint32_t stream, double scale = 1.0) {
  const CounterRng rng(1234, RngPurpose::test);
  std::vector<float> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = static_cast<float>(scale * (2 * rng.uniform(stream, i) - 1));
  return values;
}

template <class T>
ops::Buffer<T> to_backend(ops::Backend& backend, const std::vector<T>& host) {
  ops::Buffer<T> buffer(backend, host.size());
  buffer.upload(host.data(), host.size());
  return buffer;
}

template <class T>
std::vector<T> to_host(const ops::Buffer<T>& buffer) {
  std::vector<T> host(buffer.size());
  buffer.download(host.data(), host.size());
  return host;
}

}  // namespace sgdsweep::testing
