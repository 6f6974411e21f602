// Convolution layer on the backend's conv2d ops; the bias as a row vector over all output pixels.
#include "nn/layers/conv2d.hpp"

namespace sgdsweep::nn {

Conv2d::Conv2d(Parameters& parameters, const std::string& name, std::int64_t in_channels,
               std::int64_t out_channels, std::int64_t kernel, std::int64_t stride,
               std::int64_t padding, bool bias)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_(kernel), stride_(stride),
      padding_(padding),
      weight_offset_(parameters.declare(name + ".weight", out_channels * kernel * kernel * in_channels,
                                        ParameterRole::weight)),
      bias_offset_(bias ? parameters.declare(name + ".bias", out_channels, ParameterRole::unregularized)
                        : -1) {}

ops::Conv2dShape Conv2d::shape(std::int64_t batch, std::int64_t height, std::int64_t width) const {
  return {batch, height, width, in_channels_, out_channels_, kernel_, stride_, padding_};
}

void Conv2d::forward(Parameters& parameters, const float* x, float* y, std::int64_t batch, std::int64_t height,
                     std::int64_t width, std::int64_t copy) const {
  const ops::Conv2dShape s = shape(batch, height, width);
  ops::Backend& backend = parameters.backend();
  const std::int64_t copies = copy < 0 ? parameters.copies() : 1, stride = parameters.stride();
  const float* values = parameters.values() + (copy < 0 ? 0 : copy * stride);
  const std::int64_t x_stride = batch * height * width * in_channels_;
  const std::int64_t pixels = batch * s.out_height() * s.out_width(), y_stride = pixels * out_channels_;
  backend.conv2d_forward_packed(copies, s, x, x_stride, values + weight_offset_, stride, y, y_stride);
  if (has_bias()) backend.add_row_vector_packed(copies, y, y_stride, values + bias_offset_, stride, pixels, out_channels_);
}

void Conv2d::backward(Parameters& parameters, const float* x, const float* dy, float* dx, std::int64_t batch,
                      std::int64_t height, std::int64_t width) const {
  const ops::Conv2dShape s = shape(batch, height, width);
  ops::Backend& backend = parameters.backend();
  const std::int64_t copies = parameters.copies(), stride = parameters.stride();
  const std::int64_t x_stride = batch * height * width * in_channels_;
  const std::int64_t pixels = batch * s.out_height() * s.out_width(), y_stride = pixels * out_channels_;
  backend.conv2d_backward_filter_packed(copies, s, x, x_stride, dy, y_stride, parameters.gradients() + weight_offset_,
                                        stride);
  if (has_bias()) {
    backend.sum_rows_packed(copies, dy, y_stride, pixels, out_channels_, 0.0f, parameters.gradients() + bias_offset_,
                            stride);
  }
  if (dx) {
    backend.conv2d_backward_data_packed(copies, s, dy, y_stride, parameters.values() + weight_offset_, stride, dx,
                                        x_stride);
  }
}

}  // namespace sgdsweep::nn
