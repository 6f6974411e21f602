// Fully connected layer: GEMMs through the op interface, the bias and activation as elementwise ops.
#include "nn/layers/dense.hpp"

namespace sgdsweep::nn {

using ops::Transpose;

Dense::Dense(Parameters& parameters, const std::string& name, std::int64_t in_features,
             std::int64_t out_features, Activation activation)
    : in_features_(in_features),
      out_features_(out_features),
      activation_(activation),
      weight_offset_(parameters.declare(name + ".weight", in_features * out_features,
                                        ParameterRole::weight)),
      bias_offset_(parameters.declare(name + ".bias", out_features, ParameterRole::unregularized)) {}

void Dense::forward(Parameters& parameters, const float* x, float* y, std::int64_t batch, std::int64_t copy) const {
  ops::Backend& backend = parameters.backend();
  const std::int64_t copies = copy < 0 ? parameters.copies() : 1, stride = parameters.stride();
  const float* values = parameters.values() + (copy < 0 ? 0 : copy * stride);
  const float* weight = values + weight_offset_;
  const float* bias = values + bias_offset_;
  // y = x · Wᵀ: [batch, in] × [in, out]
  backend.gemm_packed(copies, Transpose::no, Transpose::yes, batch, out_features_, in_features_, 1.0f, x,
                      in_features_, batch * in_features_, weight, in_features_, stride, 0.0f, y, out_features_,
                      batch * out_features_);
  backend.add_row_vector_packed(copies, y, batch * out_features_, bias, stride, batch, out_features_);
  if (activation_ == Activation::sigmoid) backend.sigmoid_forward(y, y, copies * batch * out_features_);
}

void Dense::backward(Parameters& parameters, const float* x, const float* y, float* dy, float* dx,
                     std::int64_t batch) const {
  ops::Backend& backend = parameters.backend();
  const std::int64_t copies = parameters.copies(), stride = parameters.stride();
  const std::int64_t x_stride = batch * in_features_, y_stride = batch * out_features_;
  if (activation_ == Activation::sigmoid) backend.sigmoid_backward(y, dy, dy, copies * y_stride);
  float* weight_gradient = parameters.gradients() + weight_offset_;
  float* bias_gradient = parameters.gradients() + bias_offset_;
  // dW[out, in] = dzᵀ · x
  backend.gemm_packed(copies, Transpose::yes, Transpose::no, out_features_, in_features_, batch, 1.0f, dy,
                      out_features_, y_stride, x, in_features_, x_stride, 0.0f, weight_gradient, in_features_, stride);
  backend.sum_rows_packed(copies, dy, y_stride, batch, out_features_, 0.0f, bias_gradient, stride);
  if (dx) {
    // dx[batch, in] = dz · W
    const float* weight = parameters.values() + weight_offset_;
    backend.gemm_packed(copies, Transpose::no, Transpose::no, batch, in_features_, out_features_, 1.0f, dy,
                        out_features_, y_stride, weight, in_features_, stride, 0.0f, dx, in_features_, x_stride);
  }
}

}  // namespace sgdsweep::nn
