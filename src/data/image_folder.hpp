// ImageNet-layout image folders (ROOT/<split>/<class>/<file>) and their JPEG decoder.
//
// Layout: the folder ROOT/<split> (split "train", "val", or for the CIFAR-10 JPEG copy "test")
// holds one folder per class; each class folder holds that class's images. Classes are indexed by
// folder name in byte order, files by name in byte order within a class, and the examples are
// numbered class by class. Example: train/cat/2.jpg, train/cat/10.jpg, train/bird/7.jpg →
// classes {bird, cat}; examples 0 = bird/7.jpg (label 0), 1 = cat/10.jpg, 2 = cat/2.jpg (label 1).
// Names starting with '.' are ignored at both levels, as are sub-folders inside a class folder.
// Every other file of a class folder is an example: whether it is a JPEG is found out when it is
// decoded (ImageNet's train set has a PNG and 22 CMYK JPEGs among its .JPEG files).
//
// The list is built once (per sweep, not per trial) and is a plain value: copy it, share it by
// const reference (the prefetcher keeps one), broadcast its names if that is cheaper than a scan.
// Names are stored in one block (about 30 bytes per ImageNet file: 40 MB for its 1.28 M).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sgdsweep::data {

class FileList {
 public:
  const std::string& folder() const { return folder_; }  // ROOT/<split>
  const std::vector<std::string>& classes() const { return classes_; }  // label → folder name
  std::int64_t size() const { return static_cast<std::int64_t>(labels_.size()); }
  std::int32_t label(std::int64_t example) const { return labels_[static_cast<std::size_t>(example)]; }
  std::string name(std::int64_t example) const;  // "<class>/<file>"
  std::string path(std::int64_t example) const;  // "<folder>/<class>/<file>"
  // With skip_bad: one line per thing left out while listing ("<folder>: empty class folder …");
  // its size is the count for the trial's row. Always empty without skip_bad (those are errors).
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  friend FileList list_split(const std::string&, const std::string&, const std::vector<std::string>*,
                             bool);
  std::string folder_;
  std::vector<std::string> classes_;
  std::vector<std::int32_t> labels_;
  std::string names_;                   // every file name (without its class), back to back
  std::vector<std::uint64_t> name_end_;  // [size]: where name i ends in names_; it starts at end[i − 1]
  std::vector<std::string> skipped_;
};

// Lists ROOT/<split>. With `classes` null the classes are the split's own folders (the training
// split); otherwise they are `*classes` (the training split's list), and a class folder of this
// split not among them is an error, while a training class this split lacks just has no examples.
// Throws Error naming the folder and what is wrong: the split folder missing or not a folder, a
// file directly in it (ImageNet's flat val folder must first be sorted into class folders), no
// class folders, an empty class folder (with skip_bad: kept as a label without examples and
// listed in skipped()), a class not in the training split, no files at all, more than 2^31
// examples, or a file-system error while reading a folder.
FileList list_split(const std::string& root, const std::string& split,
                    const std::vector<std::string>* classes, bool skip_bad);

// Both splits of an image folder, the second one labelled with the first one's classes.
struct ImageFolder {
  FileList train, test;
};
ImageFolder list_image_folder(const std::string& root, const std::string& train_split = "train",
                              const std::string& test_split = "val", bool skip_bad = false);

// ---- decoding -----------------------------------------------------------------------------------

// An 8-bit RGB image, HWC (channels fastest): pixel (y, x) channel c at pixels[(y·width + x)·3 + c].
struct DecodedImage {
  std::int64_t height = 0, width = 0;
  std::vector<std::uint8_t> pixels;
};

// One libturbojpeg decompressor (a tjhandle) and its reusable file buffer: one per thread, never
// shared. Decodes into RGB with the accurate integer IDCT and fancy upsampling (libjpeg-turbo's
// defaults; its SIMD paths for these are bit-exact), so a libjpeg-turbo version gives the same
// pixels on every machine. Grayscale JPEGs become R = G = B; CMYK and YCCK ones are taken as
// Adobe-inverted CMYK (what Photoshop writes, ImageNet's case) and converted as PIL does, up to
// rounding: R = C·K/255, G = M·K/255, B = Y·K/255 on the stored values, rounded to nearest.
class JpegDecoder {
 public:
  JpegDecoder();
  ~JpegDecoder();
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;

  // Reads and decodes `path` into `image` (its buffer reused). Throws Error naming the file and
  // what is wrong: cannot be read (the system's reason), empty, not a JPEG (no FF D8 start-of-
  // image marker; the first bytes are shown, a PNG is named as such), a corrupt header or data
  // (libturbojpeg's message), or truncated (libturbojpeg's "premature end" warning: other
  // warnings, such as extraneous bytes before a marker, leave a complete image and are accepted;
  // libjpeg reports only a file's first warning), or cut before its image header.
  void decode_file(const std::string& path, DecodedImage& image);
  // The same for a JPEG held in memory; `name` is what messages call it.
  void decode(const std::uint8_t* data, std::size_t size, const std::string& name, DecodedImage& image);

 private:
  void* handle_;                    // tjhandle, kept out of this header
  std::vector<std::uint8_t> file_;  // the last file's bytes
  std::vector<std::uint8_t> cmyk_;  // CMYK pixels before their conversion
};

}  // namespace sgdsweep::data
