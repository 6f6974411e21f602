#!/usr/bin/env python3
"""`sgdsweep run --append`: grid refinement into an existing sweep file.

Runs SPEC on 2 ranks, then appends an extended spec (SPEC's stored text followed by a
[[grid.extend]] entry with new rates for one configuration and one rate it already has) on 2 ranks,
and checks that:
  - the first N rows of every dataset are byte-identical to the original file (hyperparameters,
    results, curves, messages, checksums, status, the old step-loss rows), and the rest of the
    layout is that of N + M trials;
  - the M new trials are finished, with the expected hyperparameters, and the file passes
    check_sweep.py (step_loss rows, checksums, curves);
  - the appended file equals a from-scratch one-rank run of the extended spec (values, not
    checksums: check_sweep.py --compare);
  - appending the same spec again is a resume with nothing to run;
  - specs whose grid or model does not match the file are refused with a clear message and leave
    the file byte-identical (sha256), and --append excludes --resume and --overwrite.

  append_test.py --sgdsweep BIN --mpiexec MPIEXEC --spec tests/integration/tiny.toml --work DIR
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_sweep  # noqa: E402

# The extension: momentum at B = 64 gets two smaller rates; -4 is in tiny.toml's grid already.
EXTENSION = """
# Added by append_test.py: new rates for one configuration, and one it already has (skipped).
[[grid.extend]]
optimizer = "momentum"
batch_size = 64
log2_effective_lr = [-6, -5, -4]
"""
NEW_RATES = [-6.0, -6.0, -5.0, -5.0]  # rows N … N+3: rate × seed
NEW_SEEDS = [0, 1, 0, 1]
# Columns an extended trial shares with the grid trial of the same configuration and seed index.
SHARED = ("model", "optimizer", "budget_kind", "momentum", "batch_size", "seed_index", "seed", "steps",
          "steps_per_epoch", "epochs", "gamma", "warmup_epochs", "warmup_steps", "l2", "clip_norm",
          "microbatch", "evaluations", "step_loss_every", "predicted_cost")


class Failures(check_sweep.Checker):
    def check(self, ok, message):
        """Records a failure unless `ok`; returns `ok`."""
        if not ok:
            self.fail(message)
        return ok


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(args, *arguments, ranks=2):
    command = [args.mpiexec, "-np", str(ranks), args.sgdsweep, "run", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    print(f"$ {' '.join(command)}  -> exit {result.returncode}")
    return result


def raw(dataset, rows=None):
    """A dataset's bytes (all of it, or its first `rows` along dimension 0)."""
    values = dataset[()] if rows is None else dataset[:rows]
    return np.ascontiguousarray(values).tobytes()


def compare_old_rows(original, appended, added, failures):
    """Every dataset of `original` is the first rows of the same dataset of `appended`."""
    with h5py.File(original, "r", locking=False) as a, h5py.File(appended, "r", locking=False) as b:
        n = a["trial"].shape[0]
        failures.check(b["trial"].shape[0] == n + added,
                       f"{appended} has {b['trial'].shape[0]} trials, expected {n} + {added}")
        failures.check(set(a) == set(b), f"datasets differ: {sorted(set(a) ^ set(b))}")
        old_observations = a["step_loss"].shape[0]
        compared = 0
        for name, old in a.items():
            if name not in b or name == "obs":  # obs is a dimension without data: never written
                continue
            new = b[name]
            if name == "eval":
                failures.check(raw(old) == raw(new), "/eval changed")
            elif name == "step_loss":
                failures.check(raw(old) == raw(new, old_observations),
                               f"the old trials' step_loss rows (elements 0 … {old_observations - 1}) changed")
            else:  # a per-trial dataset: [trial] or [trial, eval]
                same_shape = old.shape[1:] == new.shape[1:] and new.shape[0] == n + added
                if failures.check(same_shape, f"/{name}: shape {old.shape} -> {new.shape}"):
                    rows = np.flatnonzero([raw(old[i:i + 1]) != raw(new[i:i + 1]) for i in range(n)])
                    failures.check(len(rows) == 0, f"/{name}: old trial(s) {rows[:10].tolist()} changed")
            compared += 1
        print(f"{compared} datasets: the first {n} trials are byte-identical to {original}")
        return n


def check_new_trials(appended, n, failures):
    with h5py.File(appended, "r", locking=False) as f:
        col = {name: f[name][()] for name in f if f[name].ndim == 1 and f[name].shape[0] == f["trial"].shape[0]}
        new = np.arange(n, n + len(NEW_RATES))
        failures.check(np.array_equal(col["trial"][new], new), "the new trials' /trial indices are wrong")
        failures.check(np.all(col["status"][new] == 1), f"new trials not all finished: {col['status'][new]}")
        failures.check(np.array_equal(col["log2_effective_learning_rate"][new], NEW_RATES),
                       f"new rates {col['log2_effective_learning_rate'][new]}, expected {NEW_RATES}")
        failures.check(np.array_equal(col["seed_index"][new], NEW_SEEDS),
                       f"new seed indices {col['seed_index'][new]}, expected {NEW_SEEDS}")
        for i, rate, seed in zip(new, NEW_RATES, NEW_SEEDS):
            # The grid trial of the same configuration and seed index: momentum (code 1), B = 64.
            twin = np.flatnonzero((col["optimizer"][:n] == 1) & (col["batch_size"][:n] == 64) &
                                  (col["seed_index"][:n] == seed))[0]
            for name in SHARED:
                failures.check(col[name][i] == col[name][twin],
                               f"new trial {i}: {name} = {col[name][i]}, the grid's momentum B=64 trial "
                               f"{twin} has {col[name][twin]}")
            effective = np.exp2(np.float64(rate))
            failures.check(col["effective_learning_rate"][i] == effective, f"new trial {i}: effective rate")
            failures.check(col["learning_rate"][i] == effective * (1.0 - col["momentum"][i]),
                           f"new trial {i}: learning_rate is not eps_eff (1 - m)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sgdsweep", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    for name, value in (("OMPI_ALLOW_RUN_AS_ROOT", "1"), ("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"),
                        ("OMPI_MCA_rmaps_base_oversubscribe", "1"), ("HDF5_USE_FILE_LOCKING", "FALSE")):
        os.environ.setdefault(name, value)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    original = os.path.join(args.work, "original.h5")
    appended = os.path.join(args.work, "appended.h5")
    scratch = os.path.join(args.work, "scratch.h5")
    failures = Failures()

    result = run(args, args.spec, "--out", original)
    if not failures.check(result.returncode == 0, f"the first run failed:\n{result.stderr}"):
        return 1
    shutil.copyfile(original, appended)
    with h5py.File(original, "r", locking=False) as f:
        stored = f.attrs["spec_toml"]  # what sgdsweep-analyze --refine starts from
    extended = os.path.join(args.work, "extended.toml")
    with open(extended, "w") as f:
        f.write(stored + EXTENSION)

    # Refusals first: the file must come out byte-identical.
    before = sha256(appended)
    refusals = [
        ("shifted grid", stored.replace("{ from = -4, to = -3 }", "{ from = -5, to = -3 }"),
         ["trial 0 differs in column log2_effective_learning_rate", "-4 in the file, -5 in", "[[grid.extend]]"]),
        ("another model",
         stored.replace('name = "autoencoder"', 'name = "autoencoder"\ninit = "glorot"') + EXTENSION,
         ["differs from the file's spec", "[model]"]),
    ]
    for name, text, fragments in refusals:
        if not failures.check(text != stored, f"{name}: the spec edit did not apply"):
            continue
        bad = os.path.join(args.work, name.replace(" ", "-") + ".toml")
        with open(bad, "w") as f:
            f.write(text)
        result = run(args, bad, "--out", appended, "--append")
        print(f"  {name}: {(result.stderr.strip().splitlines() or ['(no message)'])[0]}")
        failures.check(result.returncode != 0, f"{name}: --append succeeded")
        for fragment in fragments:
            failures.check(fragment in result.stderr, f"{name}: the message lacks {fragment!r}:\n{result.stderr}")
        failures.check(sha256(appended) == before, f"{name}: the refused --append changed the file")
        failures.check(not os.path.exists(appended + ".partial"), f"{name}: a .partial file was left behind")
    for other in ("--resume", "--overwrite"):
        result = run(args, extended, "--out", appended, "--append", other, ranks=1)
        failures.check(result.returncode != 0 and "excludes" in result.stderr + result.stdout,
                       f"--append {other} was not refused by the command line:\n{result.stderr}{result.stdout}")
    failures.check(sha256(appended) == before, "a refused command changed the file")

    result = run(args, extended, "--out", appended, "--append")
    if not failures.check(result.returncode == 0, f"--append failed:\n{result.stderr}"):
        return 1
    print("  " + next((line for line in result.stderr.splitlines() if "appending" in line), "(no appending line)"))
    failures.check("appending 4 new trials" in result.stderr, "the log does not say 4 new trials are appended")
    for leftover in (appended + ".partial", appended + ".lock"):
        failures.check(not os.path.exists(leftover), f"{leftover} was left behind")
    with h5py.File(appended, "r", locking=False) as f:
        failures.check(f.attrs["spec_toml"] == stored + EXTENSION, "spec_toml is not the extended spec")
        failures.check(int(f.attrs["ranks"]) == 2, f"ranks attribute {f.attrs['ranks']}, expected 2")

    n = compare_old_rows(original, appended, len(NEW_RATES), failures)
    check_new_trials(appended, n, failures)
    failures.failures += check_sweep.check_file(appended, n + len(NEW_RATES), True)

    result = run(args, extended, "--out", scratch, ranks=1)
    if failures.check(result.returncode == 0, f"the from-scratch run failed:\n{result.stderr}"):
        failures.failures += check_sweep.compare(scratch, appended)

    # The same extended spec again: nothing to add, nothing to run, nothing changes.
    snapshot = os.path.join(args.work, "appended-once.h5")
    shutil.copyfile(appended, snapshot)
    result = run(args, extended, "--out", appended, "--append")
    nothing = result.returncode == 0 and "appending 0 new trials" in result.stderr and "0 to run" in result.stderr
    failures.check(nothing, f"appending the same spec again was not a resume with nothing to run:\n{result.stderr}")
    compare_old_rows(snapshot, appended, 0, failures)

    return failures.finish("append_test")


if __name__ == "__main__":
    sys.exit(main())
