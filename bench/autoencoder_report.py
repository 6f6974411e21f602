#!/usr/bin/python3
"""Writes the Markdown report of bench/run_autoencoder_vs_pytorch.sh from its raw folder.

Usage: autoencoder_report.py RAW_DIR REPORT.md [BUILD_DIR]
RAW_DIR holds, as the script leaves them, {sgdsweep,pytorch}-{alone,per_core}-core{0,1}-r<round>.json
(Google Benchmark JSON and bench/pytorch_autoencoder.py JSON), commands.txt and load.txt.
Figures are medians over all rounds and repetitions with [min – max] beside them;
ratio = sgdsweep / PyTorch medians (above 1: sgdsweep is faster).
"""
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import time


def run(*command):
    try:
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "unavailable"


def load_json(folder, name):
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return None
    with open(path) as stream:
        return json.load(stream)


def collect(folder, program, mode, core):
    """All rounds' figures of one program, mode and core, merged: {key: [examples/s, …]}."""
    parse = sgdsweep_figures if program == "sgdsweep" else pytorch_figures
    merged = {}
    for path in sorted(glob.glob(os.path.join(folder, f"{program}-{mode}-core{core}-r*.json"))):
        with open(path) as stream:
            for key, values in parse(json.load(stream)).items():
                merged.setdefault(key, []).extend(values)
    return merged


def sgdsweep_figures(document):
    """{("train", B) or ("evaluate", rows): [examples/s per repetition]} from Google Benchmark JSON."""
    figures = {}
    if document is None:
        return figures
    for entry in document["benchmarks"]:
        if entry.get("run_type") != "iteration" or "error_occurred" in entry:
            continue
        match = re.match(r"sgdsweep::autoencoder_(train_step|evaluate)/(?:B|rows):(\d+)",
                         entry["run_name"])
        if match:
            kind = "train" if match.group(1) == "train_step" else "evaluate"
            figures.setdefault((kind, int(match.group(2))), []).append(entry["items_per_second"])
    return figures


def pytorch_figures(document):
    figures = {}
    if document is None:
        return figures
    for entry in document["benchmarks"]:
        key = ("train", entry["batch_size"]) if "batch_size" in entry else ("evaluate", entry["rows"])
        figures[key] = [r["examples_per_second"] for r in entry["repetitions"]]
    return figures


def cell(values):
    if not values:
        return "—"
    return f"{statistics.median(values):,.0f} [{min(values):,.0f} – {max(values):,.0f}]"


def ratio(ours, theirs):
    if not ours or not theirs:
        return "—"
    return f"{statistics.median(ours) / statistics.median(theirs):.2f}"


def label(key):
    kind, size = key
    return f"train step, B = {size}" if kind == "train" else f"evaluation, {size} rows"


def machine():
    lscpu = run("lscpu")
    fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
    memory_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    get = lambda name: fields.get(name, "?").strip()  # noqa: E731
    return [
        f"- CPU: {get('Model name')} ({get('Vendor ID')}, family {get('CPU family')} model "
        f"{get('Model')}), {get('CPU(s)')} logical CPUs = {get('Core(s) per socket')} cores × "
        f"{get('Socket(s)')} socket(s), {get('Thread(s) per core')} thread(s) per core"
        + (f", hypervisor {get('Hypervisor vendor')}" if "Hypervisor vendor" in fields else ""),
        f"- Caches: L1d {get('L1d cache')}, L2 {get('L2 cache')}, L3 {get('L3 cache')}",
        f"- Memory: {memory_kib / 1024 / 1024:.1f} GiB",
        f"- Kernel: {run('uname', '-srm')}",
    ]


def software(build_dir, ours, theirs):
    lines = []
    compiler = "?"
    cache = os.path.join(build_dir, "CMakeCache.txt") if build_dir else ""
    if cache and os.path.exists(cache):
        with open(cache) as stream:
            for line in stream:
                if line.startswith("CMAKE_CXX_COMPILER:"):
                    path = line.split("=", 1)[1].strip()
                    compiler = f"{path} ({run(path, '--version').splitlines()[0]})"
    lines.append(f"- sgdsweep: git describe `{run('git', 'describe', '--always', '--dirty', '--tags')}`"
                 f" (binary stamped `{ours['context'].get('sgdsweep_git_describe', '?') if ours else '?'}`),"
                 f" Release, {compiler}, Kokkos {dpkg('libtrilinos-kokkos-dev')} (Serial host space),"
                 f" Google Benchmark {dpkg('libbenchmark-dev')}")
    if ours:
        context = ours["context"]
        lines.append(f"- OpenBLAS (sgdsweep): {context.get('openblas_config', '?').strip()}; "
                     f"core `{context.get('openblas_core', '?')}`, "
                     f"{context.get('openblas_threads', '?')} thread(s)")
        if context.get("library_build_type") == "debug":
            lines.append("- Google Benchmark says its own library was built as debug (Debian's "
                         "package); that concerns the harness, not the code timed.")
    if theirs:
        context = theirs["context"]
        lines.append(f"- PyTorch: {context['torch']} (Debian python3-torch), Python "
                     f"{context['python']}, NumPy {context['numpy']}, "
                     f"{context['torch_num_threads']} intra-op / "
                     f"{context['torch_num_interop_threads']} inter-op thread(s); BLAS mapped: "
                     + ", ".join(f"`{path}`" for path in context["blas_libraries"]))
    lines.append("- Environment of every timed process: `OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1`, "
                 "pinned with `taskset`.")
    return lines


def dpkg(package):
    version = run("dpkg-query", "-W", "-f=${Version}", package)
    return version or "?"


def main(raw, report, build_dir=None):
    ours_alone = load_json(raw, "sgdsweep-alone-core0-r1.json")
    theirs_alone = load_json(raw, "pytorch-alone-core0-r1.json")
    ours = {"alone": collect(raw, "sgdsweep", "alone", 0),
            "core0": collect(raw, "sgdsweep", "per_core", 0),
            "core1": collect(raw, "sgdsweep", "per_core", 1)}
    theirs = {"alone": collect(raw, "pytorch", "alone", 0),
              "core0": collect(raw, "pytorch", "per_core", 0),
              "core1": collect(raw, "pytorch", "per_core", 1)}
    rounds = len(glob.glob(os.path.join(raw, "sgdsweep-alone-core0-r*.json")))
    keys = sorted(set(ours["alone"]) | set(theirs["alone"]),
                  key=lambda key: (key[0] != "train", key[1]))

    with open(os.path.join(raw, "commands.txt")) as stream:
        commands = stream.read().rstrip()
    load = ""
    if os.path.exists(os.path.join(raw, "load.txt")):
        with open(os.path.join(raw, "load.txt")) as stream:
            load = stream.read().rstrip()

    date = ours_alone["context"]["date"] if ours_alone else time.strftime("%Y-%m-%dT%H:%M:%S%z")
    out = [f"# Autoencoder throughput: sgdsweep host backend vs PyTorch ({date[:10]})", "",
           "Examples per second of one full training step of the Smith et al. (2020) autoencoder "
           "(784-1000-500-250-30-250-500-1000-784, sigmoid, Momentum 0.9, L2 1e-5, float32) on "
           "Fashion-MNIST, and of one 500-row evaluation pass. sgdsweep: "
           "`bench/autoencoder_throughput.cpp` (the `train_trial` step: index upload, "
           "`gather_rows_u8`, `forward_backward`, loss download, `Optimizer::step`). PyTorch: "
           "`bench/pytorch_autoencoder.py` (same model, loss, optimizer with L2 on weights only, "
           f"data and batching). Each figure is the median over {rounds} rounds that alternate "
           "which program goes first, [min – max] beside it; ratio = sgdsweep / PyTorch "
           "(above 1: sgdsweep faster).", "",
           "## Machine", "", *machine(), f"- Date: {date}", "",
           "## Software", "", *software(build_dir, ours_alone, theirs_alone), "",
           "## One process alone (core 0, the other core idle)", "",
           "| benchmark | sgdsweep examples/s | PyTorch examples/s | ratio |",
           "|---|---:|---:|---:|"]
    for key in keys:
        out.append(f"| {label(key)} | {cell(ours['alone'].get(key))} | "
                   f"{cell(theirs['alone'].get(key))} | "
                   f"{ratio(ours['alone'].get(key), theirs['alone'].get(key))} |")
    if ours["core0"] or theirs["core0"]:
        out += ["", "## One rank per core (a copy on each of cores 0 and 1, at the same time)", "",
                "Two sgdsweep copies ran together, and two PyTorch copies together, in alternating "
                "rounds; figures are per process. Ratio: the median of both sgdsweep copies' repetitions over the "
                "median of both PyTorch copies'.", "",
                "| benchmark | sgdsweep core 0 | sgdsweep core 1 | PyTorch core 0 | "
                "PyTorch core 1 | ratio |",
                "|---|---:|---:|---:|---:|---:|"]
        for key in keys:
            ours_both = ours["core0"].get(key, []) + ours["core1"].get(key, [])
            theirs_both = theirs["core0"].get(key, []) + theirs["core1"].get(key, [])
            out.append(f"| {label(key)} | {cell(ours['core0'].get(key))} | "
                       f"{cell(ours['core1'].get(key))} | {cell(theirs['core0'].get(key))} | "
                       f"{cell(theirs['core1'].get(key))} | {ratio(ours_both, theirs_both)} |")
    perturbed = []
    for line in load.splitlines():
        match = re.match(r"(round\d+_alone_\w+)\s+busy cpu0\s+\d+% cpu1\s+(\d+)%", line)
        if match and int(match.group(2)) > 10:
            perturbed.append(f"{match.group(1)} (core 1 {match.group(2)} % busy)")
    out += ["", "## Load", "",
            "Alone measurements during which another process kept core 1 more than 10 % busy: "
            + (", ".join(perturbed) if perturbed else "none") + ".", "",
            "For each measurement: the busiest core over 3 s just before it, the 1/5/15-minute "
            "load average, and each core's busy and steal (taken by the hypervisor) share while "
            "it ran. In the alone measurements core 1's busy share is other processes' work.", "", "```", load, "```", "",
            "## Commands", "",
            "`bench/run_autoencoder_vs_pytorch.sh` (repository root), which ran:", "",
            "```", commands, "```", "",
            f"Raw JSON: `{os.path.relpath(raw, os.path.dirname(report) or '.')}/`.", ""]
    with open(report, "w") as stream:
        stream.write("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(*sys.argv[1:])
