// CUDA LSTM cell, forward and backward, in PyTorch's gate order (input, forget, cell, output): a
// thread per (row, unit), the host's formulas (ops/portable_math.hpp; CUDA's tanhf here, glibc's
// there: equal to rounding).
#include "cuda_backend.cuh"

namespace sgdsweep::ops::cuda {

void CudaBackend::lstm_cell_forward(float* gates, const float* c_prev, float* c, float* h,
                                    std::int64_t rows, std::int64_t hidden) {
  for_each(rows * hidden, [=] __device__(std::int64_t k) { lstm_unit_forward(gates, c_prev, c, h, hidden, k / hidden, k % hidden); });
}

void CudaBackend::lstm_cell_backward(const float* gates, const float* c_prev, const float* c,
                                     const float* dh, float* dc, float* gate_gradient,
                                     std::int64_t rows, std::int64_t hidden) {
  for_each(rows * hidden, [=] __device__(std::int64_t k) {
    lstm_unit_backward(gates, c_prev, c, dh, dc, gate_gradient, hidden, k / hidden, k % hidden);
  });
}

}  // namespace sgdsweep::ops::cuda
