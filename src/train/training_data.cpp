// Loading the spec's dataset and staging it into backend memory.
#include "train/training_data.hpp"

#include "util/error.hpp"

namespace sgdsweep::train {

TrainingData load_training_data(const spec::Spec& spec) {
  TrainingData data;
  data.train = data::load_idx_images(data::mnist_images_path(spec.data_path, "train"),
                                     spec.train_examples);
  data.test = data::load_idx_images(data::mnist_images_path(spec.data_path, "test"),
                                    spec.test_examples);
  if (data.train.features != 784 || data.test.features != 784) {
    fail(data.train.source, ": the autoencoder needs 28×28 images (784 pixels); found ",
         data.train.features, " (train) and ", data.test.features, " (test)");
  }
  return data;
}

StagedData::StagedData(ops::Backend& backend, const TrainingData& data)
    : train_(backend, data.train.pixels.size()),
      test_(backend, data.test.pixels.size()),
      train_count_(data.train.count),
      test_count_(data.test.count),
      features_(data.train.features) {
  train_.upload(data.train.pixels.data(), data.train.pixels.size());
  test_.upload(data.test.pixels.data(), data.test.pixels.size());
}

}  // namespace sgdsweep::train
