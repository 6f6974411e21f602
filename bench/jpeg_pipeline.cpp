// Throughput of the ImageNet-layout JPEG pipeline (images per second, and per worker thread):
// files read from disk (the page cache once warm), decoded by libturbojpeg and transformed by
// data/image_transforms, through the real BatchPrefetcher, for 1 … N worker threads:
//   decode  — decoding only (the transform writes one float): the cost of libjpeg-turbo;
//   train   — decode + RandomResizedCrop(224) + flip + normalisation;
//   eval    — decode + resize the shorter side to 256 + centre crop 224 + normalisation.
// on two image sets: the CIFAR-10 JPEG copy (32×32; scripts/prepare-cifar10-jpeg.sh), and a set
// of ImageNet-sized JPEGs this program writes itself (--make-large): CIFAR images upscaled
// bilinearly to 500×375, with per-pixel noise so that the files are about as large as ImageNet's
// (the noise amplitude is a flag), quality 90, 4:2:0 chroma subsampling (libjpeg's defaults).
//
// Usage:
//   sgdsweep-bench-jpeg [--data DIR] [--large DIR] [--make-large N] [--noise A] [--images N]
//                       [--threads 1,2,4] [--seconds S] [--rounds R] [--batch B] [--capacity C]
//                       [--sets cifar,large]
//   DIR (--data): an image folder with train/<class>/*.jpg (default data/cifar10-jpeg);
//   --large: where the large set lives or is written (default data/jpeg-bench-500x375);
//   --make-large N: write N large JPEGs there first if it does not hold N (default 1000, 110 MB);
//   --noise A: their noise amplitude in levels (default 48: about 110 KB per file, ImageNet's mean).
// Each configuration streams the first --images files of the set (a seeded shuffle, repeated;
// batches of --batch) through one prefetcher for --seconds after the ring has filled, following
// an untimed pass that warms the page cache; that is repeated --rounds times (default 3), each round going
// through every configuration once, and the table gives the median round with [min – max].
// Output: a Markdown table on stdout: images per second of wall time, that per worker thread,
// and images per second of the process's CPU time (all threads) — the per-core cost, which other
// processes on a shared machine do not inflate the way they lower the wall-time rate.
#include <turbojpeg.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "data/batcher.hpp"
#include "data/image_folder.hpp"
#include "data/image_transforms.hpp"
#include "data/prefetch.hpp"
#include "util/error.hpp"
#include "util/rng.hpp"

namespace sgdsweep::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string data = "data/cifar10-jpeg";
  std::string large = "data/jpeg-bench-500x375";
  std::int64_t make_large = 1000;
  double noise = 48.0;
  std::int64_t images = 4000;
  std::vector<int> threads = {1, 2};
  double seconds = 4.0;
  std::int64_t batch = 64;
  int capacity = 4;
  int rounds = 3;
  std::vector<std::string> sets = {"cifar", "large"};
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) parts.push_back(part);
  return parts;
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) fail("flag ", flag, " needs a value (see the comment at the top of bench/jpeg_pipeline.cpp)");
    const std::string value = argv[++i];
    if (flag == "--data") options.data = value;
    else if (flag == "--large") options.large = value;
    else if (flag == "--make-large") options.make_large = std::stoll(value);
    else if (flag == "--noise") options.noise = std::stod(value);
    else if (flag == "--images") options.images = std::stoll(value);
    else if (flag == "--seconds") options.seconds = std::stod(value);
    else if (flag == "--batch") options.batch = std::stoll(value);
    else if (flag == "--capacity") options.capacity = std::stoi(value);
    else if (flag == "--rounds") options.rounds = std::stoi(value);
    else if (flag == "--sets") options.sets = split_list(value);
    else if (flag == "--threads") {
      options.threads.clear();
      for (const std::string& part : split_list(value)) options.threads.push_back(std::stoi(part));
    } else {
      fail("unknown flag ", flag, " (see the comment at the top of bench/jpeg_pipeline.cpp)");
    }
  }
  return options;
}

// Writes `count` ImageNet-sized JPEGs (500 × 375, quality 90, 4:2:0) into folder/train/<class>/,
// made from the CIFAR images of `cifar` in list order: bilinear upscaling plus uniform noise of
// ±noise levels per channel from CounterRng (seed 1, stream = image), so the set is the same on
// every run. Skipped when the folder already holds `count` files. Returns their mean size in bytes.
double make_large_set(const data::FileList& cifar, const std::string& folder, std::int64_t count, double noise) {
  const fs::path root = fs::path(folder) / "train";
  std::int64_t present = 0;
  std::uintmax_t bytes = 0;
  if (fs::exists(root)) {
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (entry.is_regular_file()) {
        ++present;
        bytes += entry.file_size();
      }
    }
  }
  if (present == count) return static_cast<double>(bytes) / static_cast<double>(count);
  if (present != 0) fail(root.string(), " holds ", present, " files, not ", count, "; remove it to regenerate");
  if (count > cifar.size()) fail("--make-large ", count, ": only ", cifar.size(), " CIFAR images to start from");

  constexpr int kWidth = 500, kHeight = 375;
  const fs::path staging = fs::path(folder + ".staging");
  fs::remove_all(staging);
  data::JpegDecoder decoder;
  data::DecodedImage small;
  tjhandle compressor = tjInitCompress();
  std::vector<std::uint8_t> big(static_cast<std::size_t>(kWidth * kHeight * 3));
  std::vector<float> upscaled(big.size());
  const data::Normalization raw{{0.0f, 0.0f, 0.0f}, {1.0f / 255.0f, 1.0f / 255.0f, 1.0f / 255.0f}};
  const CounterRng rng(1, RngPurpose::test);
  bytes = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    decoder.decode_file(cifar.path(i), small);
    data::resample_window(small, {0, 0, small.height, small.width}, kHeight, kWidth, false, raw, upscaled.data());
    for (std::size_t p = 0; p < big.size(); p += 4) {
      const CounterRng::Block bits = rng.bits(static_cast<std::uint32_t>(i), p / 4);
      for (std::size_t k = 0; k < 4 && p + k < big.size(); ++k) {
        const double jitter = (static_cast<double>(bits[k]) / 4294967296.0 * 2.0 - 1.0) * noise;
        big[p + k] = static_cast<std::uint8_t>(std::clamp(std::lround(upscaled[p + k] + jitter), 0l, 255l));
      }
    }
    unsigned char* jpeg = nullptr;
    unsigned long size = 0;
    if (tjCompress2(compressor, big.data(), kWidth, 0, kHeight, TJPF_RGB, &jpeg, &size, TJSAMP_420, 90, 0) != 0) {
      fail("tjCompress2: ", tjGetErrorStr2(compressor));
    }
    const fs::path path = staging / "train" / cifar.classes()[static_cast<std::size_t>(cifar.label(i))] /
                          (std::to_string(i) + ".jpg");
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(jpeg), static_cast<std::streamsize>(size));
    bytes += size;
    tjFree(jpeg);
  }
  tjDestroy(compressor);
  fs::remove_all(folder);
  fs::rename(staging, folder);
  return static_cast<double>(bytes) / static_cast<double>(count);
}

double mean_file_bytes(const data::FileList& files, std::int64_t count) {
  std::uintmax_t bytes = 0;
  for (std::int64_t i = 0; i < count; ++i) bytes += fs::file_size(files.path(i));
  return static_cast<double>(bytes) / static_cast<double>(count);
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// One BatchPrefetcher over `order` repeated (200,000 images at least), consumed at once: after
// `capacity` untimed batches (the ring filled, every worker busy), batches are counted until
// `seconds` have passed. Images per second of wall time, and per second of the process's CPU time
// (all threads; the consumer mostly waits). On a shared machine the second is the per-core
// figure: another process's share of a core lowers the first, not the second (unless it evicts
// our caches). The work in flight when timing starts and when it stops is about the same.
struct Rate {
  double wall = 0, cpu = 0;
};

Rate measure(const data::FileList& files, const std::vector<std::int64_t>& order, const data::TransformFn& transform,
             std::int64_t floats, const Options& options, int threads) {
  std::vector<std::int64_t> repeated;
  while (repeated.size() < 200000) repeated.insert(repeated.end(), order.begin(), order.end());
  data::BatchPrefetcher prefetcher(files, std::move(repeated), options.batch, floats, transform,
                                   data::PrefetchOptions{threads, options.capacity, false});
  data::ImageBatch batch;
  double checksum = 0;
  for (int b = 0; b < options.capacity; ++b) prefetcher.next(batch);
  std::int64_t images = 0;
  const Clock::time_point start = Clock::now();
  const double cpu_start = process_cpu_seconds();
  double elapsed = 0;
  while (elapsed < options.seconds && prefetcher.next(batch)) {
    checksum += static_cast<double>(batch.images[0]);
    images += batch.count;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  const double cpu = process_cpu_seconds() - cpu_start;
  if (!std::isfinite(checksum)) fail("non-finite pixels");
  return {static_cast<double>(images) / elapsed, static_cast<double>(images) / cpu};
}

std::string median_and_range(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return concat(std::lround(values[values.size() / 2]), " [", std::lround(values.front()), " – ",
                std::lround(values.back()), "]");
}

int run(int argc, char** argv) {
  const Options options = parse(argc, argv);
  const data::FileList cifar = data::list_split(options.data, "train", nullptr, false);
  std::cout << "# JPEG pipeline throughput\n\nload average before: " << load_average()
            << "; hardware threads: " << std::thread::hardware_concurrency() << "; batch " << options.batch
            << ", capacity " << options.capacity << " batches, >= " << options.seconds << " s per figure, "
            << options.rounds << " rounds (median [min – max])\n\n"
            << "| images | transform | threads | images/s (wall) | per thread (wall) | per CPU-second |\n"
            << "|---|---|---:|---:|---:|---:|\n"
            << std::flush;
  const data::RandomResizedCropRange range;
  const data::Normalization imagenet;
  const std::int64_t floats = 224 * 224 * 3;
  const data::TransformFn decode_only = [](const data::DecodedImage& image, std::int64_t, std::int64_t, float* out) {
    out[0] = static_cast<float>(image.pixels[0]);
  };
  const data::TransformFn train = [&](const data::DecodedImage& image, std::int64_t, std::int64_t example, float* out) {
    data::train_transform(image, 2020, 0, example, 224, range, imagenet, out);
  };
  const data::TransformFn eval = [&](const data::DecodedImage& image, std::int64_t, std::int64_t, float* out) {
    data::eval_transform(image, 224, 256, imagenet, out);
  };
  std::ostringstream notes;
  for (const std::string& set : options.sets) {
    data::FileList files;
    std::string label;
    double bytes = 0;
    if (set == "cifar") {
      files = cifar;
      label = "CIFAR-10 32×32";
    } else if (set == "large") {
      bytes = make_large_set(cifar, options.large, options.make_large, options.noise);
      files = data::list_split(options.large, "train", nullptr, false);
      label = "500×375 synthetic";
    } else {
      fail("unknown set '", set, "' (cifar, large)");
    }
    const std::int64_t count = std::min(options.images, files.size());
    if (bytes == 0) bytes = mean_file_bytes(files, count);
    notes << "- " << label << ": " << count << " files from " << files.folder() << ", mean " << std::lround(bytes)
          << " bytes per file\n";
    std::vector<std::int64_t> order;
    for (const std::int32_t example : data::epoch_permutation(7, files.size(), 0)) {
      if (example < count) order.push_back(example);
    }
    const struct { const char* name; const data::TransformFn* transform; std::int64_t floats; } transforms[] = {
        {"decode only", &decode_only, 1}, {"train 224", &train, floats}, {"eval 256→224", &eval, floats}};
    {  // warm the page cache: one pass over the files
      data::BatchPrefetcher warm(files, order, options.batch, 1, decode_only,
                                 data::PrefetchOptions{options.threads.back(), options.capacity, false});
      data::ImageBatch batch;
      while (warm.next(batch)) {
      }
    }
    // rates[configuration][round]; rounds alternate over the configurations so drift hits all alike.
    std::vector<std::vector<Rate>> rates(std::size(transforms) * options.threads.size());
    for (int round = 0; round < options.rounds; ++round) {
      std::size_t configuration = 0;
      for (const auto& transform : transforms) {
        for (const int threads : options.threads) {
          rates[configuration++].push_back(
              measure(files, order, *transform.transform, transform.floats, options, threads));
        }
      }
    }
    std::size_t configuration = 0;
    for (const auto& transform : transforms) {
      for (const int threads : options.threads) {
        std::vector<double> wall, per_thread, cpu;
        for (const Rate& rate : rates[configuration++]) {
          wall.push_back(rate.wall);
          per_thread.push_back(rate.wall / threads);
          cpu.push_back(rate.cpu);
        }
        std::cout << "| " << label << " | " << transform.name << " | " << threads << " | "
                  << median_and_range(wall) << " | " << median_and_range(per_thread) << " | "
                  << median_and_range(cpu) << " |\n" << std::flush;
      }
    }
  }
  std::cout << "\n" << notes.str() << "\nload average after: " << load_average() << "\n";
  return 0;
}

}  // namespace
}  // namespace sgdsweep::bench

int main(int argc, char** argv) {
  try {
    return sgdsweep::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "sgdsweep-bench-jpeg: " << e.what() << "\n";
    return 1;
  }
}
