#!/usr/bin/env python3
"""Writes the PyTorch ground truth for the autoencoder test: weights, a batch, loss, gradients, and
the losses of three heavy-ball steps with L2 on weights only, computed in float64 by PyTorch.

Usage: autoencoder_torch.py OUT.bin   (read by tests/unit/test_reference_torch.cpp)
File format: b"SGDREF1\\0", then records of (u32 name length, name bytes, u64 count, count float64).
"""
import struct
import sys

import torch

WIDTHS = [784, 1000, 500, 250, 30, 250, 500, 1000, 784]
CODE_LAYER = 3
BATCH = 5
LEARNING_RATE = 0.002  # epsilon (not epsilon_eff)
MOMENTUM = 0.9
L2 = 1e-3  # larger than the paper's 1e-5 so that the L2 term is visible in three steps


def main(path):
    torch.manual_seed(20200)
    # Everything is drawn in float32 and then widened, so the C++ side sees exactly these values.
    layers = []
    for fan_in, fan_out in zip(WIDTHS[:-1], WIDTHS[1:]):
        bound = (6.0 / (fan_in + fan_out)) ** 0.5
        weight = ((torch.rand(fan_out, fan_in) * 2 - 1) * bound).double().requires_grad_()
        bias = ((torch.rand(fan_out) * 2 - 1) * 0.1).double().requires_grad_()
        layers.append((weight, bias))
    batch = torch.rand(BATCH, 784).double()

    def loss_of(x):
        h = x
        for index, (weight, bias) in enumerate(layers):
            h = h @ weight.T + bias
            if index != CODE_LAYER:
                h = torch.sigmoid(h)
        return ((h - x) ** 2).sum(dim=1).mean()  # squared error per image, mean over images

    # Clones: the optimizer updates the parameters (and zero_grad the gradients) in place.
    records = [("input", batch.flatten())]
    for index, (weight, bias) in enumerate(layers):
        records += [(f"layer{index}.weight", weight.detach().clone().flatten()),
                    (f"layer{index}.bias", bias.detach().clone().flatten())]

    optimizer = torch.optim.SGD(
        [{"params": [w for w, _ in layers], "weight_decay": L2},
         {"params": [b for _, b in layers], "weight_decay": 0.0}],
        lr=LEARNING_RATE, momentum=MOMENTUM)
    losses = []
    for step in range(3):
        optimizer.zero_grad()
        loss = loss_of(batch)
        loss.backward()
        losses.append(loss.item())
        if step == 0:
            for index, (weight, bias) in enumerate(layers):
                records += [(f"grad.layer{index}.weight", weight.grad.clone().flatten()),
                            (f"grad.layer{index}.bias", bias.grad.clone().flatten())]
        optimizer.step()
    records.append(("losses", torch.tensor(losses, dtype=torch.float64)))
    records.append(("hyperparameters", torch.tensor([LEARNING_RATE, MOMENTUM, L2], dtype=torch.float64)))

    with open(path, "wb") as out:
        out.write(b"SGDREF1\0")
        for name, values in records:
            encoded = name.encode()
            out.write(struct.pack("<I", len(encoded)) + encoded + struct.pack("<Q", values.numel()))
            out.write(values.contiguous().numpy().astype("<f8").tobytes())


if __name__ == "__main__":
    main(sys.argv[1])
