// Image tasks: reconstruction (the autoencoder on MNIST-layout IDX files) and classification
// (Wide-ResNets on CIFAR-10/100 with the paper's pad-4 crop and flip). Both draw batches without
// replacement from a fresh seeded permutation each epoch (data/batcher.hpp).
#include <algorithm>
#include <optional>
#include <vector>

#include "data/augment.hpp"
#include "data/batcher.hpp"
#include "data/cifar.hpp"
#include "data/image_set.hpp"
#include "train/task_data.hpp"

namespace sgdsweep::train {
namespace {

// ---- reconstruction ----------------------------------------------------------------------------

class ReconstructionTask final : public PackingTask<ReconstructionTask> {
 public:
  ReconstructionTask(const spec::Spec& spec, ops::Backend& backend)
      : spec_(spec), backend_(backend),
        train_(data::load_idx_images(data::mnist_images_path(spec.data_path, "train"), spec.train_examples)),
        test_(data::load_idx_images(data::mnist_images_path(spec.data_path, "test"), spec.test_examples)),
        train_pixels_(backend, train_.pixels.size()),
        test_pixels_(backend, test_.pixels.size()),
        rows_(backend, static_cast<std::size_t>(kEvaluationRows)),
        chunk_(backend, static_cast<std::size_t>(kEvaluationRows * 784)) {
    if (train_.features != 784 || test_.features != 784) {
      fail(train_.source, ": the autoencoder needs 28×28 images (784 pixels); found ", train_.features,
           " (train) and ", test_.features, " (test)");
    }
    train_pixels_.upload(train_.pixels.data(), train_.pixels.size());
    test_pixels_.upload(test_.pixels.data(), test_.pixels.size());
    std::vector<std::int32_t> identity(static_cast<std::size_t>(kEvaluationRows));
    for (std::int64_t i = 0; i < kEvaluationRows; ++i) identity[i] = static_cast<std::int32_t>(i);
    rows_.upload(identity.data(), identity.size());
  }

  spec::DataShape shape() const override { return {train_.count, test_.count}; }
  std::string train_source() const override { return train_.source; }
  std::string test_source() const override { return test_.source; }

  // Every copy's rows of its own trial: one index upload and one gather per microbatch for the
  // whole pack.
  class Packed final : public PackBatches {
   public:
    Packed(ReconstructionTask& task, std::int64_t copies, std::int64_t microbatch)
        : task_(task), copies_(copies), microbatch_(microbatch), samplers_(static_cast<std::size_t>(copies)),
          host_rows_(static_cast<std::size_t>(copies * microbatch)) {}
    void assign(std::int64_t copy, const spec::Trial* trial) override {
      samplers_.at(static_cast<std::size_t>(copy)).reset();
      if (trial) {
        samplers_[copy].emplace(trial->seed, task_.train_.count, trial->batch_size);
        batch_size_ = trial->batch_size;
      }
    }
    void upload(const std::vector<std::int64_t>& steps, std::int64_t first, std::int64_t count,
                std::size_t slot) override {
      while (slots_.size() <= slot) {
        slots_.push_back({ops::Buffer<std::int32_t>(task_.backend_, host_rows_.size()),
                          ops::Buffer<float>(task_.backend_, host_rows_.size() * 784)});
      }
      for (std::int64_t c = 0; c < copies_; ++c) {
        std::int32_t* rows = host_rows_.data() + c * count;
        if (samplers_[c]) {
          std::copy_n(samplers_[c]->batch(steps[c]) + first, count, rows);
        } else {
          std::fill_n(rows, count, 0);  // an empty copy: any rows
        }
      }
      Slot& s = slots_[slot];
      s.rows.upload(host_rows_.data(), static_cast<std::size_t>(copies_ * count));
      s.step = steps.front();
      s.first = first;
      s.count = count;
    }
    nn::Batch gather(std::size_t slot) override {
      Slot& s = slots_.at(slot);
      task_.backend_.gather_rows_u8(task_.train_pixels_.data(), 784, s.rows.data(), copies_ * s.count, 1.0f / 255.0f,
                                    s.features.data());
      // features, tokens, labels, rows, first row, rows of the step, step
      return nn::Batch{s.features.data(), nullptr, nullptr, s.count, s.first, batch_size_, s.step};
    }

   private:
    struct Slot {
      ops::Buffer<std::int32_t> rows;
      ops::Buffer<float> features;
      std::int64_t step = 0, first = 0, count = 0;
    };
    ReconstructionTask& task_;
    std::int64_t copies_, microbatch_, batch_size_ = 0;
    std::vector<std::optional<data::EpochSampler>> samplers_;
    std::vector<std::int32_t> host_rows_;
    std::vector<Slot> slots_;
  };

  Evaluation evaluate_copy(nn::Model& model, std::int64_t copy, bool test, std::int64_t limit,
                           comm::GradientReducer& team) override {
    const std::uint8_t* pixels = test ? test_pixels_.data() : train_pixels_.data();
    std::int64_t count = test ? test_.count : train_.count;
    if (!test && limit > 0) count = std::min(count, limit);
    return evaluate_in_chunks(backend_, model, spec_.model, count, team, [&](std::int64_t first, std::int64_t rows) {
      backend_.gather_rows_u8(pixels + first * 784, 784, rows_.data(), rows, 1.0f / 255.0f, chunk_.data());
      nn::Batch batch;
      batch.features = chunk_.data();
      batch.size = rows;
      return batch;
    }, copy);
  }

 private:
  const spec::Spec& spec_;
  ops::Backend& backend_;
  data::ImageSet train_, test_;
  ops::Buffer<std::uint8_t> train_pixels_, test_pixels_;
  ops::Buffer<std::int32_t> rows_;  // 0, 1, 2, …: a contiguous slice through the gather op
  ops::Buffer<float> chunk_;
};

// ---- classification ----------------------------------------------------------------------------

// `count` images spaced evenly through `images` (image ⌊i·N/count⌋ for i < count), or all of them
// when count is 0 or too large. Test subsets are taken this way because test files may be sorted
// by class (the CIFAR-10 copy in ../shared is): the first N images would be one class.
data::LabeledImages evenly_spaced(data::LabeledImages images, std::int64_t count) {
  if (count <= 0 || count >= images.count) return images;
  const std::int64_t image_size = images.height * images.width * images.channels;
  data::LabeledImages subset = images;
  subset.count = count;
  subset.pixels.resize(static_cast<std::size_t>(count * image_size));
  subset.labels.resize(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t source = i * images.count / count;
    std::copy_n(images.pixels.begin() + source * image_size, image_size, subset.pixels.begin() + i * image_size);
    subset.labels[i] = images.labels[source];
  }
  subset.source = concat(images.source, " (", count, " evenly spaced images)");
  return subset;
}

class ClassificationTask final : public PackingTask<ClassificationTask> {
 public:
  static constexpr std::int32_t kPadding = 4;  // the paper's pad-4 random crop

  ClassificationTask(const spec::Spec& spec, ops::Backend& backend)
      : spec_(spec), backend_(backend),
        variant_(spec.dataset == "cifar100" ? data::CifarVariant::cifar100 : data::CifarVariant::cifar10),
        train_(data::load_cifar(spec.data_path, variant_, "train", spec.train_examples)),
        test_(evenly_spaced(data::load_cifar(spec.data_path, variant_, "test", 0), spec.test_examples)),
        image_size_(train_.height * train_.width * train_.channels),
        train_pixels_(backend, train_.pixels.size()),
        test_pixels_(backend, test_.pixels.size()),
        mean_(backend, static_cast<std::size_t>(train_.channels)),
        inv_std_(backend, static_cast<std::size_t>(train_.channels)),
        rows_(backend, static_cast<std::size_t>(kEvaluationRows)),
        labels_(backend, static_cast<std::size_t>(kEvaluationRows)),
        chunk_(backend, static_cast<std::size_t>(kEvaluationRows * image_size_)) {
    train_pixels_.upload(train_.pixels.data(), train_.pixels.size());
    test_pixels_.upload(test_.pixels.data(), test_.pixels.size());
    // Per-channel normalisation with the training set's statistics.
    std::vector<float> mean, deviation;
    data::channel_statistics(train_, mean, deviation);
    std::vector<float> inverse(deviation.size());
    for (std::size_t c = 0; c < deviation.size(); ++c) inverse[c] = 1.0f / deviation[c];
    mean_.upload(mean.data(), mean.size());
    inv_std_.upload(inverse.data(), inverse.size());
  }

  spec::DataShape shape() const override { return {train_.count, test_.count}; }
  std::string train_source() const override { return train_.source; }
  std::string test_source() const override { return test_.source; }
  std::int64_t classes() const override { return train_.classes; }
  std::int64_t image_height() const { return train_.height; }

  // Every copy's images of its own trial (its batch order and its crops and flips): one upload of
  // rows, labels and crops and one gather per microbatch for the whole pack.
  class Packed final : public PackBatches {
   public:
    Packed(ClassificationTask& task, std::int64_t copies, std::int64_t microbatch)
        : task_(task), copies_(copies), microbatch_(microbatch), trials_(static_cast<std::size_t>(copies)),
          samplers_(trials_.size()), host_rows_(static_cast<std::size_t>(copies * microbatch)),
          host_augmentation_(3 * host_rows_.size()), host_labels_(host_rows_.size()) {}
    void assign(std::int64_t copy, const spec::Trial* trial) override {
      samplers_.at(static_cast<std::size_t>(copy)).reset();
      trials_[copy] = trial;
      if (trial) {
        samplers_[copy].emplace(trial->seed, task_.train_.count, trial->batch_size);
        batch_size_ = trial->batch_size;
      }
    }
    void upload(const std::vector<std::int64_t>& steps, std::int64_t first, std::int64_t count,
                std::size_t slot) override {
      ops::Backend& backend = task_.backend_;
      const std::size_t rows = host_rows_.size();
      while (slots_.size() <= slot) {
        slots_.push_back({ops::Buffer<std::int32_t>(backend, rows), ops::Buffer<std::int32_t>(backend, 3 * rows),
                          ops::Buffer<std::int32_t>(backend, rows),
                          ops::Buffer<float>(backend, rows * static_cast<std::size_t>(task_.image_size_)), 0, 0, 0,
                          {}});
      }
      const bool augment = task_.spec_.augment;
      for (std::int64_t c = 0; c < copies_; ++c) {
        std::int32_t* examples = host_rows_.data() + c * count;
        if (samplers_[c]) {
          std::copy_n(samplers_[c]->batch(steps[c]) + first, count, examples);
        } else {
          std::fill_n(examples, count, 0);  // an empty copy: any rows
        }
        const std::int64_t epoch = trials_[c] ? steps[c] / trials_[c]->steps_per_epoch : 0;
        for (std::int64_t i = 0; i < count; ++i) {
          host_labels_[c * count + i] = task_.train_.labels[examples[i]];
          if (!augment) continue;
          const data::CropFlip crop =
              data::random_crop_flip(trials_[c] ? trials_[c]->seed : 0, epoch, examples[i], kPadding);
          std::int32_t* at = host_augmentation_.data() + 3 * (c * count + i);
          at[0] = crop.offset_y;
          at[1] = crop.offset_x;
          at[2] = crop.flip;
        }
      }
      Slot& s = slots_[slot];
      s.step = steps.front();
      s.first = first;
      s.count = count;
      s.steps = steps;
      const auto all = static_cast<std::size_t>(copies_ * count);
      s.rows.upload(host_rows_.data(), all);
      s.labels.upload(host_labels_.data(), all);
      if (augment) s.augmentation.upload(host_augmentation_.data(), 3 * all);
    }
    nn::Batch gather(std::size_t slot) override {
      Slot& s = slots_.at(slot);
      task_.backend_.gather_images_u8(task_.train_pixels_.data(), task_.train_.height, task_.train_.width,
                                      task_.train_.channels, s.rows.data(),
                                      task_.spec_.augment ? s.augmentation.data() : nullptr, kPadding,
                                      copies_ * s.count, task_.mean_.data(), task_.inv_std_.data(), s.features.data());
      // features, tokens, labels, rows, first row, rows of the step, step, each copy's step
      return nn::Batch{s.features.data(), nullptr, s.labels.data(), s.count, s.first, batch_size_, s.step,
                       s.steps.data()};
    }

   private:
    struct Slot {
      ops::Buffer<std::int32_t> rows, augmentation, labels;
      ops::Buffer<float> features;
      std::int64_t step = 0, first = 0, count = 0;
      std::vector<std::int64_t> steps;
    };
    ClassificationTask& task_;
    std::int64_t copies_, microbatch_, batch_size_ = 0;
    std::vector<const spec::Trial*> trials_;
    std::vector<std::optional<data::EpochSampler>> samplers_;
    std::vector<std::int32_t> host_rows_, host_augmentation_, host_labels_;
    std::vector<Slot> slots_;
  };

  Evaluation evaluate_copy(nn::Model& model, std::int64_t copy, bool test, std::int64_t limit,
                           comm::GradientReducer& team) override {
    const data::LabeledImages& images = test ? test_ : train_;
    const std::uint8_t* pixels = test ? test_pixels_.data() : train_pixels_.data();
    std::int64_t count = images.count;
    if (!test && limit > 0) count = std::min(count, limit);
    std::vector<std::int32_t> rows(static_cast<std::size_t>(kEvaluationRows));
    return evaluate_in_chunks(backend_, model, spec_.model, count, team, [&](std::int64_t first, std::int64_t n) {
      for (std::int64_t i = 0; i < n; ++i) rows[i] = static_cast<std::int32_t>(first + i);
      rows_.upload(rows.data(), static_cast<std::size_t>(n));
      labels_.upload(images.labels.data() + first, static_cast<std::size_t>(n));
      backend_.gather_images_u8(pixels, images.height, images.width, images.channels, rows_.data(), nullptr,
                                kPadding, n, mean_.data(), inv_std_.data(), chunk_.data());
      nn::Batch batch;
      batch.features = chunk_.data();
      batch.labels = labels_.data();
      batch.size = n;
      return batch;
    }, copy);
  }

 private:
  const spec::Spec& spec_;
  ops::Backend& backend_;
  data::CifarVariant variant_;
  data::LabeledImages train_, test_;
  std::int64_t image_size_;
  ops::Buffer<std::uint8_t> train_pixels_, test_pixels_;
  ops::Buffer<float> mean_, inv_std_;
  ops::Buffer<std::int32_t> rows_, labels_;
  ops::Buffer<float> chunk_;
};

}  // namespace

std::unique_ptr<TaskData> load_reconstruction_task(const spec::Spec& spec, ops::Backend& backend) {
  return std::make_unique<ReconstructionTask>(spec, backend);
}

std::unique_ptr<TaskData> load_classification_task(const spec::Spec& spec, ops::Backend& backend) {
  return std::make_unique<ClassificationTask>(spec, backend);
}

}  // namespace sgdsweep::train
