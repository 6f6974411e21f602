// CUDA elementwise ops: activations, products, the scaled residual sum, inverted dropout. The
// formulas are the host's (src/ops/host/elementwise.cpp) and, compiled without FMA contraction,
// give its bits.
#include "cuda_backend.cuh"
#include "util/rng.hpp"

namespace sgdsweep::ops::cuda {

void CudaBackend::sigmoid_forward(const float* x, float* y, std::int64_t count) {
  for_each(count, [=] __device__(std::int64_t i) { y[i] = portable_sigmoid(x[i]); });
}

void CudaBackend::sigmoid_backward(const float* y, const float* dy, float* dx, std::int64_t count) {
  for_each(count, [=] __device__(std::int64_t i) { dx[i] = dy[i] * (y[i] * (1.0f - y[i])); });
}

void CudaBackend::relu_forward(const float* x, float* y, std::int64_t count) {
  for_each(count, [=] __device__(std::int64_t i) { y[i] = x[i] > 0.0f ? x[i] : 0.0f; });
}

void CudaBackend::relu_backward(const float* y, const float* dy, float* dx, std::int64_t count) {
  for_each(count, [=] __device__(std::int64_t i) { dx[i] = y[i] > 0.0f ? dy[i] : 0.0f; });
}

void CudaBackend::multiply(const float* a, const float* b, float* y, std::int64_t count) {
  for_each(count, [=] __device__(std::int64_t i) { y[i] = a[i] * b[i]; });
}

void CudaBackend::add_scaled(const float* a, const float* b, const float* scale, float* y,
                             std::int64_t count) {
  add_scaled_packed(1, a, b, 0, scale, 0, y, count);
}

void CudaBackend::add_scaled_packed(std::int64_t pack, const float* a, const float* b, std::int64_t stride,
                                    const float* scale, std::int64_t stride_scalar, float* y, std::int64_t count) {
  // Each problem's scale lives in device memory: each thread reads its problem's (one cached load). y may alias
  // a or b: each element is read before it is written, by its own thread.
  for_each(pack * count, [=] __device__(std::int64_t t) {
    const std::int64_t p = t / count, k = p * stride + t % count;
    const float s = scale ? scale[p * stride_scalar] : 1.0f;
    y[k] = a ? a[k] + s * b[k] : s * b[k];
  });
}

void CudaBackend::dropout_forward(const float* x, float* y, float* mask, std::int64_t count,
                                  float probability, std::uint64_t seed, std::uint32_t stream,
                                  std::uint64_t first_position) {
  // Its seed and stream are kernel arguments: a recorded graph would keep the recording's mask.
  refuse_while_capturing("dropout with a seed and step from the host (the packed op reads them from memory)");
  const CounterRng rng(seed, RngPurpose::dropout);
  const float keep_scale = 1.0f / (1.0f - probability);
  for_each(count, [=] __device__(std::int64_t i) {
    mask[i] = dropout_mask(rng, stream, first_position + static_cast<std::uint64_t>(i), probability, keep_scale);
    y[i] = x[i] * mask[i];
  });
}

void CudaBackend::dropout_forward_packed(std::int64_t pack, const float* x, float* y, float* mask, std::int64_t stride,
                                         std::int64_t count, float probability, const std::uint64_t* seeds,
                                         const std::uint32_t* streams, std::uint64_t first_position) {
  const float keep_scale = 1.0f / (1.0f - probability);  // as the unpacked op computes it
  for_each(pack * count, [=] __device__(std::int64_t t) {
    const std::int64_t p = t / count, i = t % count, k = p * stride + i;
    const CounterRng rng(seeds[p], RngPurpose::dropout);
    mask[k] = dropout_mask(rng, streams[p], first_position + static_cast<std::uint64_t>(i), probability, keep_scale);
    y[k] = x[k] * mask[k];
  });
}

}  // namespace sgdsweep::ops::cuda
