// The CIFAR-10/100 readers on tiny files the test writes in the real record formats (CHW → NHWC,
// labels, batch order, limits, every malformed case), the channel statistics on a hand-computed
// case, and the seeded crop-and-flip draws.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <utility>

#include "data/augment.hpp"
#include "data/cifar.hpp"
#include "test_support.hpp"

namespace {

using sgdsweep::data::CifarVariant;
using sgdsweep::data::LabeledImages;
using sgdsweep::data::load_cifar;
using sgdsweep::testing::expect_error;
using sgdsweep::testing::TemporaryFolder;

// Pixel value of image `n` (global index), channel c, position p = y·32 + x: distinct across
// channels and positions, so a transposed or misplaced plane shows.
std::uint8_t pixel(std::int64_t n, std::int64_t c, std::int64_t p) {
  return static_cast<std::uint8_t>((7 * n + 85 * c + p) % 256);
}

// One record: the label bytes, then the R, G, B planes of image n, each row-major 32×32.
std::string record(std::int64_t n, const std::string& labels) {
  std::string bytes = labels;
  for (std::int64_t c = 0; c < 3; ++c) {
    for (std::int64_t p = 0; p < 1024; ++p) bytes.push_back(static_cast<char>(pixel(n, c, p)));
  }
  return bytes;
}

std::string label_bytes(int label) { return std::string(1, static_cast<char>(label)); }
std::string label_bytes(int coarse, int fine) {
  return {static_cast<char>(coarse), static_cast<char>(fine)};
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// CIFAR-10 training batches holding 2, 1, 3, 1, 2 images (9 in all); image n has label (3n) mod 10
// and the pixels of pixel(n, …). test_batch.bin holds 3 images numbered from 100, label n mod 10.
void write_cifar10(const TemporaryFolder& folder) {
  const int sizes[5] = {2, 1, 3, 1, 2};
  std::int64_t n = 0;
  for (int batch = 0; batch < 5; ++batch) {
    std::string bytes;
    for (int i = 0; i < sizes[batch]; ++i, ++n) bytes += record(n, label_bytes(static_cast<int>(3 * n % 10)));
    write_file(folder.file("data_batch_" + std::to_string(batch + 1) + ".bin"), bytes);
  }
  std::string test;
  for (std::int64_t t = 100; t < 103; ++t) test += record(t, label_bytes(static_cast<int>(t % 10)));
  write_file(folder.file("test_batch.bin"), test);
}

// Every pixel of images.pixels is pixel(first + i, c, y·32 + x) at NHWC [i, y, x, c].
void expect_nhwc_pixels(const LabeledImages& images, std::int64_t first) {
  ASSERT_EQ(images.pixels.size(), static_cast<std::size_t>(images.count * 32 * 32 * 3));
  std::int64_t wrong = 0;
  for (std::int64_t i = 0; i < images.count; ++i) {
    for (std::int64_t y = 0; y < 32; ++y) {
      for (std::int64_t x = 0; x < 32; ++x) {
        for (std::int64_t c = 0; c < 3; ++c) {
          wrong += images.pixels[static_cast<std::size_t>(((i * 32 + y) * 32 + x) * 3 + c)] !=
                   pixel(first + i, c, y * 32 + x);
        }
      }
    }
  }
  EXPECT_EQ(wrong, 0) << "pixels not in NHWC order";
}

}  // namespace

TEST(Cifar, Cifar10TrainReadsTheFiveBatchesInOrderAsNhwc) {
  TemporaryFolder folder;
  write_cifar10(folder);
  const LabeledImages train = load_cifar(folder.path().string(), CifarVariant::cifar10, "train", 0);
  EXPECT_EQ(train.count, 9);
  EXPECT_EQ(train.classes, 10);
  EXPECT_EQ(train.height, 32);
  EXPECT_EQ(train.width, 32);
  EXPECT_EQ(train.channels, 3);
  EXPECT_EQ(train.labels, (std::vector<std::int32_t>{0, 3, 6, 9, 2, 5, 8, 1, 4}));
  expect_nhwc_pixels(train, 0);
  // A known value by hand: image 4 (batch 3), green, row 2, column 5 → (28 + 85 + 69) mod 256.
  EXPECT_EQ(train.pixels[((4 * 32 + 2) * 32 + 5) * 3 + 1], 182);
  EXPECT_NE(train.source.find("data_batch_1.bin"), std::string::npos);
  EXPECT_NE(train.source.find("data_batch_5.bin"), std::string::npos);
  EXPECT_LT(train.source.find("data_batch_1.bin"), train.source.find("data_batch_2.bin"));

  const LabeledImages test = load_cifar(folder.path().string(), CifarVariant::cifar10, "test", 0);
  EXPECT_EQ(test.count, 3);
  EXPECT_EQ(test.labels, (std::vector<std::int32_t>{0, 1, 2}));
  expect_nhwc_pixels(test, 100);
  EXPECT_NE(test.source.find("test_batch.bin"), std::string::npos);
}

TEST(Cifar, LimitReadsTheFirstImagesAcrossBatches) {
  TemporaryFolder folder;
  write_cifar10(folder);
  const std::string path = folder.path().string();
  const LabeledImages four = load_cifar(path, CifarVariant::cifar10, "train", 4);
  EXPECT_EQ(four.count, 4);
  EXPECT_EQ(four.labels, (std::vector<std::int32_t>{0, 3, 6, 9}));
  expect_nhwc_pixels(four, 0);
  EXPECT_NE(four.source.find("data_batch_3.bin"), std::string::npos);
  EXPECT_EQ(four.source.find("data_batch_4.bin"), std::string::npos) << four.source;
  EXPECT_EQ(load_cifar(path, CifarVariant::cifar10, "train", 9).count, 9);
  expect_error([&] { load_cifar(path, CifarVariant::cifar10, "train", 10); },
               {"10 CIFAR-10 train images requested", "hold 9"});
  expect_error([&] { load_cifar(path, CifarVariant::cifar10, "test", 4); },
               {"test_batch.bin", "4 CIFAR-10 test images requested", "hold 3"});
  expect_error([&] { load_cifar(path, CifarVariant::cifar10, "valid", 0); },
               {"unknown split 'valid'", "train, test"});
}

TEST(Cifar, Cifar100KeepsTheFineLabel) {
  TemporaryFolder folder;
  std::string train;
  const std::pair<int, int> labels[4] = {{19, 99}, {0, 0}, {7, 42}, {3, 64}};
  for (int n = 0; n < 4; ++n) train += record(n, label_bytes(labels[n].first, labels[n].second));
  write_file(folder.file("train.bin"), train);
  write_file(folder.file("test.bin"), record(50, label_bytes(11, 57)));
  const std::string path = folder.path().string();

  const LabeledImages images = load_cifar(path, CifarVariant::cifar100, "train", 0);
  EXPECT_EQ(images.count, 4);
  EXPECT_EQ(images.classes, 100);
  EXPECT_EQ(images.labels, (std::vector<std::int32_t>{99, 0, 42, 64}));
  expect_nhwc_pixels(images, 0);
  const LabeledImages two = load_cifar(path, CifarVariant::cifar100, "train", 2);
  EXPECT_EQ(two.labels, (std::vector<std::int32_t>{99, 0}));
  const LabeledImages test = load_cifar(path, CifarVariant::cifar100, "test", 0);
  EXPECT_EQ(test.labels, (std::vector<std::int32_t>{57}));
  expect_nhwc_pixels(test, 50);
  EXPECT_NE(test.source.find("test.bin"), std::string::npos);
}

TEST(Cifar, TruncatedOrWrongSizedFilesAreRejected) {
  TemporaryFolder folder;
  write_cifar10(folder);
  const std::string path = folder.path().string();
  // Batch 3 cut 100 bytes short (3·3073 − 100 = 9119 bytes): even a limit that stops before it fails.
  const std::string cut = record(0, label_bytes(0)) + record(1, label_bytes(1)) + record(2, label_bytes(2));
  write_file(folder.file("data_batch_3.bin"), cut.substr(0, cut.size() - 100));
  for (std::int64_t limit : {0, 1}) {
    expect_error([&] { load_cifar(path, CifarVariant::cifar10, "train", limit); },
                 {"data_batch_3.bin", "size 9119 bytes", "record size 3073",
                  "truncated or not a CIFAR-10 binary file"});
  }
  // CIFAR-10 records (3073 bytes) where CIFAR-100 records (3074) belong.
  write_file(folder.file("train.bin"), record(0, label_bytes(1)) + record(1, label_bytes(2)));
  expect_error([&] { load_cifar(path, CifarVariant::cifar100, "train", 0); },
               {"train.bin", "size 6146 bytes", "CIFAR-100 record size 3074", "not a CIFAR-100"});
}

TEST(Cifar, EmptyFileIsRejected) {
  TemporaryFolder folder;
  write_cifar10(folder);
  write_file(folder.file("test_batch.bin"), "");
  expect_error([&] { load_cifar(folder.path().string(), CifarVariant::cifar10, "test", 0); },
               {"test_batch.bin", "empty file"});
}

TEST(Cifar, LabelOutOfRangeNamesFileRecordAndValue) {
  TemporaryFolder folder;
  write_cifar10(folder);
  const std::string path = folder.path().string();
  write_file(folder.file("test_batch.bin"),
             record(0, label_bytes(9)) + record(1, label_bytes(10)) + record(2, label_bytes(0)));
  expect_error([&] { load_cifar(path, CifarVariant::cifar10, "test", 0); },
               {"test_batch.bin", "record 1", "label 10", "0 … 9"});
  EXPECT_EQ(load_cifar(path, CifarVariant::cifar10, "test", 1).labels[0], 9);  // record 1 not read

  write_file(folder.file("train.bin"), record(0, label_bytes(0, 0)) + record(1, label_bytes(5, 100)));
  expect_error([&] { load_cifar(path, CifarVariant::cifar100, "train", 0); },
               {"train.bin", "record 1", "label 100", "0 … 99"});
  write_file(folder.file("train.bin"), record(0, label_bytes(20, 3)));
  expect_error([&] { load_cifar(path, CifarVariant::cifar100, "train", 0); },
               {"train.bin", "record 0", "coarse label 20", "0 … 19"});
}

TEST(Cifar, MissingFileNamesItAndSaysWhatToDo) {
  TemporaryFolder folder;
  write_cifar10(folder);
  const std::string path = folder.path().string();
  std::filesystem::remove(folder.file("data_batch_4.bin"));
  expect_error([&] { load_cifar(path, CifarVariant::cifar10, "train", 1); },
               {"data_batch_4.bin", "missing CIFAR-10 file", "scripts/prepare-cifar10.sh",
                "../shared/data/cifar10"});
  EXPECT_EQ(load_cifar(path, CifarVariant::cifar10, "test", 0).count, 3);
  expect_error([&] { load_cifar(path, CifarVariant::cifar100, "test", 0); },
               {"test.bin", "missing CIFAR-100 file"});
}

TEST(Cifar, ChannelStatisticsOnAHandComputedCase) {
  // Two images of 1 × 2 pixels: per channel the four values
  // R: 0, 255, 255, 255 → 0, 1, 1, 1: mean 0.75, variance 0.1875;
  // G: 51 × 4 → 0.2, variance 0; B: 0, 102, 153, 255 → 0, .4, .6, 1: mean 0.5, variance 0.13.
  LabeledImages images;
  images.source = "hand-made";
  images.count = 2;
  images.height = 1;
  images.width = 2;
  images.channels = 3;
  images.pixels = {0, 51, 0, 255, 51, 102, /* image 2 */ 255, 51, 153, 255, 51, 255};
  images.labels = {0, 1};
  std::vector<float> mean, std;
  sgdsweep::data::channel_statistics(images, mean, std);
  ASSERT_EQ(mean.size(), 3u);
  ASSERT_EQ(std.size(), 3u);
  EXPECT_NEAR(mean[0], 0.75f, 1e-7f);
  EXPECT_NEAR(mean[1], 0.2f, 1e-7f);
  EXPECT_NEAR(mean[2], 0.5f, 1e-7f);
  EXPECT_NEAR(std[0], std::sqrt(0.1875f), 1e-7f);
  EXPECT_NEAR(std[1], 0.0f, 1e-7f);
  EXPECT_NEAR(std[2], std::sqrt(0.13f), 1e-7f);

  LabeledImages empty;
  empty.source = "nothing.bin";
  expect_error([&] { sgdsweep::data::channel_statistics(empty, mean, std); },
               {"nothing.bin", "no images"});
}

// ---- augmentation ------------------------------------------------------------------------------

using sgdsweep::data::CropFlip;
using sgdsweep::data::random_crop_flip;

bool same(const CropFlip& a, const CropFlip& b) {
  return a.offset_y == b.offset_y && a.offset_x == b.offset_x && a.flip == b.flip;
}

TEST(Augment, CropFlipIsAPureFunctionOfSeedEpochAndExample) {
  for (std::int64_t example : {0, 1, 49999}) {
    EXPECT_TRUE(same(random_crop_flip(7, 3, example, 4), random_crop_flip(7, 3, example, 4)));
  }
  // A change of seed, epoch or example changes the draw for nearly every example (the chance that
  // two independent draws agree is 1/162).
  int differs_seed = 0, differs_epoch = 0, differs_example = 0;
  for (std::int64_t example = 0; example < 1000; ++example) {
    const CropFlip base = random_crop_flip(7, 3, example, 4);
    differs_seed += !same(base, random_crop_flip(8, 3, example, 4));
    differs_epoch += !same(base, random_crop_flip(7, 4, example, 4));
    differs_example += !same(base, random_crop_flip(7, 3, example + 1000, 4));
  }
  EXPECT_GT(differs_seed, 970);
  EXPECT_GT(differs_epoch, 970);
  EXPECT_GT(differs_example, 970);
}

TEST(Augment, CropFlipCoversEveryOffsetAndBothFlipsEvenly) {
  const int draws = 20000;
  int rows[9] = {0}, columns[9] = {0}, flips[2] = {0};
  std::set<std::pair<int, int>> windows;
  for (std::int64_t example = 0; example < draws; ++example) {
    const CropFlip d = random_crop_flip(12345, 0, example, 4);
    ASSERT_GE(d.offset_y, 0);
    ASSERT_LE(d.offset_y, 8);
    ASSERT_GE(d.offset_x, 0);
    ASSERT_LE(d.offset_x, 8);
    ASSERT_TRUE(d.flip == 0 || d.flip == 1);
    ++rows[d.offset_y];
    ++columns[d.offset_x];
    ++flips[d.flip];
    windows.emplace(d.offset_y, d.offset_x);
  }
  EXPECT_EQ(windows.size(), 81u);  // every (y, x) pair: the two offsets are drawn independently
  // Expected 2222 per offset and 10000 per flip; ±15% is > 6 standard deviations.
  for (int k = 0; k < 9; ++k) {
    EXPECT_NEAR(rows[k], draws / 9.0, 0.15 * draws / 9.0) << "offset_y " << k;
    EXPECT_NEAR(columns[k], draws / 9.0, 0.15 * draws / 9.0) << "offset_x " << k;
  }
  EXPECT_NEAR(flips[1], draws / 2.0, 0.05 * draws / 2.0);
}

TEST(Augment, PaddingZeroKeepsTheWindowAndBatchMatchesSingleDraws) {
  int flips = 0;
  for (std::int64_t example = 0; example < 200; ++example) {
    const CropFlip d = random_crop_flip(1, 0, example, 0);
    EXPECT_EQ(d.offset_y, 0);
    EXPECT_EQ(d.offset_x, 0);
    flips += d.flip;
  }
  EXPECT_GT(flips, 50);
  EXPECT_LT(flips, 150);

  const std::vector<std::int32_t> examples = {5, 0, 49999, 17};
  std::vector<std::int32_t> triples(3 * examples.size(), -1);
  sgdsweep::data::random_crop_flip_batch(99, 2, examples.data(), 4, 4, triples.data());
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const CropFlip d = random_crop_flip(99, 2, examples[i], 4);
    EXPECT_EQ(triples[3 * i], d.offset_y);
    EXPECT_EQ(triples[3 * i + 1], d.offset_x);
    EXPECT_EQ(triples[3 * i + 2], d.flip);
  }
  expect_error([] { random_crop_flip(1, 0, 0, -1); }, {"padding -1", "non-negative"});
}
