"""Read an sgdsweep sweep file (docs/hdf5-schema.md) with h5py + numpy only: trials, curves, step losses, checksums."""
import signal
import sys

import h5py
import numpy as np

STATUS = ("pending", "finished", "diverged", "failed")  # codes 0..3 of the status column
CURVES = ("eval_step", "eval_epoch", "eval_learning_rate", "train_loss", "test_metric")
# Root datasets that are neither trial columns nor curves: the dimension coordinate `eval`, the
# flat ragged `step_loss` and `obs`, its netCDF "dimension without a variable" (never written).
NOT_COLUMNS = ("eval", "obs", "step_loss")
_FNV_OFFSET, _FNV_PRIME, _MASK = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1


def _attribute(value):
    """An attribute as a plain Python value: numpy scalars (how numeric root attributes are stored)
    and 1-element arrays become Python numbers, bytes are decoded."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.size == 1:
        return value.reshape(-1)[0].item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _on_trial_axis(dataset):
    """Whether dimension 0 of `dataset` is the `trial` dimension (a dimension scale attached)."""
    try:
        return "trial" in dataset.dims[0].keys()
    except (KeyError, RuntimeError, ValueError):
        return False


def fnv1a64(data):
    """FNV-1a 64 of a bytes object, as util/checksum.hpp computes it."""
    h = _FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & _MASK
    return h


def _fnv1a64_many(rows):
    """FNV-1a 64 of several equally long bytes objects at once (numpy wraps uint64 products)."""
    matrix = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), -1).T.copy()
    h = np.full(len(rows), _FNV_OFFSET, dtype=np.uint64)
    prime = np.uint64(_FNV_PRIME)
    for column in matrix:
        h = (h ^ column) * prime
    return [int(x) for x in h]


class Sweep:
    """An open sweep file: `attrs`, `trials` (column -> 1-D array), `curves` (name -> 2-D array)."""

    def __init__(self, path):
        self.path = path
        self.file = h5py.File(path, "r")
        f = self.file
        self.attrs = {name: _attribute(value) for name, value in f.attrs.items()}
        if "schema_version" not in self.attrs:
            raise ValueError(f"{path}: not an sgdsweep file (no schema_version attribute)")
        self.trials, self.curves = {}, {}
        for name, dataset in f.items():
            if not isinstance(dataset, h5py.Dataset) or name in NOT_COLUMNS:
                continue
            if dataset.ndim == 1 and (name == "trial" or _on_trial_axis(dataset)):
                self.trials[name] = dataset[()]
            elif dataset.ndim == 2 and _on_trial_axis(dataset):
                self.curves[name] = dataset[()]
        self.eval = f["eval"][()]
        for name in list(self.trials):  # categories: add NAME_name with the decoded strings
            attrs = f[name].attrs
            if "flag_values" in attrs and "flag_meanings" in attrs:
                meanings = dict(zip(np.asarray(attrs["flag_values"]).tolist(),
                                    _attribute(attrs["flag_meanings"]).split()))
                self.trials[name + "_name"] = np.array(
                    [meanings.get(int(code), f"?{int(code)}") for code in self.trials[name]])
        # The stored message bytes (fixed length, NUL-padded) go into the checksum; the table gets
        # them decoded.
        self._message_bytes = self.trials.get("message")
        if self._message_bytes is not None:
            self.trials["message"] = np.array(
                [m.decode("utf-8", "replace") for m in self._message_bytes])

    def __len__(self):
        return len(self.trials["trial"])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.file.close()

    def step_losses(self, i):
        """Trial i's minibatch losses at steps 0, e, 2e, ... (e = step_loss_every), float32."""
        start = int(self.trials["step_loss_row_start"][i])
        return self.file["step_loss"][start:start + int(self.trials["step_loss_row_size"][i])]

    def checksum_bytes(self, i):
        """The bytes outcome_checksum() hashes for trial i, in its order, as little-endian values:
        the five curve rows, the step_loss row, status, steps_completed, final_train_loss,
        final_test_metric, rank, team_size, wall_seconds, examples_per_second and the stored
        message bytes."""
        t = self.trials
        parts = [self.curves["eval_step"][i].astype("<i8").tobytes()]
        parts += [self.curves[name][i].astype("<f8").tobytes() for name in CURVES[1:]]
        parts.append(np.asarray(self.step_losses(i), dtype="<f4").tobytes())
        parts.append(np.asarray(t["status"][i], dtype="<i1").tobytes())
        parts.append(np.asarray(t["steps_completed"][i], dtype="<i8").tobytes())
        parts.append(np.asarray(t["final_train_loss"][i], dtype="<f8").tobytes())
        parts.append(np.asarray(t["final_test_metric"][i], dtype="<f8").tobytes())
        parts.append(np.asarray(t["rank"][i], dtype="<i4").tobytes())
        parts.append(np.asarray(t["team_size"][i], dtype="<i4").tobytes())
        parts.append(np.asarray(t["wall_seconds"][i], dtype="<f8").tobytes())
        parts.append(np.asarray(t["examples_per_second"][i], dtype="<f8").tobytes())
        # All the stored bytes of the fixed-length string (a slice keeps numpy's NUL padding).
        parts.append(self._message_bytes[i:i + 1].tobytes())
        return b"".join(parts)

    def checksum(self, i):
        """FNV-1a 64 of trial i's stored outcome, recomputed exactly as sweep_file.cpp does."""
        return fnv1a64(self.checksum_bytes(i))

    def verify_checksums(self):
        """Indices of committed (non-pending) trials whose stored checksum does not match."""
        done = [i for i in range(len(self)) if self.trials["status"][i] != 0]
        by_length = {}
        for i in done:
            data = self.checksum_bytes(i)
            by_length.setdefault(len(data), []).append((i, data))
        computed = {}
        for group in by_length.values():
            if len(group) < 8:
                values = [fnv1a64(data) for _, data in group]
            else:
                values = _fnv1a64_many([data for _, data in group])
            computed.update((i, v) for (i, _), v in zip(group, values))
        return [i for i in done if computed[i] != int(self.trials["checksum"][i])]


def open_sweep(path):
    """Opens a sweep file read-only (set HDF5_USE_FILE_LOCKING=FALSE to read one being written)."""
    return Sweep(path)


def main(argv):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends the listing quietly
    if len(argv) != 2:
        print(f"usage: {argv[0]} FILE.h5   (one line per trial)", file=sys.stderr)
        return 2
    with open_sweep(argv[1]) as sweep:
        a, t = sweep.attrs, sweep.trials
        print(f"# {a.get('sweep_name')}: {len(sweep)} trials, {a.get('evaluations')} evaluations, "
              f"schema {a.get('schema_version')}, {a.get('metric_name')}")
        bad = set(sweep.verify_checksums())
        for i in range(len(sweep)):
            status = t["status_name"][i]
            check = "" if status == "pending" else (" CHECKSUM MISMATCH" if i in bad else " ok")
            print(f"{int(t['trial'][i]):5d} {status:8s} {t['optimizer_name'][i]:8s} "
                  f"B={int(t['batch_size'][i]):<5d} log2_eff_lr={t['log2_effective_learning_rate'][i]:+.3g} "
                  f"seed={int(t['seed_index'][i])} steps={int(t['steps_completed'][i])}/{int(t['steps'][i])} "
                  f"train_loss={t['final_train_loss'][i]:.6g} test_metric={t['final_test_metric'][i]:.6g}"
                  f"{check}{(' ' + t['message'][i]) if t['message'][i] else ''}")
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
