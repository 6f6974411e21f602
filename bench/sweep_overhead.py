#!/usr/bin/env python3
"""Size and time overhead of finished sweeps: for each sweep file, its size on disk and per trial,
the trials and their summed wall time (training only), and — from the run logs given with --log —
the engine's own account of where the ranks' time went (`time of N rank(s) × …`: training, setup,
HDF5 writes, scheduling, idle), plus the wall time /usr/bin/time recorded (`wall … s`).

Usage: bench/sweep_overhead.py FILE.h5 [--log RUN.log ...] [FILE.h5 [--log ...] ...]
Prints one Markdown section per file. Requires h5py and numpy (Debian: /usr/bin/python3).
"""
import os
import re
import sys

import h5py
import numpy as np


def report(path, logs):
    with h5py.File(path, "r") as f:
        status = f["status"][:]
        wall = f["wall_seconds"][:]
        ranks = f["rank"][:]
        committed = status != 0
        size = os.path.getsize(path)
        print(f"## {path}")
        print(f"- file: {size / 2**20:.2f} MiB for {len(status)} trials "
              f"({size / max(1, len(status)) / 1024:.1f} KiB per trial), "
              f"{sum(1 for _ in _datasets(f))} datasets")
        done = committed & np.isfinite(wall)
        per_rank = {int(r): float(wall[done & (ranks == r)].sum()) for r in np.unique(ranks[done])}
        print(f"- {int(done.sum())} committed trials, Σ trial wall time {wall[done].sum():.1f} s "
              f"(per rank: {', '.join(f'{r}: {s:.1f} s' for r, s in sorted(per_rank.items()))})")
    for log in logs:
        with open(log, encoding="utf-8", errors="replace") as text:
            for line in text:
                if re.search(r"time of \d+ rank|^wall [0-9.]+ s|info: done:|appending|resuming", line):
                    print(f"- {os.path.basename(log)}: `{line.strip()}`")
    print()


def _datasets(group):
    for item in group.values():
        if isinstance(item, h5py.Dataset):
            yield item
        else:
            yield from _datasets(item)


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    jobs = []
    it = iter(argv)
    for arg in it:
        if arg == "--log":
            if not jobs:
                print("sweep_overhead.py: --log before any FILE.h5", file=sys.stderr)
                return 2
            jobs[-1][1].append(next(it))
        else:
            jobs.append((arg, []))
    for path, logs in jobs:
        report(path, logs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
