// Helpers for tests that run ops on a backend: reproducible random inputs, host ↔ backend copies,
// and whether a backend can run here.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "ops/backend.hpp"
#include "ops/registry.hpp"
#include "util/error.hpp"
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

// `device`'s backend, or null where it cannot run on this machine (a build with the CUDA backend
// where no GPU is usable) with the reason in *why: the suites instantiated for every built backend
// skip with it.
inline std::unique_ptr<ops::Backend> usable_backend(const std::string& device, std::string* why) {
  try {
    return ops::make_backend(device);
  } catch (const Error& e) {
    *why = e.what();
    return nullptr;
  }
}

// Whether SGDSWEEP_REQUIRE_DEVICE names `device` (bench/gpu/session.sh sets it on the GPU machine):
// there a device that does not start fails its tests rather than skipping them, so a GPU whose
// backend cannot start does not pass as "skipped".
inline bool device_required(const std::string& device) {
  const char* required = std::getenv("SGDSWEEP_REQUIRE_DEVICE");
  return required && device == required;
}

}  // namespace sgdsweep::testing

// In a test or SetUp: `target` = `device`'s backend, or the test skipped with the reason where the
// device cannot run here (failed where the device is required).
#define SGDSWEEP_BACKEND_OR_SKIP(target, device)                                                   \
  if (std::string why_unusable; !((target) = ::sgdsweep::testing::usable_backend(device, &why_unusable))) { \
    if (::sgdsweep::testing::device_required(device)) FAIL() << why_unusable;                      \
    GTEST_SKIP() << why_unusable;                                                                  \
  }
