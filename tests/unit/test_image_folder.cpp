// The ImageNet-layout JPEG pipeline on image trees the test writes itself with tjCompress2: the
// sorted listing and its layout errors, decoding (RGB, grayscale, CMYK) and bad files (truncated,
// not a JPEG, empty, missing; skipped and counted with skip_bad), RandomResizedCrop's draws
// (purity, bounds, torchvision's fallback, the documented counter layout), the bilinear geometry of
// both transforms, and the prefetcher (order, determinism over thread counts, failures).
#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "data/image_folder.hpp"
#include "data/image_transforms.hpp"
#include "data/prefetch.hpp"
#include "test_support.hpp"
#include "util/rng.hpp"

namespace {

using sgdsweep::Error;
using sgdsweep::data::BatchPrefetcher;
using sgdsweep::data::CropBox;
using sgdsweep::data::CropDraw;
using sgdsweep::data::DecodedImage;
using sgdsweep::data::FileList;
using sgdsweep::data::ImageBatch;
using sgdsweep::data::JpegDecoder;
using sgdsweep::data::Normalization;
using sgdsweep::data::PrefetchOptions;
using sgdsweep::data::random_resized_crop;
using sgdsweep::data::RandomResizedCropRange;
using sgdsweep::testing::expect_error;
using sgdsweep::testing::TemporaryFolder;
namespace fs = std::filesystem;

// A JPEG of `width` × `height` pixels from packed pixels of `format` (TJPF_RGB, TJPF_GRAY, TJPF_CMYK).
std::string encode_jpeg(const std::vector<std::uint8_t>& pixels, int width, int height, int format,
                        int quality = 95) {
  tjhandle handle = tjInitCompress();
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  const int subsampling = format == TJPF_GRAY ? TJSAMP_GRAY : TJSAMP_444;
  const int status = tjCompress2(handle, pixels.data(), width, 0, height, format, &jpeg, &size, subsampling,
                                 quality, TJFLAG_ACCURATEDCT);
  std::string bytes = status == 0 ? std::string(reinterpret_cast<const char*>(jpeg), size) : std::string();
  if (status != 0) ADD_FAILURE() << "tjCompress2: " << tjGetErrorStr2(handle);
  tjFree(jpeg);
  tjDestroy(handle);
  return bytes;
}

// Smooth RGB content (JPEG keeps it to within a few levels), distinct per `seed`.
std::vector<std::uint8_t> smooth_rgb(int width, int height, int seed) {
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(width * height * 3));
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < 3; ++c) {
        pixels[static_cast<std::size_t>((y * width + x) * 3 + c)] =
            static_cast<std::uint8_t>((40 + 7 * seed + c * 50 + 120 * x / width + 60 * y / height) % 256);
      }
    }
  }
  return pixels;
}

void write_file(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string rgb_jpeg(int width, int height, int seed) {
  return encode_jpeg(smooth_rgb(width, height, seed), width, height, TJPF_RGB);
}

// train/: ant (2 files), bird (3), cat (1) written in scrambled order, names whose byte order
// differs from their numeric order, and a hidden file; val/: bird (1) and ant (2), no cat.
// Image sizes encode (class, file) so a listing error shows: width 8 + label, height 8 + file.
void write_tree(const TemporaryFolder& folder) {
  const fs::path root = folder.path();
  write_file(root / "train/cat/7.jpg", rgb_jpeg(10, 8, 1));
  write_file(root / "train/bird/2.jpg", rgb_jpeg(9, 10, 2));
  write_file(root / "train/bird/10.jpg", rgb_jpeg(9, 8, 3));
  write_file(root / "train/bird/1b.jpg", rgb_jpeg(9, 9, 4));
  write_file(root / "train/ant/b.jpg", rgb_jpeg(8, 9, 5));
  write_file(root / "train/ant/a.jpg", rgb_jpeg(8, 8, 6));
  write_file(root / "train/ant/.DS_Store", "not an image");
  write_file(root / "val/bird/x.jpg", rgb_jpeg(9, 8, 7));
  write_file(root / "val/ant/z.jpg", rgb_jpeg(8, 9, 8));
  write_file(root / "val/ant/y.jpg", rgb_jpeg(8, 8, 9));
}

}  // namespace

// ---- listing -----------------------------------------------------------------------------------

TEST(ImageFolder, ClassesBySortedNameFilesSortedWithinAClass) {
  TemporaryFolder folder;
  write_tree(folder);
  const sgdsweep::data::ImageFolder images = sgdsweep::data::list_image_folder(folder.path().string());
  const FileList& train = images.train;
  EXPECT_EQ(train.classes(), (std::vector<std::string>{"ant", "bird", "cat"}));
  ASSERT_EQ(train.size(), 6);
  const std::vector<std::string> names = {"ant/a.jpg", "ant/b.jpg", "bird/10.jpg", "bird/1b.jpg", "bird/2.jpg", "cat/7.jpg"};
  const std::vector<std::int32_t> labels = {0, 0, 1, 1, 1, 2};
  for (std::int64_t i = 0; i < train.size(); ++i) {
    EXPECT_EQ(train.name(i), names[static_cast<std::size_t>(i)]);
    EXPECT_EQ(train.label(i), labels[static_cast<std::size_t>(i)]);
    EXPECT_EQ(train.path(i), (folder.path() / "train" / names[static_cast<std::size_t>(i)]).string());
  }
  EXPECT_TRUE(train.skipped().empty());

  // The validation split takes the training classes' labels; it lacks "cat", which is allowed.
  const FileList& val = images.test;
  EXPECT_EQ(val.classes(), train.classes());
  ASSERT_EQ(val.size(), 3);
  EXPECT_EQ(val.name(0), "ant/y.jpg");
  EXPECT_EQ(val.name(1), "ant/z.jpg");
  EXPECT_EQ(val.name(2), "bird/x.jpg");
  EXPECT_EQ(val.label(0), 0);
  EXPECT_EQ(val.label(2), 1);

  // Every listed file decodes, with the size write_tree gave it: width 8 + label.
  JpegDecoder decoder;
  DecodedImage image;
  for (std::int64_t i = 0; i < train.size(); ++i) {
    decoder.decode_file(train.path(i), image);
    EXPECT_EQ(image.width, 8 + train.label(i)) << train.name(i);
    EXPECT_EQ(image.pixels.size(), static_cast<std::size_t>(image.width * image.height * 3));
  }
}

TEST(ImageFolder, ByteOrderPutsUpperCaseFirstAndSplitNamesAreParameters) {
  TemporaryFolder folder;
  for (const char* name : {"b", "B", "a", "_"}) write_file(folder.path() / "train" / name / "0.jpg", rgb_jpeg(8, 8, 0));
  write_file(folder.path() / "test" / "a" / "0.jpg", rgb_jpeg(8, 8, 0));
  const auto images = sgdsweep::data::list_image_folder(folder.path().string(), "train", "test");
  EXPECT_EQ(images.train.classes(), (std::vector<std::string>{"B", "_", "a", "b"}));
  EXPECT_EQ(images.test.label(0), 2);
}

TEST(ImageFolder, LayoutErrorsNameTheFolderAndWhatIsWrong) {
  TemporaryFolder folder;
  const std::string root = folder.path().string();
  expect_error([&] { sgdsweep::data::list_image_folder(root); },
               {(folder.path() / "train").string(), "split folder missing"});
  fs::create_directories(folder.path() / "train");
  expect_error([&] { sgdsweep::data::list_image_folder(root); }, {(folder.path() / "train").string(), "no class folders"});

  write_tree(folder);
  write_file(folder.path() / "val" / "ILSVRC2012_val_00000001.JPEG", rgb_jpeg(8, 8, 0));
  expect_error([&] { sgdsweep::data::list_image_folder(root); },
               {"ILSVRC2012_val_00000001.JPEG", "directly in the split folder", "one folder per class"});
  fs::remove(folder.path() / "val" / "ILSVRC2012_val_00000001.JPEG");

  write_file(folder.path() / "val" / "dog" / "d.jpg", rgb_jpeg(8, 8, 0));
  expect_error([&] { sgdsweep::data::list_image_folder(root); },
               {(folder.path() / "val" / "dog").string(), "class 'dog'", "not among the 3 classes"});
  fs::remove_all(folder.path() / "val" / "dog");

  // An empty class folder: an error, or with skip_bad a label without examples, counted.
  fs::create_directories(folder.path() / "train" / "bee" / "nested");
  expect_error([&] { sgdsweep::data::list_image_folder(root); },
               {(folder.path() / "train" / "bee").string(), "empty class folder"});
  const auto skipping = sgdsweep::data::list_image_folder(root, "train", "val", true);
  EXPECT_EQ(skipping.train.classes(), (std::vector<std::string>{"ant", "bee", "bird", "cat"}));
  ASSERT_EQ(skipping.train.skipped().size(), 1u);
  EXPECT_NE(skipping.train.skipped()[0].find("bee"), std::string::npos);
  EXPECT_EQ(skipping.train.size(), 6);
  EXPECT_EQ(skipping.train.label(2), 2);  // bird/10.jpg: bird is label 2 now
  EXPECT_EQ(skipping.test.label(2), 2);

  // Nothing but empty class folders: no examples at all is an error even with skip_bad.
  TemporaryFolder empty;
  fs::create_directories(empty.path() / "train" / "a");
  expect_error([&] { sgdsweep::data::list_split(empty.path().string(), "train", nullptr, true); },
               {(empty.path() / "train").string(), "no image files"});
}

// ---- decoding ----------------------------------------------------------------------------------

TEST(JpegDecoder, DecodesRgbGrayscaleAndCmykToRgb) {
  JpegDecoder decoder;
  DecodedImage image;
  const std::vector<std::uint8_t> rgb = smooth_rgb(24, 16, 3);
  const std::string color = encode_jpeg(rgb, 24, 16, TJPF_RGB, 100);
  decoder.decode(reinterpret_cast<const std::uint8_t*>(color.data()), color.size(), "rgb", image);
  ASSERT_EQ(image.height, 16);
  ASSERT_EQ(image.width, 24);
  int worst = 0;
  for (std::size_t i = 0; i < rgb.size(); ++i) worst = std::max(worst, std::abs(image.pixels[i] - rgb[i]));
  EXPECT_LE(worst, 3) << "quality-100 4:4:4 JPEG of smooth content";

  std::vector<std::uint8_t> gray(8 * 8);
  for (int p = 0; p < 64; ++p) gray[static_cast<std::size_t>(p)] = static_cast<std::uint8_t>(100 + p);
  const std::string mono = encode_jpeg(gray, 8, 8, TJPF_GRAY, 100);
  decoder.decode(reinterpret_cast<const std::uint8_t*>(mono.data()), mono.size(), "gray", image);
  ASSERT_EQ(image.pixels.size(), 8u * 8u * 3u);
  for (int p = 0; p < 64; ++p) {
    EXPECT_EQ(image.pixels[static_cast<std::size_t>(3 * p)], image.pixels[static_cast<std::size_t>(3 * p + 1)]);
    EXPECT_EQ(image.pixels[static_cast<std::size_t>(3 * p)], image.pixels[static_cast<std::size_t>(3 * p + 2)]);
    EXPECT_NEAR(image.pixels[static_cast<std::size_t>(3 * p)], gray[static_cast<std::size_t>(p)], 3);
  }

  // CMYK (stored inverted, as Adobe writes it): R = C·K/255 … with C M Y K = 200 100 50 128.
  std::vector<std::uint8_t> cmyk;
  for (int p = 0; p < 64; ++p) cmyk.insert(cmyk.end(), {200, 100, 50, 128});
  const std::string print = encode_jpeg(cmyk, 8, 8, TJPF_CMYK, 100);
  decoder.decode(reinterpret_cast<const std::uint8_t*>(print.data()), print.size(), "cmyk", image);
  ASSERT_EQ(image.pixels.size(), 8u * 8u * 3u);
  EXPECT_NEAR(image.pixels[0], 200 * 128 / 255.0, 3);
  EXPECT_NEAR(image.pixels[1], 100 * 128 / 255.0, 3);
  EXPECT_NEAR(image.pixels[2], 50 * 128 / 255.0, 3);
}

TEST(JpegDecoder, BadFilesAreErrorsNamingTheFile) {
  TemporaryFolder folder;
  const std::string whole = rgb_jpeg(64, 48, 1);
  write_file(folder.file("cut.jpg"), whole.substr(0, whole.size() / 2));
  write_file(folder.file("header.jpg"), whole.substr(0, 100));
  write_file(folder.file("text.jpg"), "hello, not an image\n");
  write_file(folder.file("image.png"), std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  write_file(folder.file("empty.jpg"), "");
  std::string corrupt = whole;
  for (std::size_t i = 4; i < 40; ++i) corrupt[i] = static_cast<char>(0x5A);  // headers destroyed after FF D8 FF E0
  write_file(folder.file("corrupt.jpg"), corrupt);

  JpegDecoder decoder;
  DecodedImage image;
  expect_error([&] { decoder.decode_file(folder.file("cut.jpg"), image); }, {folder.file("cut.jpg"), "truncated JPEG"});
  expect_error([&] { decoder.decode_file(folder.file("header.jpg"), image); },
               {folder.file("header.jpg"), "truncated JPEG", "before the image's frame header"});
  expect_error([&] { decoder.decode_file(folder.file("text.jpg"), image); },
               {folder.file("text.jpg"), "not a JPEG", "starts with 68 65 6C 6C"});
  expect_error([&] { decoder.decode_file(folder.file("image.png"), image); },
               {folder.file("image.png"), "not a JPEG", "a PNG image"});
  expect_error([&] { decoder.decode_file(folder.file("empty.jpg"), image); }, {folder.file("empty.jpg"), "empty file"});
  expect_error([&] { decoder.decode_file(folder.file("corrupt.jpg"), image); }, {folder.file("corrupt.jpg"), "corrupt JPEG"});
  expect_error([&] { decoder.decode_file(folder.file("missing.jpg"), image); },
               {folder.file("missing.jpg"), "cannot read the file", "No such file"});
  // The decoder is still usable after errors.
  decoder.decode(reinterpret_cast<const std::uint8_t*>(whole.data()), whole.size(), "whole", image);
  EXPECT_EQ(image.width, 64);
}

// ---- RandomResizedCrop -------------------------------------------------------------------------

bool same(const CropDraw& a, const CropDraw& b) {
  return a.box.top == b.box.top && a.box.left == b.box.left && a.box.height == b.box.height &&
         a.box.width == b.box.width && a.flip == b.flip && a.attempt == b.attempt;
}

TEST(RandomResizedCrop, APureFunctionOfSeedEpochAndExample) {
  int differs_seed = 0, differs_epoch = 0, differs_example = 0;
  for (std::int64_t example = 0; example < 500; ++example) {
    const CropDraw base = random_resized_crop(7, 3, example, 375, 500);
    EXPECT_TRUE(same(base, random_resized_crop(7, 3, example, 375, 500)));
    differs_seed += !same(base, random_resized_crop(8, 3, example, 375, 500));
    differs_epoch += !same(base, random_resized_crop(7, 4, example, 375, 500));
    differs_example += !same(base, random_resized_crop(7, 3, example + 1, 375, 500));
  }
  EXPECT_GE(differs_seed, 495);
  EXPECT_GE(differs_epoch, 495);
  EXPECT_GE(differs_example, 495);
  expect_error([] { random_resized_crop(7, -1, 0, 10, 10); }, {"epoch -1", "0 … 2^32 − 1"});
  expect_error([] { random_resized_crop(7, 0, 1ll << 32, 10, 10); }, {"example 4294967296"});
  expect_error([] { random_resized_crop(7, 0, 0, 0, 10); }, {"empty image"});
}

// The documented counter layout: attempt 1 reads words 0–1 (scale) and 2–3 (log ratio) of
// bits(epoch, 2^32 + example); the position comes from draw 10, the flip from draw 11.
TEST(RandomResizedCrop, FollowsTheDocumentedDrawsAndTorchvisionsFormula) {
  const std::uint64_t seed = 2020;
  const sgdsweep::CounterRng rng(seed, sgdsweep::RngPurpose::augment);
  const auto uniform = [](std::uint32_t a, std::uint32_t b) {
    return static_cast<double>((static_cast<std::uint64_t>(a) << 32 | b) >> 11) * 0x1.0p-53;
  };
  int checked = 0;
  for (std::int64_t example = 0; example < 200; ++example) {
    const CropDraw draw = random_resized_crop(seed, 5, example, 375, 500);
    const auto bits = rng.bits(5, (1ull << 32) | static_cast<std::uint64_t>(example));
    const double area = 375.0 * 500.0 * (0.08 + 0.92 * uniform(bits[0], bits[1]));
    const double ratio = std::exp(std::log(0.75) + (std::log(4.0 / 3.0) - std::log(0.75)) * uniform(bits[2], bits[3]));
    const auto w = static_cast<std::int64_t>(std::nearbyint(std::sqrt(area * ratio)));
    const auto h = static_cast<std::int64_t>(std::nearbyint(std::sqrt(area / ratio)));
    EXPECT_EQ(draw.flip, (rng.bits(5, (12ull << 32) | static_cast<std::uint64_t>(example))[0] >> 31) != 0);
    if (w > 500 || h > 375) continue;  // attempt 1 did not fit
    ++checked;
    EXPECT_EQ(draw.attempt, 1);
    EXPECT_EQ(draw.box.width, w);
    EXPECT_EQ(draw.box.height, h);
    const auto place = rng.bits(5, (11ull << 32) | static_cast<std::uint64_t>(example));
    __extension__ using Wide = unsigned __int128;
    const auto top = static_cast<std::int64_t>(
        (static_cast<Wide>(static_cast<std::uint64_t>(place[0]) << 32 | place[1]) * static_cast<std::uint64_t>(376 - h)) >> 64);
    EXPECT_EQ(draw.box.top, top);
  }
  EXPECT_GT(checked, 100);
}

TEST(RandomResizedCrop, ParametersStayWithinScaleAndRatioOverManyDraws) {
  const std::int64_t height = 375, width = 500, draws = 20000;
  int flips = 0, fallbacks = 0;
  double scale_sum = 0, min_scale = 1, max_scale = 0, min_ratio = 10, max_ratio = 0;
  std::int64_t max_top = 0;
  for (std::int64_t example = 0; example < draws; ++example) {
    const CropDraw draw = random_resized_crop(11, example % 3, example, height, width);
    const CropBox& box = draw.box;
    ASSERT_GE(box.top, 0);
    ASSERT_GE(box.left, 0);
    ASSERT_GT(box.height, 0);
    ASSERT_GT(box.width, 0);
    ASSERT_LE(box.top + box.height, height);
    ASSERT_LE(box.left + box.width, width);
    flips += draw.flip;
    fallbacks += draw.attempt == 0;
    const double scale = static_cast<double>(box.height * box.width) / static_cast<double>(height * width);
    const double ratio = static_cast<double>(box.width) / static_cast<double>(box.height);
    scale_sum += scale;
    min_scale = std::min(min_scale, scale);
    max_scale = std::max(max_scale, scale);
    min_ratio = std::min(min_ratio, ratio);
    max_ratio = std::max(max_ratio, ratio);
    max_top = std::max(max_top, box.top);
  }
  // Rounding w and h (each ≥ 80 here) moves the area and the ratio by at most ~1.3 %.
  EXPECT_GE(min_scale, 0.08 * 0.985);
  EXPECT_LT(min_scale, 0.09);
  EXPECT_LE(max_scale, 1.0);
  EXPECT_GT(max_scale, 0.9);
  EXPECT_GE(min_ratio, 0.75 * 0.985);
  EXPECT_LE(max_ratio, 4.0 / 3.0 * 1.015);
  EXPECT_LT(min_ratio, 0.76);
  EXPECT_GT(max_ratio, 1.31);
  // Attempt 1 fits unless the area is large: a fallback after 10 misses is rare.
  EXPECT_LT(fallbacks, draws / 100);
  EXPECT_NEAR(static_cast<double>(flips) / draws, 0.5, 0.02);
  // The accepted areas are the uniform ones that fit: their mean is well below 0.54 (all of them).
  EXPECT_GT(scale_sum / draws, 0.40);
  EXPECT_LT(scale_sum / draws, 0.54);
  EXPECT_GT(max_top, 250);
}

TEST(RandomResizedCrop, FallbackIsTorchvisionsCentreCrop) {
  // Too wide for any attempt (every h ≥ 24 > 10): the centre, narrowed to ratio 4/3.
  for (std::int64_t example = 0; example < 20; ++example) {
    const CropDraw wide = random_resized_crop(1, 0, example, 10, 1000);
    EXPECT_EQ(wide.attempt, 0);
    EXPECT_EQ(wide.box.height, 10);
    EXPECT_EQ(wide.box.width, 13);  // round(10·4/3)
    EXPECT_EQ(wide.box.top, 0);
    EXPECT_EQ(wide.box.left, 493);  // (1000 − 13) // 2
    const CropDraw tall = random_resized_crop(1, 0, example, 1000, 10);
    EXPECT_EQ(tall.attempt, 0);
    EXPECT_EQ(tall.box.width, 10);
    EXPECT_EQ(tall.box.height, 13);  // round(10/(3/4))
    EXPECT_EQ(tall.box.top, 493);
    EXPECT_EQ(tall.box.left, 0);
  }
  // A ratio within range but the whole area asked for: attempts fit only when the ratio rounds
  // to 1; otherwise the fallback takes the whole image.
  const RandomResizedCropRange whole{1.0, 1.0, 0.5, 2.0};
  int fallbacks = 0;
  for (std::int64_t example = 0; example < 200; ++example) {
    const CropDraw draw = random_resized_crop(3, 0, example, 100, 100, whole);
    EXPECT_EQ(draw.box.height, 100);
    EXPECT_EQ(draw.box.width, 100);
    EXPECT_EQ(draw.box.top, 0);
    EXPECT_EQ(draw.box.left, 0);
    fallbacks += draw.attempt == 0;
  }
  EXPECT_GT(fallbacks, 100);
  EXPECT_LT(fallbacks, 200);
}

// ---- resampling and the evaluation geometry ----------------------------------------------------

DecodedImage image_of(std::int64_t height, std::int64_t width, const std::vector<std::uint8_t>& pixels) {
  DecodedImage image;
  image.height = height;
  image.width = width;
  image.pixels = pixels;
  return image;
}

const Normalization kIdentity{{0.0f, 0.0f, 0.0f}, {1.0f / 255.0f, 1.0f / 255.0f, 1.0f / 255.0f}};

TEST(ImageTransforms, BilinearWithHalfPixelCentres) {
  // One row 0, 100 (every channel) doubled: samples at 0 (clamped), 0.25, 0.75, 1.25 (edge) →
  // 0, 25, 75, 100 (torch.nn.functional.interpolate, bilinear, align_corners=False).
  const DecodedImage image = image_of(1, 2, {0, 0, 0, 100, 100, 100});
  std::vector<float> out(1 * 4 * 3);
  sgdsweep::data::resample_window(image, {0, 0, 1, 2}, 1, 4, false, kIdentity, out.data());
  const float expected[4] = {0, 25, 75, 100};
  for (int x = 0; x < 4; ++x) {
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(out[static_cast<std::size_t>(x * 3 + c)], expected[x], 1e-3f);
  }
  sgdsweep::data::resample_window(image, {0, 0, 1, 2}, 1, 4, true, kIdentity, out.data());
  for (int x = 0; x < 4; ++x) EXPECT_NEAR(out[static_cast<std::size_t>(x * 3)], expected[3 - x], 1e-3f);

  // Same size: the pixels themselves; halving: the mean of each pair of pixels (0.5 + 2d·… − 0.5).
  std::vector<std::uint8_t> pixels(4 * 6 * 3);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 3 % 251);
  const DecodedImage big = image_of(4, 6, pixels);
  std::vector<float> same(4 * 6 * 3);
  sgdsweep::data::resample_window(big, {0, 0, 4, 6}, 4, 6, false, kIdentity, same.data());
  for (std::size_t i = 0; i < pixels.size(); ++i) EXPECT_NEAR(same[i], pixels[i], 1e-3f);
  std::vector<float> half(2 * 3 * 3);
  sgdsweep::data::resample_window(big, {0, 0, 4, 6}, 2, 3, false, kIdentity, half.data());
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      for (int c = 0; c < 3; ++c) {
        const auto at = [&](int yy, int xx) { return static_cast<float>(pixels[static_cast<std::size_t>((yy * 6 + xx) * 3 + c)]); };
        const float mean = (at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1)) / 4;
        EXPECT_NEAR(half[static_cast<std::size_t>((y * 3 + x) * 3 + c)], mean, 1e-3f);
      }
    }
  }
  // A window: only its pixels, its last row and column repeated at the far edge.
  std::vector<float> window(2 * 2 * 3);
  sgdsweep::data::resample_window(big, {1, 2, 2, 2}, 2, 2, false, kIdentity, window.data());
  EXPECT_NEAR(window[0], pixels[(1 * 6 + 2) * 3], 1e-3f);
  EXPECT_NEAR(window[(1 * 2 + 1) * 3 + 2], pixels[(2 * 6 + 3) * 3 + 2], 1e-3f);
  expect_error([&] { sgdsweep::data::resample_window(big, {3, 0, 2, 2}, 2, 2, false, kIdentity, window.data()); },
               {"does not fit an image of 4×6"});

  // Normalisation: (v·(1/255) − mean)·(1/std), per channel; ImageNet's by default.
  const DecodedImage gray = image_of(1, 1, {51, 51, 51});
  std::vector<float> normalised(3);
  sgdsweep::data::resample_window(gray, {0, 0, 1, 1}, 1, 1, false, Normalization{}, normalised.data());
  EXPECT_NEAR(normalised[0], (0.2f - 0.485f) / 0.229f, 1e-5f);
  EXPECT_NEAR(normalised[2], (0.2f - 0.406f) / 0.225f, 1e-5f);
}

TEST(ImageTransforms, EvalResizesTheShorterSideThenCropsTheCentre) {
  EXPECT_EQ(sgdsweep::data::default_resize(224), 256);
  EXPECT_EQ(sgdsweep::data::default_resize(32), 37);
  const auto landscape = sgdsweep::data::eval_geometry(375, 500, 256, 224);
  EXPECT_EQ(landscape.resized_height, 256);
  EXPECT_EQ(landscape.resized_width, 341);  // int(256·500/375) = int(341.33)
  EXPECT_EQ(landscape.top, 16);
  EXPECT_EQ(landscape.left, 58);  // round(58.5), half to even
  const auto portrait = sgdsweep::data::eval_geometry(500, 375, 256, 224);
  EXPECT_EQ(portrait.resized_height, 341);
  EXPECT_EQ(portrait.resized_width, 256);
  EXPECT_EQ(portrait.top, 58);
  EXPECT_EQ(portrait.left, 16);
  const auto small = sgdsweep::data::eval_geometry(32, 32, 37, 32);
  EXPECT_EQ(small.resized_height, 37);
  EXPECT_EQ(small.top, 2);  // round(2.5) = 2
  expect_error([] { sgdsweep::data::eval_geometry(10, 10, 200, 224); }, {"crop 224", "resize 200"});

  // The transform equals a full resize to the resized size followed by the centre crop, exactly.
  const int height = 30, width = 45;
  const DecodedImage image = image_of(height, width, smooth_rgb(width, height, 5));
  const auto geometry = sgdsweep::data::eval_geometry(height, width, 24, 20);  // → 24 × 36, top 2, left 8
  EXPECT_EQ(geometry.resized_width, 36);
  EXPECT_EQ(geometry.left, 8);
  std::vector<float> full(static_cast<std::size_t>(24 * 36 * 3)), crop(20 * 20 * 3);
  sgdsweep::data::resample_window(image, {0, 0, height, width}, 24, 36, false, Normalization{}, full.data());
  sgdsweep::data::eval_transform(image, 20, 24, Normalization{}, crop.data());
  for (int y = 0; y < 20; ++y) {
    for (int x = 0; x < 20; ++x) {
      for (int c = 0; c < 3; ++c) {
        ASSERT_EQ(crop[static_cast<std::size_t>((y * 20 + x) * 3 + c)],
                  full[static_cast<std::size_t>(((y + 2) * 36 + x + 8) * 3 + c)]);
      }
    }
  }
}

// ---- prefetch ----------------------------------------------------------------------------------

namespace {

// 11 images in 3 classes of different sizes; the order a seeded shuffle of them.
struct PrefetchFixture {
  TemporaryFolder folder;
  FileList files;
  std::vector<std::int64_t> order;
  static constexpr std::int64_t kSize = 12, kFloats = kSize * kSize * 3;

  PrefetchFixture() {
    for (int i = 0; i < 11; ++i) {
      const std::string name = "train/c" + std::to_string(i % 3) + "/" + std::to_string(i) + ".jpg";
      write_file(folder.path() / name, rgb_jpeg(20 + 3 * i, 16 + 2 * i, i));
    }
    files = sgdsweep::data::list_split(folder.path().string(), "train", nullptr, false);
    order.resize(static_cast<std::size_t>(files.size()));
    std::iota(order.begin(), order.end(), 0);
    for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[(i * 7 + 3) % (i + 1)]);
  }
};

// The training transform with epoch = batch / 2 (two batches per "epoch").
sgdsweep::data::TransformFn train_transform(std::uint64_t seed) {
  return [seed](const DecodedImage& image, std::int64_t batch, std::int64_t example, float* out) {
    sgdsweep::data::train_transform(image, seed, batch / 2, example, PrefetchFixture::kSize, {}, {}, out);
  };
}

std::vector<ImageBatch> drain(BatchPrefetcher& prefetcher) {
  std::vector<ImageBatch> batches;
  ImageBatch batch;
  while (prefetcher.next(batch)) batches.push_back(batch);
  return batches;
}

}  // namespace

TEST(Prefetch, OutputEqualsTheSequentialOrderWithOneAndFourThreads) {
  PrefetchFixture fixture;
  const std::int64_t batch_size = 3;  // batches of 3, 3, 3, 2
  // The sequential reference: decode and transform each example in order.
  JpegDecoder decoder;
  DecodedImage image;
  std::vector<float> reference(fixture.order.size() * PrefetchFixture::kFloats);
  for (std::size_t p = 0; p < fixture.order.size(); ++p) {
    decoder.decode_file(fixture.files.path(fixture.order[p]), image);
    train_transform(9)(image, static_cast<std::int64_t>(p) / batch_size, fixture.order[p],
                       reference.data() + p * PrefetchFixture::kFloats);
  }
  for (const int threads : {1, 4}) {
    for (const int capacity : {1, 3}) {
      BatchPrefetcher prefetcher(fixture.files, fixture.order, batch_size, PrefetchFixture::kFloats,
                                 train_transform(9), PrefetchOptions{threads, capacity, false});
      EXPECT_EQ(prefetcher.batches(), 4);
      EXPECT_EQ(prefetcher.threads(), threads);
      const std::vector<ImageBatch> batches = drain(prefetcher);
      ASSERT_EQ(batches.size(), 4u);
      std::size_t position = 0;
      for (std::size_t b = 0; b < batches.size(); ++b) {
        const ImageBatch& batch = batches[b];
        EXPECT_EQ(batch.index, static_cast<std::int64_t>(b));
        ASSERT_EQ(batch.count, b < 3 ? 3 : 2);
        ASSERT_EQ(batch.images.size(), static_cast<std::size_t>(batch.count * PrefetchFixture::kFloats));
        EXPECT_TRUE(batch.skipped.empty());
        for (std::int64_t row = 0; row < batch.count; ++row, ++position) {
          EXPECT_EQ(batch.examples[static_cast<std::size_t>(row)], fixture.order[position]);
          EXPECT_EQ(batch.labels[static_cast<std::size_t>(row)], fixture.files.label(fixture.order[position]));
          EXPECT_TRUE(std::equal(batch.images.begin() + row * PrefetchFixture::kFloats,
                                 batch.images.begin() + (row + 1) * PrefetchFixture::kFloats,
                                 reference.begin() + static_cast<std::ptrdiff_t>(position * PrefetchFixture::kFloats)))
              << threads << " threads, capacity " << capacity << ": row " << row << " of batch " << b;
        }
      }
      EXPECT_EQ(position, fixture.order.size());
      EXPECT_EQ(prefetcher.skipped_total(), 0);
    }
  }
}

TEST(Prefetch, CropsAndPixelsDoNotDependOnThreadsOrCallOrder) {
  PrefetchFixture fixture;
  // The crop of (seed, epoch, example) computed forwards, backwards and from 4 threads agrees.
  std::vector<CropDraw> forwards, backwards(200);
  for (std::int64_t e = 0; e < 200; ++e) forwards.push_back(random_resized_crop(4, 2, e, 300, 400));
  for (std::int64_t e = 199; e >= 0; --e) backwards[static_cast<std::size_t>(e)] = random_resized_crop(4, 2, e, 300, 400);
  std::vector<CropDraw> threaded(200);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::int64_t e = t; e < 200; e += 4) threaded[static_cast<std::size_t>(e)] = random_resized_crop(4, 2, e, 300, 400);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (std::size_t e = 0; e < 200; ++e) {
    EXPECT_TRUE(same(forwards[e], backwards[e]));
    EXPECT_TRUE(same(forwards[e], threaded[e]));
  }
  // Pixels: the same examples in a different order (and batch size) on 1 and 4 threads give the
  // same floats per example (the epoch held fixed).
  const auto fixed_epoch = [](const DecodedImage& image, std::int64_t, std::int64_t example, float* out) {
    sgdsweep::data::train_transform(image, 9, 1, example, PrefetchFixture::kSize, {}, {}, out);
  };
  std::vector<std::int64_t> reversed(fixture.order.rbegin(), fixture.order.rend());
  BatchPrefetcher one(fixture.files, fixture.order, 4, PrefetchFixture::kFloats, fixed_epoch, {1, 2, false});
  BatchPrefetcher four(fixture.files, reversed, 5, PrefetchFixture::kFloats, fixed_epoch, {4, 2, false});
  std::vector<std::vector<float>> by_example_one(fixture.order.size()), by_example_four(fixture.order.size());
  for (auto* run : {&one, &four}) {
    auto& by_example = run == &one ? by_example_one : by_example_four;
    for (const ImageBatch& batch : drain(*run)) {
      for (std::int64_t row = 0; row < batch.count; ++row) {
        by_example[static_cast<std::size_t>(batch.examples[static_cast<std::size_t>(row)])].assign(
            batch.images.begin() + row * PrefetchFixture::kFloats, batch.images.begin() + (row + 1) * PrefetchFixture::kFloats);
      }
    }
  }
  for (std::size_t e = 0; e < fixture.order.size(); ++e) {
    ASSERT_EQ(by_example_one[e].size(), static_cast<std::size_t>(PrefetchFixture::kFloats));
    EXPECT_EQ(by_example_one[e], by_example_four[e]) << "example " << e;
  }
}

TEST(Prefetch, BadFilesFailAtTheirBatchOrAreSkippedAndCounted) {
  PrefetchFixture fixture;
  // Break two files: example 4 truncated, example 8 not a JPEG.
  const std::string cut = fixture.files.path(4), text = fixture.files.path(8);
  const std::string whole = rgb_jpeg(40, 30, 1);
  write_file(cut, whole.substr(0, whole.size() / 2));
  write_file(text, "GIF89a, or rather not");
  std::vector<std::int64_t> order(11);
  std::iota(order.begin(), order.end(), 0);  // batches of 3: {0 1 2} {3 4 5} {6 7 8} {9 10}

  for (const int threads : {1, 4}) {
    BatchPrefetcher failing(fixture.files, order, 3, PrefetchFixture::kFloats, train_transform(1), {threads, 2, false});
    ImageBatch batch;
    ASSERT_TRUE(failing.next(batch));
    EXPECT_EQ(batch.index, 0);
    expect_error([&] { failing.next(batch); }, {cut, "truncated JPEG"});
    expect_error([&] { failing.next(batch); }, {cut, "truncated JPEG"});  // and again

    BatchPrefetcher skipping(fixture.files, order, 3, PrefetchFixture::kFloats, train_transform(1), {threads, 2, true});
    const std::vector<ImageBatch> batches = drain(skipping);
    ASSERT_EQ(batches.size(), 4u);
    EXPECT_EQ(batches[1].count, 2);
    EXPECT_EQ(batches[1].examples, (std::vector<std::int64_t>{3, 5}));
    ASSERT_EQ(batches[1].skipped.size(), 1u);
    EXPECT_NE(batches[1].skipped[0].find(cut), std::string::npos);
    EXPECT_EQ(batches[2].examples, (std::vector<std::int64_t>{6, 7}));
    ASSERT_EQ(batches[2].skipped.size(), 1u);
    EXPECT_NE(batches[2].skipped[0].find("not a JPEG"), std::string::npos);
    EXPECT_NE(batches[2].skipped[0].find("a GIF image"), std::string::npos);
    EXPECT_EQ(batches[2].images.size(), static_cast<std::size_t>(2 * PrefetchFixture::kFloats));
    EXPECT_EQ(batches[3].count, 2);
    EXPECT_EQ(skipping.skipped_total(), 2);
  }
}

TEST(Prefetch, AWorkerExceptionReachesTheConsumerWithItsMessage) {
  PrefetchFixture fixture;
  const auto throwing = [](const DecodedImage&, std::int64_t, std::int64_t example, float* out) {
    if (example == 7) throw std::runtime_error("transform failed on example 7");
    std::fill(out, out + PrefetchFixture::kFloats, static_cast<float>(example));
  };
  std::vector<std::int64_t> order(11);
  std::iota(order.begin(), order.end(), 0);
  for (const int threads : {1, 4}) {
    // Even with skip_bad: only file errors are skipped.
    BatchPrefetcher prefetcher(fixture.files, order, 2, PrefetchFixture::kFloats, throwing, {threads, 3, true});
    ImageBatch batch;
    for (int b = 0; b < 3; ++b) {
      ASSERT_TRUE(prefetcher.next(batch));
      EXPECT_EQ(batch.images[0], static_cast<float>(2 * b));
    }
    try {
      prefetcher.next(batch);
      ADD_FAILURE() << "no exception from batch 3";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "transform failed on example 7");
    }
  }  // the destructor joins the workers after the failure

  expect_error([&] { BatchPrefetcher(fixture.files, {0, 11}, 2, 1, throwing, {}); },
               {"position 1", "example 11", "outside the 11 files"});
  expect_error([&] { BatchPrefetcher(fixture.files, {0}, 0, 1, throwing, {}); }, {"batch size 0"});
  expect_error([&] { BatchPrefetcher(fixture.files, {0}, 1, 1, throwing, {1, 0, false}); }, {"capacity of 0"});
  EXPECT_GE(sgdsweep::data::default_prefetch_threads(1000000), 1);
}
