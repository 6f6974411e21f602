// Every spec shipped in input/ parses and expands into a grid (with the paper's data sizes), so
// the examples users start from stay valid as the spec format evolves.
#include <gtest/gtest.h>

#include <filesystem>

#include "spec/grid.hpp"
#include "spec/spec.hpp"

TEST(InputSpecs, EveryShippedSpecParsesAndExpands) {
  const std::filesystem::path input = std::filesystem::path(SGDSWEEP_SOURCE_DIR) / "input";
  int checked = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(input)) {
    if (entry.path().extension() != ".toml") continue;
    SCOPED_TRACE(entry.path().string());
    const sgdsweep::spec::Spec spec = sgdsweep::spec::load_spec(entry.path().string());
    // Full-size data: 50,000/60,000 training images, PTB's 929k training tokens, ImageNet's 1.28M.
    sgdsweep::spec::DataShape shape{spec.dataset == "ptb"            ? 929589
                                    : spec.dataset == "cifar10"      ? 50000
                                    : spec.dataset == "image-folder" ? 1281167
                                                                     : 60000,
                                    10000};
    if (spec.train_examples > 0) shape.train_examples = std::min(shape.train_examples, spec.train_examples);
    if (spec.dataset == "ptb" && spec.train_file == "ptb.valid.txt") shape.train_examples = 73760;
    const auto trials = sgdsweep::spec::expand_grid(spec, shape);
    EXPECT_GT(trials.size(), 0u);
    EXPECT_LE(spec.best_k, spec.seeds);
    ++checked;
  }
  EXPECT_GE(checked, 21);  // the demo, 10 paper specs, 10 reduced ones
}
