// CUDA batch normalisation (training, inference, backward) and global average pooling, NHWC.
// Per-channel statistics in double by a fixed two-level order: rows in chunks of kRowsPerChunk
// summed in ascending order by one thread per (chunk, channel), then the chunks in ascending order
// by one thread per channel. Coalesced across channels, no atomics, the same bits every run.
#include <cmath>

#include "cuda_backend.cuh"

namespace sgdsweep::ops::cuda {
namespace {

constexpr std::int64_t kRowsPerChunk = 256;

std::int64_t chunk_count(std::int64_t rows) { return (rows + kRowsPerChunk - 1) / kRowsPerChunk; }

}  // namespace

void CudaBackend::batch_norm_forward_training(const float* x, std::int64_t rows,
                                              std::int64_t channels, const float* gamma,
                                              const float* beta, float epsilon, float* y,
                                              float* mean, float* inv_std,
                                              float* unbiased_variance) {
  const std::int64_t chunks = chunk_count(rows);
  double* partial = partials(static_cast<std::size_t>(chunks * channels));
  for_each(chunks * channels, [=] __device__(std::int64_t k) {
    const std::int64_t chunk = k / channels, c = k % channels;
    const std::int64_t end = min(rows, (chunk + 1) * kRowsPerChunk);
    double sum = 0.0;
    for (std::int64_t i = chunk * kRowsPerChunk; i < end; ++i) sum += x[i * channels + c];
    partial[k] = sum;
  });
  for_each(channels, [=] __device__(std::int64_t c) {
    double sum = 0.0;
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk) sum += partial[chunk * channels + c];
    mean[c] = static_cast<float>(sum / rows);
  });
  for_each(chunks * channels, [=] __device__(std::int64_t k) {
    const std::int64_t chunk = k / channels, c = k % channels;
    const std::int64_t end = min(rows, (chunk + 1) * kRowsPerChunk);
    double squares = 0.0;
    for (std::int64_t i = chunk * kRowsPerChunk; i < end; ++i) {
      const double centred = static_cast<double>(x[i * channels + c]) - mean[c];
      squares += centred * centred;
    }
    partial[k] = squares;
  });
  for_each(channels, [=] __device__(std::int64_t c) {
    double squares = 0.0;
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk) squares += partial[chunk * channels + c];
    const double variance = squares / rows;
    inv_std[c] = static_cast<float>(1.0 / sqrt(variance + epsilon));
    unbiased_variance[c] = static_cast<float>(rows > 1 ? squares / static_cast<double>(rows - 1) : variance);
  });
  for_each(rows * channels, [=] __device__(std::int64_t k) {
    const std::int64_t c = k % channels;
    y[k] = gamma[c] * ((x[k] - mean[c]) * inv_std[c]) + beta[c];
  });
}

void CudaBackend::batch_norm_forward_inference(const float* x, std::int64_t rows,
                                               std::int64_t channels, const float* gamma,
                                               const float* beta, const float* running_mean,
                                               const float* running_variance, float epsilon,
                                               float* y) {
  for_each(rows * channels, [=] __device__(std::int64_t k) {
    const std::int64_t c = k % channels;
    const auto scale = static_cast<float>(1.0 / sqrt(static_cast<double>(running_variance[c]) + epsilon));
    y[k] = gamma[c] * ((x[k] - running_mean[c]) * scale) + beta[c];
  });
}

void CudaBackend::batch_norm_backward(const float* x, const float* dy, std::int64_t rows,
                                      std::int64_t channels, const float* gamma, const float* mean,
                                      const float* inv_std, float* dx, float* gamma_gradient,
                                      float* beta_gradient) {
  // With x̂ = (x − μ)·σ⁻¹: dβ = Σ dy, dγ = Σ dy·x̂, dx = γσ⁻¹/n · (n·dy − dβ − x̂·dγ).
  const std::int64_t chunks = chunk_count(rows);
  double* sum_dy = partials(static_cast<std::size_t>(chunks * channels), 0);
  double* sum_dy_xhat = partials(static_cast<std::size_t>(chunks * channels), 1);
  for_each(chunks * channels, [=] __device__(std::int64_t k) {
    const std::int64_t chunk = k / channels, c = k % channels;
    const std::int64_t end = min(rows, (chunk + 1) * kRowsPerChunk);
    double a = 0.0, b = 0.0;
    for (std::int64_t i = chunk * kRowsPerChunk; i < end; ++i) {
      const float grad = dy[i * channels + c];
      a += grad;
      b += static_cast<double>(grad) * ((x[i * channels + c] - mean[c]) * inv_std[c]);
    }
    sum_dy[k] = a;
    sum_dy_xhat[k] = b;
  });
  for_each(channels, [=] __device__(std::int64_t c) {
    double a = 0.0, b = 0.0;
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
      a += sum_dy[chunk * channels + c];
      b += sum_dy_xhat[chunk * channels + c];
    }
    beta_gradient[c] = static_cast<float>(a);
    gamma_gradient[c] = static_cast<float>(b);
  });
  const float inverse_rows = 1.0f / static_cast<float>(rows);
  // dx may alias dy: each element is read before it is written, by its own thread.
  for_each(rows * channels, [=] __device__(std::int64_t k) {
    const std::int64_t c = k % channels;
    const float xhat = (x[k] - mean[c]) * inv_std[c];
    dx[k] = gamma[c] * inv_std[c] * (dy[k] - inverse_rows * (beta_gradient[c] + xhat * gamma_gradient[c]));
  });
}

void CudaBackend::average_pool_forward(const float* x, std::int64_t batch, std::int64_t pixels,
                                       std::int64_t channels, float* y) {
  const float inverse = 1.0f / static_cast<float>(pixels);
  // A thread per (image, channel), pixels ascending: the host's order and bits.
  for_each(batch * channels, [=] __device__(std::int64_t k) {
    const std::int64_t b = k / channels, c = k % channels;
    float sum = 0.0f;
    for (std::int64_t p = 0; p < pixels; ++p) sum += x[(b * pixels + p) * channels + c];
    y[k] = sum * inverse;
  });
}

void CudaBackend::average_pool_backward(const float* dy, std::int64_t batch, std::int64_t pixels,
                                        std::int64_t channels, float* dx) {
  const float inverse = 1.0f / static_cast<float>(pixels);
  for_each(batch * pixels * channels, [=] __device__(std::int64_t k) {
    const std::int64_t c = k % channels, b = k / (pixels * channels);
    dx[k] = dy[b * channels + c] * inverse;
  });
}

}  // namespace sgdsweep::ops::cuda
