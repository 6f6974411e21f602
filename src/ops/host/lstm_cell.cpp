// Host LSTM cell, forward and backward, in PyTorch's gate order (input, forget, cell, output).
#include <cmath>

#include "ops/host/host_backend.hpp"

namespace sgdsweep::ops::host {

void HostBackend::lstm_cell_forward(float* gates, const float* c_prev, float* c, float* h,
                                    std::int64_t rows, std::int64_t hidden) {
  Kokkos::parallel_for("sgdsweep::lstm_cell_forward", Range(0, rows), [=](std::int64_t r) {
    float* gate = gates + r * 4 * hidden;
    for (std::int64_t j = 0; j < hidden; ++j) {
      const std::int64_t k = r * hidden + j;
      const LstmUnit u = lstm_unit_forward(gate[j], gate[hidden + j], gate[2 * hidden + j], gate[3 * hidden + j], c_prev[k]);
      gate[j] = u.input;
      gate[hidden + j] = u.forget;
      gate[2 * hidden + j] = u.cell;
      gate[3 * hidden + j] = u.output;
      c[k] = u.state;
      h[k] = u.hidden;
    }
  });
}

void HostBackend::lstm_cell_backward(const float* gates, const float* c_prev, const float* c,
                                     const float* dh, float* dc, float* gate_gradient,
                                     std::int64_t rows, std::int64_t hidden) {
  Kokkos::parallel_for("sgdsweep::lstm_cell_backward", Range(0, rows), [=](std::int64_t r) {
    const float* gate = gates + r * 4 * hidden;
    float* gradient = gate_gradient + r * 4 * hidden;
    for (std::int64_t j = 0; j < hidden; ++j) {
      const std::int64_t k = r * hidden + j;
      const LstmUnitGradient g = lstm_unit_backward(gate[j], gate[hidden + j], gate[2 * hidden + j],
                                                    gate[3 * hidden + j], c_prev[k], c[k], dh[k], dc[k]);
      gradient[j] = g.input;
      gradient[hidden + j] = g.forget;
      gradient[2 * hidden + j] = g.cell;
      gradient[3 * hidden + j] = g.output;
      dc[k] = g.c_prev;
    }
  });
}

}  // namespace sgdsweep::ops::host
