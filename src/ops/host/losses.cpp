// Host losses: squared error (autoencoder) and softmax cross-entropy (classifiers, language model).
#include <cmath>

#include "ops/host/host_backend.hpp"

namespace sgdsweep::ops::host {

void HostBackend::squared_error(const float* y, const float* target, std::int64_t rows,
                                std::int64_t columns, float* gradient, float gradient_scale,
                                double* loss_sum) {
  double total = 0.0;
  for (std::int64_t i = 0; i < rows; ++i) {
    double row_sum = 0.0;
    const float* yi = y + i * columns;
    const float* ti = target + i * columns;
    for (std::int64_t j = 0; j < columns; ++j) {
      const float difference = yi[j] - ti[j];
      row_sum += static_cast<double>(difference) * difference;
      if (gradient) gradient[i * columns + j] = gradient_scale * (2.0f * difference);
    }
    total += row_sum;
  }
  *loss_sum = total;
}

void HostBackend::softmax_cross_entropy(const float* logits, const std::int32_t* labels,
                                        std::int64_t rows, std::int64_t classes, float* gradient,
                                        float gradient_scale, double* loss_sum, double* correct) {
  double total = 0.0;
  double hits = 0.0;
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* z = logits + i * classes;
    std::int64_t argmax = 0;
    for (std::int64_t j = 1; j < classes; ++j) {
      if (z[j] > z[argmax]) argmax = j;
    }
    const float maximum = z[argmax];
    double partition = 0.0;
    for (std::int64_t j = 0; j < classes; ++j) partition += portable_exp(z[j] - maximum);
    const std::int32_t label = labels[i];
    total += static_cast<double>(maximum) + std::log(partition) - static_cast<double>(z[label]);
    hits += argmax == label ? 1.0 : 0.0;
    if (gradient) {
      float* g = gradient + i * classes;
      const float inverse_partition = static_cast<float>(1.0 / partition);
      for (std::int64_t j = 0; j < classes; ++j) {
        const float probability = portable_exp(z[j] - maximum) * inverse_partition;
        g[j] = gradient_scale * (j == label ? probability - 1.0f : probability);
      }
    }
  }
  *loss_sum = total;
  *correct = hits;
}

}  // namespace sgdsweep::ops::host
