// CUDA LSTM cell, forward and backward, in PyTorch's gate order (input, forget, cell, output): a
// thread per (row, unit), the host's formulas (ops/portable_math.hpp; CUDA's tanhf here, glibc's
// there: equal to rounding).
#include "cuda_backend.cuh"

namespace sgdsweep::ops::cuda {

void CudaBackend::lstm_cell_forward(float* gates, const float* c_prev, float* c, float* h,
                                    std::int64_t rows, std::int64_t hidden) {
  for_each(rows * hidden, [=] __device__(std::int64_t k) {
    const std::int64_t r = k / hidden, j = k % hidden;
    float* gate = gates + r * 4 * hidden;
    const LstmUnit u = lstm_unit_forward(gate[j], gate[hidden + j], gate[2 * hidden + j], gate[3 * hidden + j], c_prev[k]);
    gate[j] = u.input;
    gate[hidden + j] = u.forget;
    gate[2 * hidden + j] = u.cell;
    gate[3 * hidden + j] = u.output;
    c[k] = u.state;
    h[k] = u.hidden;
  });
}

void CudaBackend::lstm_cell_backward(const float* gates, const float* c_prev, const float* c,
                                     const float* dh, float* dc, float* gate_gradient,
                                     std::int64_t rows, std::int64_t hidden) {
  for_each(rows * hidden, [=] __device__(std::int64_t k) {
    const std::int64_t r = k / hidden, j = k % hidden;
    const float* gate = gates + r * 4 * hidden;
    float* gradient = gate_gradient + r * 4 * hidden;
    const LstmUnitGradient g = lstm_unit_backward(gate[j], gate[hidden + j], gate[2 * hidden + j],
                                                  gate[3 * hidden + j], c_prev[k], c[k], dh[k], dc[k]);
    gradient[j] = g.input;
    gradient[hidden + j] = g.forget;
    gradient[2 * hidden + j] = g.cell;
    gradient[3 * hidden + j] = g.output;
    dc[k] = g.c_prev;
  });
}

}  // namespace sgdsweep::ops::cuda
