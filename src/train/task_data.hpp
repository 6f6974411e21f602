// A sweep's data, loaded once per rank and staged once into backend memory, seen by the trainer
// through two questions: "stage rows [first, first + count) of step t's batch of this trial" and
// "evaluate this model on the training subset or the test set". Three tasks implement it:
// image reconstruction (autoencoder on MNIST-layout files), image classification (Wide-ResNets on
// CIFAR-10/100, with the paper's augmentation) and language modelling (LSTM on Penn Treebank).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "comm/gradient_reducer.hpp"
#include "nn/model.hpp"
#include "ops/backend.hpp"
#include "spec/grid.hpp"
#include "spec/spec.hpp"
#include "spec/trial.hpp"
#include "util/error.hpp"

namespace sgdsweep::train {

// Evaluation rows per forward pass, at most: fixed, so that results do not depend on the batch size.
inline constexpr std::int64_t kEvaluationRows = 500;

struct Evaluation {
  double loss = 0.0;    // mean loss per term (per image, or per token)
  double metric = 0.0;  // the test metric as spec::metric_info says (mean, percent, perplexity)
};

// What one trial draws from the data.
class TrialBatches {
 public:
  virtual ~TrialBatches() = default;
  // Stages rows [first, first + count) of the batch of update `step` into backend memory; the
  // returned Batch is valid until the next call. Every row's content is a pure function of
  // (trial seed, step, first + row).
  virtual nn::Batch batch(std::int64_t step, std::int64_t first, std::int64_t count) = 0;

  // The same in two halves, for recorded steps (Backend::record): upload() does the host work and
  // the copies of rows [first, first + count) of step `step` into slot `slot` (each slot keeps its
  // own buffers, allocated on first use), gather() issues only backend ops and returns the slot's
  // Batch. A step uploads every microbatch first, then replays the recording, whose gathers read
  // the slots. Tasks that need host work between microbatches say false to replayable().
  virtual bool replayable() const { return false; }
  virtual void upload(std::int64_t step, std::int64_t first, std::int64_t count, std::size_t slot);
  virtual nn::Batch gather(std::size_t slot);
};

// What a pack of trials draws from the data (Model::copies): each copy its own trial's rows, staged
// into one batch, copy-major, with one upload and one gather for the whole pack.
class PackBatches {
 public:
  virtual ~PackBatches() = default;
  // Copy `copy` draws from `trial`'s batches from now on (its seed and batch size; every trial of a
  // pack has the same batch size and microbatch); nullptr: an empty copy, whose rows are any rows.
  virtual void assign(std::int64_t copy, const spec::Trial* trial) = 0;
  // Stages rows [first, first + count) of copy c's batch of update steps[c], for every copy, into
  // slot `slot` (see TrialBatches::upload); gather() issues only backend ops.
  virtual void upload(const std::vector<std::int64_t>& steps, std::int64_t first, std::int64_t count,
                      std::size_t slot) = 0;
  virtual nn::Batch gather(std::size_t slot) = 0;
};

// One trial's batches as a pack of one (Pack: a task's PackBatches, built from (task, copies,
// microbatch)): a trial alone takes the packed path, so it has the bits it has in any pack.
template <class Pack>
class PackOfOne final : public TrialBatches {
 public:
  template <class Task>
  PackOfOne(Task& task, const spec::Trial& trial) : trial_(trial), packed_(task, 1, trial.microbatch) {
    packed_.assign(0, &trial_);
  }
  nn::Batch batch(std::int64_t step, std::int64_t first, std::int64_t count) override {
    upload(step, first, count, 0);
    return gather(0);
  }
  bool replayable() const override { return true; }
  void upload(std::int64_t step, std::int64_t first, std::int64_t count, std::size_t slot) override {
    packed_.upload({step}, first, count, slot);
  }
  nn::Batch gather(std::size_t slot) override { return packed_.gather(slot); }

 private:
  spec::Trial trial_;
  Pack packed_;
};

class TaskData {
 public:
  virtual ~TaskData() = default;
  virtual spec::DataShape shape() const = 0;
  virtual std::string train_source() const = 0;
  virtual std::string test_source() const = 0;
  // Classes of a classification task, the vocabulary of a language model (0 otherwise).
  virtual std::int64_t classes() const { return 0; }
  virtual std::int64_t vocabulary() const { return 0; }
  // The one of the two the model's size depends on (spec::parameter_count).
  std::int64_t classes_or_vocabulary() const { return vocabulary() > 0 ? vocabulary() : classes(); }

  virtual std::unique_ptr<TrialBatches> batches(const spec::Trial& trial) = 0;
  // Batches for a pack of `copies` trials with microbatches of `microbatch` rows, for the tasks
  // whose model packs (reconstruction, language); the others throw Error.
  virtual std::unique_ptr<PackBatches> pack_batches(std::int64_t copies, std::int64_t microbatch);
  // On the first `limit` training examples (0 = all in use), or the whole test set. Collective
  // over `team`: member r evaluates chunks r, r + g, r + 2g, … and every member gets the sums of
  // all chunks added in chunk order — the same bits as one rank evaluating everything.
  virtual Evaluation evaluate(nn::Model& model, bool test, std::int64_t limit, comm::GradientReducer& team) = 0;
  // The same for copy `copy` of a pack (Model::copies) alone, by the calls evaluate() makes for a
  // model of one copy, so a packed trial's curve has the bits of the trial alone; by default
  // evaluate() of a model that does not pack.
  virtual Evaluation evaluate_copy(nn::Model& model, std::int64_t copy, bool test, std::int64_t limit,
                                   comm::GradientReducer& team);
};

// What every task whose model packs shares (Task: the task, with its PackBatches as the public
// nested class Task::Packed, built from (task, copies, microbatch)): a trial alone is its pack of
// one, and evaluate() is evaluate_copy() of the model's only copy.
template <class Task>
class PackingTask : public TaskData {
 public:
  std::unique_ptr<TrialBatches> batches(const spec::Trial& trial) override {
    return std::make_unique<PackOfOne<typename Task::Packed>>(static_cast<Task&>(*this), trial);
  }
  std::unique_ptr<PackBatches> pack_batches(std::int64_t copies, std::int64_t microbatch) override {
    return std::make_unique<typename Task::Packed>(static_cast<Task&>(*this), copies, microbatch);
  }
  Evaluation evaluate(nn::Model& model, bool test, std::int64_t limit, comm::GradientReducer& team) override {
    return evaluate_copy(model, -1, test, limit, team);
  }
};

// Reads the files the spec names (throws Error naming the file and the problem) and stages them:
// the task that fits the spec's dataset.
std::unique_ptr<TaskData> load_task_data(const spec::Spec& spec, ops::Backend& backend);
std::unique_ptr<TaskData> load_reconstruction_task(const spec::Spec& spec, ops::Backend& backend);
std::unique_ptr<TaskData> load_classification_task(const spec::Spec& spec, ops::Backend& backend);
std::unique_ptr<TaskData> load_language_task(const spec::Spec& spec, ops::Backend& backend);
// ImageNet-layout JPEG folders (dataset "image-folder"): image_folder_task.cpp.
std::unique_ptr<TaskData> load_image_folder_task(const spec::Spec& spec, ops::Backend& backend);

// Evaluates `chunks` chunks split over `team` (see TaskData::evaluate): `evaluate_chunk(j, sums)`
// adds chunk j's loss and metric into sums[0], sums[1]; returns the totals over all chunks, added
// in chunk order, on every member.
void evaluate_chunks(comm::GradientReducer& team, std::int64_t chunks,
                     const std::function<void(std::int64_t, double*)>& evaluate_chunk, double totals[2]);

// The metric from evaluation sums, as spec::metric_info(kind) says.
double finalize_metric(spec::ModelKind kind, double loss_sum, double metric_sum, double terms,
                       double examples);

// The model's evaluation over `count` rows in chunks of at most kEvaluationRows, split over the
// team (evaluate_chunks); `stage` fills the chunk [first, first + rows) and returns its Batch.
// `copy`: the copy of a pack to evaluate (EvaluationSums::copy).
template <class Stage>
Evaluation evaluate_in_chunks(ops::Backend& backend, nn::Model& model, spec::ModelKind kind,
                              std::int64_t count, comm::GradientReducer& team, Stage&& stage,
                              std::int64_t copy = -1) {
  ops::Buffer<double> sums(backend, 2);
  const std::int64_t chunk = std::min(model.max_batch(), kEvaluationRows);
  double totals[2];
  evaluate_chunks(team, (count + chunk - 1) / chunk, [&](std::int64_t j, double* out) {
    const std::int64_t first = j * chunk;
    model.evaluate(stage(first, std::min(chunk, count - first)), {sums.data(), sums.data() + 1, copy});
    sums.download(out, 2);
  }, totals);
  const double terms = static_cast<double>(count * model.terms_per_example());
  return {totals[0] / terms, finalize_metric(kind, totals[0], totals[1], terms, static_cast<double>(count))};
}

}  // namespace sgdsweep::train
