#!/usr/bin/python3
"""PyTorch peer of `HyperSparse.Bench step` (build/bench-step.sh runs both, alternating).

Defines the same networks as the engine (src/Microsoft.ML.HyperSparse/Engine/Models/LeNet5.cs and ResNet.cs, layer by
layer: channels, kernels, strides, padding, pooling, batch norm, 1x1 conv + BN projection shortcuts) and times the same
training step on random data: forward, cross-entropy, zero_grad + backward, [the HyperSparse gradient term,] SGD step
(momentum 0.9, weight decay 1e-4), loss.item(). Prints one JSON row with the fields of the C# StepRow and appends it to
--raw, so `HyperSparse.Bench report` pools both.

Run with the Debian interpreter and torch (python3-torch) and with OMP_NUM_THREADS=THREADS OPENBLAS_NUM_THREADS=1:
Debian's torch defaults to 1 thread here, and an extra OpenBLAS thread would spin on the same cores.
"""
import argparse
import datetime
import json
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRUNING_RATE, LAMBDA, MOMENTUM, WEIGHT_DECAY = 0.9, 1e-5, 0.9, 1e-4
BATCH_POOL = 4
INFLECTION_SCALE = 0.6585  # the engine's HyperSparseRegularizer.InflectionScale


class LeNet5(nn.Module):
    """conv 5x5 pad 2 -> 6, max-pool 2, conv 5x5 -> 16, max-pool 2, fc 120, fc 84, fc classes (ReLU)."""

    def __init__(self, channels, height, width, classes):
        super().__init__()
        h, w = height // 2 - 4, width // 2 - 4
        self.conv1 = nn.Conv2d(channels, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * (h // 2) * (w // 2), 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2).flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)

    def prunable(self):
        return [self.conv1.weight, self.conv2.weight, self.fc1.weight, self.fc2.weight, self.fc3.weight]


class Shortcut(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False)
        self.bn = nn.BatchNorm2d(planes)

    def forward(self, x):
        return self.bn(self.conv(x))


class BasicBlock(nn.Module):
    """conv3x3(stride)-BN-ReLU-conv3x3-BN, plus identity or 1x1 conv + BN projection, then ReLU."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = Shortcut(in_planes, planes, stride) if stride != 1 or in_planes != planes else None

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        h += x if self.shortcut is None else self.shortcut(x)  # in place, as the engine's add_
        return F.relu(h)


class ResNet(nn.Module):
    """CIFAR ResNet of depth 6n+2: stem conv3x3-BN-ReLU, stages of width w, 2w, 4w, global average pool, linear."""

    def __init__(self, depth, width, channels, classes):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(channels, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = self._stage(width, width, n, 1)
        self.layer2 = self._stage(width, 2 * width, n, 2)
        self.layer3 = self._stage(2 * width, 4 * width, n, 2)
        self.fc = nn.Linear(4 * width, classes)

    @staticmethod
    def _stage(in_planes, planes, blocks, stride):
        return nn.ModuleList(BasicBlock(in_planes if i == 0 else planes, planes, stride if i == 0 else 1) for i in range(blocks))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        for stage in (self.layer1, self.layer2, self.layer3):
            for block in stage:
                h = block(h)
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))

    def prunable(self):
        # Every conv and the classifier, as the engine's PrunableLayers (registration order does not matter for speed).
        return [m.weight for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def build(arch, channels, height, width, classes):
    if arch == "lenet5":
        return LeNet5(channels, height, width, classes), "LeNet-5"
    if arch == "resnet20":
        return ResNet(20, 16, channels, classes), "ResNet-20"
    if arch == "resnet32":
        return ResNet(32, 32, channels, classes), "ResNet-32"
    if arch in ("resnet18", "resnet18mlnet"):
        # The ImageNet ResNet family (7x7/2 stem, 3x3/2 max-pool, four stages of basic blocks): torchvision's own class with
        # torchvision's [2, 2, 2, 2] or the [2, 2, 2, 3] of ML.NET's ResNet-18 (the engine's ResNet18MLNet).
        from torchvision.models.resnet import ResNet as TorchvisionResNet, BasicBlock as TorchvisionBlock
        blocks = [2, 2, 2, 2] if arch == "resnet18" else [2, 2, 2, 3]
        model = TorchvisionResNet(TorchvisionBlock, blocks, num_classes=classes)
        if channels != 3:
            model.conv1 = nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        model.prunable = lambda: [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        return model, "ResNet-18" if arch == "resnet18" else "ResNet-18 (ML.NET's)"
    raise SystemExit(f"--arch must be lenet5, resnet20, resnet32, resnet18 or resnet18mlnet, got '{arch}'")


@torch.no_grad()
def add_hypersparse_gradients(weights, pruning_rate, lam):
    """grad += lam * dR/dw of the HyperSparse loss, as the engine's HyperSparseRegularizer (written from its formula):
    s = 0.6585 / a_(floor(kN)), A = sum|w|, T = sum tanh(s|w|), dR/dw_i = sign(w_i) s sech^2(s|w_i|) A/T."""
    magnitudes = torch.cat([w.detach().abs().flatten() for w in weights])
    n = magnitudes.numel()
    k = min(n - 1, math.floor(pruning_rate * n))
    threshold = magnitudes.kthvalue(k + 1).values.item()
    s = INFLECTION_SCALE / max(threshold, 1e-30)
    t = magnitudes.mul(s).tanh_()
    sum_abs = magnitudes.sum(dtype=torch.float64).item()
    sum_tanh = t.sum(dtype=torch.float64).item()
    ratio = sum_abs / sum_tanh if sum_tanh > 0 else 0.0
    coefficient = t.pow_(2).neg_().add_(1).mul_(s * ratio)
    offset = 0
    for w in weights:
        count = w.numel()
        w.grad.add_(coefficient.narrow(0, offset, count).view_as(w).mul(w.detach().sign()), alpha=lam)
        offset += count


def process_memory():
    rss = peak = float("nan")
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024.0
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return rss, peak


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="lenet5")
    p.add_argument("--input", default="1x28x28")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--max-seconds", type=float, default=float("inf"))
    p.add_argument("--hs", choices=["on", "off"], default="off")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--round", type=int, default=-1)
    p.add_argument("--raw")
    # Levers measured against "none" (PyTorch's defaults) by build/bench-step.sh: the model and its input in channels-last
    # (NHWC) memory format, or the forward under CPU autocast to bfloat16 (PyTorch's own mixed precision; the loss, backward
    # and SGD stay as autocast leaves them).
    p.add_argument("--lever", choices=["none", "channels-last", "bf16-autocast"], default="none")
    a = p.parse_args()

    channels, height, width = (int(v) for v in a.input.split("x"))
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model, arch_name = build(a.arch, channels, height, width, a.classes)
    model.train()
    weights = model.prunable()
    hs = a.hs == "on"
    sgd = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    images = [torch.randn(a.batch, channels, height, width) for _ in range(BATCH_POOL)]
    if a.lever == "channels-last":
        # PyTorch's documented lever: model and input in channels-last (NHWC) memory format.
        model = model.to(memory_format=torch.channels_last)
        images = [x.contiguous(memory_format=torch.channels_last) for x in images]
    labels = [torch.randint(0, a.classes, (a.batch,)) for _ in range(BATCH_POOL)]

    step_ms, hs_ms = [], []
    final_loss = float("nan")
    measured_since = time.perf_counter()
    for s in range(a.warmup + a.steps):
        if s == a.warmup:
            measured_since = time.perf_counter()
        start = time.perf_counter()
        if a.lever == "bf16-autocast":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(images[s % BATCH_POOL])
                ce = F.cross_entropy(logits, labels[s % BATCH_POOL])
        else:
            logits = model(images[s % BATCH_POOL])
            ce = F.cross_entropy(logits, labels[s % BATCH_POOL])
        sgd.zero_grad()
        ce.backward()
        if hs:
            hs_start = time.perf_counter()
            add_hypersparse_gradients(weights, PRUNING_RATE, LAMBDA)
            hs_elapsed = time.perf_counter() - hs_start
        sgd.step()
        loss = ce.item()
        del logits, ce  # free the step's graph and activations inside the timed region, as the C# dispose scope does
        elapsed = time.perf_counter() - start
        if s >= a.warmup:
            step_ms.append(round(elapsed * 1000, 3))
            if hs:
                hs_ms.append(round(hs_elapsed * 1000, 3))
            final_loss = loss
            if time.perf_counter() - measured_since >= a.max_seconds:
                break

    rss, peak = process_memory()
    # C#'s reader takes NaN/Infinity only as the strings "NaN"/"Infinity" (JsonNumberHandling.AllowNamedFloatingPointLiterals).
    def num(v):
        return v if math.isfinite(v) else str(v).replace("nan", "NaN").replace("inf", "Infinity")

    row = {
        "Arch": arch_name, "Input": f"{channels}x{height}x{width}", "Classes": a.classes, "Batch": a.batch,
        "Malloc": False, "MallocApplied": False, "Hs": hs, "Threads": torch.get_num_threads(), "Warmup": a.warmup,
        "Steps": len(step_ms), "Parameters": sum(q.numel() for q in model.parameters()),
        "PrunableWeights": sum(w.numel() for w in weights), "StepMs": step_ms, "HsMs": hs_ms,
        "RssMb": num(rss), "PeakRssMb": num(peak), "FinalLoss": num(final_loss),
        "StartedUtc": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Framework": f"PyTorch {torch.__version__.split('+')[0]}", "Round": a.round, "Lever": a.lever,
        "Note": f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')} OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '-')}",
    }
    if a.raw:
        with open(a.raw, "a") as f:
            f.write(json.dumps(row) + "\n")
    ordered = sorted(step_ms)
    median = ordered[len(ordered) // 2] if len(ordered) % 2 else (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
    hs_note = f"  HS term {sorted(hs_ms)[len(hs_ms) // 2]:.2f} ms" if hs else ""
    print(f"{arch_name:<9}{row['Input']:<9}b{a.batch:<4} {'' if a.lever == 'none' else a.lever + ' '}PyTorch {torch.__version__.split('+')[0]} hs {a.hs:<3} | median {median:8.2f} ms  "
          f"n={len(step_ms):<4} | params {row['Parameters']:,} | RSS {rss:6.0f} MB (peak {peak:.0f}) | loss {final_loss:.3f}{hs_note}")
    return 0 if math.isfinite(final_loss) else 1


if __name__ == "__main__":
    raise SystemExit(main())
