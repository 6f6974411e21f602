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

void Lstm::forward(Parameters& parameters, const float* x, const float* h0, const float* c0,
                   float* gates, float* c, float* h, std::int64_t steps, std::int64_t rows) const {
  ops::Backend& backend = parameters.backend();
  const float* w_ih = parameters.values() + input_weight_offset_;
  const float* w_hh = parameters.values() + recurrent_weight_offset_;
  const std::int64_t width = 4 * hidden_;
  // gates[T·rows, 4H] = x · W_ihᵀ + b
  backend.gemm(Transpose::no, Transpose::yes, steps * rows, width, in_features_, 1.0f, x,
               in_features_, w_ih, in_features_, 0.0f, gates, width);
  backend.add_row_vector(gates, parameters.values() + bias_offset_, steps * rows, width);
  for (std::int64_t t = 0; t < steps; ++t) {
    const float* h_previous = t == 0 ? h0 : h + (t - 1) * rows * hidden_;
    const float* c_previous = t == 0 ? c0 : c + (t - 1) * rows * hidden_;
    float* gates_t = gates + t * rows * width;
    backend.gemm(Transpose::no, Transpose::yes, rows, width, hidden_, 1.0f, h_previous, hidden_,
                 w_hh, hidden_, 1.0f, gates_t, width);
    backend.lstm_cell_forward(gates_t, c_previous, c + t * rows * hidden_, h + t * rows * hidden_,
                              rows, hidden_);
  }
}

void Lstm::backward(Parameters& parameters, const float* x, const float* h0, const float* c0,
                    const float* gates, const float* c, const float* h, float* dh, float* dx,
                    float* gate_gradient, float* dh_next, float* dc, std::int64_t steps,
                    std::int64_t rows) const {
  ops::Backend& backend = parameters.backend();
  const float* w_ih = parameters.values() + input_weight_offset_;
  const float* w_hh = parameters.values() + recurrent_weight_offset_;
  float* dw_ih = parameters.gradients() + input_weight_offset_;
  float* dw_hh = parameters.gradients() + recurrent_weight_offset_;
  const std::int64_t width = 4 * hidden_;
  const std::int64_t state = rows * hidden_;
  backend.fill(dh_next, state, 0.0f);
  backend.fill(dc, state, 0.0f);
  for (std::int64_t t = steps - 1; t >= 0; --t) {
    float* dh_t = dh + t * state;
    backend.axpby(1.0f, dh_next, 1.0f, dh_t, state);  // from the output and from step t + 1
    const float* h_previous = t == 0 ? h0 : h + (t - 1) * state;
    const float* c_previous = t == 0 ? c0 : c + (t - 1) * state;
    float* dgates_t = gate_gradient + t * rows * width;
    backend.lstm_cell_backward(gates + t * rows * width, c_previous, c + t * state, dh_t, dc, dgates_t,
                               rows, hidden_);
    // dh_{t−1} = dgates_t · W_hh;  dW_hh += dgates_tᵀ · h_{t−1} (t descending)
    backend.gemm(Transpose::no, Transpose::no, rows, hidden_, width, 1.0f, dgates_t, width, w_hh,
                 hidden_, 0.0f, dh_next, hidden_);
    backend.gemm(Transpose::yes, Transpose::no, width, hidden_, rows, 1.0f, dgates_t, width,
                 h_previous, hidden_, t == steps - 1 ? 0.0f : 1.0f, dw_hh, hidden_);
  }
  // dW_ih = dgatesᵀ · x, db = Σ dgates, dx = dgates · W_ih over the whole window.
  backend.gemm(Transpose::yes, Transpose::no, width, in_features_, steps * rows, 1.0f, gate_gradient,
               width, x, in_features_, 0.0f, dw_ih, in_features_);
  backend.sum_rows(gate_gradient, steps * rows, width, 0.0f, parameters.gradients() + bias_offset_);
  if (dx) {
    backend.gemm(Transpose::no, Transpose::no, steps * rows, in_features_, width, 1.0f, gate_gradient,
                 width, w_ih, in_features_, 0.0f, dx, in_features_);
  }
}

}  // namespace sgdsweep::nn
