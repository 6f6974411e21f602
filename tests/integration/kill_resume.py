#!/usr/bin/env python3
"""kill -9 one rank mid-sweep, resume, and compare with an uninterrupted run.

Starts `mpirun -np RANKS sgdsweep run SPEC --out OUT`, reads OUT with h5py while it runs (it must
open at every moment), and once some trials are committed (and not all) kills one rank with
SIGKILL; mpirun then ends the job. Then `sgdsweep run SPEC --out OUT --resume` must finish it:
every trial committed before the kill is kept byte for byte (rank, timings and checksum included),
every trial ends finished, and the results equal an uninterrupted run's bit for bit.

  kill_resume.py --sgdsweep BIN --mpiexec MPIEXEC --spec SPEC --out OUT --reference REF.h5 [--ranks 3]
"""
import argparse
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_sweep  # noqa: E402

KEPT = ("status", "rank", "team_size", "wall_seconds", "examples_per_second", "checksum",
        "final_train_loss", "final_test_metric", "steps_completed")


def committed(path):
    """The status column, or None while the file does not exist yet."""
    if not os.path.exists(path):
        return None
    with h5py.File(path, "r", locking=False) as f:
        return f["status"][()]


def rank_pids(mpirun):
    """The processes mpirun started (its children)."""
    children = []
    for task in os.listdir(f"/proc/{mpirun}/task"):
        with open(f"/proc/{mpirun}/task/{task}/children") as f:
            children += [int(pid) for pid in f.read().split()]
    return children


def snapshot(path, rows):
    with h5py.File(path, "r", locking=False) as f:
        return {name: f[name][()][rows] for name in KEPT}, {
            name: f[name][()][rows] for name in ("eval_step", "train_loss", "test_metric")}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sgdsweep", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--ranks", type=int, default=3)
    args = parser.parse_args()
    for stale in (args.out, args.out + ".partial", args.out + ".lock"):
        if os.path.exists(stale):
            os.remove(stale)

    run = [args.mpiexec, "-np", str(args.ranks), args.sgdsweep, "run", args.spec, "--out", args.out]
    job = subprocess.Popen(run, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 600
    reads = 0
    status = None
    while time.time() < deadline and job.poll() is None:
        status = committed(args.out)  # must open whenever it exists
        reads += status is not None
        if status is not None and 2 <= np.count_nonzero(status) < len(status) - 2:
            break
        time.sleep(0.05)
    if job.poll() is not None:
        print(f"FAIL: the sweep ended (exit {job.returncode}) before it could be killed:\n{job.stderr.read()}",
              file=sys.stderr)
        return 1
    victim = rank_pids(job.pid)[-1]
    os.kill(victim, signal.SIGKILL)
    job.wait(timeout=120)
    status = committed(args.out)
    kept_rows = np.flatnonzero(status != 0)
    print(f"killed rank process {victim} after {reads} reads of the running file; mpirun exit {job.returncode}; "
          f"{len(kept_rows)} of {len(status)} trials committed")
    if job.returncode == 0 or len(kept_rows) == len(status):
        print("FAIL: the kill did not interrupt the sweep", file=sys.stderr)
        return 1
    before, curves_before = snapshot(args.out, kept_rows)

    resumed = subprocess.run(run + ["--resume"], capture_output=True, text=True, timeout=600)
    if resumed.returncode != 0:
        print(f"FAIL: --resume exit {resumed.returncode}:\n{resumed.stderr}", file=sys.stderr)
        return 1
    print(next((line for line in resumed.stderr.splitlines() if "resuming" in line), "(no resume line)"))
    after, curves_after = snapshot(args.out, kept_rows)
    failures = 0
    for name in KEPT:
        if not np.array_equal(before[name].view(np.uint8), after[name].view(np.uint8)):
            print(f"FAIL: column {name} of a trial committed before the kill changed on resume", file=sys.stderr)
            failures += 1
    for name in curves_before:
        if not np.array_equal(curves_before[name].view(np.uint8), curves_after[name].view(np.uint8)):
            print(f"FAIL: curve {name} of a trial committed before the kill changed on resume", file=sys.stderr)
            failures += 1
    if os.path.exists(args.out + ".lock"):
        print("FAIL: the lock file was left behind", file=sys.stderr)
        failures += 1
    failures += check_sweep.check_file(args.out, None, True)
    failures += check_sweep.compare(args.reference, args.out)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
