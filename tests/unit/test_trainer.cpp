// One trial end to end on the host on synthetic images written as IDX files: the loss falls, a
// rerun gives the same bits, microbatching changes only the rounding, the evaluation points sit
// where the docs say, a huge rate is recorded as diverged.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include <fstream>
#include <optional>
#include <random>
#include <tuple>

#include "comm/gradient_reducer.hpp"
#include "ops/registry.hpp"
#include "spec/grid.hpp"
#include "backend_support.hpp"
#include "test_support.hpp"
#include "train/task_data.hpp"
#include "train/trainer.hpp"
#include "util/rng.hpp"

using namespace sgdsweep;

namespace {

// Smooth blobs (so there is structure to learn) plus noise, written as an MNIST-layout IDX file.
void write_synthetic_images(const std::string& path, std::int64_t count, std::uint32_t stream) {
  const CounterRng rng(5, RngPurpose::test);
  std::string bytes = {0, 0, 0x08, 3};
  for (std::uint32_t d : {static_cast<std::uint32_t>(count), 28u, 28u}) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(d >> shift));
  }
  for (std::int64_t i = 0; i < count; ++i) {
    const double cx = 8 + 12 * rng.uniform(stream, 2 * i), cy = 8 + 12 * rng.uniform(stream, 2 * i + 1);
    for (int p = 0; p < 784; ++p) {
      const double d2 = (p / 28 - cy) * (p / 28 - cy) + (p % 28 - cx) * (p % 28 - cx);
      const double value = 255 * std::exp(-d2 / 20) + 20 * rng.uniform(stream + 1, i * 784 + p);
      bytes.push_back(static_cast<char>(static_cast<std::uint8_t>(std::min(255.0, value))));
    }
  }
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Bit for bit (NaN equal to the same NaN).
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

}  // namespace

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_synthetic_images(folder_.file("train-images-idx3-ubyte"), 256, 10);
    write_synthetic_images(folder_.file("t10k-images-idx3-ubyte"), 64, 20);
    backend_ = ops::make_backend("host");
  }
  // A one-trial sweep: 4 epochs of 16 steps at B = 16, evaluated at 4 points.
  spec::Spec make_spec(double log2_rate, const char* optimizer, int microbatch = 0) {
    return spec::parse_spec(concat(R"([sweep]
seed = 3
[model]
name = "autoencoder"
init = "glorot"
microbatch = )", microbatch, R"(
[data]
path = ")", folder_.path().string(), R"("
[budget]
epochs = 4
[optimizer]
names = [")", optimizer, R"("]
[grid]
batch_sizes = [16]
log2_effective_lr = [)", log2_rate, R"(]
[evaluation]
points = 4
train_examples = 128
step_loss_every = 3
)"), "trainer-test.toml");
  }
  spec::TrialOutcome run(const spec::Spec& spec, std::optional<bool> record_steps = std::nullopt) {
    const auto task = train::load_task_data(spec, *backend_);
    const spec::Trial trial = spec::expand_grid(spec, task->shape()).at(0);
    const auto alone = comm::make_identity_reducer();
    train::TrialContext context{*backend_, *task, spec, *alone};
    context.record_steps = record_steps;
    return train::train_trial(trial, context);
  }
  void expect_packs_give_the_bits_alone(const std::vector<std::int64_t>& pack_sizes);
  sgdsweep::testing::TemporaryFolder folder_;
  std::unique_ptr<ops::Backend> backend_;
};

TEST_F(TrainerTest, LossFallsAndTheCurveHasEveryPoint) {
  const spec::Spec spec = make_spec(-4, "momentum");
  const spec::Trial trial = spec::expand_grid(spec, {256, 64}).at(0);
  ASSERT_EQ(trial.steps, 64);
  const spec::TrialOutcome outcome = run(spec);
  ASSERT_EQ(outcome.status, spec::TrialStatus::finished) << outcome.message;
  EXPECT_EQ(outcome.steps_completed, 64);
  ASSERT_EQ(outcome.curve.size(), 5u);
  const std::vector<std::int64_t> steps = {0, 16, 32, 48, 64};
  for (std::size_t k = 0; k < steps.size(); ++k) {
    EXPECT_EQ(outcome.curve[k].step, steps[k]);
    EXPECT_DOUBLE_EQ(outcome.curve[k].epoch, steps[k] / 16.0);
    EXPECT_TRUE(std::isfinite(outcome.curve[k].train_loss));
    EXPECT_TRUE(std::isfinite(outcome.curve[k].test_metric));
  }
  EXPECT_LT(outcome.curve.back().train_loss, 0.6 * outcome.curve.front().train_loss);
  EXPECT_LT(outcome.curve.back().test_metric, 0.6 * outcome.curve.front().test_metric);
  EXPECT_EQ(outcome.step_losses.size(), 22u);  // steps 0, 3, …, 63
  EXPECT_LT(outcome.step_losses.back(), outcome.step_losses.front());
  // The last point's rate is that of the last update: ε·2^−10 after ten drops.
  EXPECT_DOUBLE_EQ(outcome.curve.back().learning_rate, trial.learning_rate / 1024);
  EXPECT_GT(outcome.examples_per_second, 0);
}

TEST_F(TrainerTest, RerunGivesTheSameBits) {
  const spec::Spec spec = make_spec(-5, "sgd");
  const spec::TrialOutcome a = run(spec), b = run(spec);
  ASSERT_EQ(a.curve.size(), b.curve.size());
  for (std::size_t k = 0; k < a.curve.size(); ++k) {
    EXPECT_EQ(a.curve[k].train_loss, b.curve[k].train_loss);
    EXPECT_EQ(a.curve[k].test_metric, b.curve[k].test_metric);
  }
  EXPECT_EQ(a.step_losses, b.step_losses);
}

// Steps recorded once and replayed (CUDA graphs on a GPU; the host replays the recorded callable,
// which exercises the same split of batch upload and gather): the same bits as steps run op by
// op, with one microbatch and with four (the gradient tree inside the recording), and the same
// verdict and curve when the trial diverges.
TEST_F(TrainerTest, RecordedStepsGiveTheSameBits) {
  for (const int microbatch : {0, 4}) {
    for (const double log2_rate : {-4.0, 60.0}) {
      const spec::Spec spec = make_spec(log2_rate, "momentum", microbatch);
      const spec::TrialOutcome direct = run(spec, false), recorded = run(spec, true);
      const std::string what = concat("microbatch ", microbatch, ", log2 rate ", log2_rate);
      EXPECT_EQ(direct.status, recorded.status) << what;
      EXPECT_EQ(direct.steps_completed, recorded.steps_completed) << what;
      EXPECT_EQ(direct.step_losses, recorded.step_losses) << what;
      ASSERT_EQ(direct.curve.size(), recorded.curve.size()) << what;
      for (std::size_t k = 0; k < direct.curve.size(); ++k) {
        EXPECT_EQ(direct.curve[k].train_loss, recorded.curve[k].train_loss) << what << ", point " << k;
        EXPECT_EQ(direct.curve[k].test_metric, recorded.curve[k].test_metric) << what << ", point " << k;
      }
    }
  }
}

TEST_F(TrainerTest, MicrobatchesSumToTheSameTrainingUpToRounding) {
  // 16 = 4 microbatches of 4: the same gradient, summed in a different order.
  const spec::TrialOutcome whole = run(make_spec(-5, "momentum"));
  const spec::TrialOutcome split = run(make_spec(-5, "momentum", 4));
  ASSERT_EQ(whole.curve.size(), split.curve.size());
  for (std::size_t k = 0; k < whole.curve.size(); ++k) {
    EXPECT_NEAR(split.curve[k].train_loss, whole.curve[k].train_loss, 1e-4 * whole.curve[k].train_loss);
  }
}

// The same trial on the CUDA backend (issue #4): the host's curve to rounding (cuBLAS sums in
// another order), and bit for bit the same curve when run twice on the GPU and when its steps
// run op by op instead of as a replayed CUDA graph. Skipped with the
// reason where the build has no CUDA backend or the machine no GPU.
TEST_F(TrainerTest, CudaTrialFollowsTheHostCurveAndRepeatsBitForBit) {
  std::unique_ptr<ops::Backend> cuda;
  SGDSWEEP_BACKEND_OR_SKIP(cuda, "cuda");
  const spec::Spec spec = make_spec(-4, "momentum", 4);  // microbatches: the accumulator on the GPU too
  const spec::TrialOutcome host = run(spec);
  std::swap(backend_, cuda);
  // Recorded steps (CUDA graphs), the GPU's default; then op by op, which must give the same bits.
  const spec::TrialOutcome gpu = run(spec), again = run(spec), direct = run(spec, false);
  std::swap(backend_, cuda);
  ASSERT_EQ(gpu.status, spec::TrialStatus::finished) << gpu.message;
  ASSERT_EQ(host.curve.size(), gpu.curve.size());
  for (std::size_t k = 0; k < host.curve.size(); ++k) {
    EXPECT_NEAR(gpu.curve[k].train_loss, host.curve[k].train_loss, 1e-3 * host.curve[k].train_loss) << "point " << k;
    EXPECT_NEAR(gpu.curve[k].test_metric, host.curve[k].test_metric, 1e-3 * host.curve[k].test_metric) << "point " << k;
    EXPECT_EQ(again.curve[k].train_loss, gpu.curve[k].train_loss) << "point " << k;
    EXPECT_EQ(again.curve[k].test_metric, gpu.curve[k].test_metric) << "point " << k;
  }
  ASSERT_EQ(host.step_losses.size(), gpu.step_losses.size());
  for (std::size_t k = 0; k < host.step_losses.size(); ++k) {
    EXPECT_NEAR(gpu.step_losses[k], host.step_losses[k], 1e-3 * host.step_losses[k]) << "step loss " << k;
  }
  EXPECT_EQ(again.step_losses, gpu.step_losses);
  EXPECT_EQ(direct.step_losses, gpu.step_losses) << "CUDA graph replay and op-by-op steps differ";
}

TEST_F(TrainerTest, HugeRateIsRecordedAsDivergedWithItsCurveSoFar) {
  const spec::Spec spec = make_spec(60, "momentum");
  const spec::TrialOutcome outcome = run(spec);
  EXPECT_EQ(outcome.status, spec::TrialStatus::diverged);
  EXPECT_NE(outcome.message.find("non-finite"), std::string::npos) << outcome.message;
  EXPECT_LT(outcome.steps_completed, 64);
  ASSERT_GE(outcome.curve.size(), 1u);
  EXPECT_TRUE(std::isfinite(outcome.curve[0].train_loss));  // step 0 was fine
}

// Packs (issue #9): trials trained together as copies of one model, each copy at its own step of
// its own trial, give every trial the bits it gets alone: with refills (two budgets, so slots free
// up at different steps), diverging trials masked out (rate 2^60), momentum (each new trial's
// velocity starts at zero), microbatches (the gradient tree over the pack), recorded steps, and
// packs larger than the number of trials left (empty slots). The trials join in a shuffled order.
void TrainerTest::expect_packs_give_the_bits_alone(const std::vector<std::int64_t>& pack_sizes) {
  for (const int microbatch : {0, 8}) {
    spec::Spec spec = make_spec(-5, "momentum", microbatch);
    spec.budgets = {0.5, 1.0};
    spec.log2_effective_learning_rates = {-5, -4, 60};
    spec.seeds = 2;
    const auto task = train::load_task_data(spec, *backend_);
    const std::vector<spec::Trial> trials = spec::expand_grid(spec, task->shape());
    ASSERT_EQ(trials.size(), 12u);
    std::vector<spec::TrialOutcome> alone;
    for (const spec::Trial& trial : trials) {
      train::TrialContext context{*backend_, *task, spec, comm::identity_reducer()};
      alone.push_back(train::train_trial(trial, context));
    }
    EXPECT_EQ(alone[4].status, spec::TrialStatus::diverged);  // budget × rate × seed: rate 2^60, seed 0
    for (const std::int64_t copies : pack_sizes) {
      std::vector<std::size_t> order(trials.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), std::mt19937(static_cast<unsigned>(copies)));
      std::size_t next = 0;
      std::vector<std::optional<spec::TrialOutcome>> packed(trials.size());
      train::PackContext context{*backend_, *task, spec, copies};
      context.next = [&]() -> const spec::Trial* { return next < order.size() ? &trials[order[next++]] : nullptr; };
      context.done = [&](const spec::Trial& trial, spec::TrialOutcome outcome) {
        ASSERT_FALSE(packed.at(trial.index)) << "trial " << trial.index << " done twice";
        packed[trial.index] = std::move(outcome);
      };
      context.record_steps = copies % 2 == 1;  // recorded and op by op
      train::train_pack(context);
      for (std::size_t i = 0; i < trials.size(); ++i) {
        const std::string what = concat("microbatch ", microbatch, ", pack of ", copies, ", trial ", i);
        ASSERT_TRUE(packed[i]) << what << " never done";
        EXPECT_EQ(packed[i]->status, alone[i].status) << what;
        EXPECT_EQ(packed[i]->message, alone[i].message) << what;
        EXPECT_EQ(packed[i]->steps_completed, alone[i].steps_completed) << what;
        EXPECT_TRUE(same_bits(packed[i]->step_losses, alone[i].step_losses)) << what;
        ASSERT_EQ(packed[i]->curve.size(), alone[i].curve.size()) << what;
        for (std::size_t k = 0; k < alone[i].curve.size(); ++k) {
          const spec::CurvePoint &a = packed[i]->curve[k], &b = alone[i].curve[k];
          EXPECT_TRUE(a.step == b.step && same_bits(std::vector<double>{a.learning_rate, a.train_loss, a.test_metric},
                                                    std::vector<double>{b.learning_rate, b.train_loss, b.test_metric}))
              << what << ", point " << k << ": " << a.train_loss << " " << a.test_metric << " (alone: " << b.train_loss
              << " " << b.test_metric << ")";
        }
      }
    }
  }
}

TEST_F(TrainerTest, PackedTrialsGiveTheBitsOfEachTrialAlone) { expect_packs_give_the_bits_alone({1, 3, 4}); }

// The same on the GPU, where the packed ops are batched launches (a strided-batched cuBLASLt GEMM,
// one kernel over all copies) whose per-copy results must not depend on the pack.
TEST_F(TrainerTest, CudaPackedTrialsGiveTheBitsOfEachTrialAlone) {
  std::unique_ptr<ops::Backend> cuda;
  SGDSWEEP_BACKEND_OR_SKIP(cuda, "cuda");
  std::swap(backend_, cuda);
  expect_packs_give_the_bits_alone({1, 5, 12});
  std::swap(backend_, cuda);
}

// The 12 trials of `spec` trained alone, step by step, and in packs of 3 and 5 (shuffled order,
// refills), recorded steps replayed, give the same bits; returns the outcomes alone.
std::vector<spec::TrialOutcome> expect_pack_bits_alone(ops::Backend& backend, const spec::Spec& spec,
                                                      int expect_diverged) {
  const auto task = train::load_task_data(spec, backend);
  const std::vector<spec::Trial> trials = spec::expand_grid(spec, task->shape());
  std::vector<spec::TrialOutcome> alone;
  EXPECT_EQ(trials.size(), 12u);
  int diverged = 0;
  for (const spec::Trial& trial : trials) {
    train::TrialContext context{backend, *task, spec, comm::identity_reducer()};
    context.record_steps = false;  // alone step by step, packed recorded: the recording changes no bit
    alone.push_back(train::train_trial(trial, context));
    diverged += alone.back().status == spec::TrialStatus::diverged;
    EXPECT_NE(alone.back().status, spec::TrialStatus::failed) << alone.back().message;
  }
  EXPECT_EQ(diverged, expect_diverged);
  for (const std::int64_t copies : {3, 5}) {
    std::vector<std::size_t> order(trials.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(static_cast<unsigned>(copies)));
    std::size_t next = 0;
    std::vector<std::optional<spec::TrialOutcome>> packed(trials.size());
    train::PackContext context{backend, *task, spec, copies};
    context.record_steps = true;
    context.next = [&]() -> const spec::Trial* { return next < order.size() ? &trials[order[next++]] : nullptr; };
    context.done = [&](const spec::Trial& trial, spec::TrialOutcome outcome) { packed.at(trial.index) = std::move(outcome); };
    train::train_pack(context);
    for (std::size_t i = 0; i < trials.size(); ++i) {
      const std::string what = concat(spec.model_name, ", pack of ", copies, ", trial ", i);
      if (!packed[i]) {
        ADD_FAILURE() << what << " never done";
        continue;
      }
      EXPECT_EQ(packed[i]->status, alone[i].status) << what;
      EXPECT_EQ(packed[i]->steps_completed, alone[i].steps_completed) << what;
      EXPECT_TRUE(same_bits(packed[i]->step_losses, alone[i].step_losses)) << what;
      EXPECT_EQ(packed[i]->curve.size(), alone[i].curve.size()) << what;
      for (std::size_t k = 0; k < std::min(alone[i].curve.size(), packed[i]->curve.size()); ++k) {
        const spec::CurvePoint &a = packed[i]->curve[k], &b = alone[i].curve[k];
        EXPECT_TRUE(same_bits(std::vector<double>{a.train_loss, a.test_metric},
                              std::vector<double>{b.train_loss, b.test_metric}))
            << what << ", point " << k << ": " << a.train_loss << " " << a.test_metric << " (alone: " << b.train_loss
            << " " << b.test_metric << ")";
      }
    }
  }
  return alone;
}

// The LSTM language model packs too: each copy its own seed (initialisation and dropout masks),
// its own carried state (reset at its own epoch starts), its own clipping. Synthetic Penn
// Treebank-format text (a Markov chain over 40 words); trials with two budgets (refills), a rate
// that diverges, momentum, two microbatches per step and a clipping threshold near the median
// gradient norm (so that in a step some copies clip and others do not).
// Every backend this build has (the GPU where there is one), where the packed ops are batched.
class ModelPacks : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    SGDSWEEP_BACKEND_OR_SKIP(backend_, GetParam());
  }
  std::unique_ptr<ops::Backend> backend_;
};

TEST_P(ModelPacks, LstmTrialsGiveTheBitsTheyGetAlone) {
  sgdsweep::testing::TemporaryFolder folder;
  for (const auto& [name, words, stream] : {std::tuple{"train.txt", 2400, 1u}, std::tuple{"test.txt", 600, 2u}}) {
    const CounterRng rng(7, RngPurpose::test);
    std::ofstream out(folder.file(name));
    int word = 0;
    for (int i = 0; i < words; ++i) {
      word = (word * 7 + 1 + static_cast<int>(4 * rng.uniform(stream, i))) % 40;
      out << "w" << word << (i % 12 == 11 ? " \n" : " ");
    }
  }
  const spec::Spec spec = spec::parse_spec(concat(R"([sweep]
seed = 3
seeds = 2
[model]
name = "lstm"
hidden = 8
layers = 2
unroll = 5
microbatch = 2
[data]
dataset = "ptb"
path = ")", folder.path().string(), R"("
train_file = "train.txt"
test_file = "test.txt"
[budget]
epochs = [0.5, 1.0]
[optimizer]
names = ["momentum"]
clip_norm = 0.25
[grid]
batch_sizes = [4]
log2_effective_lr = [-1, 1, 60]
[evaluation]
points = 3
train_examples = 400
streams = 3
)"), "lstm-pack-test.toml");
  for (const spec::TrialOutcome& outcome : expect_pack_bits_alone(*backend_, spec, 4)) {  // rate 2^60 diverges
    if (outcome.status == spec::TrialStatus::finished) {  // the others learn (the words' frequencies)
      EXPECT_LT(outcome.curve.back().train_loss, outcome.curve.front().train_loss - 0.02);
    }
  }
}

// The Wide-ResNets pack too, in both of the paper's forms: ghost batch norm (each copy's own batch
// statistics and running statistics) and Regularized SkipInit (each copy's residual scalars and
// dropout masks). Synthetic CIFAR-10 records (noise whose mean brightness is the label); every
// copy draws its own batch order, crops and flips.
TEST_P(ModelPacks, WideResNetTrialsGiveTheBitsTheyGetAlone) {
  sgdsweep::testing::TemporaryFolder folder;
  const CounterRng rng(9, RngPurpose::test);
  for (int file = 0; file < 6; ++file) {
    std::ofstream out(folder.file(file < 5 ? concat("data_batch_", file + 1, ".bin") : "test_batch.bin"),
                      std::ios::binary);
    for (int record = 0; record < 16; ++record) {
      const int label = (record * 7 + file) % 10;
      out.put(static_cast<char>(label));
      for (int i = 0; i < 3072; ++i) {
        const double noise = rng.uniform(static_cast<std::uint32_t>(file), record * 3072 + i);
        out.put(static_cast<char>(static_cast<std::uint8_t>(20 * label + 60 * noise)));
      }
    }
  }
  for (const char* normalization : {"ghost-bn", "skipinit"}) {
    const spec::Spec spec = spec::parse_spec(concat(R"([sweep]
seed = 4
seeds = 2
[model]
name = "wrn-10-1"
normalization = ")", normalization, R"("
)", std::string(normalization) == "skipinit" ? "dropout = 0.6\n" : "ghost_batch_size = 4\n", R"([data]
dataset = "cifar10"
path = ")", folder.path().string(), R"("
[budget]
epochs = [0.5, 1.0]
[optimizer]
names = ["momentum"]
[grid]
batch_sizes = [8]
log2_effective_lr = [-3, -1, 60]
[evaluation]
points = 2
train_examples = 32
)"), "wrn-pack-test.toml");
    expect_pack_bits_alone(*backend_, spec, 4);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ModelPacks, ::testing::ValuesIn(ops::available_devices()),
                         [](const auto& param_info) { return param_info.param; });

TEST_F(TrainerTest, PackRefusesATrialOfAnotherShape) {
  spec::Spec spec = make_spec(-5, "sgd");
  spec.batch_sizes = {16, 32};
  const auto task = train::load_task_data(spec, *backend_);
  const std::vector<spec::Trial> trials = spec::expand_grid(spec, task->shape());
  std::size_t next = 0;
  train::PackContext context{*backend_, *task, spec, 2};
  context.next = [&]() -> const spec::Trial* { return next < trials.size() ? &trials[next++] : nullptr; };
  context.done = [](const spec::Trial&, spec::TrialOutcome) {};
  EXPECT_THROW(train::train_pack(context), Error);
}

// A pack's size: [parallel] pack, or what fits in 80 % of the free memory beside one evaluation's
// layer outputs (500 rows), at least one.
TEST(PackSize, FollowsTheSpecAndTheFreeMemory) {
  spec::Spec s;  // the autoencoder
  s.pack = 64;
  spec::Trial trial;
  trial.batch_size = trial.microbatch = 16;
  trial.momentum = 0.9;
  const double copy = static_cast<double>(train::pack_copy_bytes(s, trial));
  EXPECT_GT(copy, 3.0 * 4 * 2837314);  // values, gradients and velocity at least
  EXPECT_LT(copy, 4.0 * 4 * 2837314);  // and not much more at B = 16
  const double evaluation = 4.0 * 500 * (1000 + 500 + 250 + 30 + 250 + 500 + 1000 + 784);
  EXPECT_EQ(train::pack_copies(s, trial, std::size_t{1} << 40), 64);
  EXPECT_EQ(train::pack_copies(s, trial, static_cast<std::size_t>((10.5 * copy + evaluation) / 0.8)), 10);
  EXPECT_EQ(train::pack_copies(s, trial, 0), 1);
  s.pack = 1;
  EXPECT_EQ(train::pack_copies(s, trial, std::size_t{1} << 40), 1);

  // The paper's LSTM at B = 64: three copies of its 19.8 M parameters, and its window's activations
  // (the logits alone are 35 × 64 × 10,000 floats): about 0.47 GB a copy.
  spec::Spec lstm;
  lstm.model = spec::ModelKind::lstm;
  lstm.pack = 4096;
  trial.batch_size = trial.microbatch = 64;
  const double lstm_copy = static_cast<double>(train::pack_copy_bytes(lstm, trial, 10000));
  EXPECT_GT(lstm_copy, 4.0 * (3 * 19775210 + 35 * 64 * 10000));
  EXPECT_LT(lstm_copy, 0.5e9);
  EXPECT_EQ(train::pack_copies(lstm, trial, std::size_t{80} << 30, 10000), 145);  // 80 % of 80 GiB

  // WRN-16-4 with ghost batch norm at B = 128 (two ghost batches of 64): six copies of its 2.75 M
  // parameters (values, gradients, velocity, the tree's three levels) and 64 images' activations
  // (about 1.15 M floats each): about 0.36 GB a copy.
  spec::Spec wrn;
  wrn.model = spec::ModelKind::wide_resnet;
  wrn.depth = 16;
  wrn.width = 4;
  trial.batch_size = 128;
  const double wrn_copy = static_cast<double>(train::pack_copy_bytes(wrn, trial, 10));
  EXPECT_GT(wrn_copy, 4.0 * (6 * 2752506 + 64 * 1.1e6));
  EXPECT_LT(wrn_copy, 4.0 * (6 * 2752506 + 64 * 1.2e6 + 128 * 3077));
}

// A pack that throws (here: no memory for 2^40 copies) ends each of its trials as failed with the
// message, and the next pack goes on: every trial is reported once.
TEST_F(TrainerTest, PacksThatThrowEndTheirTrialsAsFailed) {
  spec::Spec spec = make_spec(-5, "sgd");
  spec.seeds = 3;
  const auto task = train::load_task_data(spec, *backend_);
  const std::vector<spec::Trial> trials = spec::expand_grid(spec, task->shape());
  ASSERT_EQ(trials.size(), 3u);
  std::size_t next = 0;
  std::vector<int> reported(trials.size(), 0);
  train::PackContext context{*backend_, *task, spec};
  context.done = [&](const spec::Trial& trial, spec::TrialOutcome outcome) {
    ++reported.at(trial.index);
    EXPECT_EQ(outcome.status, spec::TrialStatus::failed);
    EXPECT_NE(outcome.message.find("allocate"), std::string::npos) << outcome.message;
  };
  train::train_in_packs(
      context, [&]() -> const spec::Trial* { return next < trials.size() ? &trials[next++] : nullptr; },
      [](const spec::Trial&) { return std::int64_t{1} << 40; });
  EXPECT_EQ(reported, std::vector<int>(trials.size(), 1));
}
