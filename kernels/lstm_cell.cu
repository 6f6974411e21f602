// CUDA LSTM cell, forward and backward, in PyTorch's gate order (input, forget, cell, output): a
// thread per (problem, row, unit), the unpacked ops being the pack of one; the host's formulas
// (ops/portable_math.hpp; CUDA's tanhf here, glibc's there: equal to rounding).
#include "cuda_backend.cuh"

namespace sgdsweep::ops::cuda {

void CudaBackend::lstm_cell_forward(float* gates, const float* c_prev, float* c, float* h,
                                    std::int64_t rows, std::int64_t hidden) {
  lstm_cell_forward_packed(1, gates, 0, c_prev, 0, c, h, 0, rows, hidden);
}

void CudaBackend::lstm_cell_backward(const float* gates, const float* c_prev, const float* c,
                                     const float* dh, float* dc, float* gate_gradient,
                                     std::int64_t rows, std::int64_t hidden) {
  lstm_cell_backward_packed(1, gates, gate_gradient, 0, c_prev, 0, c, dh, 0, dc, 0, rows, hidden);
}

void CudaBackend::lstm_cell_forward_packed(std::int64_t pack, float* gates, std::int64_t stride_gates,
                                           const float* c_prev, std::int64_t stride_c_prev, float* c, float* h,
                                           std::int64_t stride_state, std::int64_t rows, std::int64_t hidden) {
  const std::int64_t size = rows * hidden;
  for_each(pack * size, [=] __device__(std::int64_t t) {
    const std::int64_t p = t / size, k = t % size;
    lstm_unit_forward(gates + p * stride_gates, c_prev + p * stride_c_prev, c + p * stride_state,
                      h + p * stride_state, hidden, k / hidden, k % hidden);
  });
}

void CudaBackend::lstm_cell_backward_packed(std::int64_t pack, const float* gates, float* gate_gradient,
                                            std::int64_t stride_gates, const float* c_prev,
                                            std::int64_t stride_c_prev, const float* c, const float* dh,
                                            std::int64_t stride_state, float* dc, std::int64_t stride_dc,
                                            std::int64_t rows, std::int64_t hidden) {
  const std::int64_t size = rows * hidden;
  for_each(pack * size, [=] __device__(std::int64_t t) {
    const std::int64_t p = t / size, k = t % size;
    lstm_unit_backward(gates + p * stride_gates, c_prev + p * stride_c_prev, c + p * stride_state,
                       dh + p * stride_state, dc + p * stride_dc, gate_gradient + p * stride_gates, hidden,
                       k / hidden, k % hidden);
  });
}

}  // namespace sgdsweep::ops::cuda
