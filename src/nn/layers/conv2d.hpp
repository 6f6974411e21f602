// 2-D convolution layer over NHWC images, forward and backward side by side:
//   y[b, oy, ox, o] = Σ_{ky, kx, c} W[o, ky, kx, c] · x[b, oy·s − p + ky, ox·s − p + kx, c] (+ bias[o])
// Weights [out, kernel, kernel, in] (OHWI; PyTorch's OIHW permuted). The caller owns x and y.
#pragma once

#include <cstdint>
#include <string>

#include "nn/parameters.hpp"

namespace sgdsweep::nn {

class Conv2d {
 public:
  Conv2d(Parameters& parameters, const std::string& name, std::int64_t in_channels,
         std::int64_t out_channels, std::int64_t kernel, std::int64_t stride, std::int64_t padding,
         bool bias);

  ops::Conv2dShape shape(std::int64_t batch, std::int64_t height, std::int64_t width) const;

  // y[batch, out_h, out_w, out] from x[batch, height, width, in]. A pack of models
  // (Parameters::copies() = P): x and y hold the P copies back to back; copy >= 0: that copy alone
  // (x and y of one copy), by the ops of one copy.
  void forward(Parameters& parameters, const float* x, float* y, std::int64_t batch, std::int64_t height,
               std::int64_t width, std::int64_t copy = -1) const;
  // From x and dy: ∂L/∂W (and ∂L/∂bias) into the gradients (overwritten), dx unless null; every
  // copy of a pack.
  void backward(Parameters& parameters, const float* x, const float* dy, float* dx, std::int64_t batch,
                std::int64_t height, std::int64_t width) const;

  std::int64_t in_channels() const { return in_channels_; }
  std::int64_t out_channels() const { return out_channels_; }
  std::int64_t kernel() const { return kernel_; }
  std::int64_t stride() const { return stride_; }
  std::int64_t weight_offset() const { return weight_offset_; }
  std::int64_t bias_offset() const { return bias_offset_; }  // −1 without bias
  bool has_bias() const { return bias_offset_ >= 0; }

 private:
  std::int64_t in_channels_, out_channels_, kernel_, stride_, padding_;
  std::int64_t weight_offset_;
  std::int64_t bias_offset_;
};

}  // namespace sgdsweep::nn
