// ImageNet augmentation as Goyal et al. (2017) and torchvision do it, on decoded RGB images.
//
// Training: RandomResizedCrop(size, scale 0.08 – 1, ratio 3/4 – 4/3) with torchvision's
// get_params (10 attempts, then its centre-crop fallback), a horizontal flip with probability 1/2,
// and per-channel normalisation. Evaluation: resize the shorter side to `resize` (256 for 224:
// size·8/7 rounded), centre crop size × size, normalise.
//
// Resampling is bilinear with half-pixel centres and no antialiasing: the geometry of
// torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=False) and
// OpenCV's INTER_LINEAR. For an output of n pixels from a window of m source pixels starting at s,
// output pixel d samples source position s + max(0, (d + 0.5)·m/n − 0.5), between the pixels at
// its floor and floor + 1 (the last one repeated at the window's far edge). Sums in float; the
// result is not rounded to bytes. (PIL's bilinear, torchvision's default on PIL images, widens its
// filter when it shrinks, i.e. antialiases; we do not, which aliases a little when a large crop
// shrinks to 224.)
//
// Output: float, HWC (channels fastest) [size, size, 3], the layout ops::Backend::
// gather_images_u8 produces for CIFAR and the trainer consumes, with its arithmetic:
// (v·(1/255) − mean[c])·(1/std[c]), v the interpolated value.
//
// Random draws: every one comes from CounterRng(seed, RngPurpose::augment).bits(stream = epoch,
// position = (draw + 1)·2^32 + example), draw = 0 … 11: so the crop and flip of an example are a
// pure function of (trial seed, epoch, example index), the same on any rank, in any thread, in any
// order. (draw + 1 keeps clear of data/augment.hpp's CIFAR draws, whose position is the example.)
// Draw k < 10 is attempt k + 1: words 0–1 the scale, words 2–3 the log aspect ratio, each a 53-bit
// uniform; draw 10 the window's position (top from words 0–1, left from words 2–3, each uniform
// on its range by a 64×64→128-bit multiply); draw 11 the flip (the top bit of word 0).
#pragma once

#include <array>
#include <cstdint>

#include "data/image_folder.hpp"

namespace sgdsweep::data {

// A window of a source image, in pixels.
struct CropBox {
  std::int64_t top = 0, left = 0, height = 0, width = 0;
};

struct RandomResizedCropRange {
  double scale_min = 0.08, scale_max = 1.0;          // of the image's area
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;  // width / height
};

struct CropDraw {
  CropBox box;
  bool flip = false;
  int attempt = 0;  // 1 … 10: the attempt that fitted; 0: torchvision's fallback
};

// torchvision's RandomResizedCrop.get_params for an image of height × width, with the draws above:
// for attempt 1 … 10, area·U(scale_min, scale_max) and exp(U(log ratio_min, log ratio_max)) give
// w = round(√(area·ratio)), h = round(√(area/ratio)) (round half to even, as Python's round); the
// first with 0 < w ≤ width and 0 < h ≤ height is placed uniformly. Otherwise the fallback: a
// centre crop of the whole image, narrowed to ratio_max (or shortened to ratio_min) when the
// image is wider (or taller) than the range allows: 1000 × 10 (w × h) → h 10, w round(10·4/3) = 13,
// left (1000 − 13)/2 = 493. Throws Error for an empty image, a negative epoch or example, an epoch
// or example of 2^32 or more, or a range that is empty or not positive.
CropDraw random_resized_crop(std::uint64_t seed, std::int64_t epoch, std::int64_t example,
                             std::int64_t height, std::int64_t width,
                             const RandomResizedCropRange& range = {});

struct Normalization {
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  // ImageNet's, of v/255, R G B
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
};

// Evaluation geometry as torchvision's Resize(resize) then CenterCrop(size): the shorter side
// becomes `resize`, the longer int(resize·long/short) (truncated), the crop starts at
// round((resized − size)/2) (half to even). Example: 500 × 375 (w × h), resize 256, size 224 →
// resized 341 × 256, top 16, left round(58.5) = 58.
struct EvalGeometry {
  std::int64_t resized_height = 0, resized_width = 0, top = 0, left = 0;
};
EvalGeometry eval_geometry(std::int64_t height, std::int64_t width, std::int64_t resize, std::int64_t size);

// round(size·8/7): 224 → 256, 32 → 37.
std::int64_t default_resize(std::int64_t size);

// Resamples `box` of `image` to out_height × out_width (bilinear, above), mirrored left-right if
// `flip`, normalised, into out [out_height, out_width, 3].
void resample_window(const DecodedImage& image, const CropBox& box, std::int64_t out_height,
                     std::int64_t out_width, bool flip, const Normalization& normalization, float* out);

// The training transform of example `example` in `epoch`: random_resized_crop, then
// resample_window to size × size with its flip. Writes size·size·3 floats.
void train_transform(const DecodedImage& image, std::uint64_t seed, std::int64_t epoch,
                     std::int64_t example, std::int64_t size, const RandomResizedCropRange& range,
                     const Normalization& normalization, float* out);

// The evaluation transform: the image resized to eval_geometry's resized size, of which the
// size × size window at (top, left) is computed (only those pixels). Writes size·size·3 floats.
// Throws Error unless 0 < size ≤ resize.
void eval_transform(const DecodedImage& image, std::int64_t size, std::int64_t resize,
                    const Normalization& normalization, float* out);

}  // namespace sgdsweep::data
