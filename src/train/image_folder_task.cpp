// Image classification from an ImageNet-layout folder of JPEGs (ROOT/<split>/<class>/*): the file
// list built once per rank, training images decoded and augmented on worker threads ahead of the
// trainer (Goyal et al.'s random-resized crop and flip, keyed by trial seed, epoch and file), the
// evaluation images decoded once (resize, centre crop) and kept on the host.
#include <memory>
#include <optional>
#include <vector>

#include "comm/node_ranks.hpp"
#include "data/batcher.hpp"
#include "data/image_folder.hpp"
#include "data/image_transforms.hpp"
#include "data/prefetch.hpp"
#include "train/task_data.hpp"

namespace sgdsweep::train {
namespace {

// `count` indices spaced evenly through n (all of them when count is 0 or too large): a folder's
// files are sorted by class, so the first N would be one class.
std::vector<std::int64_t> evenly_spaced(std::int64_t n, std::int64_t count) {
  if (count <= 0 || count > n) count = n;
  std::vector<std::int64_t> indices(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) indices[i] = i * n / count;
  return indices;
}

class ImageFolderTask final : public TaskData {
 public:
  ImageFolderTask(const spec::Spec& spec, ops::Backend& backend)
      : spec_(spec), backend_(backend),
        folder_(data::list_image_folder(spec.data_path, spec.train_split, spec.test_split)),
        train_(evenly_spaced(folder_.train.size(), spec.train_examples)),
        test_(evenly_spaced(folder_.test.size(), spec.test_examples)),
        floats_(3 * spec.image_size * spec.image_size),
        labels_(backend, static_cast<std::size_t>(kEvaluationRows)),
        chunk_(backend, static_cast<std::size_t>(kEvaluationRows * floats_)) {
    test_images_ = evaluation_images(folder_.test, test_, static_cast<std::int64_t>(test_.size()));
  }

  spec::DataShape shape() const override {
    return {static_cast<std::int64_t>(train_.size()), static_cast<std::int64_t>(test_.size())};
  }
  std::string train_source() const override { return concat(spec_.data_path, "/", spec_.train_split); }
  std::string test_source() const override { return concat(spec_.data_path, "/", spec_.test_split); }
  std::int64_t classes() const override { return static_cast<std::int64_t>(folder_.train.classes().size()); }

  class Batches final : public TrialBatches {
   public:
    Batches(ImageFolderTask& task, const spec::Trial& trial)
        : task_(task), trial_(trial),
          sampler_(trial.seed, static_cast<std::int64_t>(task.train_.size()), trial.batch_size),
          features_(task.backend_, static_cast<std::size_t>(trial.microbatch * task.floats_)),
          labels_(task.backend_, static_cast<std::size_t>(trial.microbatch)) {}

    nn::Batch batch(std::int64_t step, std::int64_t first, std::int64_t count) override {
      if (step != loaded_step_) load(step);
      features_.upload(current_.images.data() + first * task_.floats_, static_cast<std::size_t>(count * task_.floats_));
      labels_.upload(current_.labels.data() + first, static_cast<std::size_t>(count));
      // features, tokens, labels, rows, first row, rows of the step, step
      return nn::Batch{features_.data(), nullptr, labels_.data(), count, first, trial_.batch_size, step};
    }

   private:
    // Steps come in order; each epoch gets a prefetcher over that epoch's batches.
    void load(std::int64_t step) {
      const std::int64_t epoch = step / trial_.steps_per_epoch;
      if (!prefetcher_ || epoch != epoch_ || step < next_step_) {
        std::vector<std::int64_t> order;
        order.reserve(static_cast<std::size_t>(trial_.steps_per_epoch * trial_.batch_size));
        for (std::int64_t s = epoch * trial_.steps_per_epoch; s < (epoch + 1) * trial_.steps_per_epoch; ++s) {
          const std::int32_t* examples = sampler_.batch(s);
          for (std::int64_t i = 0; i < trial_.batch_size; ++i) order.push_back(task_.train_[examples[i]]);
        }
        const std::uint64_t seed = trial_.seed;
        const spec::Spec& spec = task_.spec_;
        data::TransformFn transform = [seed, epoch, &spec](const data::DecodedImage& image, std::int64_t,
                                                           std::int64_t example, float* out) {
          if (spec.augment) {
            data::train_transform(image, seed, epoch, example, spec.image_size, {}, {}, out);
          } else {
            data::eval_transform(image, spec.image_size, data::default_resize(spec.image_size), {}, out);
          }
        };
        prefetcher_.reset();  // join the old workers first
        prefetcher_.emplace(task_.folder_.train, std::move(order), trial_.batch_size, task_.floats_, transform,
                            data::PrefetchOptions{data::default_prefetch_threads(comm::launcher_ranks_per_node()), 2, false});
        epoch_ = epoch;
        next_step_ = epoch * trial_.steps_per_epoch;
      }
      while (next_step_ <= step) {
        if (!prefetcher_->next(current_)) fail("image folder: the prefetcher ran out of batches at step ", step);
        ++next_step_;
      }
      loaded_step_ = step;
    }

    ImageFolderTask& task_;
    spec::Trial trial_;
    data::EpochSampler sampler_;
    std::optional<data::BatchPrefetcher> prefetcher_;
    std::int64_t epoch_ = -1, next_step_ = 0, loaded_step_ = -1;
    data::ImageBatch current_;
    ops::Buffer<float> features_;
    ops::Buffer<std::int32_t> labels_;
  };

  std::unique_ptr<TrialBatches> batches(const spec::Trial& trial) override {
    return std::make_unique<Batches>(*this, trial);
  }

  Evaluation evaluate(nn::Model& model, bool test, std::int64_t limit, comm::GradientReducer& team) override {
    std::int64_t count = static_cast<std::int64_t>(test ? test_.size() : train_.size());
    if (!test && limit > 0) count = std::min(count, limit);
    if (!test && count > train_eval_count_) {  // decoded once, for the largest limit asked
      train_eval_images_ = evaluation_images(folder_.train, train_, count);
      train_eval_count_ = count;
    }
    const std::vector<float>& images = test ? test_images_ : train_eval_images_;
    const data::FileList& files = test ? folder_.test : folder_.train;
    const std::vector<std::int64_t>& indices = test ? test_ : train_;
    std::vector<std::int32_t> labels(static_cast<std::size_t>(kEvaluationRows));
    return evaluate_in_chunks(backend_, model, spec_.model, count, team, [&](std::int64_t first, std::int64_t n) {
      for (std::int64_t i = 0; i < n; ++i) labels[i] = files.label(indices[first + i]);
      labels_.upload(labels.data(), static_cast<std::size_t>(n));
      chunk_.upload(images.data() + first * floats_, static_cast<std::size_t>(n * floats_));
      nn::Batch batch;
      batch.features = chunk_.data();
      batch.labels = labels_.data();
      batch.size = n;
      return batch;
    });
  }

 private:
  // The evaluation transform of the first `count` of `indices`, decoded on worker threads.
  std::vector<float> evaluation_images(const data::FileList& files, const std::vector<std::int64_t>& indices,
                                       std::int64_t count) const {
    std::vector<float> images(static_cast<std::size_t>(count * floats_));
    if (count == 0) return images;
    const std::int64_t size = spec_.image_size;
    data::BatchPrefetcher prefetcher(
        files, std::vector<std::int64_t>(indices.begin(), indices.begin() + count), kEvaluationRows, floats_,
        [size](const data::DecodedImage& image, std::int64_t, std::int64_t, float* out) {
          data::eval_transform(image, size, data::default_resize(size), {}, out);
        },
        data::PrefetchOptions{data::default_prefetch_threads(comm::launcher_ranks_per_node()), 2, false});
    data::ImageBatch batch;
    for (std::int64_t first = 0; prefetcher.next(batch); first += batch.count) {
      std::copy(batch.images.begin(), batch.images.end(), images.begin() + first * floats_);
    }
    return images;
  }

  const spec::Spec& spec_;
  ops::Backend& backend_;
  data::ImageFolder folder_;
  std::vector<std::int64_t> train_, test_;  // the files in use, indices into folder_.train / test
  std::int64_t floats_;
  std::vector<float> test_images_, train_eval_images_;
  std::int64_t train_eval_count_ = 0;
  ops::Buffer<std::int32_t> labels_;
  ops::Buffer<float> chunk_;
};

}  // namespace

std::unique_ptr<TaskData> load_image_folder_task(const spec::Spec& spec, ops::Backend& backend) {
  return std::make_unique<ImageFolderTask>(spec, backend);
}

}  // namespace sgdsweep::train
