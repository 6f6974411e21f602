#!/usr/bin/env python3
"""Turns a bench/gpu/session.sh folder into report.md: the unit tests that ran on the GPU,
sgdsweep's training throughput beside PyTorch eager on the same GPU (ratio, and each side's share
of the GPU's FP32 peak, from the models' exact FLOP counts), and (issue #9) the sweep throughput of
packed autoencoder and LSTM trials against one trial at a time and against PyTorch eager one trial per GPU,
with the packed study's wall time beside the planner's prediction.

  python3 bench/gpu/report.py OUT_DIR
"""
import glob
import json
import os
import sys

AUTOENCODER = [784, 1000, 500, 250, 30, 250, 500, 1000, 784]
# FP32 (non-tensor-core) peaks, TFLOP/s, by a fragment of the device name.
PEAKS = [("H100 PCIe", 51.2), ("H100 NVL", 60.0), ("H100", 66.9), ("H200", 66.9), ("A100", 19.5)]


def autoencoder_flops():
    """Training FLOPs per example: forward 2·in·out per layer, backward twice that."""
    return 6 * sum(a * b for a, b in zip(AUTOENCODER[:-1], AUTOENCODER[1:]))


def wrn_flops(depth=16, width=4, size=32, classes=10):
    """Training FLOPs per 32×32 image of WRN-depth-width: 3 × the convolutions' and classifier's 2·MACs."""
    macs, channels, side = 9 * 3 * 16 * size * size, 16, size
    for group_width, stride in zip([16 * width, 32 * width, 64 * width], [1, 2, 2]):
        for block in range((depth - 4) // 6):
            s = stride if block == 0 else 1
            out_side = side // s
            macs += 9 * channels * group_width * out_side * out_side + 9 * group_width * group_width * out_side * out_side
            if s != 1 or channels != group_width:
                macs += channels * group_width * out_side * out_side
            channels, side = group_width, out_side
    macs += channels * classes
    return 3 * 2 * macs


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def pack_section(folder, theirs):
    """Issue #9: trial-steps/s of packs of P trials (packed_*.json) against P = 1 and PyTorch eager."""
    packed, errors = {}, {}  # (model, B, P) -> trial-steps/s; run name -> why it did not run
    runs = [b for file in sorted(glob.glob(os.path.join(folder, "packed*.json")))
            for b in (load(file) or {"benchmarks": []})["benchmarks"]]
    for b in runs:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b["run_name"] if "run_name" in b else b["name"]
        if b.get("error_occurred"):
            errors.setdefault(name, b.get("error_message", "error"))
        if "_pack_step" not in name or "trial_steps_per_second" not in b:
            continue
        model = name.split("::")[1].split("_pack_step")[0]  # sgdsweep::lstm_pack_step/B:64/P:8
        fields = dict(part.split(":") for part in name.split("/")[1:] if ":" in part)
        packed.setdefault((model, int(fields["B"]), int(fields["P"])), b["trial_steps_per_second"])
    goals = {"autoencoder": 20, "lstm": 10, "wrn16_4": 5}
    lines = ["", "## Packs (issue #9): trial-steps per second", ""]
    if packed:
        lines += ["| model | B | one trial at a time (P = 1) | packed: best P | packed trial-steps/s | PyTorch eager, one trial per GPU | packed ÷ PyTorch (goal) | packed ÷ P = 1 |",
                  "|---|---|---|---|---|---|---|---|"]
    cell = lambda x: (f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}") if x else "–"
    for model, batch in sorted({(m, b) for m, b, _ in packed}):
        alone = packed.get((model, batch, 1))
        best_p, best = max(((p, r) for (m, b, p), r in packed.items() if (m, b) == (model, batch)), key=lambda item: item[1])
        torch_examples = theirs.get((f"{model}_train_step", batch))
        torch_steps = torch_examples / batch if torch_examples else None
        lines.append(f"| {model} | {batch} | {cell(alone)} | {best_p} | {cell(best)} | {cell(torch_steps)} | "
                     + (f"{best / torch_steps:.1f}× ({goals.get(model, '–')}×) | " if torch_steps else "– | ")
                     + (f"{best / alone:.1f}× |" if alone else "– |"))
    if packed:
        lines += ["", "All P measured: " + ", ".join(f"{m} B={b} P={p}: {cell(r)}" for (m, b, p), r in sorted(packed.items())) + "."]
    if errors:
        lines += ["", "Not measured: " + "; ".join(f"{name} ({why})" for name, why in errors.items()) + "."]
    study = load(os.path.join(folder, "pack-study.json"))
    if study:
        hours = "GPU-hours" if study["device"] == "cuda" else "core-hours"
        lines += ["", f"Packed study ({study['spec']}, packs of up to {study['pack']}): {study['trials']} trials "
                  f"({study['finished']} finished, {study['diverged']} diverged, {study['failed']} failed), "
                  f"{study['trial_steps']} trial-steps in {study['wall_seconds']:.1f} s = "
                  f"{study['device_hours']:.4f} {hours} ({study['trial_steps_per_second']:.0f} trial-steps/s); "
                  f"the planner predicted {study['predicted_seconds']:.1f} s and {study['predicted_device_hours']:.4f} "
                  f"{hours} ({study['cost_model']})."]
    elif os.path.exists(os.path.join(folder, "pack_study.log")):
        progress = [line for line in open(os.path.join(folder, "pack_study.log")) if " trials ended" in line]
        lines += ["", "Packed study: did not finish; " + (progress[-1].strip() if progress else "no trial ended") + "."]
    return lines if len(lines) > 3 else []


def main(folder):
    device = open(os.path.join(folder, "device.txt")).read() if os.path.exists(os.path.join(folder, "device.txt")) else ""
    peak = next((p for name, p in PEAKS if name in device), None)
    ours = {}
    engine = load(os.path.join(folder, "sgdsweep.json")) or {"benchmarks": []}
    for b in engine["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b["run_name"] if "run_name" in b else b["name"]
        ours.setdefault(name, b["items_per_second"])  # the median when there are repetitions
    theirs = {}
    for file in ("pytorch_autoencoder.json", "pytorch_autoencoder_packs.json", "pytorch_wrn.json", "pytorch_lstm.json"):
        for b in (load(os.path.join(folder, file)) or {"benchmarks": []})["benchmarks"]:
            if "batch_size" in b:
                theirs.setdefault((b["name"].split("::")[1], b["batch_size"]), b["examples_per_second"])
    cases = [("autoencoder_train_step", 16, autoencoder_flops()), ("autoencoder_train_step", 128, autoencoder_flops()),
             ("autoencoder_train_step", 1024, autoencoder_flops()), ("wrn16_4_train_step", 128, wrn_flops())]
    lines = ["# sgdsweep (CUDA backend) beside PyTorch eager on the same GPU", "",
             "```", device.strip(), "```", ""]
    summary = os.path.join(folder, "summary.txt")
    if os.path.exists(summary):
        lines += ["Steps (session.sh; logs and JSON in session.tar.gz):", "", "```", open(summary).read().strip(), "```", ""]
    unit = load(os.path.join(folder, "unit_tests.json"))
    if unit:
        tests = [(f"{suite['name']}.{t['name']}", t) for suite in unit["testsuites"] for t in suite["testsuite"]]
        skipped = [name for name, t in tests if t.get("result") == "SKIPPED"]
        failed = [name for name, t in tests if t.get("failures")]
        lines += [f"Unit tests on the GPU: {unit['tests']} selected, {len(failed)} failed, {len(skipped)} skipped "
                  f"(unit_tests.json, unit_tests.log)." + (" Failed: " + ", ".join(failed) + "." if failed else ""), ""]
    for name, what in (("compare_autoencoder", "Autoencoder curve, GPU against the host"),
                       ("compare_wrn", "WRN-16-4 curve, GPU against the host"),
                       ("repeat_autoencoder", "Autoencoder curve, GPU run twice")):
        log = os.path.join(folder, name + ".log")
        if os.path.exists(log):
            text = [line for line in open(log).read().splitlines() if line.strip()]
            drift = [line for line in text if line.startswith("baseline")]  # the host's own drift, for scale
            lines += [f"{what}: " + "; ".join(text[-2:] + drift) + f" ({name}.log).", ""]
    if ours or theirs:
        lines += ["| case | sgdsweep examples/s | PyTorch examples/s | ratio | sgdsweep % of FP32 peak | PyTorch % of FP32 peak |",
                  "|---|---|---|---|---|---|"]
    for name, batch, flops in cases if ours or theirs else []:
        a = ours.get(f"sgdsweep::{name}/B:{batch}/real_time")
        b = theirs.get((name, batch))
        share = lambda rate: f"{100 * rate * flops / (peak * 1e12):.1f}" if rate and peak else "–"
        lines.append(f"| {name} B={batch} | {a:.0f} | " if a else f"| {name} B={batch} | – | ")
        lines[-1] += (f"{b:.0f} | " if b else "– | ") + (f"{a / b:.2f}× | " if a and b else "– | ") + f"{share(a)} | {share(b)} |"
    if peak:
        lines += ["", f"FLOPs per training example: autoencoder {autoencoder_flops() / 1e6:.1f} M, WRN-16-4 "
                  f"{wrn_flops() / 1e9:.2f} G (3 × forward). Peak: {peak} TFLOP/s FP32."]
    lines += pack_section(folder, theirs)
    with open(os.path.join(folder, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1])
