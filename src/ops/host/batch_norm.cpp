// Host batch normalisation (training, inference, backward) and global average pooling, NHWC:
// statistics per channel over the rows, accumulated in double in ascending row order.
#include <cmath>
#include <vector>

#include "ops/host/host_backend.hpp"

namespace sgdsweep::ops::host {

void HostBackend::batch_norm_forward_training(const float* x, std::int64_t rows,
                                              std::int64_t channels, const float* gamma,
                                              const float* beta, float epsilon, float* y,
                                              float* mean, float* inv_std,
                                              float* unbiased_variance) {
  std::vector<double> sum(static_cast<std::size_t>(channels), 0.0);
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* row = x + i * channels;
    for (std::int64_t c = 0; c < channels; ++c) sum[c] += row[c];
  }
  std::vector<double> squares(static_cast<std::size_t>(channels), 0.0);
  for (std::int64_t c = 0; c < channels; ++c) mean[c] = static_cast<float>(sum[c] / rows);
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* row = x + i * channels;
    for (std::int64_t c = 0; c < channels; ++c) {
      const double centred = static_cast<double>(row[c]) - mean[c];
      squares[c] += centred * centred;
    }
  }
  for (std::int64_t c = 0; c < channels; ++c) {
    const double variance = squares[c] / rows;
    inv_std[c] = static_cast<float>(1.0 / std::sqrt(variance + epsilon));
    unbiased_variance[c] =
        static_cast<float>(rows > 1 ? squares[c] / static_cast<double>(rows - 1) : variance);
  }
  Kokkos::parallel_for("sgdsweep::batch_norm_forward_training", Range(0, rows), [=](std::int64_t i) {
    const float* row = x + i * channels;
    float* out = y + i * channels;
    for (std::int64_t c = 0; c < channels; ++c) {
      out[c] = gamma[c] * ((row[c] - mean[c]) * inv_std[c]) + beta[c];
    }
  });
}

void HostBackend::batch_norm_forward_inference(const float* x, std::int64_t rows,
                                               std::int64_t channels, const float* gamma,
                                               const float* beta, const float* running_mean,
                                               const float* running_variance, float epsilon,
                                               float* y) {
  std::vector<float> scale(static_cast<std::size_t>(channels));
  for (std::int64_t c = 0; c < channels; ++c) {
    scale[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(running_variance[c]) + epsilon));
  }
  const float* inverse = scale.data();
  Kokkos::parallel_for("sgdsweep::batch_norm_forward_inference", Range(0, rows), [=](std::int64_t i) {
    const float* row = x + i * channels;
    float* out = y + i * channels;
    for (std::int64_t c = 0; c < channels; ++c) {
      out[c] = gamma[c] * ((row[c] - running_mean[c]) * inverse[c]) + beta[c];
    }
  });
}

void HostBackend::batch_norm_backward(const float* x, const float* dy, std::int64_t rows,
                                      std::int64_t channels, const float* gamma, const float* mean,
                                      const float* inv_std, float* dx, float* gamma_gradient,
                                      float* beta_gradient) {
  // With x̂ = (x − μ)·σ⁻¹: dβ = Σ dy, dγ = Σ dy·x̂, dx = γσ⁻¹/n · (n·dy − dβ − x̂·dγ).
  std::vector<double> sum_dy(static_cast<std::size_t>(channels), 0.0);
  std::vector<double> sum_dy_xhat(static_cast<std::size_t>(channels), 0.0);
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* row = x + i * channels;
    const float* grad = dy + i * channels;
    for (std::int64_t c = 0; c < channels; ++c) {
      sum_dy[c] += grad[c];
      sum_dy_xhat[c] += static_cast<double>(grad[c]) * ((row[c] - mean[c]) * inv_std[c]);
    }
  }
  std::vector<float> dbeta(static_cast<std::size_t>(channels)), dgamma(static_cast<std::size_t>(channels));
  for (std::int64_t c = 0; c < channels; ++c) {
    dbeta[c] = static_cast<float>(sum_dy[c]);
    dgamma[c] = static_cast<float>(sum_dy_xhat[c]);
  }
  const float* db = dbeta.data();
  const float* dg = dgamma.data();
  const float inverse_rows = 1.0f / static_cast<float>(rows);
  // dx may alias dy: each element is read before it is written, row by row.
  Kokkos::parallel_for("sgdsweep::batch_norm_backward", Range(0, rows), [=](std::int64_t i) {
    const float* row = x + i * channels;
    const float* grad = dy + i * channels;
    float* out = dx + i * channels;
    for (std::int64_t c = 0; c < channels; ++c) {
      const float xhat = (row[c] - mean[c]) * inv_std[c];
      out[c] = gamma[c] * inv_std[c] * (grad[c] - inverse_rows * (db[c] + xhat * dg[c]));
    }
  });
  for (std::int64_t c = 0; c < channels; ++c) {
    gamma_gradient[c] = dgamma[c];
    beta_gradient[c] = dbeta[c];
  }
}

void HostBackend::average_pool_forward(const float* x, std::int64_t batch, std::int64_t pixels,
                                       std::int64_t channels, float* y) {
  const float inverse = 1.0f / static_cast<float>(pixels);
  Kokkos::parallel_for("sgdsweep::average_pool_forward", Range(0, batch), [=](std::int64_t b) {
    float* out = y + b * channels;
    for (std::int64_t c = 0; c < channels; ++c) out[c] = 0.0f;
    for (std::int64_t p = 0; p < pixels; ++p) {
      const float* row = x + (b * pixels + p) * channels;
      for (std::int64_t c = 0; c < channels; ++c) out[c] += row[c];
    }
    for (std::int64_t c = 0; c < channels; ++c) out[c] *= inverse;
  });
}

void HostBackend::average_pool_backward(const float* dy, std::int64_t batch, std::int64_t pixels,
                                        std::int64_t channels, float* dx) {
  const float inverse = 1.0f / static_cast<float>(pixels);
  Kokkos::parallel_for("sgdsweep::average_pool_backward", Range(0, batch * pixels),
                       [=](std::int64_t r) {
                         const float* grad = dy + (r / pixels) * channels;
                         float* out = dx + r * channels;
                         for (std::int64_t c = 0; c < channels; ++c) out[c] = grad[c] * inverse;
                       });
}

}  // namespace sgdsweep::ops::host
