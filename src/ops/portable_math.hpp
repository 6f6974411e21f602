// Per-element arithmetic that the host backend's Kokkos kernels and the CUDA backend's kernels
// share (util/host_device.hpp): one formula, so both backends do the same operations. First,
// single-precision exp and sigmoid from IEEE basic operations only.
//
// portable_exp: Cody–Waite reduction by ln 2 and Cephes' expf polynomial (relative error below
// 2e-7 on [−87, 88]; tested against std::exp). Unlike libm's expf it vectorizes, and it gives the
// same bits on every machine, vector width and on the GPU (nvcc is told not to contract it into
// FMAs: -fmad=false for kernels/). Arguments are clamped so that 2^n stays normal.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "util/host_device.hpp"
#include "util/rng.hpp"

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

// Inverted dropout's mask value at `position` (Backend::dropout_forward's contract): word
// position mod 4 of Philox at (stream, position / 4); 0 with probability p, else 1/(1 − p).
SGDSWEEP_HOST_DEVICE inline float dropout_mask(const CounterRng& rng, std::uint32_t stream, std::uint64_t position,
                                               float probability, float keep_scale) {
  const std::uint32_t bits = rng.bits(stream, position / 4)[position % 4];
  const float uniform = static_cast<float>(bits >> 8) * 0x1.0p-24f;
  return uniform < probability ? 0.0f : keep_scale;
}

// One unit of the LSTM cell (PyTorch's gate order), from the gates' pre-activations and c_prev:
// the activated gates (what backward reads), c = f·c_prev + i·g and h = o·tanh(c).
struct LstmUnit {
  float input, forget, cell, output, state, hidden;
};
SGDSWEEP_HOST_DEVICE inline LstmUnit lstm_unit_forward(float input, float forget, float cell, float output,
                                                       float c_prev) {
  LstmUnit u;
  u.input = portable_sigmoid(input);
  u.forget = portable_sigmoid(forget);
  u.cell = tanhf(cell);
  u.output = portable_sigmoid(output);
  u.state = u.forget * c_prev + u.input * u.cell;
  u.hidden = u.output * tanhf(u.state);
  return u;
}

// Its backward: from the activated gates, c_prev, c, dh and dc (from the next step), the
// gradients of the four pre-activations and dc_prev.
struct LstmUnitGradient {
  float input, forget, cell, output, c_prev;
};
SGDSWEEP_HOST_DEVICE inline LstmUnitGradient lstm_unit_backward(float input, float forget, float cell, float output,
                                                                float c_prev, float c, float dh, float dc) {
  const float tanh_state = tanhf(c);
  const float d_state = dc + dh * output * (1.0f - tanh_state * tanh_state);
  LstmUnitGradient g;
  g.input = d_state * cell * input * (1.0f - input);
  g.forget = d_state * c_prev * forget * (1.0f - forget);
  g.cell = d_state * input * (1.0f - cell * cell);
  g.output = dh * tanh_state * output * (1.0f - output);
  g.c_prev = d_state * forget;
  return g;
}

}  // namespace sgdsweep::ops
