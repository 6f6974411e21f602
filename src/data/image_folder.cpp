// Image folders: the sorted scan of ROOT/<split>/<class>/<file>, and JPEG decoding with libturbojpeg.
#include "data/image_folder.hpp"

#include <turbojpeg.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <map>
#include <memory>
#include <sstream>

#include "util/error.hpp"

namespace sgdsweep::data {
namespace fs = std::filesystem;
namespace {

bool hidden(const fs::path& path) { return path.filename().string().rfind('.', 0) == 0; }

// The entries of `folder` in byte order of their names, hidden ones left out; file-system errors
// become Errors naming the folder.
std::vector<fs::directory_entry> sorted_entries(const fs::path& folder) {
  std::vector<fs::directory_entry> entries;
  std::error_code error;
  fs::directory_iterator it(folder, error), end;
  for (; !error && it != end; it.increment(error)) {
    if (!hidden(it->path())) entries.push_back(*it);
  }
  if (error) fail(folder.string(), ": cannot list the folder (", error.message(), ")");
  std::sort(entries.begin(), entries.end(), [](const fs::directory_entry& a, const fs::directory_entry& b) {
    return a.path().filename().string() < b.path().filename().string();
  });
  return entries;
}

bool is_folder(const fs::directory_entry& entry) {
  std::error_code error;
  return entry.is_directory(error);  // follows symbolic links
}

bool is_file(const fs::directory_entry& entry) {
  std::error_code error;
  return entry.is_regular_file(error);
}

}  // namespace

std::string FileList::name(std::int64_t example) const {
  const auto i = static_cast<std::size_t>(example);
  const std::uint64_t begin = i == 0 ? 0 : name_end_[i - 1];
  return classes_[static_cast<std::size_t>(labels_[i])] + "/" +
         names_.substr(begin, name_end_[i] - begin);
}

std::string FileList::path(std::int64_t example) const { return folder_ + "/" + name(example); }

FileList list_split(const std::string& root, const std::string& split,
                    const std::vector<std::string>* classes, bool skip_bad) {
  FileList list;
  const fs::path folder = fs::path(root) / split;
  list.folder_ = folder.string();
  std::error_code error;
  const fs::file_status status = fs::status(folder, error);
  if (!fs::exists(status)) {
    fail(list.folder_, ": split folder missing; an image folder holds ", (fs::path(root) / "<split>/<class>/<image>").string(),
         " (ImageNet: train/ and val/; the CIFAR-10 JPEG copy: train/ and test/, see scripts/prepare-cifar10-jpeg.sh)");
  }
  if (!fs::is_directory(status)) fail(list.folder_, ": not a folder; expected the ", split, " split's class folders");

  // Class folders, in byte order; a loose file here means the split is not sorted into classes.
  std::vector<fs::directory_entry> class_folders;
  for (const fs::directory_entry& entry : sorted_entries(folder)) {
    if (is_folder(entry)) {
      class_folders.push_back(entry);
    } else {
      fail(entry.path().string(), ": a file directly in the split folder; images belong in ", list.folder_,
           "/<class>/ (ImageNet's validation images come in one flat folder and must first be moved into "
           "one folder per class, e.g. with the widely used valprep.sh)");
    }
  }
  if (class_folders.empty()) fail(list.folder_, ": no class folders (expected ", list.folder_, "/<class>/<image>)");

  // Label of each class folder: its position here (training split) or in `classes`.
  std::map<std::string, std::int32_t> label_of;
  if (classes == nullptr) {
    for (const fs::directory_entry& entry : class_folders) {
      list.classes_.push_back(entry.path().filename().string());
    }
  } else {
    list.classes_ = *classes;
  }
  if (list.classes_.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    fail(list.folder_, ": more than 2^31 classes");
  }
  for (std::size_t c = 0; c < list.classes_.size(); ++c) label_of[list.classes_[c]] = static_cast<std::int32_t>(c);

  // Files per label (class folders are visited in byte order, which is label order for the
  // training split; for another split the examples are gathered per label, then laid out by label).
  std::vector<std::vector<std::string>> files(list.classes_.size());
  for (const fs::directory_entry& entry : class_folders) {
    const std::string name = entry.path().filename().string();
    const auto found = label_of.find(name);
    if (found == label_of.end()) {
      fail(entry.path().string(), ": class '", name, "' is not among the ", list.classes_.size(),
           " classes of the training split (", fs::path(root).string(), "/<training split>); the class folders "
           "of every split must be the training split's");
    }
    std::vector<std::string>& names = files[static_cast<std::size_t>(found->second)];
    for (const fs::directory_entry& file : sorted_entries(entry.path())) {
      if (is_file(file)) names.push_back(file.path().filename().string());
    }
    if (names.empty()) {
      const std::string problem = concat(entry.path().string(), ": empty class folder (no image files)");
      if (!skip_bad) fail(problem, "; remove the folder, or skip such problems with skip_bad");
      list.skipped_.push_back(problem + "; the class keeps its label and has no examples");
    }
  }

  std::uint64_t characters = 0;
  std::size_t examples = 0;
  for (const auto& names : files) {
    examples += names.size();
    for (const std::string& name : names) characters += name.size();
  }
  if (examples == 0) fail(list.folder_, ": no image files in any of its ", class_folders.size(), " class folders");
  if (examples > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    fail(list.folder_, ": ", examples, " files; at most 2^31 − 1 examples are supported");
  }
  list.labels_.reserve(examples);
  list.name_end_.reserve(examples);
  list.names_.reserve(characters);
  for (std::size_t label = 0; label < files.size(); ++label) {
    for (const std::string& name : files[label]) {
      list.names_ += name;
      list.name_end_.push_back(list.names_.size());
      list.labels_.push_back(static_cast<std::int32_t>(label));
    }
  }
  return list;
}

ImageFolder list_image_folder(const std::string& root, const std::string& train_split,
                              const std::string& test_split, bool skip_bad) {
  ImageFolder folder;
  folder.train = list_split(root, train_split, nullptr, skip_bad);
  folder.test = list_split(root, test_split, &folder.train.classes(), skip_bad);
  return folder;
}

// ---- decoding -----------------------------------------------------------------------------------

namespace {

// "89 50 4E 47 0D 0A 1A 0A" → " (a PNG file)"; the first bytes in hex otherwise.
std::string describe_start(const std::uint8_t* data, std::size_t size) {
  std::ostringstream out;
  out << "the file starts with";
  for (std::size_t i = 0; i < std::min<std::size_t>(size, 8); ++i) {
    out << ' ' << std::uppercase << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(data[i]);
  }
  static const std::uint8_t png[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (size >= 8 && std::equal(png, png + 8, data)) out << ": a PNG image";
  if (size >= 6 && (std::memcmp(data, "GIF87a", 6) == 0 || std::memcmp(data, "GIF89a", 6) == 0)) out << ": a GIF image";
  if (size >= 2 && data[0] == 'B' && data[1] == 'M') out << ": perhaps a BMP image";
  return out.str();
}

bool reports_truncation(const char* message) {
  std::string text = message == nullptr ? "" : message;
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text.find("premature end") != std::string::npos;
}

}  // namespace

JpegDecoder::JpegDecoder() : handle_(tjInitDecompress()) {
  if (handle_ == nullptr) fail("libturbojpeg: cannot create a decompressor (", tjGetErrorStr2(nullptr), ")");
}

JpegDecoder::~JpegDecoder() { tjDestroy(static_cast<tjhandle>(handle_)); }

void JpegDecoder::decode_file(const std::string& path, DecodedImage& image) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) fail(path, ": cannot read the file (", std::strerror(errno), ")");
  file_.clear();
  std::uint8_t chunk[1 << 16];
  for (;;) {
    const std::size_t got = std::fread(chunk, 1, sizeof chunk, file.get());
    file_.insert(file_.end(), chunk, chunk + got);
    if (got < sizeof chunk) break;
  }
  if (std::ferror(file.get())) fail(path, ": cannot read the file (", std::strerror(errno), ")");
  decode(file_.data(), file_.size(), path, image);
}

void JpegDecoder::decode(const std::uint8_t* data, std::size_t size, const std::string& name,
                         DecodedImage& image) {
  const auto handle = static_cast<tjhandle>(handle_);
  if (size == 0) fail(name, ": empty file (0 bytes), not a JPEG");
  if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
    fail(name, ": not a JPEG (no FF D8 FF start-of-image marker; ", describe_start(data, size), ")");
  }
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle, data, static_cast<unsigned long>(size), &width, &height, &subsampling,
                          &colorspace) != 0) {
    const char* message = tjGetErrorStr2(handle);
    fail(name, reports_truncation(message) ? ": truncated JPEG" : ": corrupt JPEG header", " (libturbojpeg: ", message, ")");
  }
  // libjpeg takes a stream that ends before its frame header for tables only: success, no image.
  if (width <= 0 || height <= 0) {
    const bool ends_with_eoi = size >= 4 && data[size - 2] == 0xFF && data[size - 1] == 0xD9;
    fail(name, ends_with_eoi ? ": corrupt JPEG header" : ": truncated JPEG",
         " (the data ends before the image's frame header", ends_with_eoi ? ")" : "; no FF D9 end marker)");
  }
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const auto pixels = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
  image.height = height;
  image.width = width;
  image.pixels.resize(3 * pixels);
  std::uint8_t* target = image.pixels.data();
  if (cmyk) {
    cmyk_.resize(4 * pixels);
    target = cmyk_.data();
  }
  if (tjDecompress2(handle, data, static_cast<unsigned long>(size), target, width, 0, height,
                    cmyk ? TJPF_CMYK : TJPF_RGB, TJFLAG_ACCURATEDCT) != 0) {
    const char* message = tjGetErrorStr2(handle);
    if (tjGetErrorCode(handle) != TJERR_WARNING) fail(name, ": corrupt JPEG (libturbojpeg: ", message, ")");
    if (reports_truncation(message)) fail(name, ": truncated JPEG (libturbojpeg: ", message, ")");
    // Any other warning (e.g. "Corrupt JPEG data: 2 extraneous bytes before marker 0xd9", common in
    // ImageNet) leaves the whole image decoded, as PIL and torchvision also accept it.
  }
  if (cmyk) {
    std::uint8_t* rgb = image.pixels.data();
    for (std::size_t p = 0; p < pixels; ++p) {
      const std::uint32_t k = cmyk_[4 * p + 3];
      for (int c = 0; c < 3; ++c) rgb[3 * p + c] = static_cast<std::uint8_t>((cmyk_[4 * p + c] * k + 127) / 255);
    }
  }
}

}  // namespace sgdsweep::data
