// One LSTM layer over a window of T steps (Hochreiter & Schmidhuber; PyTorch's gate order i, f, g, o
// and equations), forward and backward through time, with the state entering the window given
// (truncated backpropagation: no gradient flows into it). Sequences are time-major: x[t, row, :].
//   gates_t = x_t·W_ihᵀ + h_{t−1}·W_hhᵀ + b,  (i, f, g, o) = (σ, σ, tanh, σ)(gates_t),
//   c_t = f·c_{t−1} + i·g,  h_t = o·tanh(c_t).
// One bias b stands for PyTorch's b_ih + b_hh.
#pragma once

#include <cstdint>
#include <string>

#include "nn/parameters.hpp"

namespace sgdsweep::nn {

class Lstm {
 public:
  Lstm(Parameters& parameters, const std::string& name, std::int64_t in_features, std::int64_t hidden);

  // x [T, rows, in], h0/c0 [rows, hidden] → gates [T, rows, 4·hidden] (activations, for backward),
  // c [T, rows, hidden], h [T, rows, hidden]. A pack of models (Parameters::copies() = P): every
  // window array holds the P copies back to back (x [P, T, rows, in], …), h0 and c0 of copy p at
  // p · state_stride; copy >= 0: that copy alone (arrays of one copy), by the ops of one copy.
  void forward(Parameters& parameters, const float* x, const float* h0, const float* c0, float* gates,
               float* c, float* h, std::int64_t steps, std::int64_t rows, std::int64_t state_stride = 0,
               std::int64_t copy = -1) const;

  // From the forward's tensors and dh [T, rows, hidden] = ∂L/∂h (overwritten): ∂L/∂W_ih, ∂L/∂W_hh,
  // ∂L/∂b into the gradients, dx [T, rows, in] unless null. Scratch: gate_gradient
  // [T, rows, 4·hidden], dh_next and dc [rows, hidden]. Every copy of a pack, laid out as forward's.
  void backward(Parameters& parameters, const float* x, const float* h0, const float* c0,
                const float* gates, const float* c, const float* h, float* dh, float* dx,
                float* gate_gradient, float* dh_next, float* dc, std::int64_t steps,
                std::int64_t rows, std::int64_t state_stride = 0) const;

  std::int64_t in_features() const { return in_features_; }
  std::int64_t hidden() const { return hidden_; }
  std::int64_t input_weight_offset() const { return input_weight_offset_; }
  std::int64_t recurrent_weight_offset() const { return recurrent_weight_offset_; }
  std::int64_t bias_offset() const { return bias_offset_; }

 private:
  std::int64_t in_features_, hidden_;
  std::int64_t input_weight_offset_, recurrent_weight_offset_, bias_offset_;
};

}  // namespace sgdsweep::nn
