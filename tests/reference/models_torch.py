#!/usr/bin/env python3
"""Writes the PyTorch ground truth for tests/unit/test_reference_models.cpp, computed in float64:

  wrn_bn.*     WRN-16-4 with (ghost) batch normalisation, training mode, on 4 images: logits, loss,
               the gradient of the logits, every parameter gradient; one SGD step (momentum, L2 on
               the conv and linear weights only); the running statistics and small tensors after
               it; the losses of a second forward in training and evaluation mode.
  wrn_skip.*   WRN-16-4 Regularized SkipInit (no BN, conv biases, residual scalars; dropout off):
               the same records.
  block.*      one ghost-BN block alone (group 1, block 0: 64 → 128 channels, stride 2, 1×1
               shortcut) on [4, 64, 16, 16] with a random upstream gradient.
  lstm_layer.* one LSTM layer (torch.nn.LSTM) over 4 steps from a non-zero (h0, c0), with a random
               upstream gradient of every h_t.
  lm.*         the LSTM language model (embedding → 2 LSTM layers → decoder, dropout off) over two
               consecutive windows, the second from the state the first left (detached).
  maxpool.*    max_pool2d(3, stride 2, padding 1) on [2, 5, 9, 7] values with many ties (integers
               0…2): output and the gradient of sum(y · upstream), which PyTorch routes to the first
               largest value of each window.
  resnet_stem.* the ResNet-50 stem (conv7×7/2, BN, ReLU, max pool 3×3/2) on [3, 3, 33, 31]:
               output, batch statistics, the gradients of sum(out · upstream) for x and every
               parameter.
  bottleneck_down.*, bottleneck_identity.* a ResNet-50 bottleneck block alone: the downsampling
               one (256 → 128 → 512 channels, stride 2 in the 3×3 convolution, projection shortcut
               with BN) on [4, 256, 9, 9], and an identity one (512 → 128 → 512) on [4, 512, 5, 5].
  resnet50.*   the whole ResNet-50 (10 classes) in training mode on 8 images of 32×32: logits, loss,
               ∂L/∂logits, ∂L/∂x, every BN's batch statistics, and each parameter gradient's largest
               value, norm and a strided sample of up to 4096 of its values; then the logits and loss
               in evaluation mode (running statistics). The batch is drawn again until PyTorch's own
               float32 gradients agree with its float64 ones (no decision within rounding of a tie);
               `resnet50.float32_error` = that error and the attempt. Its 23.5 million parameters are not stored:
               each tensor t is offset + scale · u(t, i) (hashed_uniform, float32), which
               test_reference_models.cpp computes the same way (`resnet50.rule.<name>` = t, offset,
               scale).

Every value is drawn in float32 and then widened, so the C++ side sees exactly these values.
Layouts are PyTorch's: images and activations NCHW, conv weights OIHW (the C++ side permutes to
NHWC / OHWI); sequences time-major [T, streams, features]; token ids as float64.
Parameter names are the C++ Parameters names; `<prefix>.shape.<name>` holds each one's torch shape.

Usage: models_torch.py OUT.bin   (read by tests/unit/test_reference_models.cpp)
File format: b"SGDREF1\\0", then records of (u32 name length, name bytes, u64 count, count float64)
(the format of autoencoder_torch.py).
"""
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

# ---- WRN-16-4 --------------------------------------------------------------------------------------
DEPTH, WIDTH, CLASSES = 16, 4, 10
IMAGES, HEIGHT, WIDTH_PIXELS, CHANNELS = 4, 32, 32, 3
LEARNING_RATE = 0.1  # epsilon (not epsilon_eff)
MOMENTUM = 0.9
L2 = 5e-4  # the paper's, on conv and linear weights only
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.1  # r <- 0.9 r + 0.1 * (batch mean, unbiased batch variance)
SKIPINIT_SCALES = [0.5, -0.3, 0.7, -0.4, 0.6, -0.2]  # one per block; non-zero so the branch matters

# ---- LSTM ------------------------------------------------------------------------------------------
VOCABULARY, HIDDEN, LAYERS, WINDOW, STREAMS = 50, 24, 2, 5, 3
LM_INIT_SCALE = 0.25  # uniform in [-s, s]; larger than the paper's so the gates saturate somewhat
LAYER_STEPS, LAYER_ROWS, LAYER_IN, LAYER_HIDDEN = 4, 3, 6, 5  # in != hidden: catches transposes


def uniform(shape, scale):
    return ((torch.rand(shape) * 2 - 1) * scale).double()


def he_normal(out_channels, in_channels, kernel):
    deviation = (2.0 / (kernel * kernel * in_channels)) ** 0.5
    return (torch.randn(out_channels, in_channels, kernel, kernel) * deviation).double()


def wrn_blocks():
    """(name, in_channels, out_channels, stride) of every block, in declaration order."""
    blocks, channels = [], 16
    per_group = (DEPTH - 4) // 6
    for group, (width, stride) in enumerate(zip([16 * WIDTH, 32 * WIDTH, 64 * WIDTH], [1, 2, 2])):
        for b in range(per_group):
            blocks.append((f"group{group}.block{b}", channels, width, stride if b == 0 else 1))
            channels = width
    return blocks


def has_shortcut(in_channels, out_channels, stride):
    return stride != 1 or in_channels != out_channels


def wrn_names(batch_norm):
    """Parameter names in the C++ declaration order (wide_resnet.cpp)."""
    def norm(name):
        return [f"{name}.gamma", f"{name}.beta", f"{name}.running_mean", f"{name}.running_variance"]

    def conv(name):
        return [f"{name}.weight"] + ([] if batch_norm else [f"{name}.bias"])

    names = conv("stem")
    for name, cin, cout, stride in wrn_blocks():
        names += (norm(name + ".norm1") if batch_norm else []) + conv(name + ".conv1")
        names += (norm(name + ".norm2") if batch_norm else []) + conv(name + ".conv2")
        if has_shortcut(cin, cout, stride):
            names += conv(name + ".shortcut")
        if not batch_norm:
            names.append(name + ".skipinit_scale")
    names += (norm("final_norm") if batch_norm else []) + ["classifier.weight", "classifier.bias"]
    return names


def wrn_parameters():
    """The union of both variants' parameters: conv weights and the classifier are shared."""
    p = {"stem.weight": he_normal(16, CHANNELS, 3), "stem.bias": uniform(16, 0.1)}

    def norm(name, channels):
        p[name + ".gamma"] = (1 + uniform(channels, 0.5).float()).double()  # in [0.5, 1.5]
        p[name + ".beta"] = uniform(channels, 0.2)
        p[name + ".running_mean"] = torch.zeros(channels, dtype=torch.float64)
        p[name + ".running_variance"] = torch.ones(channels, dtype=torch.float64)

    def conv(name, cin, cout, kernel):
        p[name + ".weight"] = he_normal(cout, cin, kernel)
        p[name + ".bias"] = uniform(cout, 0.1)

    for index, (name, cin, cout, stride) in enumerate(wrn_blocks()):
        norm(name + ".norm1", cin)
        conv(name + ".conv1", cin, cout, 3)
        norm(name + ".norm2", cout)
        conv(name + ".conv2", cout, cout, 3)
        if has_shortcut(cin, cout, stride):
            conv(name + ".shortcut", cin, cout, 1)
        p[name + ".skipinit_scale"] = torch.tensor([SKIPINIT_SCALES[index]], dtype=torch.float32).double()
    features = 64 * WIDTH
    norm("final_norm", features)
    bound = (6.0 / (features + CLASSES)) ** 0.5
    p["classifier.weight"] = uniform((CLASSES, features), bound)
    p["classifier.bias"] = uniform(CLASSES, 0.1)
    return p


def wrn_forward(p, x, batch_norm, training):
    """Logits of the pre-activation WRN (wide_resnet.cpp): stem; blocks a1 = relu(bn1(x)),
    y = conv1(a1), a2 = relu(bn2(y)), out = shortcut + [scale ·] conv2(a2); relu(bn), pool, linear."""
    def norm_relu(name, h):
        if not batch_norm:
            return F.relu(h)
        return F.relu(F.batch_norm(h, p[name + ".running_mean"], p[name + ".running_variance"],
                                   p[name + ".gamma"], p[name + ".beta"], training=training,
                                   momentum=BN_MOMENTUM, eps=BN_EPSILON))

    def conv(name, h, stride, padding):
        return F.conv2d(h, p[name + ".weight"], None if batch_norm else p[name + ".bias"],
                        stride=stride, padding=padding)

    h = conv("stem", x, 1, 1)
    for name, cin, cout, stride in wrn_blocks():
        a1 = norm_relu(name + ".norm1", h)
        y = conv(name + ".conv1", a1, stride, 1)
        a2 = norm_relu(name + ".norm2", y)
        z = conv(name + ".conv2", a2, 1, 1)
        shortcut = conv(name + ".shortcut", a1, stride, 0) if has_shortcut(cin, cout, stride) else h
        h = shortcut + (z if batch_norm else p[name + ".skipinit_scale"] * z)
    pooled = norm_relu("final_norm", h).mean(dim=(2, 3))
    return F.linear(pooled, p["classifier.weight"], p["classifier.bias"])


def wrn_records(prefix, union, images, labels, batch_norm):
    names = wrn_names(batch_norm)
    p = {name: union[name].clone() for name in names}
    trainable = [name for name in names if "running" not in name]
    for name in trainable:
        p[name].requires_grad_()
    records = [(prefix + ".tensor_count", torch.tensor([float(len(names))]))]

    logits = wrn_forward(p, images, batch_norm, training=True)  # updates the running statistics
    logits.retain_grad()
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    records += [(prefix + ".logits", logits.detach()), (prefix + ".loss", loss.detach().reshape(1)),
                (prefix + ".grad.logits", logits.grad)]
    records += [(f"{prefix}.grad.{name}", p[name].grad) for name in trainable]

    optimizer = torch.optim.SGD(
        [{"params": [p[n] for n in trainable if n.endswith(".weight")], "weight_decay": L2},
         {"params": [p[n] for n in trainable if not n.endswith(".weight")], "weight_decay": 0.0}],
        lr=LEARNING_RATE, momentum=MOMENTUM)
    optimizer.step()
    # After the step: every tensor small enough to store (all roles: weight, unregularized,
    # running statistic; the big conv weights are left out to keep the fixture small).
    records += [(f"{prefix}.after.{name}", p[name].detach().clone()) for name in names
                if p[name].numel() < 10000]
    with torch.no_grad():
        if batch_norm:  # evaluation mode first: it reads the running statistics after one step
            evaluation_logits = wrn_forward(p, images, batch_norm, training=False)
            records += [(prefix + ".evaluation_logits_after_step", evaluation_logits),
                        (prefix + ".evaluation_loss_after_step",
                         F.cross_entropy(evaluation_logits, labels).reshape(1))]
        second = F.cross_entropy(wrn_forward(p, images, batch_norm, training=True), labels)
    records.append((prefix + ".loss_after_step", second.reshape(1)))
    return records


def wrn_fixture():
    union = wrn_parameters()
    images = torch.randn(IMAGES, CHANNELS, HEIGHT, WIDTH_PIXELS).double()  # NCHW
    labels = torch.randint(CLASSES, (IMAGES,))
    records = [("wrn.shape", torch.tensor([DEPTH, WIDTH, CLASSES, IMAGES, HEIGHT, WIDTH_PIXELS, CHANNELS])),
               ("wrn.hyperparameters", torch.tensor([LEARNING_RATE, MOMENTUM, L2], dtype=torch.float64)),
               ("wrn.input", images), ("wrn.labels", labels)]
    for name, value in union.items():
        records += [("wrn.param." + name, value), ("wrn.shape." + name, torch.tensor(value.shape))]
    records += wrn_records("wrn_bn", union, images, labels, batch_norm=True)
    records += wrn_records("wrn_skip", union, images, labels, batch_norm=False)
    return records


def block_fixture():
    """Group 1, block 0 of the ghost-BN WRN-16-4 alone: out = conv2(relu(bn2(conv1(a1)))) + shortcut(a1),
    a1 = relu(bn1(x)), and the gradients of sum(out · upstream)."""
    cin, cout, stride, size = 16 * WIDTH, 32 * WIDTH, 2, 16
    p = {"conv1.weight": he_normal(cout, cin, 3), "conv2.weight": he_normal(cout, cout, 3),
         "shortcut.weight": he_normal(cout, cin, 1)}
    for name, channels in (("norm1", cin), ("norm2", cout)):
        p[name + ".gamma"] = (1 + uniform(channels, 0.5).float()).double()
        p[name + ".beta"] = uniform(channels, 0.2)
    for value in p.values():
        value.requires_grad_()
    x = (torch.randn(IMAGES, cin, size, size) * 2 + 0.5).double().requires_grad_()
    upstream = torch.randn(IMAGES, cout, size // stride, size // stride).double()

    def norm_relu(name, h):
        return F.relu(F.batch_norm(h, None, None, p[name + ".gamma"], p[name + ".beta"], training=True,
                                   eps=BN_EPSILON))

    a1 = norm_relu("norm1", x)
    y = F.conv2d(a1, p["conv1.weight"], stride=stride, padding=1)
    out = F.conv2d(norm_relu("norm2", y), p["conv2.weight"], padding=1) + \
        F.conv2d(a1, p["shortcut.weight"], stride=stride)
    (out * upstream).sum().backward()
    records = [("block.shape", torch.tensor([IMAGES, size, size, cin, cout, stride])),
               ("block.input", x.detach()), ("block.upstream", upstream), ("block.output", out.detach()),
               ("block.grad.input", x.grad),
               # the batch statistics BN writes into the running-statistic slots (unbiased variance)
               ("block.batch_mean.norm1", x.detach().mean(dim=(0, 2, 3))),
               ("block.batch_variance.norm1", x.detach().var(dim=(0, 2, 3), unbiased=True)),
               ("block.batch_mean.norm2", y.detach().mean(dim=(0, 2, 3))),
               ("block.batch_variance.norm2", y.detach().var(dim=(0, 2, 3), unbiased=True))]
    for name, value in p.items():
        records += [("block.param." + name, value.detach()),
                    ("block.shape." + name, torch.tensor(value.shape)), ("block.grad." + name, value.grad)]
    return records


def lstm_layer_fixture():
    """torch.nn.LSTM (one layer, b_hh = 0 so b_ih is our single bias), run one step at a time to
    expose every c_t; gradients of sum(h · upstream)."""
    steps, rows, features, hidden = LAYER_STEPS, LAYER_ROWS, LAYER_IN, LAYER_HIDDEN
    lstm = torch.nn.LSTM(features, hidden).double()
    weights = {"lstm.weight_ih": uniform((4 * hidden, features), 0.5),
               "lstm.weight_hh": uniform((4 * hidden, hidden), 0.5),
               "lstm.bias": uniform(4 * hidden, 0.5)}
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(weights["lstm.weight_ih"])
        lstm.weight_hh_l0.copy_(weights["lstm.weight_hh"])
        lstm.bias_ih_l0.copy_(weights["lstm.bias"])
        lstm.bias_hh_l0.zero_()
    x = uniform((steps, rows, features), 1.0).requires_grad_()
    h0, c0 = uniform((rows, hidden), 0.8), uniform((rows, hidden), 1.5)
    upstream = torch.randn(steps, rows, hidden).double()
    state = (h0.unsqueeze(0), c0.unsqueeze(0))
    hs, cs = [], []
    for t in range(steps):
        _, state = lstm(x[t:t + 1], state)
        hs.append(state[0][0])
        cs.append(state[1][0])
    h, c = torch.stack(hs), torch.stack(cs)
    (h * upstream).sum().backward()
    records = [("lstm_layer.shape", torch.tensor([steps, rows, features, hidden])),
               ("lstm_layer.input", x.detach()), ("lstm_layer.h0", h0), ("lstm_layer.c0", c0),
               ("lstm_layer.upstream", upstream), ("lstm_layer.h", h.detach()), ("lstm_layer.c", c.detach()),
               ("lstm_layer.grad.input", x.grad),
               ("lstm_layer.grad.lstm.weight_ih", lstm.weight_ih_l0.grad),
               ("lstm_layer.grad.lstm.weight_hh", lstm.weight_hh_l0.grad),
               ("lstm_layer.grad.lstm.bias", lstm.bias_ih_l0.grad)]
    records += [("lstm_layer.param." + name, value) for name, value in weights.items()]
    return records


def lm_fixture():
    """Two consecutive windows of the language model; the second starts from the (detached) state
    the first left, as truncated backpropagation carries it."""
    names = ["embedding"]
    p = {"embedding": uniform((VOCABULARY, HIDDEN), LM_INIT_SCALE)}
    lstm = torch.nn.LSTM(HIDDEN, HIDDEN, num_layers=LAYERS).double()
    for layer in range(LAYERS):
        prefix = f"lstm{layer}."
        for name, shape in (("weight_ih", (4 * HIDDEN, HIDDEN)), ("weight_hh", (4 * HIDDEN, HIDDEN)),
                            ("bias", (4 * HIDDEN,))):
            p[prefix + name] = uniform(shape, LM_INIT_SCALE)
            names.append(prefix + name)
        with torch.no_grad():
            getattr(lstm, f"weight_ih_l{layer}").copy_(p[prefix + "weight_ih"])
            getattr(lstm, f"weight_hh_l{layer}").copy_(p[prefix + "weight_hh"])
            getattr(lstm, f"bias_ih_l{layer}").copy_(p[prefix + "bias"])
            getattr(lstm, f"bias_hh_l{layer}").zero_()
    p["decoder.weight"] = uniform((VOCABULARY, HIDDEN), LM_INIT_SCALE)
    p["decoder.bias"] = uniform(VOCABULARY, LM_INIT_SCALE)
    names += ["decoder.weight", "decoder.bias"]
    embedding = p["embedding"].clone().requires_grad_()
    decoder_weight = p["decoder.weight"].clone().requires_grad_()
    decoder_bias = p["decoder.bias"].clone().requires_grad_()
    torch_parameters = {"embedding": embedding, "decoder.weight": decoder_weight,
                        "decoder.bias": decoder_bias}
    for layer in range(LAYERS):
        torch_parameters[f"lstm{layer}.weight_ih"] = getattr(lstm, f"weight_ih_l{layer}")
        torch_parameters[f"lstm{layer}.weight_hh"] = getattr(lstm, f"weight_hh_l{layer}")
        torch_parameters[f"lstm{layer}.bias"] = getattr(lstm, f"bias_ih_l{layer}")  # b_hh = 0

    streams = torch.randint(VOCABULARY, (STREAMS, 2 * WINDOW + 1))
    records = [("lm.shape", torch.tensor([VOCABULARY, HIDDEN, LAYERS, WINDOW, STREAMS])),
               ("lm.tensor_count", torch.tensor([float(len(names))]))]
    records += [("lm.param." + name, p[name]) for name in names]
    state = (torch.zeros(LAYERS, STREAMS, HIDDEN, dtype=torch.float64),
             torch.zeros(LAYERS, STREAMS, HIDDEN, dtype=torch.float64))
    for window in range(2):
        tokens = streams[:, window * WINDOW:(window + 1) * WINDOW].T.contiguous()  # [T, streams]
        labels = streams[:, window * WINDOW + 1:(window + 1) * WINDOW + 1].T.contiguous()
        for value in torch_parameters.values():
            value.grad = None
        output, (h, c) = lstm(F.embedding(tokens, embedding), state)
        logits = F.linear(output, decoder_weight, decoder_bias)  # [T, streams, vocabulary]
        logits.retain_grad()
        loss = F.cross_entropy(logits.reshape(-1, VOCABULARY), labels.reshape(-1))  # mean per token
        loss.backward()
        state = (h.detach(), c.detach())
        records += [(f"lm.tokens{window}", tokens), (f"lm.labels{window}", labels),
                    (f"lm.logits{window}", logits.detach()), (f"lm.loss{window}", loss.detach().reshape(1)),
                    (f"lm.grad{window}.logits", logits.grad)]
        records += [(f"lm.grad{window}.{name}", torch_parameters[name].grad) for name in names]
    return records


# ---- ResNet-50 (Goyal et al. 2017; src/nn/models/resnet.cpp) ---------------------------------------
RESNET_BLOCKS, RESNET_WIDTH, RESNET_CLASSES = [3, 4, 6, 3], 64, 10
RESNET_IMAGES, RESNET_SIZE, RESNET_CHANNELS = 4, 32, 3  # the blocks' batch; the image size of resnet50.*
# The whole model's batch and its branches' last γ: at 32×32 the last group is 1×1, so its BN sees one
# row per image. With 4 images and γ ~ 1 even PyTorch's float32 is off its float64 by up to 4e-2 of a
# gradient's largest value (ReLU and max-pool decisions flip, BN over 4 nearly equal rows amplifies
# rounding); with 8 images and γ in [0.05, 0.15] (near Goyal et al.'s 0) by about 1e-5.
RESNET50_IMAGES, RESNET50_LAST_GAMMA = 8, (0.1, 0.05)
# Even then a ReLU or max-pool input can sit within float32 rounding of a tie, and its decision flips
# (5e-2 errors, in PyTorch's float32 too): batches are drawn until PyTorch's float32 gradients lie
# within this of its float64 ones, a fifth of the test's tolerance.
RESNET50_FLOAT32_ERROR, RESNET50_ATTEMPTS = 2e-5, 20
RESNET_SAMPLE = 4096  # gradient values compared per tensor (all of a smaller tensor)


def bn_names(name):
    return [f"{name}.gamma", f"{name}.beta", f"{name}.running_mean", f"{name}.running_variance"]


def stem_names(name):
    return [f"{name}.conv.weight"] + bn_names(name + ".norm")


def bottleneck_names(name, projection):
    names = []
    for index in (1, 2, 3):
        names += [f"{name}.conv{index}.weight"] + bn_names(f"{name}.norm{index}")
    if projection:
        names += [f"{name}.shortcut.weight"] + bn_names(f"{name}.shortcut_norm")
    return names


def resnet_blocks():
    """(name, in_channels, width, stride, projection) of every block, in declaration order."""
    blocks, channels = [], RESNET_WIDTH
    for group, count in enumerate(RESNET_BLOCKS):
        width = RESNET_WIDTH << group
        for b in range(count):
            stride = 2 if b == 0 and group > 0 else 1
            blocks.append((f"group{group}.block{b}", channels, width, stride,
                           stride != 1 or channels != 4 * width))
            channels = 4 * width
    return blocks


def resnet_names():
    """Parameter names in the C++ declaration order (resnet.cpp)."""
    names = stem_names("stem")
    for name, _, _, _, projection in resnet_blocks():
        names += bottleneck_names(name, projection)
    return names + ["classifier.weight", "classifier.bias"]


def batch_norm(p, name, h, training, statistics):
    """F.batch_norm with p's running statistics (read in evaluation mode, left alone in training
    mode); records the batch mean and unbiased variance of h under the running statistics' names."""
    if training and statistics is not None:
        statistics[name + ".running_mean"] = h.detach().mean(dim=(0, 2, 3))
        statistics[name + ".running_variance"] = h.detach().var(dim=(0, 2, 3), unbiased=True)
    return F.batch_norm(h, None if training else p[name + ".running_mean"],
                        None if training else p[name + ".running_variance"],
                        p[name + ".gamma"], p[name + ".beta"], training=training, eps=BN_EPSILON)


def stem_forward(p, name, x, training, statistics=None):
    y = F.conv2d(x, p[name + ".conv.weight"], stride=2, padding=3)
    a = F.relu(batch_norm(p, name + ".norm", y, training, statistics))
    return F.max_pool2d(a, 3, stride=2, padding=1)


def bottleneck_forward(p, name, x, stride, projection, training, statistics=None):
    """Goyal et al.'s block: the stride in the 3×3 convolution; BN on the projection shortcut."""
    a1 = F.relu(batch_norm(p, name + ".norm1", F.conv2d(x, p[name + ".conv1.weight"]), training, statistics))
    a2 = F.relu(batch_norm(p, name + ".norm2", F.conv2d(a1, p[name + ".conv2.weight"], stride=stride, padding=1),
                           training, statistics))
    z = batch_norm(p, name + ".norm3", F.conv2d(a2, p[name + ".conv3.weight"]), training, statistics)
    shortcut = x
    if projection:
        shortcut = batch_norm(p, name + ".shortcut_norm", F.conv2d(x, p[name + ".shortcut.weight"], stride=stride),
                              training, statistics)
    return F.relu(z + shortcut)


def resnet_forward(p, x, training, statistics=None):
    h = stem_forward(p, "stem", x, training, statistics)
    for name, _, _, stride, projection in resnet_blocks():
        h = bottleneck_forward(p, name, h, stride, projection, training, statistics)
    return F.linear(h.mean(dim=(2, 3)), p["classifier.weight"], p["classifier.bias"])


def random_bn(p, name, channels):
    p[name + ".gamma"] = (1 + uniform(channels, 0.5).float()).double()  # in [0.5, 1.5]
    p[name + ".beta"] = uniform(channels, 0.2)


def parameter_records(prefix, p):
    """param, shape and grad records of the trained tensors of p (running statistics not in p)."""
    records = []
    for name, value in p.items():
        records += [(f"{prefix}.param.{name}", value.detach()), (f"{prefix}.shape.{name}", torch.tensor(value.shape)),
                    (f"{prefix}.grad.{name}", value.grad)]
    return records


def maxpool_fixture():
    """Ties everywhere: PyTorch takes the first largest value of a window (row by row), and so must we."""
    x = torch.randint(3, (2, 5, 9, 7)).double().requires_grad_()
    upstream = torch.randn(2, 5, 5, 4).double()
    y = F.max_pool2d(x, 3, stride=2, padding=1)
    (y * upstream).sum().backward()
    return [("maxpool.shape", torch.tensor([2, 5, 9, 7])), ("maxpool.input", x.detach()),
            ("maxpool.upstream", upstream), ("maxpool.output", y.detach()), ("maxpool.grad.input", x.grad)]


def stem_fixture():
    images, height, width, out_channels = 3, 33, 31, RESNET_WIDTH  # odd sizes: windows over the edges
    p = {"stem.conv.weight": he_normal(out_channels, RESNET_CHANNELS, 7)}
    random_bn(p, "stem.norm", out_channels)
    for value in p.values():
        value.requires_grad_()
    x = torch.randn(images, RESNET_CHANNELS, height, width).double().requires_grad_()
    statistics = {}
    out = stem_forward(p, "stem", x, True, statistics)
    upstream = torch.randn(out.shape).double()
    (out * upstream).sum().backward()
    records = [("resnet_stem.shape", torch.tensor([images, RESNET_CHANNELS, height, width, out_channels])),
               ("resnet_stem.input", x.detach()), ("resnet_stem.upstream", upstream),
               ("resnet_stem.output", out.detach()), ("resnet_stem.grad.input", x.grad)]
    records += [("resnet_stem.batch." + name, value) for name, value in statistics.items()]
    return records + parameter_records("resnet_stem", p)


def bottleneck_fixture(prefix, in_channels, width, stride, size):
    projection = stride != 1 or in_channels != 4 * width
    p = {}
    for index, (cin, cout, kernel) in enumerate([(in_channels, width, 1), (width, width, 3), (width, 4 * width, 1)]):
        p[f"block.conv{index + 1}.weight"] = he_normal(cout, cin, kernel)
        random_bn(p, f"block.norm{index + 1}", cout)  # γ3 != 0: the branch must carry gradient here
    if projection:
        p["block.shortcut.weight"] = he_normal(4 * width, in_channels, 1)
        random_bn(p, "block.shortcut_norm", 4 * width)
    for value in p.values():
        value.requires_grad_()
    # The input of a block is a ReLU output: non-negative, many zeros.
    x = F.relu(torch.randn(RESNET_IMAGES, in_channels, size, size) + 0.3).double().requires_grad_()
    statistics = {}
    out = bottleneck_forward(p, "block", x, stride, projection, True, statistics)
    upstream = torch.randn(out.shape).double()
    (out * upstream).sum().backward()
    records = [(prefix + ".shape", torch.tensor([RESNET_IMAGES, size, size, in_channels, width, stride])),
               (prefix + ".input", x.detach()), (prefix + ".upstream", upstream),
               (prefix + ".output", out.detach()), (prefix + ".grad.input", x.grad)]
    records += [(f"{prefix}.batch.{name}", value) for name, value in statistics.items()]
    return records + parameter_records(prefix, p)


def hashed_uniform(tensor, count):
    """u(t, i) in [-1, 1), float32, for i < count: lowbias32 of (i·0x9E3779B1 + (t + 1)·0x85EBCA77) mod
    2^32, its top 24 bits · 2^-23 − 1. test_reference_models.cpp computes the same bits."""
    mask = np.uint64(0xFFFFFFFF)
    x = (np.arange(count, dtype=np.uint64) * np.uint64(0x9E3779B1) + np.uint64((tensor + 1) * 0x85EBCA77)) & mask
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & mask
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & mask
    x ^= x >> np.uint64(16)
    return (x >> np.uint64(8)).astype(np.float32) * np.float32(2.0 ** -23) - np.float32(1.0)


def resnet_rule(name, shape):
    """(offset, scale) of a tensor's hashed values."""
    if name.endswith(".weight") and len(shape) == 4:
        return 0.0, math.sqrt(6.0 / (shape[1] * shape[2] * shape[3]))  # variance 2 / fan in
    if name == "classifier.weight":
        return 0.0, 1.0 / math.sqrt(shape[1])
    if name.endswith(".gamma"):
        return RESNET50_LAST_GAMMA if ".norm3." in name else (1.0, 0.5)
    if name.endswith(".running_variance"):
        return 1.0, 0.5
    return 0.0, 0.2 if name.endswith(".beta") else 0.1  # beta, running_mean, classifier.bias


def resnet_shapes():
    shapes = {"stem.conv.weight": (RESNET_WIDTH, RESNET_CHANNELS, 7, 7)}
    shapes.update({n: (RESNET_WIDTH,) for n in bn_names("stem.norm")})
    for name, cin, width, _, projection in resnet_blocks():
        for index, (a, b, kernel) in enumerate([(cin, width, 1), (width, width, 3), (width, 4 * width, 1)]):
            shapes[f"{name}.conv{index + 1}.weight"] = (b, a, kernel, kernel)
            shapes.update({n: (b,) for n in bn_names(f"{name}.norm{index + 1}")})
        if projection:
            shapes[f"{name}.shortcut.weight"] = (4 * width, cin, 1, 1)
            shapes.update({n: (4 * width,) for n in bn_names(f"{name}.shortcut_norm")})
    channels = 4 * (RESNET_WIDTH << 3)
    shapes["classifier.weight"] = (RESNET_CLASSES, channels)
    shapes["classifier.bias"] = (RESNET_CLASSES,)
    return shapes


def resnet_float32_error(p, trainable, x, labels):
    """The largest error of PyTorch's own float32 gradients against float64, over every trained tensor,
    relative to the tensor's largest value. Large when a ReLU or max-pool decision sits within float32
    rounding of a tie: such a batch cannot test a float32 implementation, and is drawn again."""
    gradients = {}
    for dtype in (torch.float64, torch.float32):
        q = {name: value.detach().to(dtype).requires_grad_(name in trainable) for name, value in p.items()}
        F.cross_entropy(resnet_forward(q, x.to(dtype), True), labels).backward()
        gradients[dtype] = {name: q[name].grad.double() for name in trainable}
    return max(float((gradients[torch.float32][n] - gradients[torch.float64][n]).abs().max() /
                     gradients[torch.float64][n].abs().max()) for n in trainable)


def resnet_fixture():
    names, shapes = resnet_names(), resnet_shapes()
    assert sorted(names) == sorted(shapes)
    records = [("resnet50.shape", torch.tensor(RESNET_BLOCKS + [RESNET_WIDTH, RESNET_CLASSES, RESNET50_IMAGES,
                                                                RESNET_SIZE, RESNET_SIZE, RESNET_CHANNELS])),
               ("resnet50.tensor_count", torch.tensor([float(len(names))]))]
    p = {}
    for t, name in enumerate(names):
        offset, scale = resnet_rule(name, shapes[name])
        offset, scale = np.float32(offset), np.float32(scale)
        count = math.prod(shapes[name])
        values = offset + scale * hashed_uniform(t, count)
        p[name] = torch.from_numpy(values.astype(np.float64)).reshape(shapes[name])
        records.append(("resnet50.rule." + name, torch.tensor([float(t), float(offset), float(scale)])))
        if len(shapes[name]) == 4:
            records.append(("resnet50.shape." + name, torch.tensor(shapes[name])))
    trainable = [name for name in names if "running" not in name]
    for attempt in range(RESNET50_ATTEMPTS):
        x = torch.randn(RESNET50_IMAGES, RESNET_CHANNELS, RESNET_SIZE, RESNET_SIZE).double()
        labels = torch.randint(RESNET_CLASSES, (RESNET50_IMAGES,))
        float32_error = resnet_float32_error(p, trainable, x, labels)
        if float32_error <= RESNET50_FLOAT32_ERROR:
            break
    else:
        raise RuntimeError(f"no well-conditioned ResNet-50 batch in {RESNET50_ATTEMPTS} attempts")
    records.append(("resnet50.float32_error", torch.tensor([float32_error, float(attempt)])))
    for name in trainable:
        p[name].requires_grad_()
    x.requires_grad_()
    statistics = {}
    logits = resnet_forward(p, x, True, statistics)
    logits.retain_grad()
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    records += [("resnet50.input", x.detach()), ("resnet50.labels", labels), ("resnet50.logits", logits.detach()),
                ("resnet50.loss", loss.detach().reshape(1)), ("resnet50.grad.logits", logits.grad),
                ("resnet50.grad.input", x.grad)]
    records += [("resnet50.batch." + name, value) for name, value in statistics.items()]
    for name in trainable:
        gradient = p[name].grad.flatten()
        count = gradient.numel()
        sample = min(count, RESNET_SAMPLE)
        indices = torch.tensor([k * count // sample for k in range(sample)])
        records += [("resnet50.grad_sample." + name, gradient[indices]),
                    ("resnet50.grad_max." + name, gradient.abs().max().reshape(1)),
                    ("resnet50.grad_norm." + name, gradient.norm().reshape(1))]
    with torch.no_grad():
        evaluation = resnet_forward(p, x, False)
    records += [("resnet50.evaluation_logits", evaluation),
                ("resnet50.evaluation_loss", F.cross_entropy(evaluation, labels).reshape(1))]
    return records


def main(path):
    torch.manual_seed(20201)
    records = wrn_fixture() + block_fixture() + lstm_layer_fixture() + lm_fixture()
    torch.manual_seed(20202)  # the ResNet-50 records draw from their own seed: the others stay as they were
    records += maxpool_fixture() + stem_fixture() + bottleneck_fixture("bottleneck_down", 256, 128, 2, 9)
    records += bottleneck_fixture("bottleneck_identity", 512, 128, 1, 5) + resnet_fixture()
    with open(path, "wb") as out:
        out.write(b"SGDREF1\0")
        for name, values in records:
            values = values.detach().to(torch.float64).flatten()
            encoded = name.encode()
            out.write(struct.pack("<I", len(encoded)) + encoded + struct.pack("<Q", values.numel()))
            out.write(values.contiguous().numpy().astype("<f8").tobytes())


if __name__ == "__main__":
    main(sys.argv[1])
