// Parameter counts of the four models, declaration by declaration as src/nn/models/*.cpp make
// them (tests/unit/test_planner.cpp builds the real models and compares).
#include "spec/model_size.hpp"

#include "util/error.hpp"

namespace sgdsweep::spec {

std::int64_t default_classes_or_vocabulary(const Spec& spec) {
  if (spec.dataset == "cifar10") return 10;
  if (spec.dataset == "cifar100") return 100;
  if (spec.dataset == "ptb") return 10000;
  // An image folder's classes are its class folders; planning without reading it assumes ImageNet's.
  if (spec.dataset == "image-folder") return 1000;
  fail(spec.source_path, ": [data].dataset '", spec.dataset, "' has no default class count or vocabulary");
}

namespace {

// Pre-activation WRN-depth-width on 3-channel images (wide_resnet.cpp): stem conv3×3 3 → 16; per
// block BN(in), conv3×3 in → out, BN(out), conv3×3 out → out, a 1×1 shortcut when the shape
// changes; final BN, linear classifier. Ghost BN: convolutions without bias, a BN is γ, β, running
// mean and running variance. SkipInit: no BN, a bias in every convolution, one scalar per block.
std::int64_t wide_resnet_parameters(const Spec& spec, std::int64_t classes) {
  constexpr std::int64_t kImageChannels = 3;
  const bool skipinit = !spec.batch_norm;
  const auto conv = [&](std::int64_t in, std::int64_t out, std::int64_t kernel) {
    return out * kernel * kernel * in + (skipinit ? out : 0);
  };
  const auto norm = [&](std::int64_t channels) { return skipinit ? 0 : 4 * channels; };
  const std::int64_t blocks_per_group = (spec.depth - 4) / 6;
  std::int64_t count = conv(kImageChannels, 16, 3);
  std::int64_t channels = 16;
  for (int group = 0; group < 3; ++group) {
    const std::int64_t out = (16LL << group) * spec.width;
    for (std::int64_t b = 0; b < blocks_per_group; ++b) {
      const bool strided = b == 0 && group > 0;
      count += norm(channels) + conv(channels, out, 3) + norm(out) + conv(out, out, 3);
      if (strided || channels != out) count += conv(channels, out, 1);
      if (skipinit) count += 1;  // the residual branch's scalar multiplier
      channels = out;
    }
  }
  return count + norm(channels) + channels * classes + classes;
}

// ResNet-50 (resnet.cpp) on 3-channel images: stem conv7×7 3 → 64 and its BN; per bottleneck block
// conv1×1 in → w, BN, conv3×3 w → w, BN, conv1×1 w → 4w, BN, and in each group's first block a 1×1
// projection in → 4w with its BN; linear classifier 2048 → classes. No conv biases; a BN is γ, β,
// running mean and running variance. 25,557,032 trained values for 1000 classes (torchvision's
// resnet50) plus 53,120 running statistics.
std::int64_t resnet50_parameters(std::int64_t classes) {
  constexpr std::int64_t kImageChannels = 3, kBlocks[4] = {3, 4, 6, 3};
  const auto norm = [](std::int64_t channels) { return 4 * channels; };
  std::int64_t count = 64 * 7 * 7 * kImageChannels + norm(64);
  std::int64_t channels = 64;
  for (int group = 0; group < 4; ++group) {
    const std::int64_t width = 64LL << group, out = 4 * width;
    for (std::int64_t b = 0; b < kBlocks[group]; ++b) {
      count += channels * width + norm(width) + width * width * 9 + norm(width) + width * out + norm(out);
      if (b == 0) count += channels * out + norm(out);  // the projection shortcut
      channels = out;
    }
  }
  return count + channels * classes + classes;
}

// Zaremba et al. (lstm_lm.cpp): embedding V×H; per layer W_ih 4H×H, W_hh 4H×H, one bias 4H (the
// embedding has H dimensions, so every layer's input is H wide); decoder H×V + V.
std::int64_t lstm_parameters(const Spec& spec, std::int64_t vocabulary) {
  const std::int64_t hidden = spec.hidden;
  const std::int64_t per_layer = 4 * hidden * hidden + 4 * hidden * hidden + 4 * hidden;
  return vocabulary * hidden + spec.layers * per_layer + hidden * vocabulary + vocabulary;
}

// 784-1000-500-250-30-250-500-1000-784, a weight matrix and a bias per layer (autoencoder.hpp).
std::int64_t autoencoder_parameters() {
  constexpr std::int64_t kWidths[] = {784, 1000, 500, 250, 30, 250, 500, 1000, 784};
  std::int64_t count = 0;
  for (int l = 0; l + 1 < 9; ++l) count += kWidths[l] * kWidths[l + 1] + kWidths[l + 1];
  return count;
}

}  // namespace

std::int64_t parameter_count(const Spec& spec, std::int64_t classes_or_vocabulary) {
  if (classes_or_vocabulary < 0) fail("parameter_count: ", classes_or_vocabulary, " classes");
  switch (spec.model) {
    case ModelKind::autoencoder:
      return autoencoder_parameters();
    case ModelKind::wide_resnet:
      return wide_resnet_parameters(spec, classes_or_vocabulary > 0 ? classes_or_vocabulary
                                                                    : default_classes_or_vocabulary(spec));
    case ModelKind::resnet:
      return resnet50_parameters(classes_or_vocabulary > 0 ? classes_or_vocabulary
                                                           : default_classes_or_vocabulary(spec));
    case ModelKind::lstm:
      return lstm_parameters(spec, classes_or_vocabulary > 0 ? classes_or_vocabulary
                                                             : default_classes_or_vocabulary(spec));
  }
  fail("parameter_count: unknown model");
}

}  // namespace sgdsweep::spec
