// CUDA batch normalisation (training, inference, backward) and global average pooling, NHWC.
// Per-channel statistics in double by a fixed two-level order: rows in chunks of kRowsPerChunk
// summed in ascending order by one thread per (chunk, channel), then the chunks in ascending order
// by one thread per channel. Coalesced across channels, no atomics, the same bits every run. The packed
// training and backward ops add a problem index to every launch (each problem its own partials and the same
// order); the unpacked ones are their pack of one, so a problem's bits never depend on the pack.
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
  batch_norm_forward_training_packed(1, x, 0, rows, channels, gamma, beta, 0, epsilon, y, mean, inv_std,
                                     unbiased_variance);
}

// Problem p: x, y at p·stride_x; gamma, beta, mean, unbiased_variance at p·stride_parameters; inv_std at
// p·channels. Its partials are its own run of chunks·channels doubles, summed in the same order whatever the
// pack, so its bits are those of the pack of one (the unpacked op).
void CudaBackend::batch_norm_forward_training_packed(std::int64_t pack, const float* x, std::int64_t stride_x,
                                                     std::int64_t rows, std::int64_t channels, const float* gamma,
                                                     const float* beta, std::int64_t stride_parameters,
                                                     float epsilon, float* y, float* mean, float* inv_std,
                                                     float* unbiased_variance) {
  if (pack <= 0) return;
  const std::int64_t chunks = chunk_count(rows), per_problem = chunks * channels, count = rows * channels;
  double* partial = partials(static_cast<std::size_t>(pack * per_problem));
  for_each(pack * per_problem, [=] __device__(std::int64_t k) {
    const std::int64_t p = k / per_problem, chunk = k % per_problem / channels, c = k % channels;
    const float* xp = x + p * stride_x;
    const std::int64_t end = min(rows, (chunk + 1) * kRowsPerChunk);
    double sum = 0.0;
    for (std::int64_t i = chunk * kRowsPerChunk; i < end; ++i) sum += xp[i * channels + c];
    partial[k] = sum;
  });
  for_each(pack * channels, [=] __device__(std::int64_t t) {
    const std::int64_t p = t / channels, c = t % channels;
    const double* own = partial + p * per_problem;
    double sum = 0.0;
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk) sum += own[chunk * channels + c];
    mean[p * stride_parameters + c] = static_cast<float>(sum / rows);
  });
  for_each(pack * per_problem, [=] __device__(std::int64_t k) {
    const std::int64_t p = k / per_problem, chunk = k % per_problem / channels, c = k % channels;
    const float* xp = x + p * stride_x;
    const float m = mean[p * stride_parameters + c];
    const std::int64_t end = min(rows, (chunk + 1) * kRowsPerChunk);
    double squares = 0.0;
    for (std::int64_t i = chunk * kRowsPerChunk; i < end; ++i) {
      const double centred = static_cast<double>(xp[i * channels + c]) - m;
      squares += centred * centred;
    }
    partial[k] = squares;
  });
  for_each(pack * channels, [=] __device__(std::int64_t t) {
    const std::int64_t p = t / channels, c = t % channels;
    const double* own = partial + p * per_problem;
    double squares = 0.0;
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk) squares += own[chunk * channels + c];
    const double variance = squares / rows;
    inv_std[p * channels + c] = static_cast<float>(1.0 / sqrt(variance + epsilon));
    unbiased_variance[p * stride_parameters + c] =
        static_cast<float>(rows > 1 ? squares / static_cast<double>(rows - 1) : variance);
  });
  for_each(pack * count, [=] __device__(std::int64_t t) {
    const std::int64_t p = t / count, k = p * stride_x + t % count, c = t % channels;
    const std::int64_t q = p * stride_parameters + c;
    y[k] = gamma[q] * ((x[k] - mean[q]) * inv_std[p * channels + c]) + beta[q];
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
  batch_norm_backward_packed(1, x, dy, 0, rows, channels, gamma, mean, 0, inv_std, dx, gamma_gradient,
                             beta_gradient);
}

// Problem p: x, dy, dx at p·stride_x; gamma, mean and the γ and β gradients at p·stride_parameters; inv_std at
// p·channels; its partials its own, as in the forward pass.
void CudaBackend::batch_norm_backward_packed(std::int64_t pack, const float* x, const float* dy,
                                             std::int64_t stride_x, std::int64_t rows, std::int64_t channels,
                                             const float* gamma, const float* mean, std::int64_t stride_parameters,
                                             const float* inv_std, float* dx, float* gamma_gradient,
                                             float* beta_gradient) {
  if (pack <= 0) return;
  // With x̂ = (x − μ)·σ⁻¹: dβ = Σ dy, dγ = Σ dy·x̂, dx = γσ⁻¹/n · (n·dy − dβ − x̂·dγ).
  const std::int64_t chunks = chunk_count(rows), per_problem = chunks * channels, count = rows * channels;
  double* sum_dy = partials(static_cast<std::size_t>(pack * per_problem), 0);
  double* sum_dy_xhat = partials(static_cast<std::size_t>(pack * per_problem), 1);
  for_each(pack * per_problem, [=] __device__(std::int64_t k) {
    const std::int64_t p = k / per_problem, chunk = k % per_problem / channels, c = k % channels;
    const float* xp = x + p * stride_x;
    const float* dyp = dy + p * stride_x;
    const float m = mean[p * stride_parameters + c], s = inv_std[p * channels + c];
    const std::int64_t end = min(rows, (chunk + 1) * kRowsPerChunk);
    double a = 0.0, b = 0.0;
    for (std::int64_t i = chunk * kRowsPerChunk; i < end; ++i) {
      const float grad = dyp[i * channels + c];
      a += grad;
      b += static_cast<double>(grad) * ((xp[i * channels + c] - m) * s);
    }
    sum_dy[k] = a;
    sum_dy_xhat[k] = b;
  });
  for_each(pack * channels, [=] __device__(std::int64_t t) {
    const std::int64_t p = t / channels, c = t % channels;
    const double* own_dy = sum_dy + p * per_problem;
    const double* own_dy_xhat = sum_dy_xhat + p * per_problem;
    double a = 0.0, b = 0.0;
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
      a += own_dy[chunk * channels + c];
      b += own_dy_xhat[chunk * channels + c];
    }
    beta_gradient[p * stride_parameters + c] = static_cast<float>(a);
    gamma_gradient[p * stride_parameters + c] = static_cast<float>(b);
  });
  const float inverse_rows = 1.0f / static_cast<float>(rows);
  // dx may alias dy: each element is read before it is written, by its own thread (the sums above are complete,
  // a launch earlier).
  for_each(pack * count, [=] __device__(std::int64_t t) {
    const std::int64_t p = t / count, k = p * stride_x + t % count, c = t % channels;
    const std::int64_t q = p * stride_parameters + c;
    const float s = inv_std[p * channels + c];
    const float xhat = (x[k] - mean[q]) * s;
    dx[k] = gamma[q] * s * (dy[k] - inverse_rows * (beta_gradient[q] + xhat * gamma_gradient[q]));
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
