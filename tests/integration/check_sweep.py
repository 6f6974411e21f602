#!/usr/bin/env python3
"""Integration check of a sweep file read back with h5py (exit status 1 and messages on stderr on failure).

  check_sweep.py FILE.h5 [--expect-trials N] [--require-finished] [--pack MIN MAX]
      the file opens; N trials; every trial finished (with --require-finished); the layout is
      consistent (scalar numeric root attributes, the ragged step_loss on its `obs` dimension,
      _FillValue where the fill means missing); every finished trial's curves are finite, its
      training loss falls (last evaluation below evaluation 0, last recorded minibatch loss below
      the first) and final_* are its last evaluation; diverged and failed trials have NaN final_*,
      padded curves and a message; spec_toml is non-empty; every committed trial's checksum,
      recomputed in Python, equals the stored one; committed trials record a pack >= 1 (and with
      --pack, at most MAX, and some of MIN or more).
  check_sweep.py --compare A.h5 B.h5
      the two files hold bitwise-identical results for every trial (e.g. -np 1 against -np 2);
      rank, timings and the checksum (which covers them) may differ, and so may the "rank R: "
      prefix of a failed trial's message.
"""
import argparse
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "postprocess"))
import sweepfile  # noqa: E402  (postprocess/sweepfile.py)

MAX_REPORTED = 20  # failures printed per check before "... and N more"

# Per-trial columns that legitimately differ between two runs of the same spec (the checksum
# covers rank, team size and the timings, so it differs too).
RUN_DEPENDENT = {"rank", "team_size", "pack", "wall_seconds", "examples_per_second", "checksum"}
RESULT_COLUMNS = ("final_train_loss", "final_test_metric", "status", "steps_completed", "message")
# The datasets whose fill means "missing", with the _FillValue they must declare (NaN: any NaN).
MISSING_FILL = {"rank": -1, "team_size": -1, "pack": -1, "steps_completed": -1, "wall_seconds": np.nan,
                "examples_per_second": np.nan, "final_train_loss": np.nan,
                "final_test_metric": np.nan, "eval_step": -1, "eval_epoch": np.nan,
                "eval_learning_rate": np.nan, "train_loss": np.nan, "test_metric": np.nan,
                "step_loss": np.nan}
UNITS = {"wall_seconds": "s", "examples_per_second": "s-1"}
NUMERIC_ROOT_ATTRIBUTES = ("schema_version", "evaluations", "seeds", "best_k", "ranks",
                           "train_examples", "test_examples", "eval_train_examples",
                           "metric_higher_is_better")
NOT_A_VARIABLE = "This is a netCDF dimension but not a netCDF variable."
FAILED_PREFIX = re.compile(r"rank (\d+): ")


class Checker:
    def __init__(self):
        self.failures = 0

    def fail(self, message):
        self.failures += 1
        if self.failures <= MAX_REPORTED:
            print(f"FAIL: {message}", file=sys.stderr)

    def finish(self, what):
        if self.failures > MAX_REPORTED:
            print(f"FAIL: ... and {self.failures - MAX_REPORTED} more", file=sys.stderr)
        if self.failures:
            print(f"{what}: {self.failures} failure(s)", file=sys.stderr)
            return 1
        print(f"{what}: ok")
        return 0


def open_or_none(path, check):
    try:
        return sweepfile.open_sweep(path)
    except (OSError, KeyError, ValueError) as e:
        check.fail(f"{path}: cannot be read as a sweep file with h5py: {e}")
        return None


def check_file(path, expect_trials, require_finished, min_pack=None, max_pack=None):
    check = Checker()
    sweep = open_or_none(path, check)
    if sweep is None:
        return check.finish(path)
    with sweep:
        t, c, n = sweep.trials, sweep.curves, len(sweep)
        evaluations = int(sweep.attrs.get("evaluations", -1))
        if expect_trials is not None and n != expect_trials:
            check.fail(f"{path}: {n} trials, expected {expect_trials}")
        if not str(sweep.attrs.get("spec_toml", "")).strip():
            check.fail(f"{path}: the spec_toml attribute is empty")
        missing = [name for name in sweepfile.CURVES if name not in c]
        if missing:
            check.fail(f"{path}: no curve dataset(s) {missing}")
            return check.finish(path)
        if c["train_loss"].shape != (n, evaluations + 1):
            check.fail(f"{path}: curves are {c['train_loss'].shape}, expected ({n}, {evaluations + 1})")
            return check.finish(path)
        if not np.array_equal(sweep.eval, np.arange(evaluations + 1)):
            check.fail(f"{path}: /eval is {sweep.eval}, expected 0..{evaluations}")
        sizes, starts = t["step_loss_row_size"], t["step_loss_row_start"]
        expected_sizes = (t["steps"] + t["step_loss_every"] - 1) // t["step_loss_every"]
        if not np.array_equal(sizes, expected_sizes):
            check.fail(f"{path}: step_loss_row_size is not ceil(steps / step_loss_every)")
        if not np.array_equal(starts, np.concatenate([[0], np.cumsum(sizes)[:-1]])[:n]):
            check.fail(f"{path}: step_loss_row_start is not the running sum of step_loss_row_size")
        if int(np.sum(sizes)) != sweep.file["step_loss"].shape[0]:
            check.fail(f"{path}: step_loss has {sweep.file['step_loss'].shape[0]} elements, "
                       f"the row sizes add up to {int(np.sum(sizes))}")
        check_layout(sweep, path, check)

        for i in range(n):
            status = t["status_name"][i]
            where = f"{path}: trial {i} ({t['optimizer_name'][i]} B={t['batch_size'][i]} " \
                    f"log2_eff_lr={t['log2_effective_learning_rate'][i]:g} seed {t['seed_index'][i]})"
            if require_finished and status != "finished":
                check.fail(f"{where} is {status}, not finished {t['message'][i]!r}")
            if status in ("diverged", "failed"):
                check_unfinished(sweep, i, where, check)
            if status != "finished":
                continue
            if t["message"][i]:
                check.fail(f"{where}: finished with a message {t['message'][i]!r}")
            if t["steps_completed"][i] != t["steps"][i]:
                check.fail(f"{where}: finished after {t['steps_completed'][i]} of {t['steps'][i]} steps")
            k = np.arange(evaluations + 1, dtype=np.int64)
            expected_steps = (k * t["steps"][i] + evaluations // 2) // evaluations
            if not np.array_equal(c["eval_step"][i], expected_steps):
                check.fail(f"{where}: eval_step {c['eval_step'][i]}, expected {expected_steps}")
            for name in ("train_loss", "test_metric"):
                if not np.all(np.isfinite(c[name][i])):
                    check.fail(f"{where}: {name} is not finite everywhere: {c[name][i]}")
            loss = c["train_loss"][i]
            for name, curve in (("final_train_loss", "train_loss"), ("final_test_metric", "test_metric")):
                if bits(t[name][i : i + 1]) != bits(c[curve][i, -1:]):
                    check.fail(f"{where}: {name} {t[name][i]} is not the last {curve} {c[curve][i, -1]}")
            if not loss[-1] < loss[0]:
                check.fail(f"{where}: train_loss did not fall: {loss[0]} at eval 0, {loss[-1]} at the end")
            steps = sweep.step_losses(i)
            if len(steps) == 0 or not np.all(np.isfinite(steps)):
                check.fail(f"{where}: step_loss is empty or not finite")
            elif not steps[-1] < steps[0]:
                check.fail(f"{where}: step_loss did not fall: first {steps[0]}, last {steps[-1]}")

        if "pack" in t:  # files from before packs have no such column
            committed_packs = t["pack"][t["status"] != 0]
            if np.any(committed_packs < 1) or (max_pack is not None and np.any(committed_packs > max_pack)):
                check.fail(f"{path}: committed trials with pack {sorted(set(committed_packs.tolist()))}, "
                           f"expected 1 … {max_pack if max_pack is not None else 'any'}")
            if min_pack is not None and committed_packs.size and committed_packs.max() < min_pack:
                check.fail(f"{path}: no trial trained in a pack of {min_pack} or more")
        for i in sweep.verify_checksums():
            check.fail(f"{path}: trial {i}: stored checksum {int(t['checksum'][i]):#018x}, "
                       f"recomputed {sweep.checksum(i):#018x}")
        committed = int(np.sum(t["status"] != 0))
        print(f"{path}: {n} trials, {committed} committed, {int(np.sum(t['status'] == 1))} finished")
    return check.finish(path)


def check_layout(sweep, path, check):
    """The file-level layout: attributes, the obs dimension, _FillValue and units."""
    f = sweep.file
    for name in NUMERIC_ROOT_ATTRIBUTES:
        value = f.attrs.get(name)
        if value is None or np.shape(value) != () or not isinstance(value, np.number):
            check.fail(f"{path}: root attribute {name} is {value!r}, not a numeric scalar")
    if "obs" not in f:
        check.fail(f"{path}: no /obs dimension for step_loss")
    else:
        obs = f["obs"]
        expected_name = f"{NOT_A_VARIABLE}{obs.shape[0]:10d}"
        name = obs.attrs.get("NAME", b"")
        name = name.decode() if isinstance(name, bytes) else str(name)
        if obs.dtype != np.int8 or obs.shape != f["step_loss"].shape or name != expected_name:
            check.fail(f"{path}: /obs is {obs.dtype} {obs.shape} named {name!r}, expected int8 "
                       f"{f['step_loss'].shape} named {expected_name!r}")
        try:
            attached = f["step_loss"].dims[0][0].name == "/obs"
        except (IndexError, KeyError, RuntimeError, ValueError):
            attached = False
        if not attached:
            check.fail(f"{path}: step_loss does not have /obs attached as dimension 0")
    sample_dimension = f["step_loss_row_size"].attrs.get("sample_dimension")
    if sample_dimension != "obs":
        check.fail(f"{path}: step_loss_row_size:sample_dimension is {sample_dimension!r}, not 'obs'")
    for name in f:
        declared = f[name].attrs.get("_FillValue")
        if name not in MISSING_FILL:
            if declared is not None:
                check.fail(f"{path}: /{name} has a _FillValue ({declared!r}) but its fill is not missing")
            continue
        expected = MISSING_FILL[name]
        ok = declared is not None and np.shape(declared) in ((), (1,)) and \
            np.asarray(declared).dtype == f[name].dtype
        if ok:
            value = np.asarray(declared).reshape(-1)[0]
            ok = bool(np.isnan(value)) if np.isnan(expected) else value == expected
        if not ok:
            check.fail(f"{path}: /{name}: _FillValue {declared!r}, expected {expected} as {f[name].dtype}")
    for name, units in UNITS.items():
        if f[name].attrs.get("units") != units:
            check.fail(f"{path}: /{name}: units {f[name].attrs.get('units')!r}, expected {units!r}")


def check_unfinished(sweep, i, where, check):
    """A diverged or failed trial: NaN final_*, its reached evaluations a prefix of the slots,
    padding after them, and a message (a failed one names the rank that ran it)."""
    t, c = sweep.trials, sweep.curves
    status, message = t["status_name"][i], t["message"][i]
    for name in ("final_train_loss", "final_test_metric"):
        if not np.isnan(t[name][i]):
            check.fail(f"{where}: {status} but {name} is {t[name][i]}, not NaN")
    reached = int(np.sum(c["eval_step"][i] >= 0))
    evaluations = c["eval_step"].shape[1] - 1
    k = np.arange(reached, dtype=np.int64)
    expected = (k * t["steps"][i] + evaluations // 2) // evaluations
    if not np.array_equal(c["eval_step"][i, :reached], expected) or \
            not np.all(c["eval_step"][i, reached:] == -1) or \
            not all(np.all(np.isnan(c[name][i, reached:])) for name in sweepfile.CURVES[1:]):
        check.fail(f"{where}: {status}: curve slots are not the reached evaluations followed by "
                   f"padding: eval_step {c['eval_step'][i]}")
    if not message:
        check.fail(f"{where}: {status} without a message")
    if status == "failed":
        prefix = FAILED_PREFIX.match(message)
        if not prefix or int(prefix.group(1)) != int(t["rank"][i]):
            check.fail(f"{where}: failed on rank {t['rank'][i]} but the message is {message!r}")
        if not np.isnan(t["examples_per_second"][i]) or not np.isfinite(t["wall_seconds"][i]):
            check.fail(f"{where}: failed with wall_seconds {t['wall_seconds'][i]}, "
                       f"examples_per_second {t['examples_per_second'][i]} (expected a time, NaN)")


def without_rank(messages, status):
    """Messages with the "rank R: " prefix of failed trials removed (R depends on the run)."""
    return np.array([FAILED_PREFIX.sub("", m, count=1) if s == "failed" else m
                     for m, s in zip(messages, status)])


def bits(values):
    """An array's exact bits, so that equality is bitwise (NaN equals the same NaN)."""
    values = np.ascontiguousarray(values)
    return values.view(f"u{values.dtype.itemsize}") if values.dtype.kind == "f" else values


def report(check, what, rows, first):
    """One failure line for a column that differs in `rows` (trial indices), with the first case."""
    shown = ", ".join(str(int(i)) for i in rows[:10]) + (", ..." if len(rows) > 10 else "")
    check.fail(f"{what} differs in {len(rows)} trial(s) [{shown}]; first: {first}")


def compare(path_a, path_b):
    check = Checker()
    a, b = open_or_none(path_a, check), open_or_none(path_b, check)
    if a is None or b is None:
        return check.finish(f"compare {path_a} {path_b}")
    with a, b:
        if len(a) != len(b):
            check.fail(f"{path_a} has {len(a)} trials, {path_b} has {len(b)}")
            return check.finish(f"compare {path_a} {path_b}")
        for name in sweepfile.CURVES:  # the curves, bit for bit, every evaluation point
            x, y = a.curves.get(name), b.curves.get(name)
            if x is None or y is None or x.shape != y.shape or x.dtype != y.dtype:
                check.fail(f"curve {name}: missing, or shape/type differs between the files")
                continue
            rows = np.flatnonzero(np.any(bits(x) != bits(y), axis=1))
            if len(rows):
                i = rows[0]
                k = int(np.flatnonzero(bits(x[i]) != bits(y[i]))[0])
                report(check, name, rows, f"trial {i} eval {k}: {x[i, k]!r} in A, {y[i, k]!r} in B")
        rows, first = [], None
        for i in range(len(a)):  # the ragged per-step losses
            x, y = a.step_losses(i), b.step_losses(i)
            if len(x) != len(y):
                rows.append(i)
                first = first or f"trial {i}: {len(x)} values in A, {len(y)} in B"
            elif not np.array_equal(bits(x), bits(y)):
                rows.append(i)
                j = int(np.flatnonzero(bits(x) != bits(y))[0])
                first = first or f"trial {i} element {j}: {x[j]!r} in A, {y[j]!r} in B"
        if rows:
            report(check, "step_loss", rows, first)
        hyper = sorted(set(a.trials) | set(b.trials))  # then every other per-trial column
        for name in list(RESULT_COLUMNS) + [n for n in hyper if n not in RESULT_COLUMNS]:
            if name in RUN_DEPENDENT or name.endswith("_name"):
                continue
            if name not in a.trials or name not in b.trials:
                check.fail(f"column {name} is in only one of the files")
                continue
            x, y = a.trials[name], b.trials[name]
            if name == "message":
                x, y = without_rank(x, a.trials["status_name"]), without_rank(y, b.trials["status_name"])
            same_type = x.dtype == y.dtype or x.dtype.kind == y.dtype.kind == "U"
            rows = np.flatnonzero(bits(x) != bits(y)) if same_type else np.arange(len(a))
            if len(rows):
                note = "" if name in RESULT_COLUMNS else " (a hyperparameter: not the same sweep?)"
                report(check, f"column {name}{note}", rows,
                       f"trial {rows[0]}: {x[rows[0]]!r} in A, {y[rows[0]]!r} in B")
        print(f"compared {len(a)} trials of A={path_a} and B={path_b}: {', '.join(sweepfile.CURVES)}, "
              f"step_loss, {', '.join(RESULT_COLUMNS)} and the hyperparameter columns")
    return check.finish(f"compare {path_a} {path_b}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", metavar="FILE.h5")
    parser.add_argument("--expect-trials", type=int)
    parser.add_argument("--require-finished", action="store_true")
    parser.add_argument("--pack", type=int, nargs=2, metavar=("MIN", "MAX"),
                        help="committed trials trained in packs of at most MAX, some in a pack of MIN or more")
    parser.add_argument("--compare", action="store_true", help="compare two files bit for bit")
    args = parser.parse_args()
    if args.compare:
        if len(args.files) != 2:
            parser.error("--compare takes exactly two files")
        return compare(*args.files)
    if len(args.files) != 1:
        parser.error("give one file (or --compare A.h5 B.h5)")
    min_pack, max_pack = args.pack if args.pack else (None, None)
    return check_file(args.files[0], args.expect_trials, args.require_finished, min_pack, max_pack)


if __name__ == "__main__":
    sys.exit(main())
