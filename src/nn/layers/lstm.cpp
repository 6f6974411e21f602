// LSTM layer: the input projection of the whole window as one GEMM, then the recurrence step by
// step; backward through time in reverse, the weight gradients of the window as GEMMs.
#include "nn/layers/lstm.hpp"

namespace sgdsweep::nn {

using ops::Transpose;

Lstm::Lstm(Parameters& parameters, const std::string& name, std::int64_t in_features,
           std::int64_t hidden)
    : in_features_(in_features), hidden_(hidden),
      input_weight_offset_(parameters.declare(name + ".weight_ih", 4 * hidden * in_features,
                                              ParameterRole::weight)),
      recurrent_weight_offset_(
          parameters.declare(name + ".weight_hh", 4 * hidden * hidden, ParameterRole::weight)),
      bias_offset_(parameters.declare(name + ".bias", 4 * hidden, ParameterRole::unregularized)) {}

void Lstm::forward(Parameters& parameters, const float* x, const float* h0, const float* c0, float* gates,
                   float* c, float* h, std::int64_t steps, std::int64_t rows, std::int64_t state_stride,
                   std::int64_t copy) const {
  ops::Backend& backend = parameters.backend();
  const std::int64_t copies = copy < 0 ? parameters.copies() : 1, stride = parameters.stride();
  const float* values = parameters.values() + (copy < 0 ? 0 : copy * stride);
  const float* w_ih = values + input_weight_offset_;
  const float* w_hh = values + recurrent_weight_offset_;
  const std::int64_t width = 4 * hidden_;
  // From one copy to the next: the window's inputs, gates and states.
  const std::int64_t x_stride = steps * rows * in_features_, gates_stride = steps * rows * width;
  const std::int64_t window_stride = steps * rows * hidden_;
  // gates[T·rows, 4H] = x · W_ihᵀ + b
  backend.gemm_packed(copies, Transpose::no, Transpose::yes, steps * rows, width, in_features_, 1.0f, x,
                      in_features_, x_stride, w_ih, in_features_, stride, 0.0f, gates, width, gates_stride);
  backend.add_row_vector_packed(copies, gates, gates_stride, values + bias_offset_, stride, steps * rows, width);
  for (std::int64_t t = 0; t < steps; ++t) {
    const float* h_previous = t == 0 ? h0 : h + (t - 1) * rows * hidden_;
    const float* c_previous = t == 0 ? c0 : c + (t - 1) * rows * hidden_;
    const std::int64_t previous_stride = t == 0 ? state_stride : window_stride;
    float* gates_t = gates + t * rows * width;
    backend.gemm_packed(copies, Transpose::no, Transpose::yes, rows, width, hidden_, 1.0f, h_previous, hidden_,
                        previous_stride, w_hh, hidden_, stride, 1.0f, gates_t, width, gates_stride);
    backend.lstm_cell_forward_packed(copies, gates_t, gates_stride, c_previous, previous_stride,
                                     c + t * rows * hidden_, h + t * rows * hidden_, window_stride, rows, hidden_);
  }
}

void Lstm::backward(Parameters& parameters, const float* x, const float* h0, const float* c0,
                    const float* gates, const float* c, const float* h, float* dh, float* dx,
                    float* gate_gradient, float* dh_next, float* dc, std::int64_t steps,
                    std::int64_t rows, std::int64_t state_stride) const {
  ops::Backend& backend = parameters.backend();
  const std::int64_t copies = parameters.copies(), stride = parameters.stride();
  const float* w_ih = parameters.values() + input_weight_offset_;
  const float* w_hh = parameters.values() + recurrent_weight_offset_;
  float* dw_ih = parameters.gradients() + input_weight_offset_;
  float* dw_hh = parameters.gradients() + recurrent_weight_offset_;
  const std::int64_t width = 4 * hidden_;
  const std::int64_t state = rows * hidden_;
  const std::int64_t x_stride = steps * rows * in_features_, gates_stride = steps * rows * width;
  const std::int64_t window_stride = steps * state;
  backend.fill(dh_next, copies * state, 0.0f);  // [P, rows, hidden]
  backend.fill(dc, copies * state, 0.0f);
  for (std::int64_t t = steps - 1; t >= 0; --t) {
    float* dh_t = dh + t * state;
    // from the output and from step t + 1
    backend.axpby_packed(copies, 1.0f, dh_next, state, 1.0f, dh_t, window_stride, state);
    const float* h_previous = t == 0 ? h0 : h + (t - 1) * state;
    const float* c_previous = t == 0 ? c0 : c + (t - 1) * state;
    const std::int64_t previous_stride = t == 0 ? state_stride : window_stride;
    float* dgates_t = gate_gradient + t * rows * width;
    backend.lstm_cell_backward_packed(copies, gates + t * rows * width, dgates_t, gates_stride, c_previous,
                                      previous_stride, c + t * state, dh_t, window_stride, dc, state, rows, hidden_);
    // dh_{t−1} = dgates_t · W_hh;  dW_hh += dgates_tᵀ · h_{t−1} (t descending)
    backend.gemm_packed(copies, Transpose::no, Transpose::no, rows, hidden_, width, 1.0f, dgates_t, width,
                        gates_stride, w_hh, hidden_, stride, 0.0f, dh_next, hidden_, state);
    backend.gemm_packed(copies, Transpose::yes, Transpose::no, width, hidden_, rows, 1.0f, dgates_t, width,
                        gates_stride, h_previous, hidden_, previous_stride, t == steps - 1 ? 0.0f : 1.0f, dw_hh,
                        hidden_, stride);
  }
  // dW_ih = dgatesᵀ · x, db = Σ dgates, dx = dgates · W_ih over the whole window.
  backend.gemm_packed(copies, Transpose::yes, Transpose::no, width, in_features_, steps * rows, 1.0f, gate_gradient,
                      width, gates_stride, x, in_features_, x_stride, 0.0f, dw_ih, in_features_, stride);
  backend.sum_rows_packed(copies, gate_gradient, gates_stride, steps * rows, width, 0.0f,
                          parameters.gradients() + bias_offset_, stride);
  if (dx) {
    backend.gemm_packed(copies, Transpose::no, Transpose::no, steps * rows, in_features_, width, 1.0f, gate_gradient,
                        width, gates_stride, w_ih, in_features_, stride, 0.0f, dx, in_features_, x_stride);
  }
}

}  // namespace sgdsweep::nn
