#!/usr/bin/env python3
"""PyTorch eager twin of sgdsweep::wrn16_4_train_step (bench/autoencoder_throughput.cpp --cifar):
one WRN-16-4 training step on CIFAR-10 images, timed in images per second.

The same network as src/nn/models/wide_resnet.cpp (pre-activation blocks, widths 64/128/256, 1×1
shortcuts on the pre-activated input, ghost batch norm, global average pool, linear classifier),
the same step: the batch gathered from u8 images already on the device, pad-4 random crop and
flip, per-channel normalisation, forward + backward per ghost batch of 64 with the gradients
accumulated (as the engine's microbatches), softmax cross-entropy mean over the batch, heavy-ball
SGD (momentum 0.9, L2 5e-4 on conv and linear weights), the loss read back every step. FP32 with
TF32 off (the engine's default), channels-last (NHWC, as the engine), cuDNN deterministic when
--deterministic (the engine's default) so both sides pick from the same class of algorithms.

  python3 bench/gpu/pytorch_wrn.py --cifar DIR --device cuda --out result.json
Output: a line per measurement, and with --out the JSON layout of bench/pytorch_autoencoder.py.
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from timing import add_arguments, measure

SEED, GHOST, LR, MOMENTUM, L2 = 2020, 64, 0.1, 0.9, 5e-4


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cifar", required=True, help="CIFAR-10 binary folder (data_batch_1..5.bin)")
    add_arguments(parser, batch_sizes="128", warmup_steps=10)
    parser.add_argument("--deterministic", action="store_true", help="cudnn.deterministic = True")
    return parser.parse_args()


def read_cifar10(folder):
    records = []
    for batch in range(1, 6):
        path = os.path.join(folder, f"data_batch_{batch}.bin")
        if os.path.exists(path):
            records.append(np.fromfile(path, dtype=np.uint8).reshape(-1, 3073))
    if not records:
        sys.exit(f"pytorch_wrn.py: no data_batch_*.bin in {folder}")
    data = np.concatenate(records)
    return torch.from_numpy(data[:, 1:].reshape(-1, 3, 32, 32).copy()), torch.from_numpy(data[:, 0].astype(np.int64))


class Block(torch.nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.norm1, self.norm2 = torch.nn.BatchNorm2d(cin), torch.nn.BatchNorm2d(cout)
        self.conv1 = torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = torch.nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = torch.nn.Conv2d(cin, cout, 1, stride, 0, bias=False) if stride != 1 or cin != cout else None

    def forward(self, h):
        a1 = F.relu(self.norm1(h))
        z = self.conv2(F.relu(self.norm2(self.conv1(a1))))
        return (self.shortcut(a1) if self.shortcut is not None else h) + z


class WideResNet(torch.nn.Module):
    def __init__(self, depth=16, width=4, classes=10):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        blocks, channels = [], 16
        for group_width, stride in zip([16 * width, 32 * width, 64 * width], [1, 2, 2]):
            for b in range((depth - 4) // 6):
                blocks.append(Block(channels, group_width, stride if b == 0 else 1))
                channels = group_width
        self.blocks = torch.nn.Sequential(*blocks)
        self.final_norm = torch.nn.BatchNorm2d(channels)
        self.classifier = torch.nn.Linear(channels, classes)

    def forward(self, x):
        h = F.relu(self.final_norm(self.blocks(self.stem(x))))
        return self.classifier(h.mean(dim=(2, 3)))


def main(arguments):
    device = torch.device(arguments.device)
    torch.manual_seed(SEED)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = not arguments.deterministic
        torch.backends.cudnn.deterministic = arguments.deterministic
    images, labels = read_cifar10(arguments.cifar)
    images, labels = images.to(device), labels.to(device)
    mean = images.float().mean(dim=(0, 2, 3), keepdim=True) / 255
    std = (images.float() / 255).std(dim=(0, 2, 3), keepdim=True)

    benchmarks = []
    for batch_size in (int(b) for b in arguments.batch_sizes.split(",")):
        model = WideResNet().to(device).to(memory_format=torch.channels_last)
        weights = [p for n, p in model.named_parameters() if n.endswith("weight") and p.dim() > 1]
        others = [p for n, p in model.named_parameters() if not (n.endswith("weight") and p.dim() > 1)]
        optimizer = torch.optim.SGD([{"params": weights, "weight_decay": L2}, {"params": others, "weight_decay": 0.0}],
                                    lr=LR, momentum=MOMENTUM)
        steps_per_epoch = images.shape[0] // batch_size
        arange = torch.arange(32, device=device)
        state = {"permutation": None, "loss": float("nan")}

        def run_step(step):
            if step % steps_per_epoch == 0:
                state["permutation"] = torch.randperm(images.shape[0], device=device)
            rows = state["permutation"][(step % steps_per_epoch) * batch_size:][:batch_size]
            x = F.pad(images.index_select(0, rows).float() / 255, (4, 4, 4, 4))
            oy = torch.randint(0, 9, (batch_size,), device=device)
            ox = torch.randint(0, 9, (batch_size,), device=device)
            ys, xs = oy[:, None] + arange, ox[:, None] + arange
            xs = torch.where(torch.rand(batch_size, device=device)[:, None] < 0.5, xs.flip(1), xs)
            x = x[torch.arange(batch_size, device=device)[:, None, None, None], torch.arange(3, device=device)[None, :, None, None],
                  ys[:, None, :, None], xs[:, None, None, :]]
            x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
            y = labels.index_select(0, rows)
            optimizer.zero_grad(set_to_none=True)
            total = 0.0
            for xg, yg in zip(x.split(GHOST), y.split(GHOST)):
                loss = F.cross_entropy(model(xg), yg, reduction="sum") / batch_size
                loss.backward()
                total += loss.item()
            state["loss"] = total
            optimizer.step()

        result = measure("pytorch::wrn16_4_train_step", run_step, device, batch_size, arguments)
        result["loss"] = state["loss"]
        benchmarks.append(result)
        print(f"{result['name']}/B:{batch_size}  {result['examples_per_second']:10.1f} images/s  loss={result['loss']:.4g}",
              flush=True)
    context = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node(), "torch": torch.__version__,
               "device": str(device), "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
               "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
               "deterministic": arguments.deterministic, "tf32": False, "cifar": arguments.cifar,
               "train_images": int(images.shape[0])}
    if arguments.out:
        with open(arguments.out, "w") as out:
            json.dump({"context": context, "benchmarks": benchmarks}, out, indent=2)


if __name__ == "__main__":
    main(parse_arguments())
