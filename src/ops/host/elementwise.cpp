// Host elementwise ops: activations, products, the scaled residual sum, inverted dropout.
#include "ops/host/host_backend.hpp"
#include "util/rng.hpp"

namespace sgdsweep::ops::host {

void HostBackend::sigmoid_forward(const float* x, float* y, std::int64_t count) {
  Kokkos::parallel_for("sgdsweep::sigmoid_forward", Range(0, count),
                       [=](std::int64_t i) { y[i] = portable_sigmoid(x[i]); });
}

void HostBackend::sigmoid_backward(const float* y, const float* dy, float* dx, std::int64_t count) {
  Kokkos::parallel_for("sgdsweep::sigmoid_backward", Range(0, count),
                       [=](std::int64_t i) { dx[i] = dy[i] * (y[i] * (1.0f - y[i])); });
}

void HostBackend::relu_forward(const float* x, float* y, std::int64_t count) {
  Kokkos::parallel_for("sgdsweep::relu_forward", Range(0, count),
                       [=](std::int64_t i) { y[i] = x[i] > 0.0f ? x[i] : 0.0f; });
}

void HostBackend::relu_backward(const float* y, const float* dy, float* dx, std::int64_t count) {
  Kokkos::parallel_for("sgdsweep::relu_backward", Range(0, count),
                       [=](std::int64_t i) { dx[i] = y[i] > 0.0f ? dy[i] : 0.0f; });
}

void HostBackend::multiply(const float* a, const float* b, float* y, std::int64_t count) {
  Kokkos::parallel_for("sgdsweep::multiply", Range(0, count),
                       [=](std::int64_t i) { y[i] = a[i] * b[i]; });
}

void HostBackend::add_scaled(const float* a, const float* b, const float* scale, float* y,
                             std::int64_t count) {
  const float s = scale ? *scale : 1.0f;
  if (!a) {
    Kokkos::parallel_for("sgdsweep::scale", Range(0, count), [=](std::int64_t i) { y[i] = s * b[i]; });
    return;
  }
  Kokkos::parallel_for("sgdsweep::add_scaled", Range(0, count),
                       [=](std::int64_t i) { y[i] = a[i] + s * b[i]; });
}

namespace {

void dropout_one(const float* x, float* y, float* mask, std::int64_t count, float probability, std::uint64_t seed,
                 std::uint32_t stream, std::uint64_t first_position) {
  const CounterRng rng(seed, RngPurpose::dropout);
  const float keep_scale = 1.0f / (1.0f - probability);
  Kokkos::parallel_for("sgdsweep::dropout_forward", Range(0, count), [=](std::int64_t i) {
    mask[i] = dropout_mask(rng, stream, first_position + static_cast<std::uint64_t>(i), probability, keep_scale);
    y[i] = x[i] * mask[i];
  });
}

}  // namespace

void HostBackend::dropout_forward(const float* x, float* y, float* mask, std::int64_t count,
                                  float probability, std::uint64_t seed, std::uint32_t stream,
                                  std::uint64_t first_position) {
  // Its seed and stream are arguments: a GPU's recorded step would keep the recording's mask.
  refuse_inside_recording("dropout with a seed and step from the host (the packed op reads them from memory)");
  dropout_one(x, y, mask, count, probability, seed, stream, first_position);
}

void HostBackend::dropout_forward_packed(std::int64_t pack, const float* x, float* y, float* mask, std::int64_t stride,
                                         std::int64_t count, float probability, const std::uint64_t* seeds,
                                         const std::uint32_t* streams, std::uint64_t first_position) {
  for (std::int64_t p = 0; p < pack; ++p) {
    dropout_one(x + p * stride, y + p * stride, mask + p * stride, count, probability, seeds[p], streams[p],
                first_position);
  }
}

}  // namespace sgdsweep::ops::host
