// RandomResizedCrop draws, evaluation geometry and the bilinear resampler behind both transforms.
#include "data/image_transforms.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "util/error.hpp"
#include "util/rng.hpp"

namespace sgdsweep::data {
namespace {

constexpr int kAttempts = 10;
constexpr std::uint32_t kPositionDraw = kAttempts;  // draw 10: the window's position
constexpr std::uint32_t kFlipDraw = kAttempts + 1;  // draw 11: the flip

double uniform53(std::uint32_t high, std::uint32_t low) {
  return static_cast<double>((static_cast<std::uint64_t>(high) << 32 | low) >> 11) * 0x1.0p-53;
}

// Uniform on [0, bound) (bound > 0) from two words, by a 64×64→128-bit multiply.
std::int64_t below(std::uint64_t bound, std::uint32_t high, std::uint32_t low) {
  __extension__ using Wide = unsigned __int128;
  const std::uint64_t x = static_cast<std::uint64_t>(high) << 32 | low;
  return static_cast<std::int64_t>((static_cast<Wide>(x) * bound) >> 64);
}

// Python's round() to an integer: half to even (the default rounding mode).
std::int64_t round_half_even(double x) { return static_cast<std::int64_t>(std::nearbyint(x)); }

// Where output pixel d of one axis samples its source: between index0 and index1 (window-relative
// indices plus the window's start), weight1 on index1.
struct Tap {
  std::int64_t index0, index1;
  float weight1;
};

// One axis: `count` output pixels from `offset` on in a resized extent of `resized` pixels covering
// the window [start, start + extent) of the source.
std::vector<Tap> axis_taps(std::int64_t start, std::int64_t extent, std::int64_t resized,
                           std::int64_t offset, std::int64_t count) {
  std::vector<Tap> taps(static_cast<std::size_t>(count));
  const double scale = static_cast<double>(extent) / static_cast<double>(resized);
  for (std::int64_t d = 0; d < count; ++d) {
    const double position = std::max(0.0, (static_cast<double>(d + offset) + 0.5) * scale - 0.5);
    const auto index = std::min(static_cast<std::int64_t>(position), extent - 1);
    const std::int64_t next = index + (index < extent - 1 ? 1 : 0);
    taps[static_cast<std::size_t>(d)] = {start + index, start + next,
                                         static_cast<float>(position - static_cast<double>(index))};
  }
  return taps;
}

// out[y, x, c] = normalised bilinear sample at (rows[y], columns[x]) of `image`, x mirrored if
// `flip`. Separable: each source row a tap needs is interpolated along x once into a row buffer
// (two held: consecutive output rows share source rows when upscaling), then each output row is
// a vectorisable blend of two buffers. The arithmetic per value is the same either way:
// (wy0·(wx0·p00 + wx1·p01) + wy1·(wx0·p10 + wx1·p11))·(1/255), then − mean, · (1/std).
void resample(const DecodedImage& image, const std::vector<Tap>& rows, const std::vector<Tap>& columns,
              bool flip, const Normalization& normalization, float* out) {
  const auto width = static_cast<std::int64_t>(columns.size());
  const std::int64_t line_floats = width * 3;
  // Per output column (mirrored already): byte offsets of its two source pixels and their weights.
  std::vector<std::int64_t> offset0(static_cast<std::size_t>(width)), offset1(offset0.size());
  std::vector<float> weight0(offset0.size()), weight1(offset0.size());
  for (std::int64_t x = 0; x < width; ++x) {
    const Tap& tap = columns[static_cast<std::size_t>(flip ? width - 1 - x : x)];
    offset0[static_cast<std::size_t>(x)] = tap.index0 * 3;
    offset1[static_cast<std::size_t>(x)] = tap.index1 * 3;
    weight1[static_cast<std::size_t>(x)] = tap.weight1;
    weight0[static_cast<std::size_t>(x)] = 1.0f - tap.weight1;
  }
  // (v·(1/255) − mean)·(1/std), the arithmetic of gather_images_u8 for CIFAR, laid out per float.
  std::vector<float> mean(static_cast<std::size_t>(line_floats)), inv_std(mean.size());
  for (std::int64_t i = 0; i < line_floats; ++i) {
    mean[static_cast<std::size_t>(i)] = normalization.mean[static_cast<std::size_t>(i % 3)];
    inv_std[static_cast<std::size_t>(i)] = 1.0f / normalization.std[static_cast<std::size_t>(i % 3)];
  }

  std::vector<float> buffers[2] = {std::vector<float>(mean.size()), std::vector<float>(mean.size())};
  std::int64_t held[2] = {-1, -1};  // the source row in each buffer
  const auto interpolate_row = [&](std::int64_t source_row, int keep) -> const float* {
    for (int k = 0; k < 2; ++k) {
      if (held[k] == source_row) return buffers[k].data();
    }
    const int k = keep == 0 ? 1 : 0;  // never overwrite the buffer the other tap uses
    const std::uint8_t* row = image.pixels.data() + source_row * image.width * 3;
    float* line = buffers[k].data();
    for (std::int64_t x = 0; x < width; ++x) {
      const auto i = static_cast<std::size_t>(x);
      const std::uint8_t* a = row + offset0[i];
      const std::uint8_t* b = row + offset1[i];
      for (int c = 0; c < 3; ++c) {
        line[x * 3 + c] = weight0[i] * static_cast<float>(a[c]) + weight1[i] * static_cast<float>(b[c]);
      }
    }
    held[k] = source_row;
    return line;
  };
  for (std::size_t y = 0; y < rows.size(); ++y) {
    const float* top = interpolate_row(rows[y].index0, -1);
    const int top_buffer = top == buffers[0].data() ? 0 : 1;
    const float* bottom = interpolate_row(rows[y].index1, top_buffer);
    const float wy1 = rows[y].weight1, wy0 = 1.0f - wy1;
    float* line = out + static_cast<std::int64_t>(y) * line_floats;
    for (std::int64_t i = 0; i < line_floats; ++i) {
      const float value = wy0 * top[i] + wy1 * bottom[i];
      line[i] = (value * (1.0f / 255.0f) - mean[static_cast<std::size_t>(i)]) * inv_std[static_cast<std::size_t>(i)];
    }
  }
}

void check_image(const DecodedImage& image, const char* what) {
  if (image.height <= 0 || image.width <= 0 ||
      image.pixels.size() != static_cast<std::size_t>(image.height * image.width * 3)) {
    fail(what, ": an RGB image of ", image.height, "×", image.width, " pixels with ", image.pixels.size(),
         " bytes; expected a non-empty image of height·width·3 bytes");
  }
}

}  // namespace

CropDraw random_resized_crop(std::uint64_t seed, std::int64_t epoch, std::int64_t example,
                             std::int64_t height, std::int64_t width, const RandomResizedCropRange& range) {
  if (height <= 0 || width <= 0) fail("random_resized_crop: empty image (", height, "×", width, ")");
  if (epoch < 0 || example < 0 || epoch > 0xFFFFFFFFll || example > 0xFFFFFFFFll) {
    fail("random_resized_crop: epoch ", epoch, " and example ", example, " must be in 0 … 2^32 − 1");
  }
  if (!(range.scale_min > 0 && range.scale_min <= range.scale_max && range.ratio_min > 0 &&
        range.ratio_min <= range.ratio_max)) {
    fail("random_resized_crop: scale ", range.scale_min, " … ", range.scale_max, " and ratio ", range.ratio_min,
         " … ", range.ratio_max, " must be positive, non-empty ranges");
  }
  const CounterRng rng(seed, RngPurpose::augment);
  const auto draw = [&](std::uint32_t index) {
    return rng.bits(static_cast<std::uint32_t>(epoch),
                    (static_cast<std::uint64_t>(index) + 1) << 32 | static_cast<std::uint64_t>(example));
  };
  CropDraw result;
  result.flip = (draw(kFlipDraw)[0] >> 31) != 0;

  const double area = static_cast<double>(height) * static_cast<double>(width);
  const double log_ratio_min = std::log(range.ratio_min), log_ratio_max = std::log(range.ratio_max);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const CounterRng::Block bits = draw(static_cast<std::uint32_t>(attempt));
    const double target_area =
        area * (range.scale_min + (range.scale_max - range.scale_min) * uniform53(bits[0], bits[1]));
    const double aspect_ratio =
        std::exp(log_ratio_min + (log_ratio_max - log_ratio_min) * uniform53(bits[2], bits[3]));
    const std::int64_t w = round_half_even(std::sqrt(target_area * aspect_ratio));
    const std::int64_t h = round_half_even(std::sqrt(target_area / aspect_ratio));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const CounterRng::Block place = draw(kPositionDraw);
      result.box = {below(static_cast<std::uint64_t>(height - h + 1), place[0], place[1]),
                    below(static_cast<std::uint64_t>(width - w + 1), place[2], place[3]), h, w};
      result.attempt = attempt + 1;
      return result;
    }
  }
  // torchvision's fallback: the centre crop, within the ratio range.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  std::int64_t w = width, h = height;
  if (in_ratio < range.ratio_min) {
    h = round_half_even(static_cast<double>(w) / range.ratio_min);
  } else if (in_ratio > range.ratio_max) {
    w = round_half_even(static_cast<double>(h) * range.ratio_max);
  }
  result.box = {(height - h) / 2, (width - w) / 2, h, w};
  return result;
}

EvalGeometry eval_geometry(std::int64_t height, std::int64_t width, std::int64_t resize, std::int64_t size) {
  if (height <= 0 || width <= 0) fail("eval_geometry: empty image (", height, "×", width, ")");
  if (size <= 0 || resize < size) {
    fail("evaluation transform: crop ", size, " and resize ", resize, " must satisfy 0 < crop ≤ resize");
  }
  EvalGeometry geometry;
  if (height <= width) {
    geometry.resized_height = resize;
    geometry.resized_width = static_cast<std::int64_t>(static_cast<double>(resize) * static_cast<double>(width) /
                                                       static_cast<double>(height));
  } else {
    geometry.resized_width = resize;
    geometry.resized_height = static_cast<std::int64_t>(static_cast<double>(resize) * static_cast<double>(height) /
                                                        static_cast<double>(width));
  }
  geometry.top = round_half_even(static_cast<double>(geometry.resized_height - size) / 2.0);
  geometry.left = round_half_even(static_cast<double>(geometry.resized_width - size) / 2.0);
  return geometry;
}

std::int64_t default_resize(std::int64_t size) {
  return round_half_even(static_cast<double>(size) * 8.0 / 7.0);
}

void resample_window(const DecodedImage& image, const CropBox& box, std::int64_t out_height,
                     std::int64_t out_width, bool flip, const Normalization& normalization, float* out) {
  check_image(image, "resample_window");
  if (box.top < 0 || box.left < 0 || box.height <= 0 || box.width <= 0 || box.top + box.height > image.height ||
      box.left + box.width > image.width || out_height <= 0 || out_width <= 0) {
    fail("resample_window: window ", box.height, "×", box.width, " at (", box.top, ", ", box.left,
         ") to ", out_height, "×", out_width, " does not fit an image of ", image.height, "×", image.width);
  }
  resample(image, axis_taps(box.top, box.height, out_height, 0, out_height),
           axis_taps(box.left, box.width, out_width, 0, out_width), flip, normalization, out);
}

void train_transform(const DecodedImage& image, std::uint64_t seed, std::int64_t epoch,
                     std::int64_t example, std::int64_t size, const RandomResizedCropRange& range,
                     const Normalization& normalization, float* out) {
  check_image(image, "train_transform");
  const CropDraw crop = random_resized_crop(seed, epoch, example, image.height, image.width, range);
  resample_window(image, crop.box, size, size, crop.flip, normalization, out);
}

void eval_transform(const DecodedImage& image, std::int64_t size, std::int64_t resize,
                    const Normalization& normalization, float* out) {
  check_image(image, "eval_transform");
  const EvalGeometry geometry = eval_geometry(image.height, image.width, resize, size);
  resample(image, axis_taps(0, image.height, geometry.resized_height, geometry.top, size),
           axis_taps(0, image.width, geometry.resized_width, geometry.left, size), false, normalization, out);
}

}  // namespace sgdsweep::data
