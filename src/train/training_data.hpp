// A sweep's data: read once per rank on the host, staged once into backend memory, shared by every
// trial the rank runs.
#pragma once

#include <cstdint>

#include "data/image_set.hpp"
#include "ops/backend.hpp"
#include "spec/spec.hpp"

namespace sgdsweep::train {

struct TrainingData {
  data::ImageSet train;  // the first [data].train_examples training images
  data::ImageSet test;   // the first [data].test_examples test images
};

// Reads the files the spec names; throws Error naming the file and the problem.
TrainingData load_training_data(const spec::Spec& spec);

// Pixels in backend memory ([count, features] bytes per split).
class StagedData {
 public:
  StagedData(ops::Backend& backend, const TrainingData& data);

  const std::uint8_t* train_pixels() const { return train_.data(); }
  const std::uint8_t* test_pixels() const { return test_.data(); }
  std::int64_t train_count() const { return train_count_; }
  std::int64_t test_count() const { return test_count_; }
  std::int64_t features() const { return features_; }

 private:
  ops::Buffer<std::uint8_t> train_;
  ops::Buffer<std::uint8_t> test_;
  std::int64_t train_count_;
  std::int64_t test_count_;
  std::int64_t features_;
};

}  // namespace sgdsweep::train
