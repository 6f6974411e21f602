#!/usr/bin/env python3
"""Integration test of postprocess/plots.py on an analyzed sweep file (exit status 1 on failure).

  plots_test.py --file SWEEP.h5 --work DIR

1. plots.py with the default figures: exit status 0; exactly the expected files (computed here
   from /analysis/config with the naming rules of the plots.py docstring), each in png and svg,
   and one printed line per file; every PNG is non-empty and starts with the PNG signature, every
   SVG parses as XML with an <svg> root.
2. --figures fig1 --format png writes fig1 alone (for a single-series file).
3. Malformed copies in DIR — no /analysis group, /analysis/config/test_mean deleted,
   /analysis/rate/test_mean one row short, an unknown analysis_schema_version, a stale analysis
   (trials_committed off by one), the root /batch_size and /test_metric truncated, a text file —
   and figures the file cannot give (fig2 / fig3, when it cannot): each exits with status 2, says
   what is wrong on stderr without a traceback, and writes no figure.
"""
import argparse
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import h5py
import numpy as np

PLOTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "postprocess",
                     "plots.py")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FORMATS = ("png", "svg")


class Checker:
    def __init__(self):
        self.failures = 0

    def check(self, condition, message):
        if not condition:
            self.failures += 1
            print(f"FAIL: {message}", file=sys.stderr)
        return bool(condition)


def run_plots(path, out, *extra):
    return subprocess.run([sys.executable, PLOTS, path, "--out", out, *extra],
                          capture_output=True, text=True, timeout=600)


def flag_names(f, name):
    meanings = f[name].attrs["flag_meanings"]
    meanings = meanings.decode() if isinstance(meanings, bytes) else str(meanings)
    return dict(zip(np.asarray(f[name].attrs["flag_values"]).tolist(), meanings.split()))


def expected_names(path):
    """The default figures' file names (without extension), by the plots.py docstring's rules."""
    with h5py.File(path, "r") as f:
        c = {k: f["analysis/config"][k][()].tolist() for k in
             ("model", "optimizer", "budget_kind", "budget", "batch_size", "decoupled", "test_optimum")}
        models, optimizers, kinds = (flag_names(f, n) for n in ("model", "optimizer", "budget_kind"))
    rows = list(zip(*(c[k] for k in ("model", "budget_kind", "budget", "optimizer", "batch_size",
                                     "decoupled", "test_optimum"))))
    several_models = len(set(c["model"])) > 1
    several_budgets = len(set(zip(c["budget_kind"], c["budget"]))) > 1
    several_kinds = len(set(c["budget_kind"])) > 1

    def series_name(figure, model, kind, budget):
        parts = [figure] + ([models[model]] if several_models else [])
        if several_budgets:
            parts.append(f"{budget:g}" + ("ep" if kinds[kind] == "epochs" else "steps"))
        return "-".join(parts)

    names = set()
    for model, kind, budget in {r[:3] for r in rows}:
        mine = [r for r in rows if r[:3] == (model, kind, budget)]
        names.add(series_name("fig1", model, kind, budget))
        names |= {series_name("fig5", model, kind, budget) + f"-B{r[4]}" for r in mine}
        if any(r[6] >= 0 for r in mine):
            names.add(series_name("fig10d", model, kind, budget))
        decoupled = [r for r in mine if r[5]]
        names |= {series_name("fig3", model, kind, budget) + f"-{optimizers[r[3]]}-B{r[4]}"
                  for r in decoupled}
        if len({r[4] for r in decoupled}) >= 2:
            names.add(series_name("fig3-rates", model, kind, budget))
    for model, kind, batch_size in {(r[0], r[1], r[4]) for r in rows}:
        budgets = {r[2] for r in rows if (r[0], r[1], r[4]) == (model, kind, batch_size)}
        if len(budgets) >= 2:
            names.add("-".join(["fig2"] + ([models[model]] if several_models else []) +
                               ([kinds[kind]] if several_kinds else []) + [f"B{batch_size}"]))
    return names


def check_figure_file(checker, path):
    with open(path, "rb") as f:
        content = f.read()
    if not checker.check(len(content) > 0, f"{path} is empty"):
        return
    if path.endswith(".png"):
        checker.check(content.startswith(PNG_SIGNATURE), f"{path} does not start with the PNG signature")
    else:
        try:
            root = ElementTree.fromstring(content)
            checker.check(root.tag.endswith("svg"), f"{path}: root element {root.tag}, expected svg")
        except ElementTree.ParseError as error:
            checker.check(False, f"{path} is not well-formed XML: {error}")


def check_default_figures(checker, path, work):
    out = os.path.join(work, "figures")
    shutil.rmtree(out, ignore_errors=True)
    result = run_plots(path, out)
    if not checker.check(result.returncode == 0,
                         f"plots.py {path} exited {result.returncode}:\n{result.stderr}"):
        return
    expected = {f"{name}.{fmt}" for name in expected_names(path) for fmt in FORMATS}
    written = set(os.listdir(out))
    checker.check(written == expected, f"files written {sorted(written)}, expected {sorted(expected)}")
    printed = {os.path.basename(line) for line in result.stdout.splitlines() if line.strip()}
    checker.check(printed == written and len(result.stdout.splitlines()) == len(written),
                  f"printed lines {result.stdout.splitlines()} do not name the files written")
    for name in sorted(written):
        check_figure_file(checker, os.path.join(out, name))
    print(f"plots.py wrote {len(written)} files: {', '.join(sorted(written))}")


def check_selection(checker, path, work):
    with h5py.File(path, "r") as f:
        config = f["analysis/config"]
        single = len(set(zip(config["model"][()].tolist(), config["budget_kind"][()].tolist(),
                             config["budget"][()].tolist()))) == 1
    if not single:
        return
    out = os.path.join(work, "fig1-only")
    shutil.rmtree(out, ignore_errors=True)
    result = run_plots(path, out, "--figures", "fig1", "--format", "png")
    checker.check(result.returncode == 0 and sorted(os.listdir(out)) == ["fig1.png"],
                  f"--figures fig1 --format png: exit {result.returncode}, files "
                  f"{sorted(os.listdir(out)) if os.path.isdir(out) else None}:\n{result.stderr}")


# Malformed copies: each a function editing the copy in place (h5py), and what stderr must say.


def drop_analysis(f):
    del f["analysis"]


def drop_test_mean(f):
    del f["analysis/config/test_mean"]


def shorten(f, name):
    """Replaces dataset `name` by one with a row fewer, its attributes (not its dimension scales)
    kept, and re-attached to its scales where HDF5 lets it."""
    old = f[name]
    data, attrs = old[()][:-1], {k: v for k, v in old.attrs.items() if k != "DIMENSION_LIST"}
    scales = [d[0] if len(d) else None for d in old.dims] if "DIMENSION_LIST" in old.attrs else []
    del f[name]
    new = f.create_dataset(name, data=data)
    for key, value in attrs.items():
        new.attrs[key] = value
    for axis, scale in enumerate(scales):
        if scale is not None:
            try:
                new.dims[axis].attach_scale(scale)
            except (RuntimeError, ValueError):
                pass


def set_schema_version(f):
    f["analysis"].attrs["analysis_schema_version"] = np.int32(99)


def stale(f):
    f["analysis"].attrs["trials_committed"] = np.int64(f["analysis"].attrs["trials_committed"] - 1)


def malformed_cases(n_trials):
    return [
        ("no-analysis", drop_analysis, "has no /analysis group: run sgdsweep-analyze"),
        ("no-test-mean", drop_test_mean, "/analysis/config/test_mean is missing"),
        ("short-rate", lambda f: shorten(f, "analysis/rate/test_mean"), "/analysis/rate/test_mean has"),
        ("schema-version", set_schema_version, "analysis_schema_version is 99, expected 1"),
        ("stale", stale, "run sgdsweep-analyze"),
        ("short-batch-size", lambda f: shorten(f, "batch_size"), f"/batch_size has shape ({n_trials - 1},)"),
        ("short-curve", lambda f: shorten(f, "test_metric"), "/test_metric has shape"),
    ]


def check_failure(checker, what, path, out, needle, *extra):
    shutil.rmtree(out, ignore_errors=True)
    result = run_plots(path, out, *extra)
    checker.check(result.returncode == 2, f"{what}: exit status {result.returncode}, expected 2")
    checker.check(needle in result.stderr, f"{what}: stderr lacks {needle!r}:\n{result.stderr}")
    checker.check("Traceback" not in result.stderr, f"{what}: a traceback:\n{result.stderr}")
    checker.check(not os.path.exists(out) or not os.listdir(out),
                  f"{what}: figures written: {os.listdir(out) if os.path.exists(out) else []}")
    print(f"{what}: exit {result.returncode}: {result.stderr.strip().splitlines()[-1:]}")


def check_malformed(checker, path, work):
    with h5py.File(path, "r") as f:
        n_trials = f["trial"].shape[0]
        decoupled = bool(np.any(f["analysis/config/decoupled"][()]))
        config = f["analysis/config"]
        groups = {}
        for model, kind, budget, batch_size in zip(*(config[k][()].tolist() for k in
                                                     ("model", "budget_kind", "budget", "batch_size"))):
            groups.setdefault((model, kind, batch_size), set()).add(budget)
        several_budgets = any(len(b) >= 2 for b in groups.values())
    for name, edit, needle in malformed_cases(n_trials):
        copy = os.path.join(work, f"malformed-{name}.h5")
        shutil.copyfile(path, copy)
        with h5py.File(copy, "r+") as f:
            edit(f)
        check_failure(checker, name, copy, os.path.join(work, f"out-{name}"), needle)
    text = os.path.join(work, "malformed-text.h5")
    with open(text, "w") as f:
        f.write("not a sweep file\n")
    check_failure(checker, "text", text, os.path.join(work, "out-text"), "is not an HDF5 file")
    if not decoupled:
        check_failure(checker, "fig3 asked", path, os.path.join(work, "out-fig3"),
                      "fig3 needs decoupled", "--figures", "fig1,fig3")
    if not several_budgets:
        check_failure(checker, "fig2 asked", path, os.path.join(work, "out-fig2"),
                      "fig2 needs at least 2 budgets", "--figures", "fig2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", required=True, help="an analyzed sweep file")
    parser.add_argument("--work", required=True, help="scratch directory (created)")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    checker = Checker()
    with h5py.File(args.file, "r") as f:
        if not checker.check("analysis" in f, f"{args.file} has no /analysis group: the test needs "
                                              f"an analyzed sweep file"):
            return 1
    check_default_figures(checker, args.file, args.work)
    check_selection(checker, args.file, args.work)
    check_malformed(checker, args.file, args.work)
    if checker.failures:
        print(f"plots_test: {checker.failures} failure(s)", file=sys.stderr)
        return 1
    print("plots_test: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
