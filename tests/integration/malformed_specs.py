#!/usr/bin/env python3
"""Bad input under mpirun: each case must exit non-zero, name the field or file, and leave no file."""
import argparse
import pathlib
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sgdsweep", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    work = pathlib.Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tiny = (HERE / "tiny.toml").read_text()

    # A Fashion-MNIST folder whose training file is cut short (a partial download).
    truncated = work / "truncated-data"
    truncated.mkdir()
    real = pathlib.Path("/usr/share/datasets/fashion-mnist")
    (truncated / "train-images-idx3-ubyte.gz").write_bytes(
        (real / "train-images-idx3-ubyte.gz").read_bytes()[:200_000])
    shutil.copy(real / "t10k-images-idx3-ubyte.gz", truncated)
    empty = work / "empty-data"
    empty.mkdir()

    cases = [
        ("unknown key", tiny.replace("batch_sizes", "batchsize"),
         ["unknown key 'batchsize' in [grid]", "valid keys: batch_sizes"]),
        ("bad type", tiny.replace("seeds = 2", "seeds = \"two\""),
         ["[sweep].seeds must be an integer", "got string"]),
        ("negative batch size", tiny.replace("[16, 64]", "[16, -64]"),
         ["[grid].batch_sizes", "-64", "must be positive"]),
        ("missing data file", tiny.replace("/usr/share/datasets/fashion-mnist", str(empty)),
         ["missing data file", str(empty / "train-images-idx3-ubyte")]),
        ("truncated data file", tiny.replace("/usr/share/datasets/fashion-mnist", str(truncated)),
         [str(truncated / "train-images-idx3-ubyte.gz")]),
        ("batch larger than the data", tiny.replace("[16, 64]", "[16, 4096]"),
         ["batch size 4096", "1024 training examples"]),
    ]
    failures = []
    for name, text, fragments in cases:
        spec = work / (name.replace(" ", "-") + ".toml")
        spec.write_text(text)
        out = work / (name.replace(" ", "-") + ".h5")
        result = subprocess.run([args.mpiexec, "-np", "2", args.sgdsweep, "run", str(spec), "--out", str(out)],
                                capture_output=True, text=True, timeout=300)
        problems = []
        if result.returncode == 0:
            problems.append("exit code 0")
        problems += [f"stderr lacks {f!r}" for f in fragments if f not in result.stderr]
        problems += [f"{p} was left behind" for p in (out, pathlib.Path(str(out) + ".partial")) if p.exists()]
        print(f"{name}: exit {result.returncode}; {result.stderr.strip().splitlines()[:1]}")
        if problems:
            failures.append(f"{name}: {'; '.join(problems)}\n--- stderr ---\n{result.stderr}")

    # An existing output is not replaced without --overwrite, and is left as it was.
    spec = work / "valid.toml"
    spec.write_text(tiny)
    existing = work / "existing.h5"
    existing.write_bytes(b"precious")
    result = subprocess.run([args.mpiexec, "-np", "2", args.sgdsweep, "run", str(spec), "--out", str(existing)],
                            capture_output=True, text=True, timeout=300)
    if result.returncode == 0 or "already exists" not in result.stderr or existing.read_bytes() != b"precious":
        failures.append(f"existing output: exit {result.returncode}, stderr {result.stderr!r}")

    # A file another process is still writing (it holds the lock, as a killed job's surviving
    # ranks would): neither --overwrite nor --resume may touch it.
    import fcntl
    held = work / "held.h5"
    held.write_bytes(b"in use")
    with open(str(held) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        for flag in ("--overwrite", "--resume"):
            result = subprocess.run([args.mpiexec, "-np", "2", args.sgdsweep, "run", str(spec), "--out", str(held), flag],
                                    capture_output=True, text=True, timeout=300)
            if result.returncode == 0 or "still writing" not in result.stderr or held.read_bytes() != b"in use":
                failures.append(f"locked output with {flag}: exit {result.returncode}, stderr {result.stderr!r}")

    for failure in failures:
        print("FAIL " + failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
