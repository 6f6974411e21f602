// The sweep file: create → write outcomes → read back with our reader (the h5py side is checked by
// tests/integration/check_sweep.py), checksums, fill values of pending trials, the rename.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

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

// Diverged at step 3: one evaluation and two step losses, the second non-finite.
spec::TrialOutcome diverged_outcome() {
  spec::TrialOutcome diverged;
  diverged.status = spec::TrialStatus::diverged;
  diverged.message = "non-finite training loss at step 3";
  diverged.curve.push_back({0, 0.0, 0.125, 9.0, 19.0});
  diverged.step_losses = {2.0f, NAN};
  diverged.steps_completed = 3;
  return diverged;
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
  spec::TrialOutcome packed = diverged_outcome();
  packed.pack = 7;  // trained in a pack of 7
  file.write_outcome(trials[5], packed, 0);
  file.close();

  const store::SweepContents contents = store::read_sweep(path);
  EXPECT_EQ(contents.sweep_name, "round-trip");
  EXPECT_EQ(contents.trials[0].outcome.pack, 1);
  EXPECT_EQ(contents.trials[5].outcome.pack, 7);
  EXPECT_EQ(contents.trials[1].outcome.pack, -1);  // pending
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

namespace {

// The round-trip sweep with one finished, one diverged and one failed trial (of 8).
void write_partial_sweep(const std::string& path, const spec::Spec& spec, const std::vector<spec::Trial>& trials) {
  store::SweepFile file = store::SweepFile::create(path, MPI_COMM_SELF, spec, trials, {10, 5, 10, "a", "b", 1});
  file.write_outcome(trials[0], finished_outcome(trials[0]), 0);
  file.write_outcome(trials[5], diverged_outcome(), 3, 2);
  spec::TrialOutcome failed;
  failed.status = spec::TrialStatus::failed;
  failed.message = "rank 0: out of memory";
  file.write_outcome(trials[2], failed, 0);
  file.close();
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The round-trip spec's text followed by `entries`.
spec::Spec extended_spec(const std::string& entries) {
  return spec::parse_spec(round_trip_spec().source_text + entries, "extended.toml");
}

// The round-trip spec with `from` replaced by `to` in its text.
spec::Spec edited_spec(const std::string& from, const std::string& to, const std::string& name) {
  std::string text = round_trip_spec().source_text;
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return spec::parse_spec(text.replace(at, from.size(), to), name);
}

}  // namespace

TEST(SweepFile, AppendCopiesTheOldRowsByteForByteAndAddsPendingTrials) {
  sgdsweep::testing::TemporaryFolder folder;
  const std::string path = folder.file("append.h5");
  const spec::Spec spec = round_trip_spec();
  const auto trials = spec::expand_grid(spec, {10, 5});
  write_partial_sweep(path, spec, trials);
  const store::SweepContents before = store::read_sweep(path);

  // -2 is in the grid already; -1 adds 2 trials (both seeds).
  const spec::Spec extended = extended_spec(
      "[[grid.extend]]\noptimizer = \"sgd\"\nbatch_size = 4\nlog2_effective_lr = [-2, -1]\n");
  const auto more = spec::expand_grid(extended, {10, 5});
  ASSERT_EQ(more.size(), trials.size() + 2);
  store::SweepFile::Resume resume;
  store::SweepFile file =
      store::SweepFile::append(path, MPI_COMM_SELF, extended, more, {10, 5, 10, "a", "b", 1}, resume);
  file.close();
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
  EXPECT_EQ(resume.added, 2);
  EXPECT_EQ(resume.kept, 2);
  EXPECT_EQ(resume.failed, 1);
  EXPECT_EQ(resume.corrupt, 0);
  EXPECT_EQ(resume.to_run, (std::vector<std::int64_t>{1, 2, 3, 4, 6, 7, 8, 9}));

  const store::SweepContents after = store::read_sweep(path);
  EXPECT_EQ(after.spec_toml, extended.source_text);
  ASSERT_EQ(after.trials.size(), more.size());
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const store::StoredTrial& old = before.trials[i];
    const store::StoredTrial& now = after.trials[i];
    EXPECT_EQ(now.trial.log2_effective_learning_rate, old.trial.log2_effective_learning_rate);
    EXPECT_EQ(now.checksum, old.checksum) << "trial " << i;
    EXPECT_EQ(now.rank, old.rank);
    EXPECT_EQ(now.team_size, old.team_size);
    EXPECT_EQ(now.outcome.message, old.outcome.message);
    EXPECT_EQ(now.outcome.steps_completed, old.outcome.steps_completed);
    ASSERT_EQ(now.outcome.step_losses.size(), old.outcome.step_losses.size());
    EXPECT_EQ(std::memcmp(now.outcome.step_losses.data(), old.outcome.step_losses.data(),
                          old.outcome.step_losses.size() * sizeof(float)), 0) << "trial " << i;
    for (std::size_t k = 0; k < old.outcome.curve.size(); ++k) {
      EXPECT_EQ(std::memcmp(&now.outcome.curve[k], &old.outcome.curve[k], sizeof(spec::CurvePoint)), 0)
          << "trial " << i << " eval " << k;
    }
    // The failed trial was copied, then set back to pending like --resume does.
    EXPECT_EQ(now.outcome.status, i == 2 ? spec::TrialStatus::pending : old.outcome.status);
    if (now.outcome.status != spec::TrialStatus::pending) {
      EXPECT_EQ(now.checksum, store::outcome_checksum(now));
    }
  }
  for (std::size_t i = trials.size(); i < more.size(); ++i) {
    EXPECT_EQ(after.trials[i].outcome.status, spec::TrialStatus::pending);
    EXPECT_EQ(after.trials[i].trial.log2_effective_learning_rate, -1);
    EXPECT_EQ(after.trials[i].trial.optimizer, spec::OptimizerKind::sgd);
    EXPECT_EQ(after.trials[i].rank, -1);
  }
  EXPECT_EQ(after.trials[5].outcome.message, "non-finite training loss at step 3");
  EXPECT_EQ(after.trials[5].team_size, 2);
}

// Files written before packs have no /pack: they still resume (nothing is written there) and
// append (the new file has /pack; the old rows keep its fill, −1, and read back as such).
TEST(SweepFile, FilesFromBeforePacksResumeAndAppend) {
  sgdsweep::testing::TemporaryFolder folder;
  const std::string path = folder.file("old.h5");
  const spec::Spec spec = round_trip_spec();
  const auto trials = spec::expand_grid(spec, {10, 5});
  write_partial_sweep(path, spec, trials);
  {
    store::h5::File file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
    ASSERT_TRUE(store::h5::has_dataset(file.get(), "pack"));
    ASSERT_GE(H5Ldelete(file.get(), "pack", H5P_DEFAULT), 0);
  }
  EXPECT_EQ(store::read_sweep(path).trials[0].outcome.pack, -1);
  {
    store::SweepFile::Resume resume;
    store::SweepFile file = store::SweepFile::reopen(path, MPI_COMM_SELF, spec, trials, resume);
    file.write_outcome(trials[1], finished_outcome(trials[1]), 0);
    file.close();
  }
  const store::SweepContents resumed = store::read_sweep(path);
  EXPECT_EQ(resumed.trials[1].outcome.status, spec::TrialStatus::finished);
  EXPECT_EQ(resumed.trials[1].outcome.pack, -1);  // not recorded in an old file

  const spec::Spec extended = extended_spec(
      "[[grid.extend]]\noptimizer = \"sgd\"\nbatch_size = 4\nlog2_effective_lr = [-2, -1]\n");
  const auto more = spec::expand_grid(extended, {10, 5});
  store::SweepFile::Resume resume;
  store::SweepFile file =
      store::SweepFile::append(path, MPI_COMM_SELF, extended, more, {10, 5, 10, "a", "b", 1}, resume);
  spec::TrialOutcome packed = finished_outcome(more.back());
  packed.pack = 4;
  file.write_outcome(more.back(), packed, 0);
  file.close();
  const store::SweepContents after = store::read_sweep(path);
  EXPECT_EQ(after.trials[0].outcome.status, spec::TrialStatus::finished);
  EXPECT_EQ(after.trials[0].outcome.pack, -1);
  EXPECT_EQ(after.trials.back().outcome.pack, 4);
}

TEST(SweepFile, AppendRefusesAGridThatDoesNotStartWithTheFileAndLeavesItAlone) {
  sgdsweep::testing::TemporaryFolder folder;
  const std::string path = folder.file("refuse.h5");
  const spec::Spec spec = round_trip_spec();
  const auto trials = spec::expand_grid(spec, {10, 5});
  write_partial_sweep(path, spec, trials);
  const std::string bytes = file_bytes(path);

  const spec::Spec other = edited_spec("[-3, -2]", "[-3, -1]", "other.toml");
  store::SweepFile::Resume resume;
  sgdsweep::testing::expect_error(
      [&] {
        store::SweepFile::append(path, MPI_COMM_SELF, other, spec::expand_grid(other, {10, 5}), {}, resume);
      },
      {path, "trial 2 differs in column log2_effective_learning_rate", "-2 in the file, -1 in other.toml",
       "[[grid.extend]]"});
  const spec::Spec changed = edited_spec("name = \"autoencoder\"", "name = \"autoencoder\"\ninit = \"glorot\"",
                                         "changed.toml");
  sgdsweep::testing::expect_error(
      [&] {
        store::SweepFile::append(path, MPI_COMM_SELF, changed, spec::expand_grid(changed, {10, 5}), {}, resume);
      },
      {path, "differs from the file's spec", "[model]"});
  const spec::Spec fewer = edited_spec("[-3, -2]", "[-3]", "fewer.toml");
  sgdsweep::testing::expect_error(
      [&] { store::SweepFile::append(path, MPI_COMM_SELF, fewer, spec::expand_grid(fewer, {10, 5}), {}, resume); },
      {path, "holds 8 trials", "expands to only 4"});
  EXPECT_EQ(file_bytes(path), bytes);
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
}

TEST(SweepFile, AppendWithTheFilesOwnSpecIsAResume) {
  sgdsweep::testing::TemporaryFolder folder;
  const std::string path = folder.file("same.h5");
  const spec::Spec spec = round_trip_spec();
  const auto trials = spec::expand_grid(spec, {10, 5});
  write_partial_sweep(path, spec, trials);
  store::SweepFile::Resume resume;
  store::SweepFile::append(path, MPI_COMM_SELF, spec, trials, {}, resume).close();
  EXPECT_EQ(resume.added, 0);
  EXPECT_EQ(resume.kept, 2);
  EXPECT_EQ(resume.to_run, (std::vector<std::int64_t>{1, 2, 3, 4, 6, 7}));
}
