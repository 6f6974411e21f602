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

void Conv2d::forward(Parameters& parameters, const float* x, float* y, std::int64_t batch,
                     std::int64_t height, std::int64_t width) const {
  const ops::Conv2dShape s = shape(batch, height, width);
  ops::Backend& backend = parameters.backend();
  backend.conv2d_forward(s, x, parameters.values() + weight_offset_, y);
  if (has_bias()) {
    backend.add_row_vector(y, parameters.values() + bias_offset_, batch * s.out_height() * s.out_width(),
                           out_channels_);
  }
}

void Conv2d::backward(Parameters& parameters, const float* x, const float* dy, float* dx,
                      std::int64_t batch, std::int64_t height, std::int64_t width) const {
  const ops::Conv2dShape s = shape(batch, height, width);
  ops::Backend& backend = parameters.backend();
  backend.conv2d_backward_filter(s, x, dy, parameters.gradients() + weight_offset_);
  if (has_bias()) {
    backend.sum_rows(dy, batch * s.out_height() * s.out_width(), out_channels_, 0.0f,
                     parameters.gradients() + bias_offset_);
  }
  if (dx) backend.conv2d_backward_data(s, dy, parameters.values() + weight_offset_, dx);
}

}  // namespace sgdsweep::nn
