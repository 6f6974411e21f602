#!/usr/bin/env python3
"""The /analysis group of an analysed sweep file against an independent numpy implementation.

  check_analysis.py FILE.h5 [--csv FILE.csv]

Reads the root trials with h5py, recomputes the protocol (SPEC §4: per configuration and rate the
best k of n by each objective, mean and population std, the optimum — ties to the smaller rate —
and the one-sigma error bar, edge flags) in numpy, and compares every dataset of /analysis/config
and /analysis/rate with it; checks the layout of docs/hdf5-schema.md (attributes, lengths, codes);
with --csv, that the CSV's rows agree with /analysis/config. Exit status 1 with messages on failure.
"""
import argparse
import csv
import math
import sys
import tomllib

import h5py
import numpy as np

CONFIG_COLUMNS = ["model", "optimizer", "budget_kind", "budget", "batch_size", "complete", "decoupled",
                  "rate_start", "rate_count", "regime"]
OBJECTIVE_CONFIG = ["optimum", "mean", "std", "other", "log2_effective_lr", "log2_final_effective_lr",
                    "bar_log2_low", "bar_log2_high", "bar_log2_final_low", "bar_log2_final_high", "at_edge",
                    "bar_at_edge"]
RATE_COLUMNS = ["config", "log2_effective_lr", "effective_lr", "log2_final_effective_lr", "final_effective_lr",
                "finished", "diverged", "missing"]
OBJECTIVE_RATE = ["used", "mean", "std", "other", "usable"]
REGIME_COLUMNS = ["model", "optimizer", "budget_kind", "budget", "points", "slope", "slope_std",
                  "log2_critical_batch_size", "log2_critical_batch_size_low", "log2_critical_batch_size_high",
                  "log2_plateau_effective_lr", "chi2", "dof"]

failures = []


def fail(message):
    failures.append(message)
    if len(failures) <= 20:
        print("FAIL:", message, file=sys.stderr)


def same(a, b):
    """Equal numbers, NaN equal to NaN, infinities by sign; floats to 1e-12 relative."""
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-12 * max(1.0, abs(a), abs(b))


def summarize(values, others, seeds, diverged, k, lower_better):
    """Best k by `values` (non-finite and diverged last, ties to the lower seed)."""
    bad = diverged | ~np.isfinite(values)
    key = np.where(bad, np.inf, values if lower_better else -values)
    order = np.lexsort((seeds, key, bad))
    used = min(k, len(values))
    chosen = order[:used]
    out = {"used": used, "mean": np.nan, "std": np.nan, "other": np.nan, "usable": 0}
    if used == 0:
        return out
    out["other"] = others[chosen].mean()
    if bad[chosen].any():
        out["mean"] = np.inf if lower_better else -np.inf
        return out
    out["mean"] = values[chosen].mean()
    out["std"] = values[chosen].std()
    out["usable"] = int(used == k)
    return out


def locate(rows, objective, lower_better):
    """The optimum's index, error bar and edge flags over one configuration's rate rows."""
    best = -1
    for i, row in enumerate(rows):
        s = row[objective]
        if s["usable"] and (best < 0 or (s["mean"] < rows[best][objective]["mean"] if lower_better
                                         else s["mean"] > rows[best][objective]["mean"])):
            best = i
    result = {"optimum": best}
    if best < 0:
        return result
    center = rows[best][objective]
    inside = [r for r in rows if r[objective]["usable"] and abs(r[objective]["mean"] - center["mean"]) <= center["std"]]
    initial = [r["log2_effective_lr"] for r in rows]
    final = [r["log2_final_effective_lr"] for r in rows]
    result.update(
        mean=center["mean"], std=center["std"], other=center["other"],
        log2_effective_lr=rows[best]["log2_effective_lr"], log2_final_effective_lr=rows[best]["log2_final_effective_lr"],
        bar_log2_low=min(r["log2_effective_lr"] for r in inside),
        bar_log2_high=max(r["log2_effective_lr"] for r in inside),
        bar_log2_final_low=np.min([r["log2_final_effective_lr"] for r in inside]),
        bar_log2_final_high=np.max([r["log2_final_effective_lr"] for r in inside]))
    edges = (min(initial), max(initial))
    final_edges = (np.min(final), np.max(final))
    result["at_edge"] = int(result["log2_effective_lr"] in edges or result["log2_final_effective_lr"] in final_edges)
    result["bar_at_edge"] = int(result["bar_log2_low"] == edges[0] or result["bar_log2_high"] == edges[1]
                                or result["bar_log2_final_low"] == final_edges[0]
                                or result["bar_log2_final_high"] == final_edges[1])
    return result


def expected(f):
    """Per configuration (sorted like the analyzer: optimizer, budget, B) its rate rows and optima."""
    a = f["analysis"]
    k = int(a.attrs["best_k"])
    lower = not bool(f.attrs["metric_higher_is_better"])
    t = {name: f[name][()] for name in ("optimizer", "budget_kind", "epochs", "steps", "batch_size",
                                          "log2_effective_learning_rate", "effective_learning_rate",
                                          "final_effective_learning_rate", "seed_index", "status",
                                          "final_test_metric", "final_train_loss")}
    spec = tomllib.loads(f.attrs["spec_toml"])
    decoupled = "log2_final_effective_lr" in spec["grid"]
    # The spec's budget of each trial: steps, or the epoch budget b with round(b·steps_per_epoch) = steps.
    epochs = spec["budget"].get("epochs", [])
    epochs = epochs if isinstance(epochs, list) else [epochs]
    spe = f["steps_per_epoch"][()]
    nominal = t["epochs"].copy()
    for b in reversed(epochs):
        nominal = np.where(np.floor(b * spe + 0.5) == t["steps"], b, nominal)
    budget = np.where(t["budget_kind"] == 0, nominal, t["steps"].astype(float))
    final = np.round(np.log2(t["final_effective_learning_rate"]) * 1e6) / 1e6 if decoupled else \
        np.full(len(budget), np.nan)
    names = {0: "sgd", 1: "momentum"}  # the analyzer orders optimizers by name
    configs = sorted(set(zip(t["optimizer"].tolist(), t["budget_kind"].tolist(), budget.tolist(),
                             t["batch_size"].tolist())), key=lambda c: (names[c[0]],) + c[1:])
    out = []
    for optimizer, budget_kind, budget_value, batch in configs:
        mask = ((t["optimizer"] == optimizer) & (t["budget_kind"] == budget_kind) & (budget == budget_value)
                & (t["batch_size"] == batch))
        if decoupled:
            pairs = sorted(set(zip(t["log2_effective_learning_rate"][mask].tolist(), final[mask].tolist())))
        else:  # NaN finals: a set would keep every NaN apart
            pairs = [(rate, math.nan) for rate in sorted(set(t["log2_effective_learning_rate"][mask].tolist()))]
        rows = []
        for log2_rate, log2_final in pairs:
            at = mask & (t["log2_effective_learning_rate"] == log2_rate)
            if decoupled:
                at &= final == log2_final
            runs = at & ((t["status"] == 1) | (t["status"] == 2))
            seeds, div = t["seed_index"][runs], t["status"][runs] == 2
            test, train = t["final_test_metric"][runs], t["final_train_loss"][runs]
            rows.append({"log2_effective_lr": log2_rate, "effective_lr": t["effective_learning_rate"][at][0],
                         "log2_final_effective_lr": log2_final, "final_effective_lr": 2.0 ** log2_final,
                         "finished": int((t["status"][at] == 1).sum()), "diverged": int(div.sum()),
                         "missing": int(((t["status"][at] == 0) | (t["status"][at] == 3)).sum()),
                         "test": summarize(test, train, seeds, div, k, lower),
                         "train": summarize(train, test, seeds, div, k, True)})
        out.append({"key": (optimizer, budget_kind, budget_value, batch), "rows": rows,
                    "complete": int(sum(r["missing"] for r in rows) == 0), "decoupled": int(decoupled),
                    "test": locate(rows, "test", lower), "train": locate(rows, "train", True)})
    return out


def check(path, csv_path):
    with h5py.File(path, "r") as f:
        if "analysis" not in f:
            fail(f"{path}: no /analysis group")
            return
        a = f["analysis"]
        for name, value in (("analysis_schema_version", 1), ("best_k", None), ("seeds", int(f.attrs["seeds"]))):
            if name not in a.attrs:
                fail(f"/analysis has no attribute {name}")
            elif value is not None and int(a.attrs[name]) != value:
                fail(f"/analysis.{name} = {a.attrs[name]}, expected {value}")
        for name in ("sgdsweep_version", "created_utc", "regime_summary", "trials_committed",
                     "metric_higher_is_better"):
            if name not in a.attrs:
                fail(f"/analysis has no attribute {name}")
        tables = {"config": CONFIG_COLUMNS + [f"{p}_{c}" for p in ("test", "train") for c in OBJECTIVE_CONFIG],
                  "rate": RATE_COLUMNS + [f"{p}_{c}" for p in ("test", "train") for c in OBJECTIVE_RATE],
                  "regime": REGIME_COLUMNS}
        data = {}
        for table, columns in tables.items():
            lengths = set()
            for column in columns:
                if column not in a[table]:
                    fail(f"/analysis/{table}/{column} missing")
                    continue
                data[(table, column)] = a[table][column][()]
                lengths.add(len(data[(table, column)]))
            if len(lengths) > 1:
                fail(f"/analysis/{table}: columns of different lengths {sorted(lengths)}")
        if failures:
            return
        want = expected(f)
        if len(want) != len(data[("config", "batch_size")]):
            fail(f"{len(data[('config', 'batch_size')])} configurations in /analysis/config, expected {len(want)}")
            return
        row = 0
        for c, config in enumerate(want):
            got = {name: data[("config", name)][c] for name in tables["config"]}
            optimizer, budget_kind, budget_value, batch = config["key"]
            for name, value in (("optimizer", optimizer), ("budget_kind", budget_kind), ("budget", budget_value),
                                ("batch_size", batch), ("complete", config["complete"]),
                                ("decoupled", config["decoupled"]), ("rate_start", row),
                                ("rate_count", len(config["rows"]))):
                if not same(got[name], value):
                    fail(f"config {c} {config['key']}: {name} = {got[name]}, expected {value}")
            for p in ("test", "train"):
                optimum = config[p]
                index = row + optimum["optimum"] if optimum["optimum"] >= 0 else -1
                if int(got[f"{p}_optimum"]) != index:
                    fail(f"config {c} {config['key']}: {p}_optimum = {got[p + '_optimum']}, expected {index}")
                    continue
                for name in OBJECTIVE_CONFIG[1:]:
                    if name in optimum and not same(got[f"{p}_{name}"], optimum[name]):
                        fail(f"config {c} {config['key']}: {p}_{name} = {got[p + '_' + name]}, expected {optimum[name]}")
            for r in config["rows"]:
                if int(data[("rate", "config")][row]) != c:
                    fail(f"rate {row}: config {data[('rate', 'config')][row]}, expected {c}")
                for name in RATE_COLUMNS[1:]:
                    if not same(data[("rate", name)][row], r[name]):
                        fail(f"rate {row}: {name} = {data[('rate', name)][row]}, expected {r[name]}")
                for p in ("test", "train"):
                    for name in OBJECTIVE_RATE:
                        if not same(data[("rate", f"{p}_{name}")][row], r[p][name]):
                            fail(f"rate {row}: {p}_{name} = {data[('rate', p + '_' + name)][row]}, "
                                 f"expected {r[p][name]}")
                row += 1
        regime = data[("config", "regime")]
        if not set(regime.tolist()) <= {0, 1, 2, 3}:
            fail(f"/analysis/config/regime has codes {sorted(set(regime.tolist()))}")
        if csv_path:
            with open(csv_path, newline="") as handle:
                rows = list(csv.DictReader(handle))
            if len(rows) != len(want):
                fail(f"{csv_path}: {len(rows)} rows, expected {len(want)}")
            for c, csv_row in enumerate(rows[:len(want)]):
                for p in ("test", "train"):
                    if not same(float(csv_row[f"{p}_mean"]), data[("config", f"{p}_mean")][c]):
                        fail(f"{csv_path} row {c}: {p}_mean {csv_row[p + '_mean']} differs from /analysis")
        if not failures:
            print(f"{path}: /analysis agrees with numpy on {len(want)} configurations and {row} rates")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--csv")
    args = parser.parse_args()
    check(args.file, args.csv)
    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
