// The task factory and the metric finalisation shared by all tasks.
#include "train/task_data.hpp"

#include <cmath>
#include <vector>

namespace sgdsweep::train {

void TrialBatches::upload(std::int64_t, std::int64_t, std::int64_t, std::size_t) {
  fail("this task's batches cannot be staged ahead of a recorded step");
}

nn::Batch TrialBatches::gather(std::size_t) { fail("this task's batches cannot be staged ahead of a recorded step"); }

std::unique_ptr<PackBatches> TaskData::pack_batches(std::int64_t, std::int64_t) {
  fail("only the autoencoder's and the LSTM's trials train in packs");
}

Evaluation TaskData::evaluate_copy(nn::Model& model, std::int64_t copy, bool test, std::int64_t limit,
                                   comm::GradientReducer& team) {
  if (model.copies() != 1 || copy != 0) fail("this task cannot evaluate copy ", copy, " of a pack");
  return evaluate(model, test, limit, team);
}

std::unique_ptr<TaskData> load_task_data(const spec::Spec& spec, ops::Backend& backend) {
  switch (spec.model) {
    case spec::ModelKind::autoencoder: return load_reconstruction_task(spec, backend);
    case spec::ModelKind::wide_resnet:
    case spec::ModelKind::resnet:
      return spec.dataset == "image-folder" ? load_image_folder_task(spec, backend)
                                            : load_classification_task(spec, backend);
    case spec::ModelKind::lstm: return load_language_task(spec, backend);
  }
  fail(spec.source_path, ": no task for model '", spec.model_name, "'");
}

void evaluate_chunks(comm::GradientReducer& team, std::int64_t chunks,
                     const std::function<void(std::int64_t, double*)>& evaluate_chunk, double totals[2]) {
  std::vector<double> sums(static_cast<std::size_t>(2 * chunks), 0.0);
  for (std::int64_t j = team.rank(); j < chunks; j += team.size()) evaluate_chunk(j, sums.data() + 2 * j);
  std::vector<double> everyone(static_cast<std::size_t>(team.size()) * sums.size());
  team.gather(sums.data(), static_cast<std::int64_t>(sums.size()), everyone.data());
  totals[0] = totals[1] = 0.0;
  for (std::int64_t j = 0; j < chunks; ++j) {
    const double* owner = everyone.data() + (j % team.size()) * sums.size();  // member j mod g
    totals[0] += owner[2 * j];
    totals[1] += owner[2 * j + 1];
  }
}

double finalize_metric(spec::ModelKind kind, double loss_sum, double metric_sum, double terms,
                       double examples) {
  switch (spec::metric_info(kind).from) {
    case spec::MetricInfo::From::metric_mean: return metric_sum / examples;
    case spec::MetricInfo::From::metric_percent: return 100.0 * metric_sum / examples;
    case spec::MetricInfo::From::exp_loss_mean: return std::exp(loss_sum / terms);
  }
  return NAN;
}

}  // namespace sgdsweep::train
