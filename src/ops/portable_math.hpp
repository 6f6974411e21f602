// Single-precision exp and sigmoid from IEEE basic operations only, for the host backend's Kokkos
// kernels and the CUDA backend's kernels alike (util/host_device.hpp).
//
// portable_exp: Cody–Waite reduction by ln 2 and Cephes' expf polynomial (relative error below
// 2e-7 on [−87, 88]; tested against std::exp). Unlike libm's expf it vectorizes, and it gives the
// same bits on every machine, vector width and on the GPU (nvcc is told not to contract it into
// FMAs: -fmad=false for kernels/). Arguments are clamped so that 2^n stays normal.
#pragma once

#include <cstdint>
#include <cstring>

#include "util/host_device.hpp"

namespace sgdsweep::ops {

SGDSWEEP_HOST_DEVICE inline float float_from_bits(std::int32_t bits) {
#if defined(__CUDA_ARCH__)
  return __int_as_float(bits);
#else
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
#endif
}

SGDSWEEP_HOST_DEVICE inline float portable_exp(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  constexpr float kRoundMagic = 12582912.0f;  // 1.5·2^23: adding it rounds to the nearest integer
  const float n = (x * 1.44269504088896341f + kRoundMagic) - kRoundMagic;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;  // x − n·ln 2 in two parts
  const float polynomial =
      (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
         4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f) * (r * r) + r + 1.0f;
  return polynomial * float_from_bits((static_cast<std::int32_t>(n) + 127) << 23);
}

SGDSWEEP_HOST_DEVICE inline float portable_sigmoid(float x) { return 1.0f / (1.0f + portable_exp(-x)); }

}  // namespace sgdsweep::ops
