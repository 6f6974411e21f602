// The prefetch ring: workers fill batch rows in order-position order, next() hands batches over in order.
#include "data/prefetch.hpp"

#include <algorithm>
#include <memory>
#include <utility>

#include "util/error.hpp"

namespace sgdsweep::data {

int default_prefetch_threads(int ranks_per_node) {
  const int hardware = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, hardware / std::max(1, ranks_per_node));
}

BatchPrefetcher::BatchPrefetcher(const FileList& files, std::vector<std::int64_t> order,
                                 std::int64_t batch_size, std::int64_t floats_per_example,
                                 TransformFn transform, PrefetchOptions options)
    : files_(files), order_(std::move(order)), batch_size_(batch_size),
      floats_per_example_(floats_per_example),
      batches_(batch_size > 0 ? (static_cast<std::int64_t>(order_.size()) + batch_size - 1) / batch_size : 0),
      transform_(std::move(transform)), skip_bad_(options.skip_bad) {
  if (batch_size < 1 || floats_per_example < 1 || order_.empty() || !transform_) {
    fail("BatchPrefetcher: batch size ", batch_size, ", floats per example ", floats_per_example, " and ",
         order_.size(), " examples must all be positive, with a transform");
  }
  if (options.threads < 0 || options.capacity < 1) {
    fail("BatchPrefetcher: ", options.threads, " threads (0: the default) and a capacity of ", options.capacity,
         " batches (at least 1)");
  }
  for (std::size_t i = 0; i < order_.size(); ++i) {
    if (order_[i] < 0 || order_[i] >= files_.size()) {
      fail("BatchPrefetcher: position ", i, " of the order is example ", order_[i], ", outside the ",
           files_.size(), " files of ", files_.folder());
    }
  }
  slots_.resize(static_cast<std::size_t>(std::min<std::int64_t>(options.capacity, batches_)));
  const int threads = options.threads == 0 ? default_prefetch_threads(1) : options.threads;
  workers_.reserve(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) workers_.emplace_back([this] { work(); });
}

BatchPrefetcher::~BatchPrefetcher() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_available_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

std::int64_t BatchPrefetcher::rows_of(std::int64_t batch) const {
  return std::min(batch_size_, static_cast<std::int64_t>(order_.size()) - batch * batch_size_);
}

void BatchPrefetcher::work() {
  std::unique_ptr<JpegDecoder> decoder;
  try {
    decoder = std::make_unique<JpegDecoder>();
  } catch (...) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!fatal_) fatal_ = std::current_exception();
    batch_ready_.notify_all();
    return;
  }
  DecodedImage image;
  const auto total = static_cast<std::int64_t>(order_.size());
  const auto capacity = static_cast<std::int64_t>(slots_.size());
  for (;;) {
    std::int64_t position = 0, batch = 0;
    Slot* slot = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // A position is taken once its batch's slot is free: batch − capacity has been handed over.
      work_available_.wait(lock, [&] {
        return stop_ || next_position_ >= total || next_position_ / batch_size_ < delivered_ + capacity;
      });
      if (stop_ || next_position_ >= total) return;
      position = next_position_++;
      batch = position / batch_size_;
      slot = &slots_[static_cast<std::size_t>(batch % capacity)];
      if (slot->batch != batch) {  // the batch's first position: set the slot up
        const std::int64_t rows = rows_of(batch);
        slot->batch = batch;
        slot->remaining = rows;
        slot->error = nullptr;
        slot->error_row = -1;
        slot->bad.assign(static_cast<std::size_t>(rows), 0);
        ImageBatch& data = slot->data;
        data.index = batch;
        data.count = rows;
        data.images.resize(static_cast<std::size_t>(rows * floats_per_example_));  // sized by next()
        data.labels.resize(static_cast<std::size_t>(rows));
        data.examples.resize(static_cast<std::size_t>(rows));
        data.skipped.assign(static_cast<std::size_t>(rows), std::string());
      }
    }
    // Row `row` of the slot is this worker's alone until it reports back.
    const std::int64_t row = position - batch * batch_size_;
    const std::int64_t example = order_[static_cast<std::size_t>(position)];
    ImageBatch& data = slot->data;
    std::exception_ptr error;
    bool bad = false;
    try {
      try {
        decoder->decode_file(files_.path(example), image);
      } catch (const Error& e) {
        if (!skip_bad_) throw;
        data.skipped[static_cast<std::size_t>(row)] = e.what();
        bad = true;
      }
      if (!bad) transform_(image, batch, example, data.images.data() + row * floats_per_example_);
      data.labels[static_cast<std::size_t>(row)] = files_.label(example);
      data.examples[static_cast<std::size_t>(row)] = example;
    } catch (...) {
      error = std::current_exception();
    }
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      slot->bad[static_cast<std::size_t>(row)] = bad ? 1 : 0;
      if (error && (!slot->error || row < slot->error_row)) {
        slot->error = error;
        slot->error_row = row;
      }
      if (--slot->remaining == 0) batch_ready_.notify_all();
    }
  }
}

bool BatchPrefetcher::next(ImageBatch& batch) {
  if (delivered_ >= batches_) return false;
  const auto capacity = static_cast<std::int64_t>(slots_.size());
  Slot& slot = slots_[static_cast<std::size_t>(delivered_ % capacity)];
  {
    std::unique_lock<std::mutex> lock(mutex_);
    batch_ready_.wait(lock, [&] { return fatal_ || (slot.batch == delivered_ && slot.remaining == 0); });
    if (fatal_) std::rethrow_exception(fatal_);
    if (slot.error) {
      stop_ = true;  // no more work: this prefetcher only ever throws from here on
      work_available_.notify_all();
      std::rethrow_exception(slot.error);
    }
  }
  // The slot is the consumer's until delivered_ moves on: no worker touches a ready batch.
  ImageBatch& data = slot.data;
  std::vector<std::string> skipped;
  const std::int64_t rows = data.count;
  std::int64_t kept = 0;
  for (std::int64_t row = 0; row < rows; ++row) {
    if (slot.bad[static_cast<std::size_t>(row)] != 0) {
      skipped.push_back(std::move(data.skipped[static_cast<std::size_t>(row)]));
      continue;
    }
    if (kept != row) {
      std::copy_n(data.images.begin() + row * floats_per_example_, floats_per_example_,
                  data.images.begin() + kept * floats_per_example_);
      data.labels[static_cast<std::size_t>(kept)] = data.labels[static_cast<std::size_t>(row)];
      data.examples[static_cast<std::size_t>(kept)] = data.examples[static_cast<std::size_t>(row)];
    }
    ++kept;
  }
  data.count = kept;
  data.images.resize(static_cast<std::size_t>(kept * floats_per_example_));
  data.labels.resize(static_cast<std::size_t>(kept));
  data.examples.resize(static_cast<std::size_t>(kept));
  data.skipped = std::move(skipped);
  skipped_total_ += static_cast<std::int64_t>(data.skipped.size());
  std::swap(batch, data);
  // Size the buffers the slot got back for its next batch here, not under the workers' lock.
  const std::int64_t next_rows = delivered_ + capacity < batches_ ? rows_of(delivered_ + capacity) : 0;
  data.images.resize(static_cast<std::size_t>(next_rows * floats_per_example_));
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    slot.batch = -1;
    ++delivered_;
  }
  work_available_.notify_all();
  return true;
}

}  // namespace sgdsweep::data
