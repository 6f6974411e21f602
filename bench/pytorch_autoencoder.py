#!/usr/bin/python3
"""PyTorch twin of bench/autoencoder_throughput.cpp: the same autoencoder training step on the CPU
(or with --device cuda on a GPU), timed in examples per second, so both can run side by side on one
machine.

Same model (784-1000-500-250-30-250-500-1000-784, logistic hidden units, linear 30-unit code,
logistic output, sparse initialisation: 15 N(0, 1) incoming weights per unit, biases 0), same loss
(squared error summed over pixels, mean over the batch), same optimizer (heavy-ball SGD,
PyTorch's form, momentum 0.9, L2 1e-5 on weights only, ε = 0.005), float32, the same data
(Fashion-MNIST u8 pixels gathered each step from a seeded per-epoch permutation, scaled by 1/255).

Run with Debian's python (torch 1.13 from python3-torch), pinned to one core:
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 taskset -c 0 /usr/bin/python3 bench/pytorch_autoencoder.py \
      --out result.json
Output: one line per measurement on stdout, and with --out a JSON file
  {"context": {...}, "benchmarks": [{"name", "batch_size", "examples_per_second" (median over
  repetitions), "repetitions": [{"steps", "seconds", "examples_per_second"}], "loss"}]}.
"""
import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import time

WIDTHS = [784, 1000, 500, 250, 30, 250, 500, 1000, 784]
CODE_LAYER = 3
SPARSE_CONNECTIONS = 15
LEARNING_RATE = 0.005
MOMENTUM = 0.9
L2 = 1e-5
SEED = 2020
EVALUATION_ROWS = 500


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get("SGDSWEEP_BENCH_DATA",
                                                         "/usr/share/datasets/fashion-mnist"),
                        help="MNIST-layout folder (default $SGDSWEEP_BENCH_DATA or Fashion-MNIST)")
    parser.add_argument("--batch-sizes", default="16,128,1024", help="comma-separated B values")
    parser.add_argument("--min-time", type=float, default=2.0,
                        help="seconds of timed steps per repetition (at least one step)")
    parser.add_argument("--repetitions", type=int, default=3, help="timed repetitions per B")
    parser.add_argument("--warmup-time", type=float, default=0.5,
                        help="seconds of untimed steps before the first repetition (at least 2)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (1 = one core)")
    parser.add_argument("--device", default="cpu",
                        help="cpu, or cuda: the same step on the GPU in FP32 (TF32 off, as sgdsweep's default)")
    parser.add_argument("--no-evaluate", action="store_true", help="skip the evaluation benchmark")
    parser.add_argument("--out", help="write the results as JSON to this file")
    return parser.parse_args()


ARGUMENTS = parse_arguments()
# Before torch loads OpenBLAS / OpenMP: they size their thread pools from the environment.
os.environ.setdefault("OMP_NUM_THREADS", str(ARGUMENTS.threads))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(ARGUMENTS.threads))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def read_idx_images(folder, split):
    """[count, 784] uint8 pixels of an MNIST-layout IDX image file (.gz preferred, as ours)."""
    stem = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}[split]
    for path in (os.path.join(folder, stem + ".gz"), os.path.join(folder, stem)):
        if os.path.isfile(path):
            break
    else:
        sys.exit(f"pytorch_autoencoder.py: missing {os.path.join(folder, stem)}[.gz] "
                 "(pass --data DIR or set SGDSWEEP_BENCH_DATA)")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as stream:
        raw = stream.read()
    magic, count, rows, columns = np.frombuffer(raw[:16], dtype=">u4")
    if magic != 0x00000803:
        sys.exit(f"pytorch_autoencoder.py: {path}: not an IDX u8 image file (magic {magic:#x})")
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16)
    return torch.from_numpy(pixels.reshape(int(count), int(rows) * int(columns)).copy()), path


def make_model(generator):
    layers = []
    for index, (fan_in, fan_out) in enumerate(zip(WIDTHS[:-1], WIDTHS[1:])):
        linear = torch.nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            # Sparse initialisation (Martens 2010), as src/nn/init.cpp: each unit gets
            # SPARSE_CONNECTIONS incoming N(0, 1) weights at random inputs; biases 0.
            weight = torch.zeros(fan_out, fan_in)
            chosen = min(SPARSE_CONNECTIONS, fan_in)
            inputs = torch.rand(fan_out, fan_in, generator=generator).argsort(dim=1)[:, :chosen]
            weight.scatter_(1, inputs, torch.randn(fan_out, chosen, generator=generator))
            linear.weight.copy_(weight)
            linear.bias.zero_()
        layers.append(linear)
        if index != CODE_LAYER:
            layers.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers)


def make_optimizer(model):
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    return torch.optim.SGD([{"params": weights, "weight_decay": L2},
                            {"params": biases, "weight_decay": 0.0}],
                           lr=LEARNING_RATE, momentum=MOMENTUM)


class EpochSampler:
    """Batches without replacement from a fresh seeded permutation each epoch (last partial dropped)."""

    def __init__(self, examples, batch_size):
        self.examples = examples
        self.batch_size = batch_size
        self.steps_per_epoch = examples // batch_size
        self.generator = torch.Generator().manual_seed(SEED)
        self.epoch = -1
        self.permutation = None

    def batch(self, step):
        epoch = step // self.steps_per_epoch
        if epoch != self.epoch:
            self.permutation = torch.randperm(self.examples, generator=self.generator)
            self.epoch = epoch
        begin = (step % self.steps_per_epoch) * self.batch_size
        return self.permutation[begin:begin + self.batch_size]


DEVICE = torch.device(ARGUMENTS.device)


def synchronize():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def timed(run_step, first_step, min_time):
    """Runs steps until min_time seconds have passed; returns (steps, seconds, next step)."""
    step = first_step
    synchronize()
    start = time.perf_counter()
    while True:
        run_step(step)
        step += 1
        synchronize()
        seconds = time.perf_counter() - start
        if seconds >= min_time:
            return step - first_step, seconds, step


def measure(name, items_per_step, run_step, arguments):
    step, start = 0, time.perf_counter()
    while step < 2 or time.perf_counter() - start < arguments.warmup_time:
        run_step(step)
        step += 1
    repetitions = []
    for _ in range(arguments.repetitions):
        steps, seconds, step = timed(run_step, step, arguments.min_time)
        repetitions.append({"steps": steps, "seconds": seconds,
                            "examples_per_second": steps * items_per_step / seconds})
    median = statistics.median(r["examples_per_second"] for r in repetitions)
    return {"name": name, "examples_per_second": median, "repetitions": repetitions}


def train_benchmark(train_pixels, batch_size, arguments):
    generator = torch.Generator().manual_seed(SEED)
    model = make_model(generator).to(DEVICE)
    optimizer = make_optimizer(model)
    sampler = EpochSampler(train_pixels.shape[0], batch_size)
    last_loss = [float("nan")]

    def run_step(step):
        rows = sampler.batch(step).to(DEVICE)
        batch = train_pixels.index_select(0, rows).to(torch.float32).mul_(1.0 / 255.0)
        optimizer.zero_grad(set_to_none=True)
        reconstruction = model(batch)
        loss = (reconstruction - batch).square().sum() / batch_size
        loss.backward()
        last_loss[0] = loss.item()
        optimizer.step()

    result = measure("pytorch::autoencoder_train_step", batch_size, run_step, arguments)
    result.update(batch_size=batch_size, loss=last_loss[0])
    return result


def evaluate_benchmark(test_pixels, arguments):
    model = make_model(torch.Generator().manual_seed(SEED)).to(DEVICE)
    chunks = test_pixels.shape[0] // EVALUATION_ROWS
    last_loss = [float("nan")]

    def run_step(step):
        begin = (step % chunks) * EVALUATION_ROWS
        with torch.no_grad():
            batch = test_pixels[begin:begin + EVALUATION_ROWS].to(torch.float32).mul_(1.0 / 255.0)
            loss_sum = (model(batch) - batch).square().sum(dim=1).to(torch.float64).sum()
            last_loss[0] = loss_sum.item() / EVALUATION_ROWS

    result = measure("pytorch::autoencoder_evaluate", EVALUATION_ROWS, run_step, arguments)
    result.update(rows=EVALUATION_ROWS, loss=last_loss[0])
    return result


def blas_libraries():
    """Shared libraries mapped into this process whose names mention BLAS (which one torch runs)."""
    found = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "blas" in os.path.basename(path).lower():
                    found.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(found)


def main(arguments):
    torch.set_num_threads(arguments.threads)
    torch.set_num_interop_threads(arguments.threads)
    torch.manual_seed(SEED)
    if DEVICE.type == "cuda":  # true FP32, as the engine without tf32 = true
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    train_pixels, train_path = read_idx_images(arguments.data, "train")
    test_pixels, test_path = read_idx_images(arguments.data, "test")
    train_pixels, test_pixels = train_pixels.to(DEVICE), test_pixels.to(DEVICE)  # staged once, as the engine

    benchmarks = []
    for batch_size in (int(b) for b in arguments.batch_sizes.split(",")):
        result = train_benchmark(train_pixels, batch_size, arguments)
        benchmarks.append(result)
        print(f"{result['name']}/B:{batch_size}  {result['examples_per_second']:10.1f} examples/s"
              f"  loss={result['loss']:.4g}", flush=True)
    if not arguments.no_evaluate:
        result = evaluate_benchmark(test_pixels, arguments)
        benchmarks.append(result)
        print(f"{result['name']}/rows:{EVALUATION_ROWS}  {result['examples_per_second']:10.1f}"
              f" examples/s  loss={result['loss']:.4g}", flush=True)

    context = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": platform.node(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        "blas_libraries": blas_libraries(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability()
        if hasattr(torch.backends, "cpu") else "unknown",
        "affinity": sorted(os.sched_getaffinity(0)),
        "device": str(DEVICE),
        "gpu": torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else None,
        "train_images": train_path,
        "test_images": test_path,
        "min_time": arguments.min_time,
        "repetitions": arguments.repetitions,
    }
    if arguments.out:
        with open(arguments.out, "w") as out:
            json.dump({"context": context, "benchmarks": benchmarks}, out, indent=2)


if __name__ == "__main__":
    main(ARGUMENTS)
