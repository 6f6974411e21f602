"""The timing loop the PyTorch twins of the engine's benchmarks share (pytorch_wrn.py,
pytorch_lstm.py): untimed warm-up steps, then `repetitions` runs of steps for at least `min_time`
seconds each, the device synchronised around every step; the median examples per second."""
import statistics
import time

import torch


def add_arguments(parser, batch_sizes, warmup_steps):
    """The options every twin takes: --device, --batch-sizes, the timing, --out."""
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch-sizes", default=batch_sizes)
    parser.add_argument("--min-time", type=float, default=3.0)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--warmup-steps", type=int, default=warmup_steps)
    parser.add_argument("--out")


def measure(name, run_step, device, batch_size, arguments):
    """Times run_step(step) for step = 0, 1, …; returns the benchmark record (without the loss)."""
    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for step in range(arguments.warmup_steps):
        run_step(step)
    step, repetitions = arguments.warmup_steps, []
    for _ in range(arguments.repetitions):
        synchronize()
        start, first = time.perf_counter(), step
        while True:
            run_step(step)
            step += 1
            synchronize()
            seconds = time.perf_counter() - start
            if seconds >= arguments.min_time:
                break
        repetitions.append({"steps": step - first, "seconds": seconds,
                            "examples_per_second": (step - first) * batch_size / seconds})
    return {"name": name, "batch_size": batch_size,
            "examples_per_second": statistics.median(r["examples_per_second"] for r in repetitions),
            "repetitions": repetitions}
