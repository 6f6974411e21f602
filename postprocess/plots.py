#!/usr/bin/env python3
"""The paper's figures (Smith, Elsen & De, ICML 2020) from an analyzed sweep file.

Usage:
  python3 postprocess/plots.py FILE.h5 --out DIR [--figures LIST | all] [--format png,svg]
                               [--batch-size B ...] [--trials I ...]

FILE.h5 is a sweep file (docs/hdf5-schema.md) on which `sgdsweep-analyze FILE.h5` has written the
`/analysis` group; the figures are drawn from that group (the protocol's best-k statistics,
optima, error bars and the regime fit) and, for fig10d, from the root's evaluation curves.
Requires h5py, numpy and matplotlib (Debian: /usr/bin/python3).

Figures (LIST is comma-separated; the default, also `all`, is every figure the file supports:
fig2 only with >= 2 budgets of one batch size, fig3 only with decoupled (initial, final) rates;
naming a figure the file cannot support is an error):
  fig1    004 Fig 1: against batch size B, (a) the test metric at the test-optimal rate (mean ± std
          of the best k), (b) the final training loss there, (c) the optimal effective learning
          rate with its one-sigma error bar and the fitted regime line (slope, critical batch size
          B* shaded); one line per optimizer.
  fig2    004 Fig 2 / 10 (§7): against the budget at fixed B, (a) the test metric at the test
          optimum, (b) the final training loss at the training-loss optimum, (c) the test-optimal
          and the training-loss-optimal effective learning rates [(d) their final rates, when
          decoupled].
  fig3    004 Fig 3 (§7.1), decoupled schedule: per optimizer and B a heat map of the test metric
          over (initial, final) rate with the optima and error bars marked; and the optimal initial
          and final rates against B (test and training-loss optima).
  fig5    004 Fig 5: at fixed B, (a) the test metric and (b) the final training loss against the
          effective learning rate (mean ± std of the best k per rate), one line per optimizer, the
          optimum starred and its error bar shaded; rates whose best k include a diverged run (or
          that have no runs) are drawn as an x at the axis' bad edge.
  fig10d  004 Fig 10d: the test metric during training (against the update step) of chosen trials:
          --trials, else for each optimizer every seed at the test-optimal rate of the smallest and
          the largest batch size.

Files written (each in every --format, default png and svg; one line printed per file):
  fig1[-MODEL][-BUDGET]
  fig2[-MODEL][-KIND]-B<B>                    one per batch size with >= 2 budgets
  fig3[-MODEL][-BUDGET]-<OPTIMIZER>-B<B>      one heat map per decoupled configuration
  fig3-rates[-MODEL][-BUDGET]                 optimal initial and final rates against B (when
                                              the decoupled configurations have >= 2 B)
  fig5[-MODEL][-BUDGET]-B<B>                  one per batch size
  fig10d[-MODEL][-BUDGET]                     (just fig10d with --trials)
MODEL (e.g. autoencoder) appears only when the file holds several models, BUDGET (e.g. 200ep,
9765steps) only when it holds several budgets, KIND (epochs, steps) only when it holds both kinds.
For the tiny test sweep (one model, one budget, B = 16 and 64): fig1, fig5-B16, fig5-B64, fig10d.

Hollow markers: the optimum or its error bar reaches the edge of the learning-rate grid (the
protocol asks for a refined grid there: `sgdsweep-analyze --refine`).

--batch-size restricts the per-B figures (fig2, fig3 heat maps, fig5) to those batch sizes.

A malformed file (not HDF5, no /analysis group, a missing or wrongly sized dataset, an unknown
analysis_schema_version, an analysis older than the trials) is an error: exit status 2, a message
naming what is wrong, and no figure written.
"""
from __future__ import annotations

import argparse
import os
import sys
import textwrap
from dataclasses import dataclass
from typing import Callable, Iterator

import h5py
import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sweepfile  # noqa: E402  (postprocess/sweepfile.py: the root tables and curves)

ANALYSIS_SCHEMA_VERSION = 1
SWEEP_SCHEMA_VERSION = 1
FIGURES = ("fig1", "fig2", "fig3", "fig5", "fig10d")
FORMATS = ("png", "svg")
OBJECTIVES = ("test", "train")

# The /analysis tables (docs/hdf5-schema.md): column -> numpy dtype kind ("i" integer, "f" float).
_OBJECTIVE_CONFIG = {"optimum": "i", "mean": "f", "std": "f", "other": "f",
                     "log2_effective_lr": "f", "log2_final_effective_lr": "f",
                     "bar_log2_low": "f", "bar_log2_high": "f",
                     "bar_log2_final_low": "f", "bar_log2_final_high": "f",
                     "at_edge": "i", "bar_at_edge": "i"}
_OBJECTIVE_RATE = {"used": "i", "mean": "f", "std": "f", "other": "f", "usable": "i"}


def _with_objectives(columns: dict[str, str], per_objective: dict[str, str]) -> dict[str, str]:
    return {**columns, **{f"{p}_{name}": kind for p in OBJECTIVES
                          for name, kind in per_objective.items()}}


CONFIG_COLUMNS = _with_objectives(
    {"model": "i", "optimizer": "i", "budget_kind": "i", "budget": "f", "batch_size": "i",
     "complete": "i", "decoupled": "i", "rate_start": "i", "rate_count": "i", "regime": "i"},
    _OBJECTIVE_CONFIG)
RATE_COLUMNS = _with_objectives(
    {"config": "i", "log2_effective_lr": "f", "effective_lr": "f", "log2_final_effective_lr": "f",
     "final_effective_lr": "f", "finished": "i", "diverged": "i", "missing": "i"},
    _OBJECTIVE_RATE)
REGIME_COLUMNS = {"model": "i", "optimizer": "i", "budget_kind": "i", "budget": "f", "points": "i",
                  "slope": "f", "slope_std": "f", "log2_critical_batch_size": "f",
                  "log2_critical_batch_size_low": "f", "log2_critical_batch_size_high": "f",
                  "log2_plateau_effective_lr": "f", "intercept": "f", "chi2": "f", "dof": "i"}
ANALYSIS_ATTRIBUTES = ("analysis_schema_version", "best_k", "seeds", "metric_higher_is_better",
                       "trials_committed")
# What the figures read from the root: per-trial columns, [trial, eval] curves, attributes.
ROOT_COLUMNS = ("trial", "model", "optimizer", "budget_kind", "batch_size", "steps",
                "steps_per_epoch", "log2_effective_learning_rate", "final_effective_learning_rate",
                "seed_index", "status")
ROOT_CURVES = ("eval_step", "test_metric")
ROOT_ATTRIBUTES = ("schema_version", "sweep_name", "metric_name", "loss_name",
                   "metric_higher_is_better")
CATEGORIES = ("model", "optimizer", "budget_kind")

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
MARKERS = ("o", "s", "^", "D", "v", "P")
MAX_TICKS = 8  # labelled ticks on a log2 axis
EDGE_NOTE = "hollow: optimum or error bar at the grid edge"


class FileError(Exception):
    """The file cannot be plotted (malformed, or lacks what was asked for): exit status 2."""


# ----------------------------------------------------------------------------------------------
# Reading and checking the file


@dataclass
class SweepData:
    path: str
    attrs: dict            # root attributes (plain Python values)
    trials: dict           # root column -> 1-D array (sweepfile.Sweep.trials)
    curves: dict           # root curve -> [trial, eval] array
    analysis: dict         # /analysis attributes
    config: dict           # /analysis/config column -> 1-D array
    rate: dict             # /analysis/rate column -> 1-D array
    regime: dict           # /analysis/regime column -> 1-D array
    names: dict            # category -> {code: name}, from the root's flag_values/flag_meanings

    @property
    def higher_is_better(self) -> bool:
        return bool(self.attrs["metric_higher_is_better"])

    def name(self, category: str, code) -> str:
        return self.names[category].get(int(code), f"?{int(code)}")


def _dataset(parent: h5py.Group, name: str, where: str) -> h5py.Dataset:
    item = parent.get(name)
    if not isinstance(item, h5py.Dataset):
        raise FileError(f"{where}/{name} is missing (expected a dataset)"
                        if item is None else f"{where}/{name} is not a dataset")
    return item


def _read_table(analysis: h5py.Group, table: str, columns: dict[str, str]) -> dict:
    """A /analysis table as column -> 1-D array, every column present, 1-D, numeric as the schema
    says and as long as the table's first column."""
    where = f"/analysis/{table}"
    group = analysis.get(table)
    if not isinstance(group, h5py.Group):
        raise FileError(f"{where} is missing (expected a group of 1-D datasets)")
    result, rows, first = {}, None, None
    for column, kind in columns.items():
        dataset = _dataset(group, column, where)
        kinds = "iu" if kind == "i" else "f"
        if dataset.ndim != 1 or dataset.dtype.kind not in kinds:
            raise FileError(f"{where}/{column} has shape {dataset.shape} and dtype {dataset.dtype}, "
                            f"expected a 1-D {'integer' if kind == 'i' else 'float'} dataset")
        if rows is None:
            rows, first = dataset.shape[0], column
        elif dataset.shape[0] != rows:
            raise FileError(f"{where}/{column} has {dataset.shape[0]} rows, expected {rows} "
                            f"(the rows of {where}/{first})")
        result[column] = dataset[()]
    return result


# The checks below raise FileError without the file's name; load() prefixes it.


def _check_root(sweep: sweepfile.Sweep) -> None:
    f = sweep.file
    for name in ROOT_ATTRIBUTES:
        if name not in sweep.attrs:
            raise FileError(f"root attribute {name} is missing")
    if sweep.attrs["schema_version"] != SWEEP_SCHEMA_VERSION:
        raise FileError(f"root attribute schema_version is {sweep.attrs['schema_version']}, "
                        f"expected {SWEEP_SCHEMA_VERSION}")
    n = _dataset(f, "trial", "").shape[0]
    for name in ROOT_COLUMNS:
        dataset = _dataset(f, name, "")
        if dataset.shape != (n,):
            raise FileError(f"dataset /{name} has shape {dataset.shape}, expected ({n},): one row "
                            f"per trial, like /trial")
        if name not in sweep.trials:
            raise FileError(f"dataset /{name} is not attached to the trial dimension")
    evals = _dataset(f, "eval", "").shape[0]
    for name in ROOT_CURVES:
        dataset = _dataset(f, name, "")
        if dataset.shape != (n, evals) or name not in sweep.curves:
            raise FileError(f"dataset /{name} has shape {dataset.shape}, expected ({n}, {evals}): "
                            f"[trial, eval] on the trial and eval dimensions")
    for name in CATEGORIES:
        attrs = f[name].attrs
        if "flag_values" not in attrs or "flag_meanings" not in attrs:
            raise FileError(f"dataset /{name} lacks its flag_values/flag_meanings attributes")


def _category_names(f: h5py.File) -> dict:
    names = {}
    for name in CATEGORIES:
        meanings = f[name].attrs["flag_meanings"]
        meanings = meanings.decode() if isinstance(meanings, bytes) else str(meanings)
        names[name] = dict(zip(np.asarray(f[name].attrs["flag_values"]).tolist(), meanings.split()))
    return names


def _read_analysis(group: h5py.Group) -> tuple[dict, dict, dict, dict]:
    attrs = {}
    for name in ANALYSIS_ATTRIBUTES:
        if name not in group.attrs:
            raise FileError(f"attribute {name} of /analysis is missing")
        attrs[name] = sweepfile._attribute(group.attrs[name])
    if attrs["analysis_schema_version"] != ANALYSIS_SCHEMA_VERSION:
        raise FileError(f"/analysis attribute analysis_schema_version is "
                        f"{attrs['analysis_schema_version']}, expected {ANALYSIS_SCHEMA_VERSION} "
                        f"(the version this script reads)")
    return (attrs, _read_table(group, "config", CONFIG_COLUMNS),
            _read_table(group, "rate", RATE_COLUMNS), _read_table(group, "regime", REGIME_COLUMNS))


def _check_consistency(data: SweepData) -> None:
    """The cross-references of /analysis point where the schema says, and it is up to date."""
    c, r, path = data.config, data.rate, data.path
    n_config, n_rate = len(c["model"]), len(r["config"])
    committed = int(np.count_nonzero(data.trials["status"] != 0))
    if data.analysis["trials_committed"] != committed:
        raise FileError(f"/analysis covers {data.analysis['trials_committed']} committed trials "
                        f"but the file has {committed}: run sgdsweep-analyze {path} again")
    if int(data.analysis["metric_higher_is_better"]) != int(data.attrs["metric_higher_is_better"]):
        raise FileError("/analysis attribute metric_higher_is_better differs from the root's")
    for i in range(n_config):
        start, count = int(c["rate_start"][i]), int(c["rate_count"][i])
        if start < 0 or count < 0 or start + count > n_rate or np.any(r["config"][start:start + count] != i):
            raise FileError(f"/analysis/config row {i}: rate_start {start}, rate_count {count} do not "
                            f"select rows of /analysis/rate whose config is {i} (it has {n_rate} rows)")
        for p in OBJECTIVES:
            optimum = int(c[f"{p}_optimum"][i])
            if optimum != -1 and not start <= optimum < start + count:
                raise FileError(f"/analysis/config/{p}_optimum row {i} is {optimum}, expected -1 or "
                                f"a row in {start} … {start + count - 1} of /analysis/rate")


def load(path: str) -> SweepData:
    """Reads and checks everything the figures need; raises FileError naming what is wrong."""
    if not os.path.isfile(path):
        raise FileError(f"{path}: no such file")
    if not h5py.is_hdf5(path):
        raise FileError(f"{path} is not an HDF5 file (expected a sweep file written by sgdsweep run)")
    try:
        sweep = sweepfile.open_sweep(path)
    except (OSError, ValueError, KeyError) as error:
        raise FileError(f"{path}: cannot be read as a sweep file: {error}") from None
    with sweep:
        group = sweep.file.get("analysis")
        if not isinstance(group, h5py.Group):
            raise FileError(f"{path} has no /analysis group: run sgdsweep-analyze {path} first")
        try:
            _check_root(sweep)
            analysis, config, rate, regime = _read_analysis(group)
            data = SweepData(path=path, attrs=sweep.attrs, trials=sweep.trials,
                             curves=sweep.curves, analysis=analysis, config=config, rate=rate,
                             regime=regime, names=_category_names(sweep.file))
            _check_consistency(data)
        except FileError as error:
            raise FileError(f"{path}: {error}") from None
    return data


# ----------------------------------------------------------------------------------------------
# Configurations, series and names

Series = tuple  # (model, budget_kind, budget): one line per optimizer over batch sizes


def series_of(data: SweepData, i: int) -> Series:
    c = data.config
    return int(c["model"][i]), int(c["budget_kind"][i]), float(c["budget"][i])


def all_series(data: SweepData) -> list[Series]:
    return sorted({series_of(data, i) for i in range(len(data.config["model"]))})


def rows_where(data: SweepData, **values) -> np.ndarray:
    """Rows of /analysis/config whose columns equal the given values, by batch size."""
    c = data.config
    mask = np.ones(len(c["model"]), dtype=bool)
    for column, value in values.items():
        mask &= c[column] == value
    rows = np.flatnonzero(mask)
    return rows[np.argsort(c["batch_size"][rows], kind="stable")]


def series_rows(data: SweepData, series: Series, **values) -> np.ndarray:
    model, kind, budget = series
    return rows_where(data, model=model, budget_kind=kind, budget=budget, **values)


def budget_label(data: SweepData, kind: int, budget: float) -> str:
    unit = data.name("budget_kind", kind)  # "epochs" or "steps"
    return f"{budget:g} {unit[:-1] if budget == 1 else unit}"


def budget_tag(data: SweepData, kind: int, budget: float) -> str:
    return f"{budget:g}" + ("ep" if data.name("budget_kind", kind) == "epochs" else "steps")


def series_label(data: SweepData, series: Series) -> str:
    model, kind, budget = series
    return f"{data.name('model', model)}, {budget_label(data, kind, budget)}"


@dataclass
class Namer:
    """File names: only the dimensions the file varies in are spelled out (module docstring)."""
    data: SweepData

    def _varies(self, values) -> bool:
        return len(set(values)) > 1

    def name(self, figure: str, series: Series | None = None, model: int | None = None,
             kind: int | None = None, optimizer: int | None = None, batch_size: int | None = None) -> str:
        c, parts = self.data.config, [figure]
        if series is not None:
            model = series[0]
        if model is not None and self._varies(c["model"].tolist()):
            parts.append(self.data.name("model", model))
        if series is not None and self._varies(zip(c["budget_kind"].tolist(), c["budget"].tolist())):
            parts.append(budget_tag(self.data, series[1], series[2]))
        if kind is not None and self._varies(c["budget_kind"].tolist()):
            parts.append(self.data.name("budget_kind", kind))
        if optimizer is not None:
            parts.append(self.data.name("optimizer", optimizer))
        if batch_size is not None:
            parts.append(f"B{batch_size}")
        return "-".join(parts)


# ----------------------------------------------------------------------------------------------
# Drawing helpers


def style(optimizer: int) -> dict:
    return {"color": COLORS[optimizer % len(COLORS)], "marker": MARKERS[optimizer % len(MARKERS)]}


def _title(data: SweepData, what: str) -> str:
    return f"sweep '{data.attrs['sweep_name']}': {what}"


def metric_label(data: SweepData) -> str:
    return str(data.attrs["metric_name"])


def loss_label(data: SweepData) -> str:
    return f"final training loss ({data.attrs['loss_name']})"


def log2_axis(axis, values=None, integer_labels: bool = False) -> None:
    """A log2 scale on `axis` (ax.xaxis or ax.yaxis); ticks at `values` when given, labelled as
    integers (batch sizes) or as powers of two."""
    (axis.axes.set_xscale if axis is axis.axes.xaxis else axis.axes.set_yscale)("log", base=2)
    if values is not None and len(values):
        ticks = sorted(set(float(v) for v in values))
        step = -(-len(ticks) // MAX_TICKS)  # every step-th value: at most MAX_TICKS labels
        axis.set_major_locator(FixedLocator(ticks[::step]))
        axis.set_minor_locator(FixedLocator(ticks) if step > 1 else NullLocator())
        axis.set_minor_formatter(NullFormatter())
    if integer_labels:
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def log2_label(value: float) -> str:
    return f"$2^{{{value:g}}}$"


def points(ax, x, y, yerr, hollow, optimizer: int, label: str | None, linestyle: str = "-",
           marker: str | None = None) -> None:
    """A line through (x, y) with error bars; markers filled, or hollow where `hollow`."""
    x, y, hollow = np.asarray(x, float), np.asarray(y, float), np.asarray(hollow, bool)
    s = style(optimizer)
    marker = marker or s["marker"]
    ax.plot(x, y, linestyle=linestyle, marker=marker, markersize=7, color=s["color"], label=label,
            zorder=3)
    if yerr is not None:
        ax.errorbar(x, y, yerr=yerr, fmt="none", ecolor=s["color"], capsize=3, linewidth=1)
    ax.plot(x[hollow], y[hollow], linestyle="none", marker=marker, markersize=7, color=s["color"],
            markerfacecolor="white", zorder=4)  # over the filled marker


def figure_legend(fig, axes, hollow_any: bool = False, extra: list | None = None,
                  columns: int = 3) -> None:
    """One legend below the panels: every labelled artist of `axes` (once per label), then
    `extra` and, when some marker is hollow, the note saying what hollow means."""
    handles, labels = [], []
    for ax in np.atleast_1d(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    handles += extra or []
    if hollow_any:
        handles.append(Line2D([], [], linestyle="none", marker="o", color="gray",
                              markerfacecolor="white", label=EDGE_NOTE))
    if handles:
        fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                   ncol=min(columns, len(handles)), fontsize="small", frameon=False)


def rate_errors(y: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Asymmetric error bars [y − 2^low, 2^high − y] (zero where the bar is unknown)."""
    return np.nan_to_num(np.vstack([y - 2.0 ** low, 2.0 ** high - y]), nan=0.0).clip(min=0.0)


def save(fig, out: str, name: str, formats: list[str]) -> None:
    for fmt in formats:
        path = os.path.join(out, f"{name}.{fmt}")
        fig.savefig(path, dpi=120 if fmt == "png" else None, bbox_inches="tight")
        print(path)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------
# Figure 1: against batch size


def optimum_rows(data: SweepData, rows: np.ndarray, objective: str = "test") -> np.ndarray:
    return rows[data.config[f"{objective}_optimum"][rows] >= 0]


def edge_mask(data: SweepData, rows: np.ndarray, objective: str = "test") -> np.ndarray:
    c = data.config
    return (c[f"{objective}_at_edge"][rows] != 0) | (c[f"{objective}_bar_at_edge"][rows] != 0)


def omitted_note(data: SweepData, rows: np.ndarray, objective: str = "test") -> list:
    """A legend entry naming the configurations of `rows` without an optimum (no rate had best_k
    usable runs), which the figure leaves out; [] when there are none."""
    c = data.config
    missing = rows[c[f"{objective}_optimum"][rows] < 0]
    if not len(missing):
        return []
    several_budgets = len(set(zip(c["budget_kind"][missing].tolist(), c["budget"][missing].tolist()))) > 1
    parts = []
    for optimizer in sorted(set(c["optimizer"][missing].tolist())):
        mine = missing[c["optimizer"][missing] == optimizer]
        where = ", ".join(f"{int(c['batch_size'][i])}" + (
            f" ({budget_label(data, c['budget_kind'][i], c['budget'][i])})" if several_budgets else "")
            for i in mine)
        parts.append(f"{data.name('optimizer', optimizer)} at B = {where}")
    return [Line2D([], [], linestyle="none", label=wrap(
        f"omitted, no {objective} optimum (no rate with k usable runs): {'; '.join(parts)}"))]


def wrap(text: str, width: int = 70) -> str:
    """A long legend entry on several lines."""
    return textwrap.fill(text, width)


def regime_row(data: SweepData, series: Series, optimizer: int) -> int | None:
    g = data.regime
    model, kind, budget = series
    match = np.flatnonzero((g["model"] == model) & (g["budget_kind"] == kind) &
                           (g["budget"] == budget) & (g["optimizer"] == optimizer))
    return int(match[0]) if len(match) else None


def regime_line(data: SweepData, row: int) -> tuple[Callable, str] | None:
    """The fitted log2 ε_opt(log2 B) of /analysis/regime row `row`, and its legend text; None
    when no slope was fitted."""
    g = data.regime
    slope, slope_std = float(g["slope"][row]), float(g["slope_std"][row])
    if not np.isfinite(slope):
        return None
    critical = float(g["log2_critical_batch_size"][row])
    text = f"fit: slope {slope:.2f} ± {slope_std:.2f}"
    if np.isfinite(critical):
        # a + s·min(x, x_c) with a = plateau − s·x_c: exactly the analyzer's fitted line.
        plateau = float(g["log2_plateau_effective_lr"][row])
        return (lambda x: plateau + slope * (np.minimum(x, critical) - critical),
                text + f", B* = 2^{critical:.1f}")
    intercept = float(g["intercept"][row])  # no break: the analyzer's line a + s·x
    return (lambda x: intercept + slope * x), text + " (no break)"


def mark_critical(ax, data: SweepData, row: int, optimizer: int, shade: bool) -> bool:
    """B* of /analysis/regime row `row` as a dotted line, its interval shaded; False if none."""
    g = data.regime
    critical = float(g["log2_critical_batch_size"][row])
    if not np.isfinite(critical):
        return False
    color = style(optimizer)["color"]
    ax.axvline(2.0 ** critical, color=color, linestyle=":", linewidth=1)
    low, high = (float(g[f"log2_critical_batch_size_{e}"][row]) for e in ("low", "high"))
    if shade and np.isfinite(low) and np.isfinite(high):
        ax.axvspan(2.0 ** low, 2.0 ** high, color=color, alpha=0.1, linewidth=0)
    return True


def figure1(data: SweepData, series: Series):
    c = data.config
    fig, (ax_a, ax_b, ax_c) = plt.subplots(1, 3, figsize=(16, 4.8))
    any_hollow = any_critical = False
    batch_sizes = c["batch_size"][series_rows(data, series)]
    for optimizer in sorted(set(c["optimizer"][series_rows(data, series)].tolist())):
        rows = optimum_rows(data, series_rows(data, series, optimizer=optimizer))
        if not len(rows):
            continue
        name, b, edge = data.name("optimizer", optimizer), c["batch_size"][rows], edge_mask(data, rows)
        any_hollow |= bool(edge.any())
        points(ax_a, b, c["test_mean"][rows], c["test_std"][rows], edge, optimizer, name)
        points(ax_b, b, c["test_other"][rows], None, edge, optimizer, name)
        rate = 2.0 ** c["test_log2_effective_lr"][rows]
        points(ax_c, b, rate, rate_errors(rate, c["test_bar_log2_low"][rows],
                                          c["test_bar_log2_high"][rows]), edge, optimizer, name)
        any_critical |= draw_regime(data, (ax_a, ax_b, ax_c), series, optimizer, np.log2(b))
    for ax, label, panel in ((ax_a, metric_label(data), "(a) test metric at the optimal rate"),
                             (ax_b, loss_label(data), "(b) final training loss there"),
                             (ax_c, "optimal effective learning rate ε_eff", "(c) optimal ε_eff")):
        log2_axis(ax.xaxis, batch_sizes, integer_labels=True)
        ax.set_xlabel("batch size B")
        ax.set_ylabel(label)
        ax.set_title(panel, fontsize="medium")
        ax.grid(alpha=0.3)
    log2_axis(ax_c.yaxis)
    critical = [Line2D([], [], color="gray", linestyle=":", label="B*, the fitted critical batch "
                       "size (shaded in (c): its interval)")] if any_critical else []
    figure_legend(fig, (ax_a, ax_b, ax_c), any_hollow,
                  critical + omitted_note(data, series_rows(data, series)))
    fig.suptitle(_title(data, f"{series_label(data, series)} — test-optimal rate against batch "
                              f"size (mean ± std of the best {data.analysis['best_k']} of "
                              f"{data.analysis['seeds']})"))
    return fig


def draw_regime(data: SweepData, axes, series: Series, optimizer: int, log2_b: np.ndarray) -> bool:
    """Panel (c): the fitted line and B* shaded; panels (a), (b): B* as a dotted line. Returns
    whether B* was drawn."""
    row = regime_row(data, series, optimizer)
    if row is None:
        return False
    critical = any([mark_critical(ax, data, row, optimizer, shade=ax is axes[-1]) for ax in axes])
    line = regime_line(data, row)
    if line is None or len(log2_b) == 0:
        return critical
    function, text = line
    x = np.linspace(log2_b.min(), log2_b.max(), 200)
    axes[-1].plot(2.0 ** x, 2.0 ** function(x), color=style(optimizer)["color"], linestyle="--",
                  linewidth=1.2, label=f"{data.name('optimizer', optimizer)} {text}")
    return critical


# ----------------------------------------------------------------------------------------------
# Figure 2: against the budget at fixed batch size

BudgetGroup = tuple  # (model, budget_kind, batch_size): one line per optimizer over budgets


def fig2_groups(data: SweepData, batch_sizes: list[int] | None) -> list[BudgetGroup]:
    c = data.config
    groups = sorted({(int(c["model"][i]), int(c["budget_kind"][i]), int(c["batch_size"][i]))
                     for i in range(len(c["model"]))})
    return [g for g in groups if len(set(c["budget"][budget_rows(data, g)].tolist())) >= 2
            and (batch_sizes is None or g[2] in batch_sizes)]  # --batch-size


def budget_rows(data: SweepData, group: BudgetGroup, **values) -> np.ndarray:
    model, kind, batch_size = group
    rows = rows_where(data, model=model, budget_kind=kind, batch_size=batch_size, **values)
    return rows[np.argsort(data.config["budget"][rows], kind="stable")]


def offset(x: np.ndarray, objective: str) -> np.ndarray:
    """Test and training optima side by side instead of on top of each other (log axis)."""
    return x * 2.0 ** (-0.04 if objective == "test" else 0.04)


def figure2(data: SweepData, group: BudgetGroup):
    c = data.config
    model, kind, batch_size = group
    decoupled = bool(np.any(c["decoupled"][budget_rows(data, group)]))
    fig, axes = plt.subplots(1, 4 if decoupled else 3, figsize=(21 if decoupled else 16, 4.8))
    any_hollow = False
    budgets = c["budget"][budget_rows(data, group)]
    for optimizer in sorted(set(c["optimizer"][budget_rows(data, group)].tolist())):
        all_rows = budget_rows(data, group, optimizer=optimizer)
        name = data.name("optimizer", optimizer)
        for p, ax, linestyle in (("test", axes[0], "-"), ("train", axes[1], "-")):
            rows = optimum_rows(data, all_rows, p)
            edge = edge_mask(data, rows, p)
            any_hollow |= bool(edge.any())
            points(ax, c["budget"][rows], c[f"{p}_mean"][rows], c[f"{p}_std"][rows], edge,
                   optimizer, name, linestyle)
        for p, linestyle, marker in (("test", "-", None), ("train", "--", "^")):
            rows = optimum_rows(data, all_rows, p)
            for ax, which in ((axes[2], ""), (axes[3], "final_")) if decoupled else ((axes[2], ""),):
                log2_rate = c[f"{p}_log2_{which}effective_lr"][rows]
                rate = 2.0 ** log2_rate
                points(ax, offset(c["budget"][rows], p), rate,
                       rate_errors(rate, c[f"{p}_bar_log2_{which}low"][rows],
                                   c[f"{p}_bar_log2_{which}high"][rows]),
                       edge_mask(data, rows, p), optimizer,
                       f"{name}, {'test' if p == 'test' else 'training-loss'} optimum",
                       linestyle, marker)
    unit = data.name("budget_kind", kind)
    panels = [(metric_label(data), "(a) test metric at the test-optimal rate"),
              (loss_label(data), "(b) final training loss at the training-loss-optimal rate"),
              ("optimal effective learning rate ε_eff", "(c) optimal ε_eff: test vs training loss")]
    if decoupled:
        panels.append(("optimal final effective learning rate", "(d) optimal final ε_eff"))
    for ax, (label, panel) in zip(axes, panels):
        log2_axis(ax.xaxis, budgets, integer_labels=True)
        ax.set_xlabel(f"budget ({unit})")
        ax.set_ylabel(label)
        ax.set_title(panel, fontsize="medium")
        ax.grid(alpha=0.3)
    for ax in axes[2:]:
        log2_axis(ax.yaxis)
    all_rows = budget_rows(data, group)
    figure_legend(fig, axes, any_hollow, [*omitted_note(data, all_rows, "test"),
                                          *omitted_note(data, all_rows, "train")], columns=4)
    fig.suptitle(_title(data, f"{data.name('model', model)}, B = {batch_size} — the optima against "
                              f"the {unit} budget (004 §7)"))
    return fig


# ----------------------------------------------------------------------------------------------
# Figure 3: the decoupled schedule


def rate_rows(data: SweepData, config_row: int) -> np.ndarray:
    start, count = int(data.config["rate_start"][config_row]), int(data.config["rate_count"][config_row])
    return np.arange(start, start + count)


def cell_edges(centres: np.ndarray) -> np.ndarray:
    """Edges of cells centred on sorted `centres` (half way between neighbours)."""
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    middle = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - middle[0]], middle, [2 * centres[-1] - middle[-1]]])


def heat_grid(data: SweepData, rows: np.ndarray):
    """(initial log2 rates, final log2 rates, test means [final, initial] (NaN: not run or not
    usable), run-but-unusable mask). Rates are grouped at 1e-6 in log2, as the analyzer rounds
    the final rate."""
    r = data.rate
    x, y = (np.round(r[f"log2_{w}effective_lr"][rows], 6) for w in ("", "final_"))
    xs, ys = np.unique(x), np.unique(y)
    means = np.full((len(ys), len(xs)), np.nan)
    unusable = np.zeros_like(means, dtype=bool)
    for k, row in enumerate(rows):
        i, j = np.searchsorted(ys, y[k]), np.searchsorted(xs, x[k])
        if r["test_usable"][row]:
            means[i, j] = r["test_mean"][row]
        else:
            unusable[i, j] = True
    return xs, ys, means, unusable


def cell_range(centres: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """The outer edges of the cells of the centres nearest `low` and `high`."""
    edges = cell_edges(centres)
    return (edges[int(np.argmin(np.abs(centres - low)))],
            edges[int(np.argmin(np.abs(centres - high))) + 1])


def mark_optimum(ax, data: SweepData, row: int, xs: np.ndarray, ys: np.ndarray, objective: str,
                 marker: str, label: str) -> None:
    """The optimum of `objective` on a heat map, and a box around the cells of its error bar."""
    c = data.config
    if c[f"{objective}_optimum"][row] < 0:
        return
    x, y = (c[f"{objective}_log2_{w}effective_lr"][row] for w in ("", "final_"))
    ax.plot(x, y, marker=marker, color="white", markeredgecolor="black", markersize=14,
            linestyle="none", label=label)
    low, high, final_low, final_high = (c[f"{objective}_bar_log2_{w}"][row] for w in
                                        ("low", "high", "final_low", "final_high"))
    if np.all(np.isfinite([low, high, final_low, final_high])):
        (x0, x1), (y0, y1) = cell_range(xs, low, high), cell_range(ys, final_low, final_high)
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, linestyle="--",
                               linewidth=1.5, edgecolor="black" if objective == "test" else "gray"))


def figure3_heat(data: SweepData, row: int):
    c = data.config
    rows = rate_rows(data, row)
    xs, ys, means, unusable = heat_grid(data, rows)
    fig, ax = plt.subplots(figsize=(7.5, 6))
    mesh = ax.pcolormesh(cell_edges(xs), cell_edges(ys), np.ma.masked_invalid(means),
                         cmap="viridis" if data.higher_is_better else "viridis_r")
    fig.colorbar(mesh, ax=ax, label=f"{metric_label(data)} (mean of the best {data.analysis['best_k']})")
    for i, j in zip(*np.nonzero(unusable)):
        ax.text(xs[j], ys[i], "×", ha="center", va="center", color="gray")
    mark_optimum(ax, data, row, xs, ys, "test", "*", "test optimum (dashed box: its error bar)")
    mark_optimum(ax, data, row, xs, ys, "train", "X", "training-loss optimum (grey box)")
    extra = [Line2D([], [], linestyle="none", marker="$×$", color="gray",
                    label="× diverged / fewer than k runs")] if unusable.any() else []
    figure_legend(fig, ax, False, extra, columns=2)
    formatter = FuncFormatter(lambda v, _: log2_label(v))
    for axis, values in ((ax.xaxis, xs), (ax.yaxis, ys)):
        axis.set_major_locator(FixedLocator(values))
        axis.set_major_formatter(formatter)
    ax.set_xlabel("initial effective learning rate ε_eff")
    ax.set_ylabel("final effective learning rate")
    optimizer, batch_size = data.name("optimizer", c["optimizer"][row]), int(c["batch_size"][row])
    ax.set_title(_title(data, f"{optimizer}, B = {batch_size}, "
                              f"{series_label(data, series_of(data, row))}"), fontsize="medium")
    return fig


def figure3_rates(data: SweepData, series: Series):
    c = data.config
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    rows_all = series_rows(data, series, decoupled=1)
    any_hollow = False
    for ax, p in zip(axes, OBJECTIVES):
        for optimizer in sorted(set(c["optimizer"][rows_all].tolist())):
            rows = optimum_rows(data, series_rows(data, series, decoupled=1, optimizer=optimizer), p)
            edge = edge_mask(data, rows, p)
            any_hollow |= bool(edge.any())
            for which, linestyle, marker in (("", "-", None), ("final_", "--", "v")):
                rate = 2.0 ** c[f"{p}_log2_{which}effective_lr"][rows]
                points(ax, c["batch_size"][rows], rate,
                       rate_errors(rate, c[f"{p}_bar_log2_{which}low"][rows],
                                   c[f"{p}_bar_log2_{which}high"][rows]), edge, optimizer,
                       f"{data.name('optimizer', optimizer)}, {'final' if which else 'initial'}",
                       linestyle, marker)
        log2_axis(ax.xaxis, c["batch_size"][rows_all], integer_labels=True)
        log2_axis(ax.yaxis)
        ax.set_xlabel("batch size B")
        ax.set_title(f"({'a' if p == 'test' else 'b'}) rates optimising the "
                     f"{'test metric' if p == 'test' else 'final training loss'}", fontsize="medium")
        ax.grid(alpha=0.3)
    figure_legend(fig, axes, any_hollow, [*omitted_note(data, rows_all, "test"),
                                          *omitted_note(data, rows_all, "train")], columns=4)
    axes[0].set_ylabel("optimal effective learning rate ε_eff")
    fig.suptitle(_title(data, f"{series_label(data, series)} — optimal initial and final rates "
                              f"(decoupled schedule, 004 §7.1)"))
    return fig


# ----------------------------------------------------------------------------------------------
# Figure 5: against the learning rate at fixed batch size


def fig5_rates(data: SweepData, row: int, objective: str) -> tuple[np.ndarray, str]:
    """The rate rows to draw for a configuration: all of them; for the decoupled schedule the
    slice at the optimum's final rate (with a note for the legend)."""
    rows = rate_rows(data, row)
    if not data.config["decoupled"][row]:
        return rows, ""
    final = data.config[f"{objective}_log2_final_effective_lr"][row]
    if not np.isfinite(final):
        return rows[:0], ""
    return (rows[np.isclose(data.rate["log2_final_effective_lr"][rows], final)],
            f" (final ε_eff {log2_label(final)})")


def draw_rate_curve(ax, data: SweepData, row: int, objective: str) -> dict[str, int]:
    """One optimizer's line in a fig5 panel. Returns how many rates it drew at the axis' bad edge
    ("diverged": a diverged run among the best k), drew hollow ("few": fewer than best_k runs, so
    not a candidate optimum), drew normally ("usable") and left out ("none": no finished or
    diverged run, i.e. pending or failed)."""
    r, c = data.rate, data.config
    optimizer = int(c["optimizer"][row])
    rows, note = fig5_rates(data, row, objective)
    mean, std = r[f"{objective}_mean"][rows], r[f"{objective}_std"][rows]
    none = r[f"{objective}_used"][rows] == 0
    usable = (r[f"{objective}_usable"][rows] != 0) & np.isfinite(mean)
    few = ~usable & ~none & np.isfinite(mean)
    diverged = ~none & ~np.isfinite(mean)
    x = r["effective_lr"][rows]
    points(ax, x[usable], mean[usable], std[usable], np.zeros(usable.sum(), bool), optimizer,
           data.name("optimizer", optimizer) + note)
    points(ax, x[few], mean[few], None, np.ones(few.sum(), bool), optimizer, None, linestyle="none")
    worse_is_up = objective == "train" or not data.higher_is_better
    ax.plot(x[diverged], np.full(diverged.sum(), 0.97 if worse_is_up else 0.03), linestyle="none",
            marker="x", markersize=8, color=style(optimizer)["color"],
            transform=ax.get_xaxis_transform(), clip_on=False)
    optimum = int(c[f"{objective}_optimum"][row])
    if optimum >= 0:
        ax.plot(r["effective_lr"][optimum], r[f"{objective}_mean"][optimum], marker="*",
                markersize=16, color=style(optimizer)["color"], markeredgecolor="black",
                linestyle="none", zorder=4)
        low, high = c[f"{objective}_bar_log2_low"][row], c[f"{objective}_bar_log2_high"][row]
        ax.axvspan(2.0 ** (low - 0.15), 2.0 ** (high + 0.15), color=style(optimizer)["color"],
                   alpha=0.12, linewidth=0)
    return {"usable": int(usable.sum()), "few": int(few.sum()), "diverged": int(diverged.sum()),
            "none": int(none.sum())}


def figure5(data: SweepData, series: Series, batch_size: int):
    c = data.config
    rows = series_rows(data, series, batch_size=batch_size)
    rows = rows[np.argsort(c["optimizer"][rows], kind="stable")]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    rates = np.concatenate([data.rate["effective_lr"][rate_rows(data, row)] for row in rows])
    counts = {}  # objective -> [per configuration row: draw_rate_curve's counts]
    for ax, p, label in ((axes[0], "test", metric_label(data)), (axes[1], "train", loss_label(data))):
        counts[p] = [draw_rate_curve(ax, data, row, p) for row in rows]
        if not any(n["usable"] + n["few"] for n in counts[p]):
            ax.text(0.5, 0.5, "no finite mean at any rate", transform=ax.transAxes,
                    ha="center", va="center", color="gray")
        log2_axis(ax.xaxis, rates)
        if len(rates):  # the whole grid, even where nothing could be drawn
            ax.set_xlim(rates.min() * 2 ** -0.5, rates.max() * 2 ** 0.5)
        ax.set_xlabel("effective learning rate ε_eff")
        ax.set_ylabel(label)
        ax.set_title(f"({'a' if p == 'test' else 'b'}) best {data.analysis['best_k']} of "
                     f"{data.analysis['seeds']} by the "
                     f"{'test metric' if p == 'test' else 'final training loss'}", fontsize="medium")
        ax.grid(alpha=0.3)
    every = [n for p in counts for n in counts[p]]
    extra = [Line2D([], [], linestyle="none", marker="*", markersize=12, color="gray",
                    markeredgecolor="black", label="optimum (shaded: its error bar)")]
    if any(n["diverged"] for n in every):
        extra.append(Line2D([], [], linestyle="none", marker="x", color="gray",
                            label="x at the edge: a diverged run among the best k"))
    if any(n["few"] for n in every):
        extra.append(Line2D([], [], linestyle="none", marker="o", color="gray",
                            markerfacecolor="white", label="hollow: fewer than k runs"))
    missing = [f"{data.name('optimizer', c['optimizer'][row])} {n['none']}"
               for row, n in zip(rows, counts["test"]) if n["none"]]
    if missing:
        extra.append(Line2D([], [], linestyle="none", label=wrap(
            f"omitted, rates with no finished or diverged run (pending or failed): {', '.join(missing)}")))
    figure_legend(fig, axes, False, extra)
    fig.suptitle(_title(data, f"{series_label(data, series)}, B = {batch_size} — against the "
                              f"learning rate"))
    return fig


# ----------------------------------------------------------------------------------------------
# Figure 10d: test metric during training


def trial_configs(data: SweepData) -> np.ndarray:
    """The /analysis/config row of every trial (−1: none). The analysis does not store it, so a
    trial is matched on model, optimizer, budget kind and B, and on the budget through its step
    count (an epoch budget is round(budget · steps_per_epoch) steps), the nearest budget winning."""
    t, c = data.trials, data.config
    result = np.full(len(t["trial"]), -1)
    distance = np.full(len(t["trial"]), np.inf)
    for row in range(len(c["model"])):
        same = ((t["model"] == c["model"][row]) & (t["optimizer"] == c["optimizer"][row]) &
                (t["budget_kind"] == c["budget_kind"][row]) & (t["batch_size"] == c["batch_size"][row]))
        epochs = data.name("budget_kind", c["budget_kind"][row]) == "epochs"
        steps = np.round(c["budget"][row] * t["steps_per_epoch"]) if epochs else c["budget"][row]
        d = np.where(same, np.abs(steps - t["steps"]), np.inf)
        better = d < distance
        result[better], distance[better] = row, d[better]
    return result


def trials_at_rate(data: SweepData, configs: np.ndarray, rate_row: int) -> np.ndarray:
    """Committed trials of the rate row's configuration at its (initial, final) rate."""
    t, r = data.trials, data.rate
    match = (configs == r["config"][rate_row]) & (t["status"] != 0)
    match &= np.isclose(t["log2_effective_learning_rate"], r["log2_effective_lr"][rate_row],
                        rtol=0, atol=1e-9)
    final = r["log2_final_effective_lr"][rate_row]
    if np.isfinite(final):
        with np.errstate(divide="ignore"):
            # the analyzer rounds log2 of the final rate to 1e-6 (grid steps are far coarser)
            match &= np.isclose(np.log2(t["final_effective_learning_rate"]), final, rtol=0, atol=1e-5)
    return np.flatnonzero(match)


def default_fig10d_trials(data: SweepData, series: Series) -> np.ndarray:
    """For each optimizer: every seed at the test-optimal rate of the smallest and largest B."""
    c, configs, chosen = data.config, trial_configs(data), []
    for optimizer in sorted(set(c["optimizer"][series_rows(data, series)].tolist())):
        rows = optimum_rows(data, series_rows(data, series, optimizer=optimizer))
        for row in sorted({int(rows[0]), int(rows[-1])}) if len(rows) else []:
            chosen.extend(trials_at_rate(data, configs, int(c["test_optimum"][row])).tolist())
    return np.array(chosen, dtype=int)


def trial_group(data: SweepData, i: int) -> tuple:
    """What a fig10d colour stands for: optimizer, B and the rate(s); the seeds share it."""
    t = data.trials
    return (int(t["optimizer"][i]), int(t["batch_size"][i]),
            float(t["log2_effective_learning_rate"][i]), float(t["final_effective_learning_rate"][i]))


def trial_label(data: SweepData, i: int) -> str:
    t = data.trials
    decoupled = bool(np.any(data.config["decoupled"]))
    final = f", final {log2_label(np.log2(t['final_effective_learning_rate'][i]))}" if decoupled else ""
    status = f", {t['status_name'][i]}" if t["status"][i] != 1 else ""
    return (f"{t['optimizer_name'][i]}, B = {int(t['batch_size'][i])}, ε_eff = "
            f"{log2_label(t['log2_effective_learning_rate'][i])}{final}, "
            f"seed {int(t['seed_index'][i])} (trial {int(t['trial'][i])}{status})")


def figure10d(data: SweepData, trials: np.ndarray, what: str):
    """Colour: optimizer, B and rate; line style: seed; × where a diverged trial stopped."""
    t, steps, metric = data.trials, data.curves["eval_step"], data.curves["test_metric"]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    groups = sorted({trial_group(data, i) for i in trials})
    linestyles = ("-", "--", ":", "-.")
    for i in trials:
        reached = steps[i] >= 0
        color = COLORS[groups.index(trial_group(data, i)) % len(COLORS)]
        ax.plot(steps[i][reached], metric[i][reached], color=color,
                linestyle=linestyles[int(t["seed_index"][i]) % len(linestyles)],
                marker=style(int(t["optimizer"][i]))["marker"], markersize=4,
                label=trial_label(data, i))
        if t["status_name"][i] == "diverged" and reached.any():
            ax.plot(steps[i][reached][-1], metric[i][reached][-1], marker="x", markersize=10,
                    color=color, linestyle="none")
    ax.set_xlabel("training step (updates)")
    ax.set_ylabel(metric_label(data))
    ax.grid(alpha=0.3)
    diverged = [Line2D([], [], marker="x", color="gray", linestyle="none",
                       label="× last evaluation of a diverged trial")]
    figure_legend(fig, ax, extra=diverged if np.any(t["status_name"][trials] == "diverged") else [],
                  columns=2)
    ax.set_title(_title(data, f"{what} — test metric during training"), fontsize="medium")
    return fig


def explicit_trials(data: SweepData, trials: list[int]) -> np.ndarray:
    n = len(data.trials["trial"])
    for i in trials:
        if not 0 <= i < n:
            raise FileError(f"--trials {i}: the file has trials 0 … {n - 1}")
        status = data.trials["status_name"][i]
        if not np.any(data.curves["eval_step"][i] >= 0):
            raise FileError(f"--trials {i}: the trial is {status} and has no evaluation curve")
    return np.array(trials, dtype=int)


# ----------------------------------------------------------------------------------------------
# Planning: which files, checked before anything is written

Job = tuple  # (file name without extension, function returning a matplotlib Figure)


def selected(batch_size: int, args) -> bool:
    """Whether --batch-size (absent: every batch size) lets `batch_size` through."""
    return args.batch_size is None or int(batch_size) in args.batch_size


def plan_fig1(data: SweepData, namer: Namer, args) -> Iterator[Job]:
    for series in all_series(data):
        yield namer.name("fig1", series), lambda s=series: figure1(data, s)


def plan_fig2(data: SweepData, namer: Namer, args) -> Iterator[Job]:
    for group in fig2_groups(data, args.batch_size):
        model, kind, batch_size = group
        yield (namer.name("fig2", model=model, kind=kind, batch_size=batch_size),
               lambda g=group: figure2(data, g))


def plan_fig3(data: SweepData, namer: Namer, args) -> Iterator[Job]:
    c = data.config
    for series in all_series(data):
        rows = series_rows(data, series, decoupled=1)
        for row in rows:
            if selected(c["batch_size"][row], args):
                yield (namer.name("fig3", series, optimizer=int(c["optimizer"][row]),
                                  batch_size=int(c["batch_size"][row])),
                       lambda r=int(row): figure3_heat(data, r))
        if len(set(c["batch_size"][rows].tolist())) >= 2:  # one B: fig2 (d) has them by budget
            yield namer.name("fig3-rates", series), lambda s=series: figure3_rates(data, s)


def plan_fig5(data: SweepData, namer: Namer, args) -> Iterator[Job]:
    for series in all_series(data):
        batch_sizes = sorted(set(data.config["batch_size"][series_rows(data, series)].tolist()))
        for batch_size in filter(lambda b: selected(b, args), batch_sizes):
            yield (namer.name("fig5", series, batch_size=batch_size),
                   lambda s=series, b=batch_size: figure5(data, s, b))


def plan_fig10d(data: SweepData, namer: Namer, args) -> Iterator[Job]:
    if args.trials:
        trials = explicit_trials(data, args.trials)
        yield "fig10d", lambda: figure10d(data, trials, f"trials {', '.join(map(str, args.trials))}")
        return
    for series in all_series(data):
        trials = default_fig10d_trials(data, series)
        if len(trials):
            yield (namer.name("fig10d", series),
                   lambda s=series, tr=trials: figure10d(
                       data, tr, f"{series_label(data, s)}, test-optimal rates of the smallest "
                                 f"and largest B"))


PLANNERS = {"fig1": plan_fig1, "fig2": plan_fig2, "fig3": plan_fig3, "fig5": plan_fig5,
            "fig10d": plan_fig10d}


def unsupported(data: SweepData, figure: str, args) -> str | None:
    """Why the file cannot give `figure` (None: it can)."""
    c = data.config
    if figure == "fig2" and not fig2_groups(data, None):
        return ("fig2 needs at least 2 budgets at one batch size in /analysis/config; the file has "
                f"budgets {sorted(set(c['budget'].tolist()))}")
    if figure == "fig3" and not np.any(c["decoupled"]):
        return "fig3 needs decoupled (initial, final) rates: /analysis/config/decoupled is 0 everywhere"
    if figure == "fig10d" and not args.trials and not np.any(c["test_optimum"] >= 0):
        return "fig10d needs a test optimum in /analysis/config (or --trials)"
    return None


def plan(data: SweepData, args) -> list[Job]:
    figures = FIGURES if args.figures is None else args.figures
    if args.batch_size:
        known = set(data.config["batch_size"].tolist())
        missing = [b for b in args.batch_size if b not in known]
        if missing:
            raise FileError(f"--batch-size {missing}: the file's batch sizes are {sorted(known)}")
    namer, jobs = Namer(data), []
    for figure in figures:
        reason = unsupported(data, figure, args)
        if reason is not None:
            if args.figures is None:
                continue
            raise FileError(f"{data.path}: {reason}")
        found = list(PLANNERS[figure](data, namer, args))
        if not found and args.figures is not None:
            raise FileError(f"{data.path}: {figure}: nothing to draw"
                            + (f" at --batch-size {args.batch_size}" if args.batch_size else ""))
        jobs.extend(found)
    return jobs


# ----------------------------------------------------------------------------------------------
# Command line


def _list(choices: tuple[str, ...], allow_all: bool):
    def parse(text: str) -> list[str] | None:
        items = [s.strip() for s in text.split(",") if s.strip()]
        if allow_all and items == ["all"]:
            return None
        bad = [s for s in items if s not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(choices)}"
                                             + (" or all" if allow_all else ""))
        return list(dict.fromkeys(items))
    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="plots.py", description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", metavar="FILE.h5", help="sweep file analyzed by sgdsweep-analyze")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (created)")
    parser.add_argument("--figures", type=_list(FIGURES, True), default=None, metavar="LIST",
                        help="comma-separated subset of " + ",".join(FIGURES) +
                             ", or all (default: every figure the file supports)")
    parser.add_argument("--format", type=_list(FORMATS, False), default=list(FORMATS),
                        metavar="LIST", help="comma-separated: png,svg (default both)")
    parser.add_argument("--batch-size", type=int, nargs="+", metavar="B",
                        help="only these batch sizes in fig2, the fig3 heat maps and fig5")
    parser.add_argument("--trials", type=int, nargs="+", metavar="I",
                        help="fig10d: these trial indices (default: see fig10d above)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        data = load(args.file)
        jobs = plan(data, args)
    except FileError as error:
        print(f"plots.py: error: {error}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    for name, build in jobs:
        save(build(), args.out, name, args.format)
    return 0


if __name__ == "__main__":
    sys.exit(main())
