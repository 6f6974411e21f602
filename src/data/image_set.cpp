// MNIST-layout image loading on top of the IDX reader.
#include "data/image_set.hpp"

#include <filesystem>

#include "data/idx.hpp"
#include "util/error.hpp"

namespace sgdsweep::data {

std::string mnist_images_path(const std::string& folder, const std::string& split) {
  std::string stem;
  if (split == "train") {
    stem = "train-images-idx3-ubyte";
  } else if (split == "test") {
    stem = "t10k-images-idx3-ubyte";
  } else {
    fail("unknown split '", split, "' (valid: train, test)");
  }
  const std::filesystem::path base = std::filesystem::path(folder) / stem;
  for (const std::string& candidate : {base.string() + ".gz", base.string()}) {
    if (std::filesystem::is_regular_file(candidate)) return candidate;
  }
  fail("missing data file: neither ", base.string(), ".gz nor ", base.string(),
       " exists (Fashion-MNIST: apt-get install dataset-fashion-mnist)");
}

ImageSet load_idx_images(const std::string& path, std::int64_t limit) {
  IdxArray array = read_idx(path, limit);
  if (array.dims.size() != 3) {
    fail(path, ": expected an image file with 3 dimensions [count, rows, cols], found ",
         array.dims.size());
  }
  ImageSet images;
  images.source = path;
  images.count = array.dims[0];
  images.features = array.dims[1] * array.dims[2];
  images.pixels = std::move(array.values);
  return images;
}

}  // namespace sgdsweep::data
