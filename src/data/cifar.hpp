// Readers for the binary versions of CIFAR-10 and CIFAR-100 (Krizhevsky 2009), images held in host
// memory as NHWC bytes with one int32 label each.
//
// CIFAR-10:  <folder>/data_batch_1.bin … data_batch_5.bin (train, read in that order) and
//            test_batch.bin (test); records of 3073 bytes: the label (0–9), then the 1024 red,
//            1024 green and 1024 blue bytes of the 32×32 image, each plane row-major.
// CIFAR-100: <folder>/train.bin and test.bin; records of 3074 bytes: the coarse label (0–19), the
//            fine label (0–99), then the 3072 pixel bytes as above. We keep the fine label.
//
// Example: the green value of pixel (row 2, column 5) of record n sits at byte
// 1 + 1024 + 2·32 + 5 of that record (CIFAR-10) and lands at pixels[((n·32 + 2)·32 + 5)·3 + 1].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sgdsweep::data {

enum class CifarVariant { cifar10, cifar100 };

struct LabeledImages {
  std::string source;  // the file(s) read, comma-separated, for messages and provenance
  std::int64_t count = 0, height = 32, width = 32, channels = 3;
  std::int32_t classes = 0;           // 10 or 100
  std::vector<std::uint8_t> pixels;   // NHWC [count, 32, 32, 3], 0 … 255
  std::vector<std::int32_t> labels;   // [count], 0 … classes − 1
};

// The "train" or "test" split of a CIFAR binary folder. With limit > 0 only the first `limit`
// images are read (in file order; asking for more than the files hold is an error). Every file of
// the split must exist and have a size that is a positive multiple of the record size, even when
// `limit` stops before it. Throws Error naming the file and what is wrong: missing (for CIFAR-10
// with a pointer to scripts/prepare-cifar10.sh), empty, truncated or not a CIFAR binary file, or a
// label out of range (record index and value).
LabeledImages load_cifar(const std::string& folder, CifarVariant variant, const std::string& split,
                         std::int64_t limit);

// Per-channel mean and population standard deviation of pixel / 255 over all the images (two
// passes in double, images and pixels in storage order). `mean` and `std` are resized to
// `images.channels`. Throws Error when there are no images.
void channel_statistics(const LabeledImages& images, std::vector<float>& mean,
                        std::vector<float>& std);

}  // namespace sgdsweep::data
