// Host max pooling, NHWC: forward keeps the window's first largest value and where it came from;
// backward routes each output's gradient back to that pixel, image by image in a fixed order.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/host/host_backend.hpp"

namespace sgdsweep::ops::host {

void HostBackend::max_pool_forward(const Pool2dShape& s, const float* x, float* y, std::int32_t* argmax) {
  const std::int64_t oh = s.out_height(), ow = s.out_width(), channels = s.channels;
  Kokkos::parallel_for("sgdsweep::max_pool_forward", Range(0, s.batch * oh), [=](std::int64_t row_block) {
    const std::int64_t b = row_block / oh, oy = row_block % oh;
    const float* image = x + b * s.height * s.width * channels;
    const std::int64_t y0 = std::max<std::int64_t>(oy * s.stride - s.padding, 0);
    const std::int64_t y1 = std::min(oy * s.stride - s.padding + s.kernel, s.height);
    for (std::int64_t ox = 0; ox < ow; ++ox) {
      const std::int64_t x0 = std::max<std::int64_t>(ox * s.stride - s.padding, 0);
      const std::int64_t x1 = std::min(ox * s.stride - s.padding + s.kernel, s.width);
      float* out = y + (row_block * ow + ox) * channels;
      std::int32_t* index = argmax + (row_block * ow + ox) * channels;
      // PyTorch's rule: start from −∞ at the window's first pixel; a larger value or a NaN replaces.
      for (std::int64_t c = 0; c < channels; ++c) {
        out[c] = -std::numeric_limits<float>::infinity();
        index[c] = static_cast<std::int32_t>(y0 * s.width + x0);
      }
      for (std::int64_t iy = y0; iy < y1; ++iy) {
        for (std::int64_t ix = x0; ix < x1; ++ix) {
          const float* pixel = image + (iy * s.width + ix) * channels;
          const auto position = static_cast<std::int32_t>(iy * s.width + ix);
          for (std::int64_t c = 0; c < channels; ++c) {
            const float value = pixel[c];
            if (value > out[c] || std::isnan(value)) {
              out[c] = value;
              index[c] = position;
            }
          }
        }
      }
    }
  });
}

void HostBackend::max_pool_backward(const Pool2dShape& s, const float* dy, const std::int32_t* argmax,
                                    float* dx) {
  const std::int64_t out_pixels = s.out_height() * s.out_width(), channels = s.channels;
  const std::int64_t image_size = s.height * s.width * channels;
  Kokkos::parallel_for("sgdsweep::max_pool_backward", Range(0, s.batch), [=](std::int64_t b) {
    float* image = dx + b * image_size;
    std::fill(image, image + image_size, 0.0f);
    for (std::int64_t p = 0; p < out_pixels; ++p) {
      const float* gradient = dy + (b * out_pixels + p) * channels;
      const std::int32_t* index = argmax + (b * out_pixels + p) * channels;
      for (std::int64_t c = 0; c < channels; ++c) image[index[c] * channels + c] += gradient[c];
    }
  });
}

}  // namespace sgdsweep::ops::host
