// Byte-valued image datasets held in host memory: MNIST and Fashion-MNIST in their IDX files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sgdsweep::data {

struct ImageSet {
  std::string source;                 // the file it was read from
  std::int64_t count = 0;             // images
  std::int64_t features = 0;          // bytes per image (28 × 28 = 784)
  std::vector<std::uint8_t> pixels;   // [count, features], 0 … 255
};

// "train" or "test" split of an MNIST-layout folder: train-images-idx3-ubyte(.gz) and
// t10k-images-idx3-ubyte(.gz). Returns the path of the file that exists (the .gz preferred);
// throws Error naming both candidates when neither does.
std::string mnist_images_path(const std::string& folder, const std::string& split);

// The first `limit` images (0 = all) of an IDX image file ([count, rows, cols] bytes).
ImageSet load_idx_images(const std::string& path, std::int64_t limit);

}  // namespace sgdsweep::data
