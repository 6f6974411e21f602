#!/usr/bin/env python3
"""Are the trials two sweep files share the same bits? Trials are matched by (optimizer, batch size,
effective learning rate, seed index) — a trial's seed depends only on the sweep seed and its seed
index — so a small spec that repeats part of a big sweep's grid (on any number of ranks) can be
checked against it. Compared: the evaluation curves, the final values, the status, the steps done
and every recorded minibatch loss. Only committed trials of the second file count.

Usage: bench/same_trials.py BIG.h5 PART.h5      (exit 1 if any shared trial differs)
Requires h5py and numpy (Debian: /usr/bin/python3).
"""
import sys

import h5py
import numpy as np

COLUMNS = ("test_metric", "train_loss", "final_test_metric", "final_train_loss", "steps_completed", "status")


def key(f, i):
    return (int(f["optimizer"][i]), int(f["batch_size"][i]), float(f["log2_effective_learning_rate"][i]),
            int(f["seed_index"][i]))


def step_losses(f, i):
    start = f["step_loss_row_start"][i]
    return f["step_loss"][start:start + f["step_loss_row_size"][i]]


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    with h5py.File(argv[0], "r") as a, h5py.File(argv[1], "r") as b:
        rows = {key(a, i): i for i in range(len(a["status"])) if a["status"][i] != 0}
        shared = same = 0
        for j in range(len(b["status"])):
            if b["status"][j] == 0 or key(b, j) not in rows:
                continue
            i = rows[key(b, j)]
            shared += 1
            same += all(np.array_equal(a[c][i], b[c][j], equal_nan=True) for c in COLUMNS) and \
                np.array_equal(step_losses(a, i), step_losses(b, j), equal_nan=True)
    print(f"{same} of {shared} shared trials bit-identical (evaluation curves, final values, every minibatch loss)")
    return 0 if same == shared and shared > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
