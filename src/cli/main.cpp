// `sgdsweep`: the command line. Parses flags with CLI11 and hands over to sweep/; nothing else.
#include <mpi.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "comm/communicator.hpp"
#include "ops/registry.hpp"
#include "spec/spec.hpp"
#include "sweep/plan_command.hpp"
#include "sweep/runner.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/progress.hpp"
#include "util/version.hpp"

namespace {

constexpr const char* kDescription =
    "sgdsweep — sweeps of learning rate × seed × batch size × optimizer for \"On the "
    "Generalization Benefit of Noise in SGD\" (Smith, Elsen & De, ICML 2020).\n"
    "Run it under mpirun/srun: the trials of the grid are divided among all ranks (one rank per "
    "core), trials with large batches run data-parallel on teams of ranks, and every curve goes "
    "into one parallel HDF5 file. Read that file with sgdsweep-analyze, or with h5py "
    "(docs/hdf5-schema.md). docs/running.md explains launching, teams and resuming.";

int run_command(const std::string& spec_path, const std::string& device, std::int64_t pack,
                const sgdsweep::sweep::RunOptions& options, const sgdsweep::comm::Communicator& world) {
  using namespace sgdsweep;
  spec::Spec spec;
  // Every rank reads and validates the same file, so every rank fails alike on a bad spec.
  try {
    spec = spec::load_spec(spec_path);
    spec::apply_overrides(spec, device, pack);
  } catch (const Error& e) {
    if (world.rank() == 0) log::error(e.what());
    return 1;
  }
  const sweep::RunSummary summary = sweep::run_sweep(spec, options, world);
  if (world.rank() == 0) {
    log::info("done: ", summary.trials, " trials (", summary.finished, " finished, ", summary.diverged,
              " diverged, ", summary.failed, " failed) in ", sgdsweep::format_duration(summary.wall_seconds),
              "; results in ", options.output_path);
    const sweep::TimeSplit& t = summary.time;
    const double total = summary.ranks * summary.wall_seconds;
    const auto share = [&](double seconds) {
      char text[32];
      std::snprintf(text, sizeof text, "%.3g %%", 100 * seconds / total);
      return std::string(text);
    };
    log::info("time of ", summary.ranks, " rank(s) × ", sgdsweep::format_duration(summary.wall_seconds),
              ": training ", share(t.training), ", setup (data, file, plan) ", share(t.setup), ", HDF5 writes ",
              share(t.hdf5), ", scheduling ", share(t.scheduling), ", idle at the end ", share(t.idle));
  }
  return summary.failed > 0 ? 2 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int exit_code = 0;
  {
    sgdsweep::ops::Runtime runtime;
    sgdsweep::comm::Communicator world(MPI_COMM_WORLD);
    sgdsweep::log::configure(sgdsweep::log::Level::info, world.size() > 1 ? world.rank() : -1);

    CLI::App app{kDescription, "sgdsweep"};
    std::string devices;
    for (const std::string& name : sgdsweep::ops::available_devices()) devices += (devices.empty() ? "" : ", ") + name;
    app.set_version_flag("--version", std::string(sgdsweep::kVersion) + " (" + sgdsweep::kGitDescribe +
                                          "); devices built in: " + devices + "\n");
    app.require_subcommand(1);
    app.fallthrough();  // --log-level works before or after the subcommand
    std::string log_level = "info";
    app.add_option("--log-level", log_level,
                   "error | warn | info | debug (default: info: progress on rank 0 and a summary; "
                   "debug: a line per trial and per evaluation)")
        ->check(CLI::IsMember({"error", "warn", "info", "debug"}));

    CLI::App* run = app.add_subcommand(
        "run",
        "Run every trial of a spec and write the sweep file.\n"
        "Example: mpirun -np 2 sgdsweep run input/fashion-mnist-demo.toml --out demo.h5");
    std::string spec_path;
    sgdsweep::sweep::RunOptions options;
    run->add_option("spec", spec_path, "sweep spec (TOML; every key is documented in docs/spec.md)")
        ->required()
        ->check(CLI::ExistingFile);
    run->add_option("--out,-o", options.output_path,
                    "HDF5 file to create (written as FILE.partial until its layout is on disk)")
        ->required();
    CLI::Option* overwrite =
        run->add_flag("--overwrite", options.overwrite, "replace FILE if it exists (otherwise it is an error)");
    CLI::Option* resume =
        run->add_flag("--resume", options.resume,
                      "continue FILE after a crash, a time limit or a killed rank: keep every committed trial "
                      "(checksums verified), run the pending, failed and corrupt ones; needs the same spec")
            ->excludes(overwrite);
    run->add_flag("--append", options.append,
                  "add trials to FILE (grid refinement): SPEC's grid must start with FILE's trials, e.g. "
                  "FILE's spec_toml followed by [[grid.extend]] entries (sgdsweep-analyze --refine writes "
                  "one). FILE is rebuilt as FILE.partial with the old trials' rows copied byte for byte and "
                  "renamed over FILE (a crash before that leaves FILE as it was); then it goes on like "
                  "--resume")
        ->excludes(overwrite)
        ->excludes(resume);
    std::string device;
    std::int64_t pack = 0;
    const auto device_option = [&](CLI::App* command) {
      command->add_option("--device", device,
                          "host | cuda: overrides [sweep] device of the spec (cuda: each rank uses GPU "
                          "(node-local rank mod GPUs); needs a build with the CUDA backend)")
          ->check(CLI::IsMember({"host", "cuda"}));
      command->add_option("--pack", pack,
                          "overrides [parallel] pack: the most trials one rank trains together (not ResNet-50) "
                          "as one packed step (1 … 4096; each trial gets the bits it gets alone; a GPU needs "
                          "packs to fill it, the host gains nothing, docs/gpu.md)")
          ->check(CLI::Range(1, 4096));
    };
    device_option(run);

    CLI::App* plan = app.add_subcommand(
        "plan",
        "Predict a sweep without training: trials, cost in core- or GPU-hours, the team layout, "
        "makespan and efficiency on P ranks.\n"
        "Example: sgdsweep plan input/paper/fig1-wrn16-4-bn.toml --ranks 4096");
    std::string plan_spec;
    sgdsweep::sweep::PlanOptions plan_options;
    plan->add_option("spec", plan_spec, "sweep spec (TOML)")->required()->check(CLI::ExistingFile);
    plan->add_option("--ranks,-n", plan_options.ranks, "MPI ranks to plan for (1 … 1,000,000)")
        ->required()
        ->check(CLI::Range(1, 1000000));
    plan->add_option("--calibrate", plan_options.calibration_file,
                     "a finished sweep file: fit the cost model's rate to its measured trial times")
        ->check(CLI::ExistingFile);
    device_option(plan);
    plan->callback([&] {
      plan_options.device = device;
      plan_options.pack = pack;
    });

    bool parsed = false;
    try {
      app.parse(argc, argv);
      parsed = true;
    } catch (const CLI::ParseError& e) {
      // Every rank parses the same arguments; only rank 0 speaks.
      exit_code = world.rank() == 0 ? app.exit(e) : e.get_exit_code();
    }
    if (parsed) {
      sgdsweep::log::configure(sgdsweep::log::parse_level(log_level), world.size() > 1 ? world.rank() : -1);
      try {
        if (app.got_subcommand(run)) {
          exit_code = run_command(spec_path, device, pack, options, world);
        } else if (app.got_subcommand(plan)) {
          if (world.rank() == 0) exit_code = sgdsweep::sweep::plan_command(plan_spec, plan_options, std::cout);
        }
      } catch (const sgdsweep::sweep::CollectiveError& e) {
        sgdsweep::log::error(e.what());
        exit_code = 1;
      } catch (const std::exception& e) {
        // Only this rank knows: the others may be waiting in a collective, so end the job.
        sgdsweep::log::error(e.what(), " (aborting all ranks)");
        MPI_Abort(MPI_COMM_WORLD, 1);
      }
    }
  }
  MPI_Finalize();
  return exit_code;
}
