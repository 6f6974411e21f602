#!/usr/bin/env python3
"""Data-parallel teams: the same trials run by teams of 2 and 4 ranks give the same bits as on one.

Writes variants of a base spec that cap the examples a rank may take per step
([parallel].max_examples_per_rank), so the planner must put the large-batch trials on teams,
runs them under mpirun with as many ranks as the team needs, checks the file records the team
sizes, and compares every result bit for bit with the one-rank file of the base spec.

  team_equivalence.py --sgdsweep BIN --mpiexec MPIEXEC --work DIR --base SPEC --reference REF.h5
                      --team RANKS:LIMIT [--team RANKS:LIMIT ...]
"""
import argparse
import pathlib
import subprocess
import sys

import h5py
import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import check_sweep  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sgdsweep", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--base", required=True, help="the base spec (no [parallel] section)")
    parser.add_argument("--reference", required=True, help="the base spec's file from a one-rank run")
    parser.add_argument("--team", action="append", required=True, help="RANKS:MAX_EXAMPLES_PER_RANK")
    args = parser.parse_args()
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    base = pathlib.Path(args.base)
    failures = 0
    for team in args.team:
        ranks, limit = (int(x) for x in team.split(":"))
        # Keep the base spec's folder so its relative data paths still resolve.
        spec = base.with_name(f".{base.stem}-team{ranks}.toml")
        spec.write_text(base.read_text() + f"\n[parallel]\nmax_examples_per_rank = {limit}\nbalance_teams = false\n")
        out = work / f"{base.stem}-team{ranks}.h5"
        try:
            result = subprocess.run([args.mpiexec, "-np", str(ranks), args.sgdsweep, "run", str(spec), "--out",
                                     str(out), "--overwrite"], capture_output=True, text=True, timeout=900)
        finally:
            spec.unlink()
        if result.returncode != 0:
            print(f"FAIL: {ranks} ranks: exit {result.returncode}\n{result.stderr}", file=sys.stderr)
            failures += 1
            continue
        with h5py.File(out, "r") as f:
            team_sizes = f["team_size"][()]
            batch = f["batch_size"][()]
        expected = np.where(batch > limit, ranks, 1)
        print(f"{ranks} ranks (at most {limit} examples per rank): team sizes {sorted(set(team_sizes.tolist()))}")
        if not np.array_equal(team_sizes, expected):
            print(f"FAIL: team sizes {team_sizes.tolist()}, expected {expected.tolist()}", file=sys.stderr)
            failures += 1
        if check_sweep.compare(args.reference, str(out)) != 0:
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
