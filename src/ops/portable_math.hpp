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

// Unit j of row r of the LSTM cell (Backend::lstm_cell_forward's contract; gates [rows, 4·hidden]
// in PyTorch's order input, forget, cell, output): the gates activated in place (what backward
// reads), c = f·c_prev + i·g, h = o·tanh(c).
SGDSWEEP_HOST_DEVICE inline void lstm_unit_forward(float* gates, const float* c_prev, float* c, float* h,
                                                   std::int64_t hidden, std::int64_t r, std::int64_t j) {
  float* gate = gates + r * 4 * hidden + j;
  const std::int64_t k = r * hidden + j;
  const float input = portable_sigmoid(gate[0]);
  const float forget = portable_sigmoid(gate[hidden]);
  const float cell = tanhf(gate[2 * hidden]);
  const float output = portable_sigmoid(gate[3 * hidden]);
  gate[0] = input;
  gate[hidden] = forget;
  gate[2 * hidden] = cell;
  gate[3 * hidden] = output;
  c[k] = forget * c_prev[k] + input * cell;
  h[k] = output * tanhf(c[k]);
}

// Its backward (Backend::lstm_cell_backward): from the activated gates, c_prev, c, dh and dc (from
// the next step), the gradients of the four pre-activations, and dc_prev written over dc.
SGDSWEEP_HOST_DEVICE inline void lstm_unit_backward(const float* gates, const float* c_prev, const float* c,
                                                    const float* dh, float* dc, float* gate_gradient,
                                                    std::int64_t hidden, std::int64_t r, std::int64_t j) {
  const float* gate = gates + r * 4 * hidden + j;
  float* gradient = gate_gradient + r * 4 * hidden + j;
  const std::int64_t k = r * hidden + j;
  const float input = gate[0], forget = gate[hidden], cell = gate[2 * hidden], output = gate[3 * hidden];
  const float tanh_state = tanhf(c[k]);
  const float d_state = dc[k] + dh[k] * output * (1.0f - tanh_state * tanh_state);
  gradient[0] = d_state * cell * input * (1.0f - input);
  gradient[hidden] = d_state * c_prev[k] * forget * (1.0f - forget);
  gradient[2 * hidden] = d_state * input * (1.0f - cell * cell);
  gradient[3 * hidden] = dh[k] * tanh_state * output * (1.0f - output);
  dc[k] = d_state * forget;
}

// Problem p's global-norm clipping factor (Backend::clip_scales): its tensors' sums of squares
// added in tensor order, the square root and the division in double (correctly rounded on both
// sides), 1 where the norm does not exceed the threshold or is NaN.
SGDSWEEP_HOST_DEVICE inline float clip_scale(const double* squares, std::int64_t pack, std::int64_t tensors,
                                             double threshold, std::int64_t p) {
  double sum = 0.0;
  for (std::int64_t t = 0; t < tensors; ++t) sum += squares[t * pack + p];
  const double norm = sqrt(sum);
  return norm > threshold ? static_cast<float>(threshold / (norm + 1e-6)) : 1.0f;
}

// Channel c of pixel (y, x) of output image i of Backend::gather_images_u8: image rows[i] of the
// byte table, cropped at the augmentation's offsets from the image zero-padded by `padding`,
// mirrored when its flip is set (a null augmentation: the image as it is), then normalised.
SGDSWEEP_HOST_DEVICE inline float augmented_pixel(const std::uint8_t* table, std::int64_t height, std::int64_t width,
                                                  std::int64_t channels, const std::int32_t* rows,
                                                  const std::int32_t* augmentation, std::int64_t padding,
                                                  const float* mean, const float* inv_std, std::int64_t i,
                                                  std::int64_t y, std::int64_t x, std::int64_t c) {
  // The window's origin in the padded image's coordinates, shifted back to the unpadded image's.
  const std::int64_t top = augmentation ? augmentation[3 * i] - padding : 0;
  const std::int64_t left = augmentation ? augmentation[3 * i + 1] - padding : 0;
  const bool flip = augmentation && augmentation[3 * i + 2] != 0;
  const std::int64_t source_y = top + y;
  const std::int64_t source_x = left + (flip ? width - 1 - x : x);
  const bool inside = source_y >= 0 && source_y < height && source_x >= 0 && source_x < width;
  const std::uint8_t* image = table + static_cast<std::int64_t>(rows[i]) * height * width * channels;
  const float value =
      inside ? static_cast<float>(image[(source_y * width + source_x) * channels + c]) * (1.0f / 255.0f) : 0.0f;
  return (value - mean[c]) * inv_std[c];
}

}  // namespace sgdsweep::ops
