// Host LSTM cell, forward and backward, in PyTorch's gate order (input, forget, cell, output).
#include <cmath>

#include "ops/host/host_backend.hpp"

namespace sgdsweep::ops::host {

void HostBackend::lstm_cell_forward(float* gates, const float* c_prev, float* c, float* h,
                                    std::int64_t rows, std::int64_t hidden) {
  Kokkos::parallel_for("sgdsweep::lstm_cell_forward", Range(0, rows), [=](std::int64_t r) {
    float* gate = gates + r * 4 * hidden;
    for (std::int64_t j = 0; j < hidden; ++j) {
      const float input = portable_sigmoid(gate[j]);
      const float forget = portable_sigmoid(gate[hidden + j]);
      const float cell = std::tanh(gate[2 * hidden + j]);
      const float output = portable_sigmoid(gate[3 * hidden + j]);
      gate[j] = input;
      gate[hidden + j] = forget;
      gate[2 * hidden + j] = cell;
      gate[3 * hidden + j] = output;
      const float state = forget * c_prev[r * hidden + j] + input * cell;
      c[r * hidden + j] = state;
      h[r * hidden + j] = output * std::tanh(state);
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
      const float input = gate[j], forget = gate[hidden + j];
      const float cell = gate[2 * hidden + j], output = gate[3 * hidden + j];
      const float tanh_state = std::tanh(c[k]);
      const float d_state = dc[k] + dh[k] * output * (1.0f - tanh_state * tanh_state);
      gradient[j] = d_state * cell * input * (1.0f - input);
      gradient[hidden + j] = d_state * c_prev[k] * forget * (1.0f - forget);
      gradient[2 * hidden + j] = d_state * input * (1.0f - cell * cell);
      gradient[3 * hidden + j] = dh[k] * tanh_state * output * (1.0f - output);
      dc[k] = d_state * forget;
    }
  });
}

}  // namespace sgdsweep::ops::host
