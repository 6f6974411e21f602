#!/usr/bin/env python3
"""PyTorch eager twin of sgdsweep::lstm_pack_step at P = 1 (bench/autoencoder_throughput.cpp --ptb):
one training step of the paper's word-level LSTM, one trial per GPU, timed in streams per second.

The network of src/nn/models/lstm_lm.cpp (Zaremba et al.: embedding, dropout 0.5 on the input of
each of the 2 LSTM layers of 650 units and on the decoder's input, a linear decoder over the
vocabulary, uniform init ±0.05), PyTorch's cuDNN LSTM for each layer (what a PyTorch user runs),
the same step: B token streams over a window of 35, the state carried from window to window
(detached), cross-entropy per token, global-norm clipping at 5, heavy-ball SGD (momentum 0.9), the
loss read back every step. The text is ptb.valid.txt, as the engine's benchmark trains on (../shared
has no ptb.train.txt), so both sides have its vocabulary. FP32 with TF32 off, as the engine.

  python3 bench/gpu/pytorch_lstm.py --ptb DIR --device cuda --out result.json
Output: a line per measurement, and with --out the JSON layout of bench/pytorch_autoencoder.py
(examples = streams: trial-steps per second = examples_per_second / batch_size).
"""
import argparse
import json
import os
import platform
import time

import torch
import torch.nn.functional as F

from timing import add_arguments, measure

SEED, HIDDEN, LAYERS, WINDOW, DROPOUT, INIT, CLIP, LR, MOMENTUM = 2020, 650, 2, 35, 0.5, 0.05, 5.0, 0.1, 0.9


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ptb", required=True, help="folder with ptb.valid.txt")
    add_arguments(parser, batch_sizes="64", warmup_steps=5)
    return parser.parse_args()


def read_tokens(path):
    words = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            words += line.split() + ["<eos>"]
    vocabulary = {w: i for i, w in enumerate(sorted(set(words)))}
    return torch.tensor([vocabulary[w] for w in words], dtype=torch.int64), len(vocabulary)


class LanguageModel(torch.nn.Module):
    def __init__(self, vocabulary):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocabulary, HIDDEN)
        self.layers = torch.nn.ModuleList(torch.nn.LSTM(HIDDEN, HIDDEN) for _ in range(LAYERS))
        self.decoder = torch.nn.Linear(HIDDEN, vocabulary)
        for p in self.parameters():
            torch.nn.init.uniform_(p, -INIT, INIT)

    def forward(self, tokens, state):
        x, carried = self.embedding(tokens), []
        for layer, (h, c) in zip(self.layers, state):
            x, (h, c) = layer(F.dropout(x, DROPOUT, self.training), (h, c))
            carried.append((h.detach(), c.detach()))
        return self.decoder(F.dropout(x, DROPOUT, self.training)), carried


def main(arguments):
    device = torch.device(arguments.device)
    torch.manual_seed(SEED)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    tokens, vocabulary = read_tokens(os.path.join(arguments.ptb, "ptb.valid.txt"))

    benchmarks = []
    for batch_size in (int(b) for b in arguments.batch_sizes.split(",")):
        length = tokens.numel() // batch_size
        streams = tokens[:length * batch_size].view(batch_size, length).t().contiguous().to(device)  # [length, B]
        steps_per_epoch = (length - 1) // WINDOW
        model = LanguageModel(vocabulary).to(device)
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        zeros = lambda: [(torch.zeros(1, batch_size, HIDDEN, device=device),) * 2 for _ in range(LAYERS)]
        state = {"carried": zeros(), "loss": float("nan")}

        def run_step(step):
            t = (step % steps_per_epoch) * WINDOW
            if t == 0:
                state["carried"] = zeros()
            logits, state["carried"] = model(streams[t:t + WINDOW], state["carried"])
            loss = F.cross_entropy(logits.view(-1, vocabulary), streams[t + 1:t + 1 + WINDOW].reshape(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            optimizer.step()
            state["loss"] = loss.item()

        result = measure("pytorch::lstm_train_step", run_step, device, batch_size, arguments)
        result["loss"] = state["loss"]
        benchmarks.append(result)
        print(f"{result['name']}/B:{batch_size}  {result['examples_per_second']:10.1f} streams/s "
              f"({result['examples_per_second'] / batch_size:.2f} steps/s)  loss={result['loss']:.4g}", flush=True)
    context = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node(), "torch": torch.__version__,
               "device": str(device), "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
               "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None, "tf32": False,
               "ptb": arguments.ptb, "vocabulary": vocabulary, "tokens": int(tokens.numel())}
    if arguments.out:
        with open(arguments.out, "w") as out:
            json.dump({"context": context, "benchmarks": benchmarks}, out, indent=2)


if __name__ == "__main__":
    main(parse_arguments())
