// The task factory and the metric finalisation shared by all tasks.
#include "train/task_data.hpp"

#include <cmath>

namespace sgdsweep::train {

std::unique_ptr<TaskData> load_task_data(const spec::Spec& spec, ops::Backend& backend) {
  switch (spec.model) {
    case spec::ModelKind::autoencoder: return load_reconstruction_task(spec, backend);
    case spec::ModelKind::wide_resnet: return load_classification_task(spec, backend);
    case spec::ModelKind::lstm: return load_language_task(spec, backend);
  }
  fail(spec.source_path, ": no task for model '", spec.model_name, "'");
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
