// CUDA max pooling, NHWC. Forward: a thread per output keeps the window's first largest value and
// where it came from (PyTorch's rule, as the host). Backward: a thread per input pixel gathers the
// gradients of the outputs that chose it, in output order (oy, then ox, ascending): the host's
// order of additions, so the host's bits, without atomics.
#include <cmath>

#include "cuda_backend.cuh"

namespace sgdsweep::ops::cuda {

void CudaBackend::max_pool_forward(const Pool2dShape& s, const float* x, float* y, std::int32_t* argmax) {
  const std::int64_t oh = s.out_height(), ow = s.out_width(), channels = s.channels;
  const std::int64_t height = s.height, width = s.width, kernel = s.kernel, stride = s.stride,
                     padding = s.padding;
  for_each(s.output_count(), [=] __device__(std::int64_t k) {
    const std::int64_t c = k % channels, ox = (k / channels) % ow, oy = (k / (channels * ow)) % oh;
    const std::int64_t b = k / (channels * ow * oh);
    const float* image = x + b * height * width * channels;
    const std::int64_t y0 = max(oy * stride - padding, std::int64_t{0});
    const std::int64_t y1 = min(oy * stride - padding + kernel, height);
    const std::int64_t x0 = max(ox * stride - padding, std::int64_t{0});
    const std::int64_t x1 = min(ox * stride - padding + kernel, width);
    float best = -INFINITY;
    auto position = static_cast<std::int32_t>(y0 * width + x0);
    for (std::int64_t iy = y0; iy < y1; ++iy) {
      for (std::int64_t ix = x0; ix < x1; ++ix) {
        const float value = image[(iy * width + ix) * channels + c];
        if (value > best || isnan(value)) {
          best = value;
          position = static_cast<std::int32_t>(iy * width + ix);
        }
      }
    }
    y[k] = best;
    argmax[k] = position;
  });
}

void CudaBackend::max_pool_backward(const Pool2dShape& s, const float* dy, const std::int32_t* argmax,
                                    float* dx) {
  const std::int64_t oh = s.out_height(), ow = s.out_width(), channels = s.channels;
  const std::int64_t height = s.height, width = s.width, kernel = s.kernel, stride = s.stride,
                     padding = s.padding;
  for_each(s.input_count(), [=] __device__(std::int64_t k) {
    const std::int64_t c = k % channels, ix = (k / channels) % width, iy = (k / (channels * width)) % height;
    const std::int64_t b = k / (channels * width * height);
    // The outputs whose window holds (iy, ix): oy·stride − padding ≤ iy < oy·stride − padding + kernel.
    const std::int64_t low_y = iy + padding - kernel + 1, low_x = ix + padding - kernel + 1;
    const std::int64_t oy0 = low_y <= 0 ? 0 : (low_y + stride - 1) / stride;
    const std::int64_t ox0 = low_x <= 0 ? 0 : (low_x + stride - 1) / stride;
    const std::int64_t oy1 = min((iy + padding) / stride, oh - 1);
    const std::int64_t ox1 = min((ix + padding) / stride, ow - 1);
    const auto me = static_cast<std::int32_t>(iy * width + ix);
    float sum = 0.0f;
    for (std::int64_t oy = oy0; oy <= oy1; ++oy) {
      for (std::int64_t ox = ox0; ox <= ox1; ++ox) {
        const std::int64_t o = ((b * oh + oy) * ow + ox) * channels + c;
        if (argmax[o] == me) sum += dy[o];
      }
    }
    dx[k] = sum;
  });
}

}  // namespace sgdsweep::ops::cuda
