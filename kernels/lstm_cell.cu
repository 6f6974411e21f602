// CUDA LSTM cell, forward and backward, in PyTorch's gate order (input, forget, cell, output): a
// thread per (row, unit), the host's formulas (tanhf here, glibc's tanhf there: equal to rounding).
#include "cuda_backend.cuh"

namespace sgdsweep::ops::cuda {

void CudaBackend::lstm_cell_forward(float* gates, const float* c_prev, float* c, float* h,
                                    std::int64_t rows, std::int64_t hidden) {
  for_each(rows * hidden, [=] __device__(std::int64_t k) {
    const std::int64_t r = k / hidden, j = k % hidden;
    float* gate = gates + r * 4 * hidden;
    const float input = portable_sigmoid(gate[j]);
    const float forget = portable_sigmoid(gate[hidden + j]);
    const float cell = tanhf(gate[2 * hidden + j]);
    const float output = portable_sigmoid(gate[3 * hidden + j]);
    gate[j] = input;
    gate[hidden + j] = forget;
    gate[2 * hidden + j] = cell;
    gate[3 * hidden + j] = output;
    const float state = forget * c_prev[k] + input * cell;
    c[k] = state;
    h[k] = output * tanhf(state);
  });
}

void CudaBackend::lstm_cell_backward(const float* gates, const float* c_prev, const float* c,
                                     const float* dh, float* dc, float* gate_gradient,
                                     std::int64_t rows, std::int64_t hidden) {
  for_each(rows * hidden, [=] __device__(std::int64_t k) {
    const std::int64_t r = k / hidden, j = k % hidden;
    const float* gate = gates + r * 4 * hidden;
    float* gradient = gate_gradient + r * 4 * hidden;
    const float input = gate[j], forget = gate[hidden + j];
    const float cell = gate[2 * hidden + j], output = gate[3 * hidden + j];
    const float tanh_state = tanhf(c[k]);
    const float d_state = dc[k] + dh[k] * output * (1.0f - tanh_state * tanh_state);
    gradient[j] = d_state * cell * input * (1.0f - input);
    gradient[hidden + j] = d_state * c_prev[k] * forget * (1.0f - forget);
    gradient[2 * hidden + j] = d_state * input * (1.0f - cell * cell);
    gradient[3 * hidden + j] = dh[k] * tanh_state * output * (1.0f - output);
    dc[k] = d_state * forget;
  });
}

}  // namespace sgdsweep::ops::cuda
