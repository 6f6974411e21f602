// The sweep file: layout, collective creation, per-trial raw-data writes, and the serial reader.
// Each column is defined once (name, type, description, how to get it from a Trial) and used by
// creation, writing and reading alike.
#include "store/sweep_file.hpp"

#include <hdf5_hl.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "util/checksum.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/version.hpp"

namespace sgdsweep::store {
namespace {

using spec::Trial;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A per-trial hyperparameter column: 1-D over `trial`, written once at creation.
template <class T>
struct TrialColumn {
  const char* name;
  const char* description;
  T (*get)(const Trial&);
  void (*set)(Trial&, T);
};

const TrialColumn<std::int8_t> kEnumColumns[] = {
    {"model", "model (flag_values / flag_meanings)",
     [](const Trial& t) { return static_cast<std::int8_t>(t.model); },
     [](Trial& t, std::int8_t v) { t.model = static_cast<spec::ModelKind>(v); }},
    {"optimizer", "optimizer (flag_values / flag_meanings)",
     [](const Trial& t) { return static_cast<std::int8_t>(t.optimizer); },
     [](Trial& t, std::int8_t v) { t.optimizer = static_cast<spec::OptimizerKind>(v); }},
    {"budget_kind", "which budget the spec fixed: epochs or steps (flag_values / flag_meanings)",
     [](const Trial& t) { return static_cast<std::int8_t>(t.budget_kind); },
     [](Trial& t, std::int8_t v) { t.budget_kind = static_cast<spec::BudgetKind>(v); }},
};

const TrialColumn<std::int32_t> kInt32Columns[] = {
    {"seed_index", "seed index 0 … seeds-1",
     [](const Trial& t) { return t.seed_index; }, [](Trial& t, std::int32_t v) { t.seed_index = v; }},
    {"evaluations", "evaluation points after step 0",
     [](const Trial& t) { return t.evaluations; }, [](Trial& t, std::int32_t v) { t.evaluations = v; }},
    {"step_loss_every", "the minibatch loss is recorded every this many steps",
     [](const Trial& t) { return t.step_loss_every; },
     [](Trial& t, std::int32_t v) { t.step_loss_every = v; }},
};

const TrialColumn<std::int64_t> kInt64Columns[] = {
    {"batch_size", "examples per step B",
     [](const Trial& t) { return t.batch_size; }, [](Trial& t, std::int64_t v) { t.batch_size = v; }},
    {"seed", "the trial's RNG seed (derived from the sweep seed and seed_index)",
     [](const Trial& t) { return static_cast<std::int64_t>(t.seed); },
     [](Trial& t, std::int64_t v) { t.seed = static_cast<std::uint64_t>(v); }},
    {"steps", "parameter updates in the budget",
     [](const Trial& t) { return t.steps; }, [](Trial& t, std::int64_t v) { t.steps = v; }},
    {"steps_per_epoch", "floor(training examples / B)",
     [](const Trial& t) { return t.steps_per_epoch; },
     [](Trial& t, std::int64_t v) { t.steps_per_epoch = v; }},
    {"warmup_steps", "linear warmup steps",
     [](const Trial& t) { return t.warmup_steps; }, [](Trial& t, std::int64_t v) { t.warmup_steps = v; }},
    {"microbatch", "examples per forward/backward pass (the ghost batch with batch normalisation)",
     [](const Trial& t) { return t.microbatch; }, [](Trial& t, std::int64_t v) { t.microbatch = v; }},
};

const TrialColumn<double> kDoubleColumns[] = {
    {"momentum", "heavy-ball coefficient m (0 for SGD)",
     [](const Trial& t) { return t.momentum; }, [](Trial& t, double v) { t.momentum = v; }},
    {"log2_effective_learning_rate", "log2 of the effective learning rate",
     [](const Trial& t) { return t.log2_effective_learning_rate; },
     [](Trial& t, double v) { t.log2_effective_learning_rate = v; }},
    {"effective_learning_rate", "epsilon_eff = epsilon / (1 - m)",
     [](const Trial& t) { return t.effective_learning_rate; },
     [](Trial& t, double v) { t.effective_learning_rate = v; }},
    {"learning_rate", "epsilon, the initial rate of the update",
     [](const Trial& t) { return t.learning_rate; }, [](Trial& t, double v) { t.learning_rate = v; }},
    {"epochs", "budget in epochs (steps / steps_per_epoch)",
     [](const Trial& t) { return t.epochs; }, [](Trial& t, double v) { t.epochs = v; }},
    {"gamma", "schedule: divide by gamma every steps/20 after steps/2",
     [](const Trial& t) { return t.gamma; }, [](Trial& t, double v) { t.gamma = v; }},
    {"final_effective_learning_rate", "epsilon_eff * gamma^-10, the effective rate after the last drop",
     [](const Trial& t) { return t.final_effective_learning_rate; },
     [](Trial& t, double v) { t.final_effective_learning_rate = v; }},
    {"warmup_epochs", "linear warmup length in epochs",
     [](const Trial& t) { return t.warmup_epochs; }, [](Trial& t, double v) { t.warmup_epochs = v; }},
    {"l2", "L2 coefficient added to weight gradients",
     [](const Trial& t) { return t.l2; }, [](Trial& t, double v) { t.l2 = v; }},
    {"clip_norm", "global gradient-norm clipping threshold (0: none)",
     [](const Trial& t) { return t.clip_norm; }, [](Trial& t, double v) { t.clip_norm = v; }},
    {"predicted_cost", "predicted relative cost used to partition trials",
     [](const Trial& t) { return t.cost; }, [](Trial& t, double v) { t.cost = v; }},
};

// Per-trial result columns (1-D over `trial`), written by the rank that ran the trial.
struct ResultColumn {
  const char* name;
  hid_t (*type)();
  double fill;
  bool fill_means_missing;  // the fill is a sentinel, declared as _FillValue for netCDF readers
  const char* description;
  const char* units;        // CF units, or nullptr
};
const ResultColumn kResultColumns[] = {
    {"status", [] { return H5T_NATIVE_INT8; }, 0, false,
     "pending / finished / diverged / failed (flag_values / flag_meanings); written last", nullptr},
    {"rank", [] { return H5T_NATIVE_INT32; }, -1, true,
     "world rank that ran the trial (its team's member 0)", nullptr},
    {"team_size", [] { return H5T_NATIVE_INT32; }, -1, true,
     "ranks of the data-parallel team that ran the trial", nullptr},
    {"pack", [] { return H5T_NATIVE_INT32; }, -1, true,
     "trials trained together in one model with it, it included (1: alone); not in the checksum", nullptr},
    {"steps_completed", [] { return H5T_NATIVE_INT64; }, -1, true, "updates actually taken", nullptr},
    {"wall_seconds", [] { return H5T_NATIVE_DOUBLE; }, kNaN, true, "wall time of the trial", "s"},
    {"examples_per_second", [] { return H5T_NATIVE_DOUBLE; }, kNaN, true,
     "training examples per second (evaluation excluded)", "s-1"},
    {"final_train_loss", [] { return H5T_NATIVE_DOUBLE; }, kNaN, true,
     "training loss at the last evaluation of a finished trial (NaN otherwise)", nullptr},
    {"final_test_metric", [] { return H5T_NATIVE_DOUBLE; }, kNaN, true,
     "test metric at the last evaluation of a finished trial (NaN otherwise)", nullptr},
    {"checksum", [] { return H5T_NATIVE_UINT64; }, 0, false,
     "FNV-1a 64 of everything else the trial's rank wrote (docs/hdf5-schema.md)", nullptr},
};

// Evaluation curves: 2-D [trial, eval].
const ResultColumn kCurveColumns[] = {
    {"eval_step", [] { return H5T_NATIVE_INT64; }, -1, true,
     "updates taken before the evaluation: round(k * steps / evaluations)", nullptr},
    {"eval_epoch", [] { return H5T_NATIVE_DOUBLE; }, kNaN, true,
     "epochs completed at the evaluation", nullptr},
    {"eval_learning_rate", [] { return H5T_NATIVE_DOUBLE; }, kNaN, true,
     "learning rate of the last update before the evaluation (k = 0: of the first update)", nullptr},
    {"train_loss", [] { return H5T_NATIVE_DOUBLE; }, kNaN, true,
     "mean training loss over the training evaluation set", nullptr},
    {"test_metric", [] { return H5T_NATIVE_DOUBLE; }, kNaN, true,
     "mean test metric over the test set", nullptr},
};

std::string flag_meanings(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : " ") + n;
  return out;
}

// A contiguous, early-allocated dataset whose unwritten elements read as `fill` (a null `fill`
// keeps HDF5's default, zero bytes). When `fill_means_missing`, the fill is also declared as the
// netCDF/CF _FillValue, so xarray masks unwritten elements.
struct DatasetOptions {
  const double* fill = nullptr;
  bool fill_means_missing = false;
  const char* units = nullptr;
  bool write_fill = true;  // false: never write the fill (a dimension that holds no data)
};
h5::Dataset create_dataset(hid_t file, const std::string& name, hid_t type,
                           const std::vector<hsize_t>& dims, const DatasetOptions& options,
                           const std::string& description) {
  h5::Dataspace space(h5::check(
      H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "H5Screate_simple"));
  h5::PropertyList properties(h5::check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"));
  h5::check_status(H5Pset_layout(properties.get(), H5D_CONTIGUOUS), "H5Pset_layout");
  h5::check_status(H5Pset_alloc_time(properties.get(), H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time");
  h5::check_status(H5Pset_fill_time(properties.get(), options.write_fill ? H5D_FILL_TIME_IFSET
                                                                          : H5D_FILL_TIME_NEVER),
                   "H5Pset_fill_time");
  if (options.fill) {
    h5::check_status(H5Pset_fill_value(properties.get(), H5T_NATIVE_DOUBLE, options.fill),
                     "H5Pset_fill_value");
  }
  h5::Dataset dataset(h5::check(H5Dcreate2(file, name.c_str(), type, space.get(), H5P_DEFAULT,
                                           properties.get(), H5P_DEFAULT),
                                "creating dataset /" + name));
  if (!description.empty()) h5::write_attribute(dataset.get(), "long_name", description);
  if (options.fill && options.fill_means_missing) {
    h5::write_numeric_attribute(dataset.get(), "_FillValue", type, H5T_NATIVE_DOUBLE, options.fill,
                                1, false);
  }
  if (options.units) h5::write_attribute(dataset.get(), "units", std::string(options.units));
  return dataset;
}

// The column of a trial's pack: absent from files written before packs, which still open (nothing
// is written there) and append (their rows keep the fill).
constexpr const char* kPackColumn = "pack";

// The datasets a trial's rank writes (results, curves, message, step losses): what write_outcome
// needs open, and what append() copies.
std::vector<std::string> result_dataset_names() {
  std::vector<std::string> names = {"message", "step_loss"};
  for (const auto& column : kResultColumns) names.push_back(column.name);
  for (const auto& column : kCurveColumns) names.push_back(column.name);
  return names;
}

// What `step` threw, or "" (rank 0's part of a collective step, for share_error).
template <class Step>
std::string rank0_error(Step&& step) {
  try {
    step();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// Every rank throws rank 0's error, if it has one: a decision all ranks take together, so that none
// is left waiting in a collective call.
void share_error(std::string error, MPI_Comm comm) {
  std::int64_t length = static_cast<std::int64_t>(error.size());
  MPI_Bcast(&length, 1, MPI_INT64_T, 0, comm);
  if (length == 0) return;
  error.resize(static_cast<std::size_t>(length));
  MPI_Bcast(error.data(), static_cast<int>(length), MPI_CHAR, 0, comm);
  fail(error);
}

// Opens a sweep file read-only, serially, and checks that this build reads its schema.
h5::File open_sweep_file(const std::string& path) {
  h5::silence_automatic_error_printing();
  h5::File file(h5::check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "opening sweep file " + path));
  if (!h5::has_attribute(file.get(), "schema_version")) {
    fail(path, ": not an sgdsweep file (no schema_version attribute)");
  }
  const std::int32_t schema = h5::read_attribute<std::int32_t>(file.get(), "schema_version").at(0);
  if (schema != kSchemaVersion) {
    fail(path, ": schema version ", schema, " (this build reads ", kSchemaVersion, ")");
  }
  return file;
}

// The trials of a file: its `trial` axis and every hyperparameter column.
std::vector<Trial> read_trials(hid_t file) {
  const std::vector<std::int64_t> index = h5::read_all<std::int64_t>(file, "trial");
  std::vector<Trial> trials(index.size());
  for (std::size_t i = 0; i < trials.size(); ++i) trials[i].index = index[i];
  const auto read_columns = [&](const auto& columns) {
    for (const auto& column : columns) {
      using T = decltype(column.get(Trial{}));
      const std::vector<T> values = h5::read_all<T>(file, column.name);
      for (std::size_t i = 0; i < trials.size(); ++i) column.set(trials[i], values[i]);
    }
  };
  read_columns(kEnumColumns);
  read_columns(kInt32Columns);
  read_columns(kInt64Columns);
  read_columns(kDoubleColumns);
  return trials;
}

}  // namespace

SweepFile SweepFile::create(const std::string& path, MPI_Comm comm, const spec::Spec& spec,
                            const std::vector<spec::Trial>& trials, const Provenance& provenance) {
  return create_file(path, comm, spec, trials, provenance, "", 0);
}

SweepFile SweepFile::create_file(const std::string& path, MPI_Comm comm, const spec::Spec& spec,
                                 const std::vector<spec::Trial>& trials, const Provenance& provenance,
                                 const std::string& copy_from, std::int64_t copied_rows) {
  h5::silence_automatic_error_printing();
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const std::string partial = path + ".partial";
  const auto trial_count = static_cast<hsize_t>(trials.size());
  const std::int32_t evaluations = spec.evaluations;

  SweepFile sweep;
  sweep.path_ = path;
  sweep.set_layout(trials, evaluations);
  const std::int64_t observations =
      trials.empty() ? 0 : sweep.step_loss_start_.back() + sweep.step_loss_size_.back();

  h5::PropertyList access(h5::check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"));
  h5::check_status(H5Pset_fapl_mpio(access.get(), comm, MPI_INFO_NULL), "H5Pset_fapl_mpio");
  sweep.file_ = h5::File(h5::check(H5Fcreate(partial.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()),
                                   "creating " + partial));
  const hid_t file = sweep.file_.get();

  // Provenance and the effective spec, as root attributes.
  h5::write_attribute(file, "Conventions", std::string("CF-1.8"));
  h5::write_attribute(file, "title", "sgdsweep sweep '" + spec.name + "'");
  h5::write_attribute(file, "sgdsweep_version", std::string(kVersion));
  h5::write_attribute(file, "sgdsweep_git", std::string(kGitDescribe));
  h5::write_attribute(file, "schema_version", kSchemaVersion);
  h5::write_attribute(file, "created_utc", log::utc_now());
  h5::write_attribute(file, "sweep_name", spec.name);
  h5::write_attribute(file, "spec_toml", spec.source_text);
  h5::write_attribute(file, "spec_path", spec.source_path);
  h5::write_attribute(file, "dataset", spec.dataset);
  h5::write_attribute(file, "train_source", provenance.train_source);
  h5::write_attribute(file, "test_source", provenance.test_source);
  h5::write_attribute(file, "train_examples", provenance.train_examples);
  h5::write_attribute(file, "test_examples", provenance.test_examples);
  h5::write_attribute(file, "eval_train_examples", provenance.eval_train_examples);
  h5::write_attribute(file, "ranks", provenance.ranks);
  h5::write_attribute(file, "device", spec.device);
  h5::write_attribute(file, "tf32", static_cast<std::int8_t>(spec.device == "cuda" && spec.tf32));
  h5::write_attribute(file, "deterministic", static_cast<std::int8_t>(spec.device != "cuda" || spec.deterministic));
  h5::write_attribute(file, "model_name", spec.model_name);
  h5::write_attribute(file, "seeds", spec.seeds);
  h5::write_attribute(file, "best_k", spec.best_k);
  h5::write_attribute(file, "evaluations", evaluations);
  const spec::MetricInfo metric = spec::metric_info(spec.model);
  h5::write_attribute(file, "loss_name", std::string(metric.loss_name));
  h5::write_attribute(file, "metric_name", std::string(metric.metric_name));
  h5::write_attribute(file, "metric_higher_is_better",
                      static_cast<std::int8_t>(metric.higher_is_better));

  // Dimension coordinates.
  const double zero = 0.0;
  const DatasetOptions zero_filled{&zero};
  h5::Dataset trial_axis = create_dataset(file, "trial", H5T_NATIVE_INT64, {trial_count},
                                          zero_filled, "trial index (grid order)");
  h5::Dataset eval_axis = create_dataset(
      file, "eval", H5T_NATIVE_INT32, {static_cast<hsize_t>(evaluations + 1)}, zero_filled,
      "evaluation index: 0 before training, k after round(k * steps / evaluations) updates");
  h5::check_status(H5DSset_scale(trial_axis.get(), "trial"), "H5DSset_scale trial");
  h5::check_status(H5DSset_scale(eval_axis.get(), "eval"), "H5DSset_scale eval");
  const auto attach = [&](const h5::Dataset& dataset, int dimension, const h5::Dataset& axis) {
    h5::check_status(H5DSattach_scale(dataset.get(), axis.get(), static_cast<unsigned>(dimension)),
                     "H5DSattach_scale");
  };

  auto add = [&](const std::string& name, h5::Dataset dataset) {
    sweep.datasets_.emplace(name, std::move(dataset));
    return sweep.datasets_.at(name).get();
  };
  auto trial_dataset = [&](const char* name, hid_t type, const DatasetOptions& options,
                           const char* description) {
    h5::Dataset dataset = create_dataset(file, name, type, {trial_count}, options, description);
    attach(dataset, 0, trial_axis);
    return add(name, std::move(dataset));
  };

  // Hyperparameters are all written at creation: their fill is never seen.
  for (const auto& column : kEnumColumns) trial_dataset(column.name, H5T_NATIVE_INT8, zero_filled, column.description);
  for (const auto& column : kInt32Columns) trial_dataset(column.name, H5T_NATIVE_INT32, zero_filled, column.description);
  for (const auto& column : kInt64Columns) trial_dataset(column.name, H5T_NATIVE_INT64, zero_filled, column.description);
  for (const auto& column : kDoubleColumns) trial_dataset(column.name, H5T_NATIVE_DOUBLE, zero_filled, column.description);
  for (const auto& column : kResultColumns) {
    trial_dataset(column.name, column.type(), {&column.fill, column.fill_means_missing, column.units},
                  column.description);
  }
  {
    h5::Datatype message_type = h5::fixed_string_type(kMessageLength);
    h5::Dataset message = create_dataset(file, "message", message_type.get(), {trial_count}, {},
                                         "why a trial diverged or failed (empty when finished)");
    attach(message, 0, trial_axis);
    add("message", std::move(message));
  }
  for (const auto& column : kCurveColumns) {
    h5::Dataset dataset = create_dataset(file, column.name, column.type(),
                                         {trial_count, static_cast<hsize_t>(evaluations + 1)},
                                         {&column.fill, column.fill_means_missing, column.units},
                                         column.description);
    attach(dataset, 0, trial_axis);
    attach(dataset, 1, eval_axis);
    add(column.name, std::move(dataset));
  }
  trial_dataset("step_loss_row_start", H5T_NATIVE_INT64, zero_filled,
                "first element of the trial's step_loss run");
  const hid_t row_size = trial_dataset("step_loss_row_size", H5T_NATIVE_INT64, zero_filled,
                                       "number of step_loss elements of the trial");
  h5::write_attribute(row_size, "sample_dimension", std::string("obs"));
  {
    // The ragged dimension: a netCDF "dimension without a variable" (1 byte per element, never
    // written; parallel HDF5 allocates every dataset at creation).
    const auto obs_count = static_cast<hsize_t>(observations);
    h5::Dataset obs = create_dataset(file, "obs", H5T_NATIVE_INT8, {obs_count},
                                     {nullptr, false, nullptr, false}, "");
    char not_a_variable[96];
    std::snprintf(not_a_variable, sizeof not_a_variable,
                  "This is a netCDF dimension but not a netCDF variable.%10llu",
                  static_cast<unsigned long long>(obs_count));
    h5::check_status(H5DSset_scale(obs.get(), not_a_variable), "H5DSset_scale obs");
    h5::Dataset step_loss = create_dataset(
        file, "step_loss", H5T_NATIVE_FLOAT, {obs_count}, {&kNaN, true, nullptr},
        "minibatch training loss at steps 0, e, 2e, ... (e = step_loss_every), ragged by trial");
    attach(step_loss, 0, obs);
    add("step_loss", std::move(step_loss));
  }

  // Categories as integer codes.
  const auto flags = [&](const char* name, std::vector<std::int8_t> values, std::vector<std::string> names) {
    h5::write_attribute(sweep.dataset(name), "flag_values", values);
    h5::write_attribute(sweep.dataset(name), "flag_meanings", flag_meanings(names));
  };
  flags("model", {0, 1, 2, 3}, {"autoencoder", "wrn", "lstm", "resnet"});
  flags("optimizer", {0, 1}, {"sgd", "momentum"});
  flags("budget_kind", {0, 1}, {"epochs", "steps"});
  flags("status", {0, 1, 2, 3}, {"pending", "finished", "diverged", "failed"});

  // Hyperparameters, the ragged layout and (append) the old trials' results: rank 0 writes,
  // independently, and every rank learns whether that worked before the collective flush.
  const auto write_rows = [&] {
    const std::vector<hsize_t> all{0}, count{trial_count};
    std::vector<std::int64_t> indices(trials.size());
    for (std::size_t i = 0; i < trials.size(); ++i) indices[i] = static_cast<std::int64_t>(i);
    h5::write_slab(trial_axis.get(), indices, all, count, "writing /trial");
    std::vector<std::int32_t> eval_indices(static_cast<std::size_t>(evaluations + 1));
    for (std::size_t k = 0; k < eval_indices.size(); ++k) eval_indices[k] = static_cast<std::int32_t>(k);
    h5::write_slab(eval_axis.get(), eval_indices, all, {eval_indices.size()}, "writing /eval");
    const auto write_column = [&](const auto& column) {
      using T = decltype(column.get(trials[0]));
      std::vector<T> values;
      for (const Trial& trial : trials) values.push_back(column.get(trial));
      h5::write_slab(sweep.dataset(column.name), values, all, count,
                     std::string("writing /") + column.name);
    };
    for (const auto& column : kEnumColumns) write_column(column);
    for (const auto& column : kInt32Columns) write_column(column);
    for (const auto& column : kInt64Columns) write_column(column);
    for (const auto& column : kDoubleColumns) write_column(column);
    h5::write_slab(sweep.dataset("step_loss_row_start"), sweep.step_loss_start_, all, count,
                   "writing /step_loss_row_start");
    h5::write_slab(sweep.dataset("step_loss_row_size"), sweep.step_loss_size_, all, count,
                   "writing /step_loss_row_size");
    if (!copy_from.empty()) sweep.copy_results(copy_from, copied_rows);
  };
  share_error(rank == 0 && trial_count > 0 ? rank0_error(write_rows) : "", comm);

  // Everything is on disk before the file gets its final name.
  h5::check_status(H5Fflush(file, H5F_SCOPE_GLOBAL), "flushing " + partial);
  MPI_Barrier(comm);
  std::string rename_error;
  if (rank == 0 && std::rename(partial.c_str(), path.c_str()) != 0) {
    rename_error = concat("cannot rename ", partial, " to ", path, ": ", std::strerror(errno));
  }
  share_error(rename_error, comm);
  return sweep;
}

void SweepFile::set_layout(const std::vector<spec::Trial>& trials, std::int32_t evaluations) {
  evaluations_ = evaluations;
  step_loss_start_.clear();
  step_loss_size_.clear();
  std::int64_t observations = 0;
  for (const Trial& trial : trials) {
    step_loss_start_.push_back(observations);
    step_loss_size_.push_back(spec::step_loss_count(trial));
    observations += spec::step_loss_count(trial);
  }
}

hid_t SweepFile::dataset(const std::string& name) const {
  const auto found = datasets_.find(name);
  if (found == datasets_.end()) fail(path_, ": no dataset /", name);
  return found->second.get();
}

namespace {
// The message as stored: UTF-8, cut at a character boundary to fit, NUL-padded.
std::vector<char> stored_message(const std::string& message) {
  std::size_t length = std::min(message.size(), kMessageLength - 1);
  while (length > 0 && length < message.size() &&
         (static_cast<unsigned char>(message[length]) & 0xC0) == 0x80) {
    --length;  // do not split a multi-byte character
  }
  std::vector<char> bytes(kMessageLength, '\0');
  std::copy(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(length), bytes.begin());
  return bytes;
}
}  // namespace

void SweepFile::write_outcome(const spec::Trial& trial, const spec::TrialOutcome& outcome, int rank,
                              int team_size) {
  const auto row = static_cast<hsize_t>(trial.index);
  const auto points = static_cast<std::size_t>(evaluations_ + 1);
  const std::string what = concat(path_, ": writing trial ", trial.index);

  // Exactly what goes to disk, so the checksum is that of the stored values.
  StoredTrial stored;
  stored.trial = trial;
  stored.outcome = outcome;
  stored.outcome.curve.resize(points, {-1, kNaN, kNaN, kNaN, kNaN});
  stored.outcome.step_losses.resize(static_cast<std::size_t>(step_loss_size_[trial.index]),
                                    std::numeric_limits<float>::quiet_NaN());
  const std::vector<char> message = stored_message(outcome.message);
  stored.outcome.message.assign(message.data());
  stored.rank = rank;
  stored.team_size = team_size;
  const bool finished = outcome.status == spec::TrialStatus::finished && !outcome.curve.empty();
  stored.final_train_loss = finished ? outcome.curve.back().train_loss : kNaN;
  stored.final_test_metric = finished ? outcome.curve.back().test_metric : kNaN;
  stored.checksum = outcome_checksum(stored);

  const std::vector<hsize_t> curve_offset{row, 0}, curve_count{1, points};
  std::vector<std::int64_t> steps;
  std::vector<double> epochs, rates, losses, metrics;
  for (const spec::CurvePoint& point : stored.outcome.curve) {
    steps.push_back(point.step);
    epochs.push_back(point.epoch);
    rates.push_back(point.learning_rate);
    losses.push_back(point.train_loss);
    metrics.push_back(point.test_metric);
  }
  h5::write_slab(dataset("eval_step"), steps, curve_offset, curve_count, what);
  h5::write_slab(dataset("eval_epoch"), epochs, curve_offset, curve_count, what);
  h5::write_slab(dataset("eval_learning_rate"), rates, curve_offset, curve_count, what);
  h5::write_slab(dataset("train_loss"), losses, curve_offset, curve_count, what);
  h5::write_slab(dataset("test_metric"), metrics, curve_offset, curve_count, what);
  if (!stored.outcome.step_losses.empty()) {
    h5::write_slab(dataset("step_loss"), stored.outcome.step_losses,
                   {static_cast<hsize_t>(step_loss_start_[trial.index])},
                   {stored.outcome.step_losses.size()}, what);
  }

  const std::vector<hsize_t> one{row}, single{1};
  const auto write_one = [&](const char* name, auto value) {
    h5::write_slab(dataset(name), std::vector<decltype(value)>{value}, one, single, what);
  };
  write_one("rank", static_cast<std::int32_t>(rank));
  write_one("team_size", static_cast<std::int32_t>(team_size));
  if (datasets_.count(kPackColumn)) write_one(kPackColumn, static_cast<std::int32_t>(outcome.pack));
  write_one("steps_completed", outcome.steps_completed);
  write_one("wall_seconds", outcome.wall_seconds);
  write_one("examples_per_second", outcome.examples_per_second);
  write_one("final_train_loss", stored.final_train_loss);
  write_one("final_test_metric", stored.final_test_metric);
  h5::Datatype message_type = h5::fixed_string_type(kMessageLength);
  h5::write_slab(dataset("message"), message_type.get(), message.data(), one, single, what);
  write_one("checksum", stored.checksum);
  // The commit marker: a trial whose status is not pending is complete on disk.
  write_one("status", static_cast<std::int8_t>(outcome.status));
}

void SweepFile::open_datasets() {
  for (const std::string& name : result_dataset_names()) {
    if (name == kPackColumn && !h5::has_dataset(file_.get(), name)) continue;  // a file from before packs
    datasets_.emplace(name, h5::open_dataset(file_.get(), name));
  }
}

void SweepFile::copy_results(const std::string& from, std::int64_t rows) {
  if (rows == 0) return;
  const h5::File old = open_sweep_file(from);
  const auto trial_rows = static_cast<std::size_t>(rows);
  const auto observations = static_cast<hsize_t>(
      trial_rows < step_loss_start_.size() ? step_loss_start_[trial_rows]
                                           : step_loss_start_.back() + step_loss_size_.back());
  for (const std::string& name : result_dataset_names()) {
    if (name == kPackColumn && !h5::has_dataset(old.get(), name)) continue;  // the old rows keep the fill
    // The whole old dataset in its stored type: HDF5 converts nothing, so every byte (NaN payloads,
    // message padding) arrives as it was, and the checksums still verify.
    const h5::Dataset source = h5::open_dataset(old.get(), name);
    const std::vector<hsize_t> dims = h5::extent(source.get());
    std::vector<hsize_t> expected = h5::extent(dataset(name));
    expected[0] = name == "step_loss" ? observations : static_cast<hsize_t>(rows);
    if (dims != expected) {
      fail(from, ": /", name, " has ", dims.empty() ? 0 : dims[0], " rows (of ", dims.size() > 1 ? dims[1] : 1,
           "), expected ", expected[0], " (of ", expected.size() > 1 ? expected[1] : 1, ") for its ", rows,
           " trials");
    }
    const h5::Datatype type(h5::check(H5Dget_type(source.get()), "H5Dget_type /" + name));
    std::size_t bytes = H5Tget_size(type.get());
    for (hsize_t d : dims) bytes *= d;
    std::vector<char> values(bytes);
    h5::check_status(H5Dread(source.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                     concat(from, ": reading /", name));
    h5::write_slab(dataset(name), type.get(), values.data(), std::vector<hsize_t>(dims.size(), 0), dims,
                   concat(path_, ".partial: copying /", name, " from ", from));
  }
}

namespace {

// Rank 0's verdict on an existing file: the trials to run, or the reason it cannot be resumed.
struct Verdict {
  std::string error;
  SweepFile::Resume resume;
  std::vector<std::int64_t> reset;  // committed or failed trials to set back to pending
};

Verdict inspect(const std::string& path, const spec::Spec& spec, const std::vector<Trial>& trials) {
  Verdict verdict;
  try {
    const SweepContents contents = read_sweep(path);
    if (contents.spec_toml != spec.source_text) {
      fail(path, " was made from a different spec (its text differs from ", spec.source_path,
           "); resume with the spec it was made from (the file's spec_toml attribute holds it)");
    }
    if (contents.trials.size() != trials.size()) {
      fail(path, " holds ", contents.trials.size(), " trials; the spec expands to ", trials.size(),
           " with the data here (a different data set or limit?)");
    }
    for (std::size_t i = 0; i < trials.size(); ++i) {
      const StoredTrial& stored = contents.trials[i];
      const Trial& trial = trials[i];
      if (stored.trial.batch_size != trial.batch_size || stored.trial.steps != trial.steps ||
          stored.trial.seed != trial.seed || stored.trial.optimizer != trial.optimizer ||
          stored.trial.log2_effective_learning_rate != trial.log2_effective_learning_rate ||
          stored.trial.microbatch != trial.microbatch) {
        fail(path, ": trial ", i, " differs from the spec's trial ", i,
             " (batch size, steps, seed, optimizer, rate or microbatch); was the data changed?");
      }
      switch (stored.outcome.status) {
        case spec::TrialStatus::pending:
          verdict.resume.to_run.push_back(static_cast<std::int64_t>(i));
          break;
        case spec::TrialStatus::failed:
          ++verdict.resume.failed;
          verdict.resume.to_run.push_back(static_cast<std::int64_t>(i));
          verdict.reset.push_back(static_cast<std::int64_t>(i));
          break;
        case spec::TrialStatus::finished:
        case spec::TrialStatus::diverged:
          if (stored.checksum == outcome_checksum(stored)) {
            ++verdict.resume.kept;
          } else {
            ++verdict.resume.corrupt;
            verdict.resume.to_run.push_back(static_cast<std::int64_t>(i));
            verdict.reset.push_back(static_cast<std::int64_t>(i));
          }
          break;
      }
    }
  } catch (const std::exception& e) {
    verdict.error = e.what();
  }
  return verdict;
}

// Rank 0's check for --append: the file's trials are the first of `trials`, column by column, and
// the spec agrees with the file's on what the columns do not record. Returns the file's trial
// count and whether its spec text is `spec`'s.
std::pair<std::int64_t, bool> check_appendable(const std::string& path, const spec::Spec& spec,
                                               const std::vector<Trial>& trials) {
  const h5::File file = open_sweep_file(path);
  const std::string stored_spec = h5::read_string_attribute(file.get(), "spec_toml");
  const std::vector<Trial> stored = read_trials(file.get());
  const std::string how = concat("--append needs the spec's grid to start with the file's ", stored.size(),
                                 " trials (add trials with [[grid.extend]] entries; docs/spec.md)");
  if (stored.size() > trials.size()) {
    fail(path, " holds ", stored.size(), " trials, ", spec.source_path, " expands to only ", trials.size(),
         " with the data here; ", how);
  }
  for (std::size_t i = 0; i < stored.size(); ++i) {
    const auto compare = [&](const auto& columns) {
      for (const auto& column : columns) {
        // The predicted cost is the engine's estimate, not a property of the trial: a newer
        // engine may estimate differently, and the new file holds its estimates.
        if (std::string(column.name) == "predicted_cost") continue;
        const auto in_file = column.get(stored[i]);
        const auto in_spec = column.get(trials[i]);
        if (std::memcmp(&in_file, &in_spec, sizeof in_file) != 0) {
          fail(path, ": trial ", i, " differs in column ", column.name, ": ", +in_file, " in the file, ", +in_spec,
               " in ", spec.source_path, "'s trial ", i, "; ", how);
        }
      }
    };
    compare(kEnumColumns);
    compare(kInt32Columns);
    compare(kInt64Columns);
    compare(kDoubleColumns);
  }
  std::string differing;
  for (const std::string& section : spec::unrecorded_differences(stored_spec, spec.source_text)) {
    differing += (differing.empty() ? "" : ", ") + section;
  }
  if (!differing.empty()) {
    fail(path, ": ", spec.source_path, " differs from the file's spec (its spec_toml attribute) in ", differing,
         ", which the trial columns do not record: the new trials would not be comparable with the old "
         "ones. Append with the file's spec_toml followed by [[grid.extend]] entries");
  }
  return {static_cast<std::int64_t>(stored.size()), stored_spec == spec.source_text};
}

void broadcast_vector(std::vector<std::int64_t>& values, MPI_Comm comm) {
  std::int64_t size = static_cast<std::int64_t>(values.size());
  MPI_Bcast(&size, 1, MPI_INT64_T, 0, comm);
  values.resize(static_cast<std::size_t>(size));
  if (size > 0) MPI_Bcast(values.data(), static_cast<int>(size), MPI_INT64_T, 0, comm);
}

}  // namespace

SweepFile SweepFile::reopen(const std::string& path, MPI_Comm comm, const spec::Spec& spec,
                            const std::vector<spec::Trial>& trials, Resume& resume) {
  h5::silence_automatic_error_printing();
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  Verdict verdict;
  if (rank == 0) verdict = inspect(path, spec, trials);
  share_error(verdict.error, comm);  // every rank learns the verdict
  broadcast_vector(verdict.resume.to_run, comm);
  std::int64_t counts[3] = {verdict.resume.kept, verdict.resume.corrupt, verdict.resume.failed};
  MPI_Bcast(counts, 3, MPI_INT64_T, 0, comm);
  resume = verdict.resume;
  resume.kept = counts[0];
  resume.corrupt = counts[1];
  resume.failed = counts[2];

  SweepFile sweep;
  sweep.path_ = path;
  h5::PropertyList access(h5::check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"));
  h5::check_status(H5Pset_fapl_mpio(access.get(), comm, MPI_INFO_NULL), "H5Pset_fapl_mpio");
  sweep.file_ = h5::File(h5::check(H5Fopen(path.c_str(), H5F_ACC_RDWR, access.get()), "reopening " + path));
  sweep.set_layout(trials, spec.evaluations);
  sweep.open_datasets();
  // Committed-but-corrupt and failed trials go back to pending before anyone reruns them.
  const auto reset = [&] {
    for (std::int64_t index : verdict.reset) {
      h5::write_slab(sweep.dataset("status"), std::vector<std::int8_t>{0}, {static_cast<hsize_t>(index)}, {1},
                     concat(path, ": resetting trial ", index));
    }
  };
  share_error(rank == 0 ? rank0_error(reset) : "", comm);
  return sweep;
}

SweepFile SweepFile::append(const std::string& path, MPI_Comm comm, const spec::Spec& spec,
                            const std::vector<spec::Trial>& trials, const Provenance& provenance,
                            Resume& resume) {
  h5::silence_automatic_error_printing();
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  // The new file is made by the collective create path of a fresh sweep (parallel HDF5 needs every
  // rank for the metadata, and this keeps one layout code), and rank 0 copies the old rows into it
  // with independent raw-data writes, like a trial's, between writing the hyperparameters and the
  // flush and rename. So the old file is read once, serially, by rank 0 only, which works for any
  // number of ranks, and nothing but the rename touches it.
  std::int64_t found[2] = {0, 0};  // the file's trials; 1 if its spec text is this spec's
  std::string error;
  if (rank == 0) {
    error = rank0_error([&] {
      const auto [rows, same_spec] = check_appendable(path, spec, trials);
      found[0] = rows;
      found[1] = same_spec ? 1 : 0;
    });
  }
  share_error(error, comm);
  MPI_Bcast(found, 2, MPI_INT64_T, 0, comm);
  if (found[1] == 0) create_file(path, comm, spec, trials, provenance, path, found[0]).close();
  SweepFile sweep = reopen(path, comm, spec, trials, resume);
  resume.added = static_cast<std::int64_t>(trials.size()) - found[0];
  return sweep;
}

void SweepFile::close() {
  datasets_.clear();
  file_.close("closing " + path_);
}

std::uint64_t outcome_checksum(const StoredTrial& stored) {
  // Every value write_outcome stores except the checksum itself, in this order (native
  // little-endian bytes; docs/hdf5-schema.md gives the recipe for other readers).
  Fnv1a64 hash;
  const auto& curve = stored.outcome.curve;
  for (const spec::CurvePoint& point : curve) hash.update(&point.step, sizeof point.step);
  for (const spec::CurvePoint& point : curve) hash.update(&point.epoch, sizeof(double));
  for (const spec::CurvePoint& point : curve) hash.update(&point.learning_rate, sizeof(double));
  for (const spec::CurvePoint& point : curve) hash.update(&point.train_loss, sizeof(double));
  for (const spec::CurvePoint& point : curve) hash.update(&point.test_metric, sizeof(double));
  hash.update(stored.outcome.step_losses.data(), stored.outcome.step_losses.size() * sizeof(float));
  const auto status = static_cast<std::int8_t>(stored.outcome.status);
  hash.update(&status, 1);
  hash.update(&stored.outcome.steps_completed, sizeof(std::int64_t));
  hash.update(&stored.final_train_loss, sizeof(double));
  hash.update(&stored.final_test_metric, sizeof(double));
  hash.update(&stored.rank, sizeof(std::int32_t));
  hash.update(&stored.team_size, sizeof(std::int32_t));
  hash.update(&stored.outcome.wall_seconds, sizeof(double));
  hash.update(&stored.outcome.examples_per_second, sizeof(double));
  const std::vector<char> message = stored_message(stored.outcome.message);
  hash.update(message.data(), message.size());
  return hash.value();
}

SweepContents read_sweep(const std::string& path) {
  const h5::File file = open_sweep_file(path);
  const hid_t f = file.get();
  SweepContents contents;
  contents.spec_toml = h5::read_string_attribute(f, "spec_toml");
  contents.sweep_name = h5::read_string_attribute(f, "sweep_name");
  contents.engine_version = h5::read_string_attribute(f, "sgdsweep_version");
  contents.metric_name = h5::read_string_attribute(f, "metric_name");
  contents.loss_name = h5::read_string_attribute(f, "loss_name");
  contents.metric_higher_is_better = h5::read_attribute<std::int8_t>(f, "metric_higher_is_better").at(0) != 0;
  contents.evaluations = h5::read_attribute<std::int32_t>(f, "evaluations").at(0);
  contents.best_k = h5::read_attribute<std::int32_t>(f, "best_k").at(0);
  contents.seeds = h5::read_attribute<std::int32_t>(f, "seeds").at(0);
  contents.train_examples = h5::read_attribute<std::int64_t>(f, "train_examples").at(0);
  contents.test_examples = h5::read_attribute<std::int64_t>(f, "test_examples").at(0);

  const std::vector<Trial> trials = read_trials(f);
  const std::size_t trial_count = trials.size();
  contents.trials.resize(trial_count);
  for (std::size_t i = 0; i < trial_count; ++i) contents.trials[i].trial = trials[i];

  const auto status = h5::read_all<std::int8_t>(f, "status");
  const auto rank = h5::read_all<std::int32_t>(f, "rank");
  const auto team_size = h5::read_all<std::int32_t>(f, "team_size");
  const auto pack = h5::has_dataset(f, kPackColumn) ? h5::read_all<std::int32_t>(f, kPackColumn)
                                                    : std::vector<std::int32_t>(trial_count, -1);
  const auto steps_completed = h5::read_all<std::int64_t>(f, "steps_completed");
  const auto wall_seconds = h5::read_all<double>(f, "wall_seconds");
  const auto examples_per_second = h5::read_all<double>(f, "examples_per_second");
  const auto final_train_loss = h5::read_all<double>(f, "final_train_loss");
  const auto final_test_metric = h5::read_all<double>(f, "final_test_metric");
  const auto checksum = h5::read_all<std::uint64_t>(f, "checksum");
  const auto message = h5::read_fixed_strings(f, "message");
  const auto eval_step = h5::read_all<std::int64_t>(f, "eval_step");
  const auto eval_epoch = h5::read_all<double>(f, "eval_epoch");
  const auto eval_learning_rate = h5::read_all<double>(f, "eval_learning_rate");
  const auto train_loss = h5::read_all<double>(f, "train_loss");
  const auto test_metric = h5::read_all<double>(f, "test_metric");
  const auto row_start = h5::read_all<std::int64_t>(f, "step_loss_row_start");
  const auto row_size = h5::read_all<std::int64_t>(f, "step_loss_row_size");
  const auto step_loss = h5::read_all<float>(f, "step_loss");
  const auto points = static_cast<std::size_t>(contents.evaluations + 1);
  for (std::size_t i = 0; i < trial_count; ++i) {
    StoredTrial& stored = contents.trials[i];
    stored.outcome.status = static_cast<spec::TrialStatus>(status[i]);
    stored.outcome.message = message[i];
    stored.outcome.steps_completed = steps_completed[i];
    stored.outcome.wall_seconds = wall_seconds[i];
    stored.outcome.examples_per_second = examples_per_second[i];
    stored.rank = rank[i];
    stored.team_size = team_size[i];
    stored.outcome.pack = pack[i];
    stored.checksum = checksum[i];
    stored.final_train_loss = final_train_loss[i];
    stored.final_test_metric = final_test_metric[i];
    for (std::size_t k = 0; k < points; ++k) {
      const std::size_t at = i * points + k;
      stored.outcome.curve.push_back(
          {eval_step[at], eval_epoch[at], eval_learning_rate[at], train_loss[at], test_metric[at]});
    }
    stored.outcome.step_losses.assign(step_loss.begin() + row_start[i],
                                      step_loss.begin() + row_start[i] + row_size[i]);
  }
  return contents;
}

}  // namespace sgdsweep::store
