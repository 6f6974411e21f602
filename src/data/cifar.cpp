// CIFAR binary readers: check every file of the split, then read records and turn CHW planes into
// NHWC pixels.
#include "data/cifar.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "util/error.hpp"

namespace sgdsweep::data {
namespace {

constexpr std::int64_t kSide = 32;
constexpr std::int64_t kChannels = 3;
constexpr std::int64_t kPlane = kSide * kSide;           // 1024 bytes per colour plane
constexpr std::int64_t kImageBytes = kPlane * kChannels;  // 3072

// What distinguishes the two variants: file names, label bytes before the pixels, label ranges.
struct Layout {
  std::string name;              // "CIFAR-10"
  std::int64_t label_bytes = 0;  // 1 (label) or 2 (coarse, fine)
  std::int32_t classes = 0;      // range of the label we keep (the last label byte)
  std::int32_t coarse_classes = 0;  // range of the coarse label (CIFAR-100), 0 if none
  std::string missing_hint;      // what to do about a missing file
  std::int64_t record_bytes() const { return label_bytes + kImageBytes; }
};

Layout layout_of(CifarVariant variant) {
  if (variant == CifarVariant::cifar10) {
    return {"CIFAR-10", 1, 10, 0,
            "scripts/prepare-cifar10.sh builds the cifar-10-batches-bin layout (data_batch_1..5.bin, "
            "test_batch.bin) from ../shared/data/cifar10 into data/cifar-10-batches-bin"};
  }
  return {"CIFAR-100", 2, 100, 20,
          "the folder must hold train.bin and test.bin of the CIFAR-100 binary version"};
}

std::vector<std::string> split_files(const std::string& folder, CifarVariant variant,
                                     const std::string& split) {
  const std::filesystem::path base(folder);
  std::vector<std::string> names;
  if (split != "train" && split != "test") {
    fail("unknown split '", split, "' (valid: train, test)");
  }
  if (variant == CifarVariant::cifar10) {
    if (split == "train") {
      for (int batch = 1; batch <= 5; ++batch) {
        names.push_back("data_batch_" + std::to_string(batch) + ".bin");
      }
    } else {
      names.push_back("test_batch.bin");
    }
  } else {
    names.push_back(split + ".bin");
  }
  std::vector<std::string> paths;
  for (const std::string& name : names) paths.push_back((base / name).string());
  return paths;
}

// The number of records in `path`, after checking that it exists and that its size fits.
std::int64_t count_records(const std::string& path, const Layout& layout) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) {
    fail(path, ": missing ", layout.name, " file; ", layout.missing_hint);
  }
  if (!std::filesystem::is_regular_file(status)) fail(path, ": not a regular file");
  const auto size = static_cast<std::int64_t>(std::filesystem::file_size(path, error));
  if (error) fail(path, ": cannot read its size (", error.message(), ")");
  if (size == 0) {
    fail(path, ": empty file (0 bytes); expected ", layout.name, " records of ",
         layout.record_bytes(), " bytes");
  }
  if (size % layout.record_bytes() != 0) {
    fail(path, ": size ", size, " bytes is not a multiple of the ", layout.name, " record size ",
         layout.record_bytes(), "; the file is truncated or not a ", layout.name,
         " binary file");
  }
  return size / layout.record_bytes();
}

// Appends the first `records` records of `path` to `images`.
void read_records(const std::string& path, const Layout& layout, std::int64_t records,
                  LabeledImages& images) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open (unreadable)");
  std::vector<std::uint8_t> buffer(static_cast<std::size_t>(records * layout.record_bytes()));
  in.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(buffer.size()));
  if (in.gcount() != static_cast<std::streamsize>(buffer.size())) {
    fail(path, ": read ", in.gcount(), " of ", buffer.size(),
         " bytes; the file changed or is unreadable");
  }

  const std::int64_t first = images.count;
  images.pixels.resize(static_cast<std::size_t>((first + records) * kImageBytes));
  images.labels.resize(static_cast<std::size_t>(first + records));
  for (std::int64_t n = 0; n < records; ++n) {
    const std::uint8_t* record = buffer.data() + n * layout.record_bytes();
    if (layout.coarse_classes > 0 && record[0] >= layout.coarse_classes) {
      fail(path, ": record ", n, " has coarse label ", int(record[0]), ", outside 0 … ",
           layout.coarse_classes - 1, "; not a ", layout.name, " binary file?");
    }
    const int label = record[layout.label_bytes - 1];
    if (label >= layout.classes) {
      fail(path, ": record ", n, " has label ", label, ", outside 0 … ", layout.classes - 1,
           "; not a ", layout.name, " binary file?");
    }
    images.labels[static_cast<std::size_t>(first + n)] = label;
    const std::uint8_t* planes = record + layout.label_bytes;
    std::uint8_t* image = images.pixels.data() + (first + n) * kImageBytes;
    for (std::int64_t p = 0; p < kPlane; ++p) {  // p = y·32 + x
      for (std::int64_t c = 0; c < kChannels; ++c) image[p * kChannels + c] = planes[c * kPlane + p];
    }
  }
  images.count = first + records;
}

}  // namespace

LabeledImages load_cifar(const std::string& folder, CifarVariant variant, const std::string& split,
                         std::int64_t limit) {
  const Layout layout = layout_of(variant);
  if (limit < 0) fail(layout.name, " ", split, " split: limit ", limit, " must be ≥ 0 (0 = all)");
  const std::vector<std::string> paths = split_files(folder, variant, split);

  std::vector<std::int64_t> records;
  std::int64_t available = 0;
  for (const std::string& path : paths) {
    records.push_back(count_records(path, layout));
    available += records.back();
  }
  const std::int64_t wanted = limit > 0 ? limit : available;
  if (wanted > available) {
    fail(folder, ": ", wanted, " ", layout.name, " ", split, " images requested but ",
         paths.size() == 1 ? paths.front() : "the " + std::to_string(paths.size()) + " files",
         " hold ", available);
  }

  LabeledImages images;
  images.classes = layout.classes;
  images.pixels.reserve(static_cast<std::size_t>(wanted * kImageBytes));
  images.labels.reserve(static_cast<std::size_t>(wanted));
  for (std::size_t f = 0; f < paths.size() && images.count < wanted; ++f) {
    const std::int64_t take = std::min(records[f], wanted - images.count);
    read_records(paths[f], layout, take, images);
    images.source += (images.source.empty() ? "" : ", ") + paths[f];
  }
  return images;
}

void channel_statistics(const LabeledImages& images, std::vector<float>& mean,
                        std::vector<float>& std) {
  const std::int64_t channels = images.channels;
  const std::int64_t values_per_channel = images.count * images.height * images.width;
  if (images.count <= 0 || channels <= 0) {
    fail(images.source, ": no images to compute channel statistics from");
  }
  if (static_cast<std::int64_t>(images.pixels.size()) != values_per_channel * channels) {
    fail(images.source, ": ", images.pixels.size(), " pixel bytes, expected ",
         values_per_channel * channels, " for ", images.count, " images");
  }
  std::vector<double> sum(static_cast<std::size_t>(channels), 0.0);
  for (std::int64_t i = 0; i < values_per_channel; ++i) {
    for (std::int64_t c = 0; c < channels; ++c) {
      sum[c] += images.pixels[static_cast<std::size_t>(i * channels + c)] / 255.0;
    }
  }
  std::vector<double> centre(static_cast<std::size_t>(channels));
  for (std::int64_t c = 0; c < channels; ++c) centre[c] = sum[c] / values_per_channel;
  std::vector<double> squares(static_cast<std::size_t>(channels), 0.0);
  for (std::int64_t i = 0; i < values_per_channel; ++i) {
    for (std::int64_t c = 0; c < channels; ++c) {
      const double d = images.pixels[static_cast<std::size_t>(i * channels + c)] / 255.0 - centre[c];
      squares[c] += d * d;
    }
  }
  mean.assign(static_cast<std::size_t>(channels), 0.0f);
  std.assign(static_cast<std::size_t>(channels), 0.0f);
  for (std::int64_t c = 0; c < channels; ++c) {
    mean[c] = static_cast<float>(centre[c]);
    std[c] = static_cast<float>(std::sqrt(squares[c] / values_per_channel));
  }
}

}  // namespace sgdsweep::data
