// How many floats a model's parameter buffer holds, from the spec alone (no backend, no data):
// the planner needs it for the size of a team's gradient all-reduce before any model exists.
#pragma once

#include <cstdint>

#include "spec/spec.hpp"

namespace sgdsweep::spec {

// Exact size of nn::Model::parameters() for the spec's model: trained values plus batch
// normalisation's running statistics (they ride in the same buffer and the same reduction).
// `classes_or_vocabulary`: the classifier's classes (wrn, resnet50) or the vocabulary (lstm); 0 takes
// the dataset's usual value (cifar10 10, cifar100 100, imagenet 1000, ptb 10,000). Ignored by the
// autoencoder.
// Worked example: wrn-16-4 with ghost BN on CIFAR-10 has 2,752,506 (2,748,890 trained, 3,616
// running statistics).
std::int64_t parameter_count(const Spec& spec, std::int64_t classes_or_vocabulary = 0);
// The dataset's usual classes or vocabulary (those above); throws for a dataset without one.
std::int64_t default_classes_or_vocabulary(const Spec& spec);

}  // namespace sgdsweep::spec
