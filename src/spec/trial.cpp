// Names of the trial enums, as they appear in logs, tables and the file's flag_meanings.
#include "spec/trial.hpp"

namespace sgdsweep::spec {

const char* name(ModelKind kind) {
  switch (kind) {
    case ModelKind::autoencoder: return "autoencoder";
    case ModelKind::wide_resnet: return "wrn";
    case ModelKind::lstm: return "lstm";
    case ModelKind::resnet: return "resnet";
  }
  return "?";
}
const char* name(OptimizerKind kind) { return kind == OptimizerKind::sgd ? "sgd" : "momentum"; }
const char* name(BudgetKind kind) { return kind == BudgetKind::epochs ? "epochs" : "steps"; }
const char* name(TrialStatus status) {
  switch (status) {
    case TrialStatus::pending: return "pending";
    case TrialStatus::finished: return "finished";
    case TrialStatus::diverged: return "diverged";
    case TrialStatus::failed: return "failed";
  }
  return "?";
}

MetricInfo metric_info(ModelKind kind) {
  switch (kind) {
    case ModelKind::autoencoder:
      return {"squared error per image", "test squared error per image", false,
              MetricInfo::From::metric_mean};
    case ModelKind::wide_resnet:
    case ModelKind::resnet:
      return {"cross-entropy", "test accuracy (%)", true, MetricInfo::From::metric_percent};
    case ModelKind::lstm:
      return {"cross-entropy per token", "test perplexity", false, MetricInfo::From::exp_loss_mean};
  }
  return {"loss", "metric", false, MetricInfo::From::metric_mean};
}

bool packs_with(const Trial& a, const Trial& b) {
  return a.model == b.model && model_packs(a.model) && a.batch_size == b.batch_size &&
         a.microbatch == b.microbatch && a.momentum == b.momentum && a.l2 == b.l2 && a.clip_norm == b.clip_norm;
}

}  // namespace sgdsweep::spec
