// Host 2-D convolution, NHWC, by im2col and one GEMM per chunk of images. The chunk size is a
// fixed function of the shape (never of free memory), so the summation order of the filter
// gradient — which adds chunk after chunk — is the same on every run and every machine.
#include <algorithm>

#include "ops/host/host_backend.hpp"

namespace sgdsweep::ops::host {
namespace {

constexpr std::int64_t kColumnBudget = std::int64_t{1} << 23;  // floats of im2col per chunk (32 MiB)

std::int64_t patch_size(const Conv2dShape& s) { return s.kernel * s.kernel * s.in_channels; }
std::int64_t output_pixels(const Conv2dShape& s) { return s.out_height() * s.out_width(); }

std::int64_t chunk_images(const Conv2dShape& s) {
  return std::max<std::int64_t>(1, std::min(s.batch, kColumnBudget / (output_pixels(s) * patch_size(s))));
}

// A 1×1, stride-1, unpadded convolution reads x as its own im2col matrix.
bool is_pointwise(const Conv2dShape& s) { return s.kernel == 1 && s.stride == 1 && s.padding == 0; }

// columns[(b·OH + oy)·OW + ox, (ky·K + kx)·C + c] = x[first + b, oy·s − p + ky, ox·s − p + kx, c]
void im2col(const Conv2dShape& s, const float* x, std::int64_t first, std::int64_t images,
            float* columns) {
  const std::int64_t oh = s.out_height(), ow = s.out_width(), patch = patch_size(s);
  Kokkos::parallel_for("sgdsweep::im2col", Range(0, images * oh), [=](std::int64_t row_block) {
    const std::int64_t b = row_block / oh, oy = row_block % oh;
    const float* image = x + (first + b) * s.height * s.width * s.in_channels;
    for (std::int64_t ox = 0; ox < ow; ++ox) {
      float* column = columns + (row_block * ow + ox) * patch;
      for (std::int64_t ky = 0; ky < s.kernel; ++ky) {
        const std::int64_t iy = oy * s.stride - s.padding + ky;
        for (std::int64_t kx = 0; kx < s.kernel; ++kx) {
          const std::int64_t ix = ox * s.stride - s.padding + kx;
          float* target = column + (ky * s.kernel + kx) * s.in_channels;
          if (iy < 0 || iy >= s.height || ix < 0 || ix >= s.width) {
            std::fill(target, target + s.in_channels, 0.0f);
          } else {
            std::memcpy(target, image + (iy * s.width + ix) * s.in_channels,
                        static_cast<std::size_t>(s.in_channels) * sizeof(float));
          }
        }
      }
    }
  });
}

// The adjoint of im2col: dx[first + b] = Σ over the windows that read each pixel, in a fixed
// order (output pixels ascending, then kernel positions); images in parallel.
void col2im(const Conv2dShape& s, const float* columns, std::int64_t first, std::int64_t images,
            float* dx) {
  const std::int64_t oh = s.out_height(), ow = s.out_width(), patch = patch_size(s);
  const std::int64_t image_size = s.height * s.width * s.in_channels;
  Kokkos::parallel_for("sgdsweep::col2im", Range(0, images), [=](std::int64_t b) {
    float* image = dx + (first + b) * image_size;
    std::fill(image, image + image_size, 0.0f);
    for (std::int64_t oy = 0; oy < oh; ++oy) {
      for (std::int64_t ox = 0; ox < ow; ++ox) {
        const float* column = columns + ((b * oh + oy) * ow + ox) * patch;
        for (std::int64_t ky = 0; ky < s.kernel; ++ky) {
          const std::int64_t iy = oy * s.stride - s.padding + ky;
          if (iy < 0 || iy >= s.height) continue;
          for (std::int64_t kx = 0; kx < s.kernel; ++kx) {
            const std::int64_t ix = ox * s.stride - s.padding + kx;
            if (ix < 0 || ix >= s.width) continue;
            const float* source = column + (ky * s.kernel + kx) * s.in_channels;
            float* target = image + (iy * s.width + ix) * s.in_channels;
            for (std::int64_t c = 0; c < s.in_channels; ++c) target[c] += source[c];
          }
        }
      }
    }
  });
}

}  // namespace

void HostBackend::conv2d_forward(const Conv2dShape& s, const float* x, const float* weights, float* y) {
  const std::int64_t patch = patch_size(s), pixels = output_pixels(s);
  if (is_pointwise(s)) {
    gemm(Transpose::no, Transpose::yes, s.batch * pixels, s.out_channels, patch, 1.0f, x, patch,
         weights, patch, 0.0f, y, s.out_channels);
    return;
  }
  const std::int64_t chunk = chunk_images(s);
  float* columns = workspace(static_cast<std::size_t>(chunk * pixels * patch));
  for (std::int64_t first = 0; first < s.batch; first += chunk) {
    const std::int64_t images = std::min(chunk, s.batch - first);
    im2col(s, x, first, images, columns);
    // y[rows, O] = columns[rows, KKC] · Wᵀ
    gemm(Transpose::no, Transpose::yes, images * pixels, s.out_channels, patch, 1.0f, columns,
         patch, weights, patch, 0.0f, y + first * pixels * s.out_channels, s.out_channels);
  }
}

void HostBackend::conv2d_backward_data(const Conv2dShape& s, const float* dy, const float* weights,
                                       float* dx) {
  const std::int64_t patch = patch_size(s), pixels = output_pixels(s);
  if (is_pointwise(s)) {
    gemm(Transpose::no, Transpose::no, s.batch * pixels, patch, s.out_channels, 1.0f, dy,
         s.out_channels, weights, patch, 0.0f, dx, patch);
    return;
  }
  const std::int64_t chunk = chunk_images(s);
  float* columns = workspace(static_cast<std::size_t>(chunk * pixels * patch));
  for (std::int64_t first = 0; first < s.batch; first += chunk) {
    const std::int64_t images = std::min(chunk, s.batch - first);
    // dcolumns[rows, KKC] = dy[rows, O] · W[O, KKC]
    gemm(Transpose::no, Transpose::no, images * pixels, patch, s.out_channels, 1.0f,
         dy + first * pixels * s.out_channels, s.out_channels, weights, patch, 0.0f, columns, patch);
    col2im(s, columns, first, images, dx);
  }
}

void HostBackend::conv2d_backward_filter(const Conv2dShape& s, const float* x, const float* dy,
                                         float* weight_gradient) {
  const std::int64_t patch = patch_size(s), pixels = output_pixels(s);
  if (is_pointwise(s)) {
    gemm(Transpose::yes, Transpose::no, s.out_channels, patch, s.batch * pixels, 1.0f, dy,
         s.out_channels, x, patch, 0.0f, weight_gradient, patch);
    return;
  }
  const std::int64_t chunk = chunk_images(s);
  float* columns = workspace(static_cast<std::size_t>(chunk * pixels * patch));
  for (std::int64_t first = 0; first < s.batch; first += chunk) {
    const std::int64_t images = std::min(chunk, s.batch - first);
    im2col(s, x, first, images, columns);
    // dW[O, KKC] (+)= dy[rows, O]ᵀ · columns[rows, KKC], chunks in ascending order
    gemm(Transpose::yes, Transpose::no, s.out_channels, patch, images * pixels, 1.0f,
         dy + first * pixels * s.out_channels, s.out_channels, columns, patch,
         first == 0 ? 0.0f : 1.0f, weight_gradient, patch);
  }
}

}  // namespace sgdsweep::ops::host
