#!/usr/bin/env python3
"""Compares two curves of the same trial written by sgdsweep-trial-curve (say host and GPU): the
largest relative difference of the evaluated training loss, the test metric and the recorded
minibatch losses, against a tolerance. Exit status 0 when within it, 1 otherwise.

  python3 bench/gpu/compare_curves.py HOST.json GPU.json [--tolerance 1e-2] [--baseline PERTURBED.json]

SGD amplifies any rounding difference step by step, so how far two correct implementations drift
apart depends on the model and the step count. --baseline gives that scale: the same trial on the
reference's device with its learning rate 1 ulp off (bench/results/gpu-curves/*-perturbed.json),
a perturbation of the size rounding makes; a quantity is then within tolerance when its difference
is at most max(tolerance, 4 × the baseline's difference).
"""
import argparse
import json
import sys


def relative(a, b):
    if a is None or b is None:
        return float("inf") if (a is None) != (b is None) else 0.0
    return abs(a - b) / max(abs(a), 1e-12)


def same_trial(a, b, rate_tolerance=0.0):
    """The same trial and curve length; the learning rates within rate_tolerance (relative)."""
    ta, tb = a["trial"], b["trial"]
    keys = set(ta) | set(tb)
    return (len(a["curve"]) == len(b["curve"]) and all(ta.get(k) == tb.get(k) for k in keys - {"learning_rate"})
            and relative(ta["learning_rate"], tb["learning_rate"]) <= rate_tolerance)


def differences(a, b):
    """The largest relative differences between two curves of a trial."""
    out = {key: max((relative(p[key], q[key]) for p, q in zip(a["curve"], b["curve"])), default=0.0)
           for key in ("train_loss", "test_metric")}
    out["steps"] = max((relative(x, y) for x, y in zip(a["step_losses"], b["step_losses"])), default=0.0)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reference")
    parser.add_argument("candidate")
    parser.add_argument("--tolerance", type=float, default=1e-2,
                        help="largest relative difference allowed (default 1e-2: float32 rounding in another "
                             "summation order grows through a few hundred chaotic SGD steps)")
    parser.add_argument("--baseline", help="the reference's trial with its rate 1 ulp off: the scale of the drift")
    arguments = parser.parse_args()
    a, b = (json.load(open(path)) for path in (arguments.reference, arguments.candidate))
    if not same_trial(a, b):
        sys.exit(f"not the same trial: {a['trial']} ({len(a['curve'])} points) vs {b['trial']} ({len(b['curve'])} points)")
    allowed = {"train_loss": arguments.tolerance, "test_metric": arguments.tolerance, "steps": arguments.tolerance}
    if arguments.baseline:
        c = json.load(open(arguments.baseline))
        if not same_trial(a, c, rate_tolerance=1e-6):
            sys.exit(f"the baseline is not the same trial: {c['trial']}")
        drift = differences(a, c)
        print(f"baseline ({c['device']}, rate {c['trial']['learning_rate']!r} for {a['trial']['learning_rate']!r}): "
              f"train loss {drift['train_loss']:.2e}, test metric {drift['test_metric']:.2e}, "
              f"minibatch losses {drift['steps']:.2e}")
        allowed = {key: max(arguments.tolerance, 4 * drift[key]) for key in allowed}
    print(f"trial {a['trial']['index']} (B = {a['trial']['batch_size']}, {a['trial']['steps']} steps): "
          f"{a['device']} {a['status']} in {a['wall_seconds']:.1f} s, {b['device']} {b['status']} in {b['wall_seconds']:.1f} s")
    print(f"{'step':>6} {'train loss ' + a['device']:>18} {b['device']:>14} {'rel':>9}   "
          f"{'test ' + a['device']:>14} {b['device']:>14} {'rel':>9}")
    for p, q in zip(a["curve"], b["curve"]):
        print(f"{p['step']:>6} {p['train_loss']:>18.8g} {q['train_loss']:>14.8g} "
              f"{relative(p['train_loss'], q['train_loss']):>9.2e}   {p['test_metric']:>14.8g} "
              f"{q['test_metric']:>14.8g} {relative(p['test_metric'], q['test_metric']):>9.2e}")
    worst = differences(a, b)
    print(f"largest relative difference: train loss {worst['train_loss']:.2e}, test metric {worst['test_metric']:.2e}, "
          f"minibatch losses {worst['steps']:.2e} (allowed {allowed['train_loss']:.2g}, {allowed['test_metric']:.2g}, "
          f"{allowed['steps']:.2g})")
    ok = all(worst[key] <= allowed[key] for key in allowed) and a["status"] == b["status"]
    print("within tolerance" if ok else "NOT within tolerance")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
