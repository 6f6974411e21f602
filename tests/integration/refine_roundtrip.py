#!/usr/bin/env python3
"""Refinement round trip: analyze --refine, run --append, analyze again.

  refine_roundtrip.py --sgdsweep BIN --analyze BIN --mpiexec MPIEXEC --source SWEEP.h5 --work DIR [--ranks 2]

Copies SOURCE (a finished sweep whose optima sit at the edges of a small grid) into DIR, runs
`sgdsweep-analyze COPY --refine DIR/refined.toml`, checks that the spec's [[grid.extend]] tables
name rates beyond the grid, runs `mpirun -np RANKS sgdsweep run DIR/refined.toml --out COPY --append`
and checks that the file's first N rows are byte for byte what they were (every per-trial column,
curve row and step-loss row), that the new rows are exactly the extension's trials, all finished,
and that a second analysis (checked by check_analysis.py) sees the new rates.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tomllib

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_analysis  # noqa: E402

OPTIMIZERS = {"sgd": 0, "momentum": 1}


def run(command):
    print("+", " ".join(command), flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        sys.exit(f"FAIL: exit status {result.returncode}: {' '.join(command)}")
    return result.stdout


def snapshot(path):
    """Every root dataset's values, and the step-loss row of each trial."""
    with h5py.File(path, "r") as f:
        data = {name: f[name][()] for name, d in f.items() if isinstance(d, h5py.Dataset) and name != "obs"}
    data["rows"] = [data["step_loss"][s:s + n] for s, n in zip(data["step_loss_row_start"], data["step_loss_row_size"])]
    return data


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("--sgdsweep", "--analyze", "--mpiexec", "--source", "--work"):
        parser.add_argument(name, required=True)
    parser.add_argument("--ranks", type=int, default=2)
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    sweep = os.path.join(args.work, "refined.h5")
    spec = os.path.join(args.work, "refined.toml")
    for stale in (spec, sweep + ".lock"):
        if os.path.exists(stale):
            os.remove(stale)
    shutil.copyfile(args.source, sweep)

    output = run([args.analyze, sweep, "--refine", spec, "--csv", os.path.join(args.work, "refined.csv")])
    if not os.path.exists(spec) or "--append" not in output:
        sys.exit(f"FAIL: {spec} not written or the command to append not printed")
    with open(spec, "rb") as handle:
        extensions = tomllib.load(handle)["grid"]["extend"]
    before = snapshot(sweep)
    n = len(before["trial"])
    expected = set()
    existing = set(zip(before["optimizer"].tolist(), before["batch_size"].tolist(),
                       before["log2_effective_learning_rate"].tolist(), before["seed_index"].tolist()))
    seeds = int(h5py.File(args.source, "r").attrs["seeds"])
    for table in extensions:
        for rate in table["log2_effective_lr"]:
            for seed in range(seeds):
                key = (OPTIMIZERS[table["optimizer"]], table["batch_size"], float(rate), seed)
                if key not in existing:
                    expected.add(key)
    if not expected:
        sys.exit("FAIL: the refinement adds no trial: the source sweep should have optima at its grid edges")

    run([args.mpiexec, "-np", str(args.ranks), args.sgdsweep, "run", spec, "--out", sweep, "--append"])
    after = snapshot(sweep)
    failures = []
    for name, old in before.items():
        if name in ("step_loss", "rows"):
            continue
        if old.ndim == 0 or name == "eval":
            continue
        new = after[name]
        if new.shape[0] != n + len(expected) or new[:n].tobytes() != old.tobytes():
            failures.append(f"{name}: the first {n} rows changed (or the row count is not {n + len(expected)})")
    for i in range(n):
        if after["rows"][i].tobytes() != before["rows"][i].tobytes():
            failures.append(f"step_loss row of trial {i} changed")
    added = set(zip(after["optimizer"][n:].tolist(), after["batch_size"][n:].tolist(),
                    after["log2_effective_learning_rate"][n:].tolist(), after["seed_index"][n:].tolist()))
    if added != expected or len(after["trial"]) - n != len(expected):
        failures.append(f"new trials {sorted(added)} differ from the extension's {sorted(expected)}")
    if not np.all(after["status"][n:] == 1):
        failures.append(f"new trials not all finished: status {after['status'][n:].tolist()}")
    for message in failures:
        print("FAIL:", message, file=sys.stderr)
    if failures:
        return 1

    run([args.analyze, sweep, "--csv", os.path.join(args.work, "refined-2.csv")])
    check_analysis.check(sweep, os.path.join(args.work, "refined-2.csv"))
    if check_analysis.failures:
        return 1
    print(f"refinement round trip: {n} trials kept byte for byte, {len(expected)} appended and finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
