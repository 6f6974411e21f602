// Host LSTM cell, forward and backward, in PyTorch's gate order (input, forget, cell, output).
#include <cmath>

#include "ops/host/host_backend.hpp"

namespace sgdsweep::ops::host {

void HostBackend::lstm_cell_forward(float* gates, const float* c_prev, float* c, float* h,
                                    std::int64_t rows, std::int64_t hidden) {
  Kokkos::parallel_for("sgdsweep::lstm_cell_forward", Range(0, rows), [=](std::int64_t r) {
    for (std::int64_t j = 0; j < hidden; ++j) lstm_unit_forward(gates, c_prev, c, h, hidden, r, j);
  });
}

void HostBackend::lstm_cell_backward(const float* gates, const float* c_prev, const float* c,
                                     const float* dh, float* dc, float* gate_gradient,
                                     std::int64_t rows, std::int64_t hidden) {
  Kokkos::parallel_for("sgdsweep::lstm_cell_backward", Range(0, rows), [=](std::int64_t r) {
    for (std::int64_t j = 0; j < hidden; ++j) lstm_unit_backward(gates, c_prev, c, dh, dc, gate_gradient, hidden, r, j);
  });
}

}  // namespace sgdsweep::ops::host
