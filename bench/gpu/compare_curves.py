#!/usr/bin/env python3
"""Compares two curves of the same trial written by sgdsweep-trial-curve (say host and GPU): the
largest relative difference of the evaluated training loss, the test metric and the recorded
minibatch losses, against a tolerance. Exit status 0 when within it, 1 otherwise.

  python3 bench/gpu/compare_curves.py HOST.json GPU.json [--tolerance 1e-2]
"""
import argparse
import json
import sys


def relative(a, b):
    if a is None or b is None:
        return float("inf") if (a is None) != (b is None) else 0.0
    return abs(a - b) / max(abs(a), 1e-12)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reference")
    parser.add_argument("candidate")
    parser.add_argument("--tolerance", type=float, default=1e-2,
                        help="largest relative difference allowed (default 1e-2: float32 rounding in another "
                             "summation order grows through a few hundred chaotic SGD steps)")
    arguments = parser.parse_args()
    a, b = (json.load(open(path)) for path in (arguments.reference, arguments.candidate))
    if a["trial"] != b["trial"] or len(a["curve"]) != len(b["curve"]):
        sys.exit(f"not the same trial: {a['trial']} ({len(a['curve'])} points) vs {b['trial']} ({len(b['curve'])} points)")
    print(f"trial {a['trial']['index']} (B = {a['trial']['batch_size']}, {a['trial']['steps']} steps): "
          f"{a['device']} {a['status']} in {a['wall_seconds']:.1f} s, {b['device']} {b['status']} in {b['wall_seconds']:.1f} s")
    print(f"{'step':>6} {'train loss ' + a['device']:>18} {b['device']:>14} {'rel':>9}   "
          f"{'test ' + a['device']:>14} {b['device']:>14} {'rel':>9}")
    worst = {"train_loss": 0.0, "test_metric": 0.0}
    for p, q in zip(a["curve"], b["curve"]):
        r = {key: relative(p[key], q[key]) for key in worst}
        for key in worst:
            worst[key] = max(worst[key], r[key])
        print(f"{p['step']:>6} {p['train_loss']:>18.8g} {q['train_loss']:>14.8g} {r['train_loss']:>9.2e}   "
              f"{p['test_metric']:>14.8g} {q['test_metric']:>14.8g} {r['test_metric']:>9.2e}")
    step_worst = max((relative(x, y) for x, y in zip(a["step_losses"], b["step_losses"])), default=0.0)
    print(f"largest relative difference: train loss {worst['train_loss']:.2e}, test metric {worst['test_metric']:.2e}, "
          f"minibatch losses {step_worst:.2e} (tolerance {arguments.tolerance:g})")
    ok = max(worst.values()) <= arguments.tolerance and step_worst <= arguments.tolerance and a["status"] == b["status"]
    print("within tolerance" if ok else "NOT within tolerance")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
