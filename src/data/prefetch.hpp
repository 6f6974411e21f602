// Decoding and augmenting the batches ahead of the trainer on worker threads.
//
// The caller gives the examples to visit in order (e.g. one epoch's permutation, or the test set
// 0 … n − 1), cut into batches of batch_size (the last one may be shorter), and a transform that
// turns a decoded image into floats_per_example floats. `threads` workers, each with its own
// JpegDecoder, take the examples one at a time in order, decode them, transform them into their
// batch's row, and at most `capacity` batches are in progress or ready at once (the ring bounds the
// memory: capacity · batch_size · floats_per_example floats). next() hands the batches over strictly
// in order, so the output does not depend on the thread count or timing (the transform must
// itself be a pure function of its arguments, as data/image_transforms' are).
//
// Failures: an Error while reading or decoding a file (image_folder.hpp lists them) is, with
// skip_bad, the example left out of its batch (the batch is shorter; its `skipped` says which
// file and why), and otherwise thrown by next() when it reaches that batch. Any other exception
// of a worker (the transform's included) is also rethrown by next(), as it was thrown, at that
// batch (the first row's, if several failed); after that next() keeps throwing it. The
// destructor stops the workers and joins them (a worker finishes the example in hand).
//
// Memory: an ImageNet epoch order is 1.28 M indices (10 MB); give the prefetcher one epoch (or
// one evaluation pass) at a time rather than a whole 90-epoch trial.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/image_folder.hpp"

namespace sgdsweep::data {

// One batch as next() hands it over. Rows are the batch's examples in order, less skipped ones.
struct ImageBatch {
  std::int64_t index = -1;             // batch b: order positions [b·batch_size, …)
  std::int64_t count = 0;              // rows
  std::vector<float> images;           // [count, floats_per_example]
  std::vector<std::int32_t> labels;    // [count]
  std::vector<std::int64_t> examples;  // [count]: the example index of each row
  std::vector<std::string> skipped;    // with skip_bad: "<file>: <what is wrong>", one per example left out
};

// Writes the transformed `image` of `example`, in batch `batch`, to out[0 … floats_per_example).
// Called concurrently from the workers: it must not change shared state.
using TransformFn =
    std::function<void(const DecodedImage& image, std::int64_t batch, std::int64_t example, float* out)>;

struct PrefetchOptions {
  int threads = 0;   // workers; 0: default_prefetch_threads(1)
  int capacity = 2;  // batches in progress or ready, at least 1
  bool skip_bad = false;
};

// The hardware threads per rank: max(1, std::thread::hardware_concurrency() / ranks_per_node).
int default_prefetch_threads(int ranks_per_node);

class BatchPrefetcher {
 public:
  // `files` must outlive the prefetcher. Throws Error for a batch size or floats_per_example below
  // 1, an empty order, an example index outside the list, or threads or capacity below 0 / 1.
  BatchPrefetcher(const FileList& files, std::vector<std::int64_t> order, std::int64_t batch_size,
                  std::int64_t floats_per_example, TransformFn transform, PrefetchOptions options = {});
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  std::int64_t batches() const { return batches_; }
  int threads() const { return static_cast<int>(workers_.size()); }
  // Moves the next batch into `batch` (swapping buffers: pass the same ImageBatch every time and
  // nothing is reallocated); false when every batch has been handed over.
  bool next(ImageBatch& batch);
  // Examples left out so far (with skip_bad), over the batches handed over.
  std::int64_t skipped_total() const { return skipped_total_; }

 private:
  struct Slot {
    std::int64_t batch = -1;      // the batch being filled or ready; −1: free
    std::int64_t remaining = 0;   // rows not yet done
    ImageBatch data;              // rows at their places in the batch; compacted by next()
    std::vector<char> bad;        // [rows]: the row's file was skipped
    std::exception_ptr error;     // the first failing row's exception
    std::int64_t error_row = -1;
  };

  void work();
  std::int64_t rows_of(std::int64_t batch) const;

  const FileList& files_;
  const std::vector<std::int64_t> order_;
  const std::int64_t batch_size_, floats_per_example_, batches_;
  const TransformFn transform_;
  const bool skip_bad_;
  std::vector<Slot> slots_;  // batch b lives in slots_[b mod capacity]

  std::mutex mutex_;
  std::condition_variable work_available_, batch_ready_;
  std::int64_t next_position_ = 0;  // the next order position a worker takes
  std::int64_t delivered_ = 0;      // batches handed over (next batch for next())
  bool stop_ = false;
  std::exception_ptr fatal_;        // a worker failed outside any example (no decompressor)
  std::int64_t skipped_total_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace sgdsweep::data
