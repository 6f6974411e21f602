// The sweep file: create → write outcomes → read back with our reader (the h5py side is checked by
// tests/integration/check_sweep.py), checksums, fill values of pending trials, the rename.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <filesystem>

#include "spec/grid.hpp"
#include "store/h5.hpp"
#include "store/sweep_file.hpp"
#include "test_support.hpp"

using namespace sgdsweep;

namespace {

spec::Spec round_trip_spec() {
  return spec::parse_spec(R"(
[sweep]
name = "round-trip"
seeds = 2
[model]
name = "autoencoder"
[budget]
steps = 7
[optimizer]
names = ["sgd", "momentum"]
[grid]
batch_sizes = [4]
log2_effective_lr = [-3, -2]
[evaluation]
points = 3
step_loss_every = 2
)", "round-trip.toml");
}

spec::TrialOutcome finished_outcome(const spec::Trial& trial) {
  spec::TrialOutcome outcome;
  outcome.status = spec::TrialStatus::finished;
  for (int k = 0; k <= trial.evaluations; ++k) {
    outcome.curve.push_back({2 * k + 1, 0.5 * k, 0.25 / (k + 1), 10.0 - k, 20.0 - k + trial.index});
  }
  for (std::int64_t i = 0; i < spec::step_loss_count(trial); ++i) outcome.step_losses.push_back(3.0f - 0.5f * i);
  outcome.steps_completed = trial.steps;
  outcome.wall_seconds = 1.5;
  outcome.examples_per_second = 123.0;
  return outcome;
}

}  // namespace

TEST(SweepFile, RoundTripFinishedDivergedAndPendingTrials) {
  sgdsweep::testing::TemporaryFolder folder;
  const std::string path = folder.file("sweep.h5");
  const spec::Spec spec = round_trip_spec();
  const auto trials = spec::expand_grid(spec, {10, 5});
  ASSERT_EQ(trials.size(), 8u);
  ASSERT_EQ(spec::step_loss_count(trials[0]), 4);  // steps 0, 2, 4, 6

  store::Provenance provenance{10, 5, 10, "train.gz", "test.gz", 1};
  store::SweepFile file = store::SweepFile::create(path, MPI_COMM_SELF, spec, trials, provenance);
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
  file.write_outcome(trials[0], finished_outcome(trials[0]), 0);
  spec::TrialOutcome diverged;
  diverged.status = spec::TrialStatus::diverged;
  diverged.message = "non-finite training loss at step 3";
  diverged.curve.push_back({0, 0.0, 0.125, 9.0, 19.0});
  diverged.step_losses = {2.0f, NAN};
  diverged.steps_completed = 3;
  file.write_outcome(trials[5], diverged, 0);
  file.close();

  const store::SweepContents contents = store::read_sweep(path);
  EXPECT_EQ(contents.sweep_name, "round-trip");
  EXPECT_EQ(contents.spec_toml, spec.source_text);
  EXPECT_EQ(contents.evaluations, 3);
  EXPECT_EQ(contents.best_k, 2);
  EXPECT_EQ(contents.metric_name, "test squared error per image");
  EXPECT_FALSE(contents.metric_higher_is_better);
  ASSERT_EQ(contents.trials.size(), trials.size());

  for (std::size_t i = 0; i < trials.size(); ++i) {
    const spec::Trial& stored = contents.trials[i].trial;
    EXPECT_EQ(stored.index, trials[i].index);
    EXPECT_EQ(stored.optimizer, trials[i].optimizer);
    EXPECT_EQ(stored.batch_size, trials[i].batch_size);
    EXPECT_EQ(stored.seed, trials[i].seed);
    EXPECT_EQ(stored.steps, trials[i].steps);
    EXPECT_DOUBLE_EQ(stored.learning_rate, trials[i].learning_rate);
    EXPECT_DOUBLE_EQ(stored.effective_learning_rate, trials[i].effective_learning_rate);
  }

  const store::StoredTrial& first = contents.trials[0];
  EXPECT_EQ(first.outcome.status, spec::TrialStatus::finished);
  EXPECT_EQ(first.rank, 0);
  EXPECT_EQ(first.outcome.steps_completed, 7);
  ASSERT_EQ(first.outcome.curve.size(), 4u);
  EXPECT_EQ(first.outcome.curve[2].step, 5);
  EXPECT_DOUBLE_EQ(first.outcome.curve[3].train_loss, 7.0);
  EXPECT_DOUBLE_EQ(first.final_test_metric, 17.0);
  EXPECT_EQ(first.outcome.step_losses, (std::vector<float>{3.0f, 2.5f, 2.0f, 1.5f}));
  EXPECT_EQ(first.checksum, store::outcome_checksum(first));
  EXPECT_NE(first.checksum, 0u);
  EXPECT_DOUBLE_EQ(first.outcome.wall_seconds, 1.5);

  const store::StoredTrial& broken = contents.trials[5];
  EXPECT_EQ(broken.outcome.status, spec::TrialStatus::diverged);
  EXPECT_EQ(broken.outcome.message, "non-finite training loss at step 3");
  EXPECT_EQ(broken.outcome.curve[0].step, 0);
  EXPECT_EQ(broken.outcome.curve[1].step, -1);  // never reached: fill values
  EXPECT_TRUE(std::isnan(broken.outcome.curve[1].test_metric));
  EXPECT_TRUE(std::isnan(broken.final_test_metric));  // "final" only for finished trials
  EXPECT_EQ(broken.outcome.step_losses[0], 2.0f);
  EXPECT_TRUE(std::isnan(broken.outcome.step_losses[3]));
  EXPECT_EQ(broken.checksum, store::outcome_checksum(broken));

  const store::StoredTrial& pending = contents.trials[1];
  EXPECT_EQ(pending.outcome.status, spec::TrialStatus::pending);
  EXPECT_EQ(pending.rank, -1);
  EXPECT_EQ(pending.checksum, 0u);
  EXPECT_TRUE(std::isnan(pending.final_test_metric));
  EXPECT_TRUE(std::isnan(pending.outcome.step_losses[0]));
}

TEST(SweepFile, ReopenKeepsGoodTrialsAndRerunsPendingFailedAndCorruptOnes) {
  sgdsweep::testing::TemporaryFolder folder;
  const std::string path = folder.file("resume.h5");
  const spec::Spec spec = round_trip_spec();
  const auto trials = spec::expand_grid(spec, {10, 5});
  {
    store::SweepFile file = store::SweepFile::create(path, MPI_COMM_SELF, spec, trials, {});
    file.write_outcome(trials[0], finished_outcome(trials[0]), 0);
    file.write_outcome(trials[1], finished_outcome(trials[1]), 0);
    spec::TrialOutcome failed;
    failed.status = spec::TrialStatus::failed;
    failed.message = "out of memory";
    file.write_outcome(trials[2], failed, 0);
    file.close();
  }
  {  // Damage trial 1's curve behind the engine's back (a torn write, a bad disk).
    store::h5::File file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
    store::h5::Dataset loss = store::h5::open_dataset(file.get(), "train_loss");
    store::h5::write_slab(loss.get(), std::vector<double>{123.0}, {1, 2}, {1, 1}, "damaging");
  }
  store::SweepFile::Resume resume;
  store::SweepFile file = store::SweepFile::reopen(path, MPI_COMM_SELF, spec, trials, resume);
  file.close();
  EXPECT_EQ(resume.kept, 1);
  EXPECT_EQ(resume.corrupt, 1);
  EXPECT_EQ(resume.failed, 1);
  EXPECT_EQ(resume.to_run, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7}));
  const store::SweepContents contents = store::read_sweep(path);
  EXPECT_EQ(contents.trials[0].outcome.status, spec::TrialStatus::finished);  // kept
  EXPECT_EQ(contents.trials[1].outcome.status, spec::TrialStatus::pending);   // reset before rerun
  EXPECT_EQ(contents.trials[2].outcome.status, spec::TrialStatus::pending);
}

TEST(SweepFile, ReopenRefusesAnotherSpec) {
  sgdsweep::testing::TemporaryFolder folder;
  const std::string path = folder.file("other.h5");
  const spec::Spec spec = round_trip_spec();
  const auto trials = spec::expand_grid(spec, {10, 5});
  store::SweepFile::create(path, MPI_COMM_SELF, spec, trials, {}).close();
  spec::Spec other = spec;
  other.source_text += "\n# edited\n";
  store::SweepFile::Resume resume;
  sgdsweep::testing::expect_error([&] { store::SweepFile::reopen(path, MPI_COMM_SELF, other, trials, resume); },
                                  {path, "different spec", "spec_toml"});
}

TEST(SweepFile, ChecksumSeesEveryValue) {
  spec::Trial trial;
  trial.evaluations = 3;
  trial.steps = 8;
  store::StoredTrial stored;
  stored.outcome = finished_outcome(trial);
  ASSERT_EQ(stored.outcome.curve.size(), 4u);
  const std::uint64_t base = store::outcome_checksum(stored);
  stored.outcome.curve[1].test_metric += 1e-12;
  EXPECT_NE(store::outcome_checksum(stored), base);
  stored.outcome = finished_outcome(trial);
  stored.outcome.step_losses.back() = 0.0f;
  EXPECT_NE(store::outcome_checksum(stored), base);
}

TEST(SweepFile, LongMessagesAreCutAtACharacterBoundary) {
  sgdsweep::testing::TemporaryFolder folder;
  const spec::Spec spec = round_trip_spec();
  const auto trials = spec::expand_grid(spec, {10, 5});
  store::SweepFile file = store::SweepFile::create(folder.file("m.h5"), MPI_COMM_SELF, spec, trials, {});
  spec::TrialOutcome failed;
  failed.status = spec::TrialStatus::failed;
  failed.message = std::string(254, 'x') + "\u00e9 and more";  // é straddles byte 255
  file.write_outcome(trials[2], failed, 0);
  file.close();
  const store::StoredTrial stored = store::read_sweep(folder.file("m.h5")).trials[2];
  EXPECT_EQ(stored.outcome.message, std::string(254, 'x'));
  EXPECT_EQ(stored.checksum, store::outcome_checksum(stored));
}

TEST(SweepFile, CreatingInAMissingFolderNamesThePath) {
  const spec::Spec spec = round_trip_spec();
  const auto trials = spec::expand_grid(spec, {10, 5});
  sgdsweep::testing::expect_error(
      [&] { store::SweepFile::create("/nonexistent-folder/x.h5", MPI_COMM_SELF, spec, trials, {}); },
      {"/nonexistent-folder/x.h5.partial"});
}

TEST(SweepFile, ReadingSomethingElseSaysSo) {
  sgdsweep::testing::TemporaryFolder folder;
  sgdsweep::testing::expect_error([&] { store::read_sweep(folder.file("missing.h5")); }, {"missing.h5"});
}
