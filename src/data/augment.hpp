// The paper's CIFAR augmentation (appendix B.2): pad every side by `padding` zero pixels (4), take a
// random window of the original size, and mirror it left-right with probability 1/2. The draw for
// training example `example` in epoch `epoch` is a pure function of (trial seed, epoch, example):
// CounterRng(seed, RngPurpose::augment).bits(stream = epoch, position = example), so it is the same
// on any rank, after a resume, and whichever batch or team the example lands in.
//
// The triples are what ops::Backend::gather_images_u8 takes: offsets are the window's origin in the
// padded image, so (padding, padding, 0) is the image as it is. Example with padding 4: (0, 8, 1)
// takes rows −4 … 27 and columns 4 … 35 of the original (out-of-range pixels are zero), mirrored.
#pragma once

#include <cstdint>

#include "util/error.hpp"
#include "util/rng.hpp"

namespace sgdsweep::data {

struct CropFlip {
  std::int32_t offset_y, offset_x;  // window origin in the padded image, each in [0, 2·padding]
  std::int32_t flip;                // 1: mirror left-right, 0: as is
};

// Word 0 of the Philox block picks offset_y, word 1 offset_x (each uniform on 2·padding + 1 values
// by a 32×32→64-bit multiply: relative bias below (2·padding + 1)/2^32), and the top bit of word 2
// the flip.
inline CropFlip random_crop_flip(std::uint64_t seed, std::int64_t epoch, std::int64_t example,
                                 std::int32_t padding) {
  if (padding < 0 || epoch < 0 || example < 0 || epoch > 0xFFFFFFFFll) {
    fail("random_crop_flip: padding ", padding, ", epoch ", epoch, " and example ", example,
         " must be non-negative (epoch below 2^32)");
  }
  const CounterRng rng(seed, RngPurpose::augment);
  const CounterRng::Block bits =
      rng.bits(static_cast<std::uint32_t>(epoch), static_cast<std::uint64_t>(example));
  const std::uint64_t choices = 2 * static_cast<std::uint64_t>(padding) + 1;
  return {static_cast<std::int32_t>((bits[0] * choices) >> 32),
          static_cast<std::int32_t>((bits[1] * choices) >> 32),
          static_cast<std::int32_t>(bits[2] >> 31)};
}

// The triples for a batch: examples[i] (indices into the training set) → triples[3i .. 3i + 2],
// ready for gather_images_u8's `augmentation` argument.
inline void random_crop_flip_batch(std::uint64_t seed, std::int64_t epoch,
                                   const std::int32_t* examples, std::int64_t count,
                                   std::int32_t padding, std::int32_t* triples) {
  for (std::int64_t i = 0; i < count; ++i) {
    const CropFlip draw = random_crop_flip(seed, epoch, examples[i], padding);
    triples[3 * i] = draw.offset_y;
    triples[3 * i + 1] = draw.offset_x;
    triples[3 * i + 2] = draw.flip;
  }
}

}  // namespace sgdsweep::data
