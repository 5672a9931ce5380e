"""The same networks written plainly in PyTorch, for a cross-framework ratio measured in one run.

PyTorch is a benchmark-only dependency (`pip install torch`); kcnn and its tests never need it.

    python benchmarks/torch_reference.py --model resnet20 --batch-size 128
    python benchmarks/torch_reference.py --model resnet50 --input-size 64 --batch-size 32
    python benchmarks/torch_reference.py --compare --rounds 3    # alternates with benchmarks/throughput.py

`--compare` runs this script's PyTorch measurement and kcnn's (benchmarks/throughput.py, training
mode) in alternating subprocesses, `--rounds` times, and prints the median images/s of each and
the ratio kcnn / PyTorch for the two workloads (CIFAR ResNet-20 at 32x32, ResNet-50 at 64x64).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import machine  # benchmarks/machine.py: the CPU and versions every result records

WORKLOADS = {  # name: (kcnn model argument, input size, batch size)
    "resnet20": ("resnet20", 32, 128),
    "resnet50": ("resnet50", 64, 32),
}


def build(name, num_classes=10):
    """A plain PyTorch ResNet-20 (CIFAR, option A shortcuts) or ResNet-50 (torchvision layout)."""
    import torch
    from torch import nn
    from torch.nn import functional

    def conv_bn(cin, cout, kernel, stride=1):
        return nn.Sequential(
            nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout)
        )

    class Basic(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.a = conv_bn(cin, cout, 3, stride)
            self.b = conv_bn(cout, cout, 3)
            self.stride, self.extra = stride, cout - cin

        def forward(self, x):
            shortcut = x
            if self.stride != 1 or self.extra:
                shortcut = x[:, :, :: self.stride, :: self.stride]
                half = self.extra // 2
                shortcut = functional.pad(shortcut, (0, 0, 0, 0, half, self.extra - half))
            return torch.relu(self.b(torch.relu(self.a(x))) + shortcut)

    class Bottleneck(nn.Module):
        def __init__(self, cin, width, stride):
            super().__init__()
            self.a = conv_bn(cin, width, 1)
            self.b = conv_bn(width, width, 3, stride)
            self.c = conv_bn(width, width * 4, 1)
            self.project = None
            if stride != 1 or cin != width * 4:
                self.project = conv_bn(cin, width * 4, 1, stride)

        def forward(self, x):
            y = self.c(torch.relu(self.b(torch.relu(self.a(x)))))
            return torch.relu(y + (x if self.project is None else self.project(x)))

    if name == "resnet20":
        layers, cin = [conv_bn(3, 16, 3), nn.ReLU()], 16
        for stage, width in enumerate((16, 32, 64)):
            for block in range(3):
                layers.append(Basic(cin, width, 2 if stage and not block else 1))
                cin = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes)]
        return nn.Sequential(*layers)
    layers = [conv_bn(3, 64, 7, 2), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for stage, (width, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
        for block in range(blocks):
            layers.append(Bottleneck(cin, width, 2 if stage and not block else 1))
            cin = width * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, num_classes)]
    return nn.Sequential(*layers)


def torch_device():
    """"cuda" when PyTorch sees a GPU, else "cpu"."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def make_runner(name, input_size, batch_size, *, num_classes=10, precision="float32",
                channels_last=False, compile=False, device=None):
    """A function `run(steps) -> seconds per step` that trains the PyTorch model for `steps` SGD
    steps on one synthetic batch already on the device, and waits for the device at the end.

    Args:
        name: "resnet20" or "resnet50" (`build`).
        precision: "float32", or "mixed_bfloat16" / "mixed_float16": the forward and loss under
            `torch.autocast` in that dtype (float16 with a GradScaler), weights in float32.
        channels_last: the model and batch in NHWC memory format.
        compile: wrap the model in `torch.compile` (the first steps then compile it).
        device: "cpu" or "cuda" (default: `torch_device()`).
    """
    import torch

    device = device or torch_device()
    torch.manual_seed(0)
    model = build(name, num_classes).train().to(device)
    images = torch.randn(batch_size, 3, input_size, input_size, device=device)
    labels = torch.randint(0, num_classes, (batch_size,), device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    dtype = {"mixed_bfloat16": torch.bfloat16, "mixed_float16": torch.float16}.get(precision)
    scaler = torch.amp.GradScaler(device, enabled=dtype is torch.float16)
    forward = torch.compile(model) if compile else model

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = torch.nn.functional.cross_entropy(forward(images), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    def run(steps):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        if device == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - start) / steps

    return run


def measure_torch(name, input_size, batch_size, warmup=3, steps=5, repeats=3, **options):
    """Median training images/s of the PyTorch model on synthetic data (`make_runner` options)."""
    run = make_runner(name, input_size, batch_size, **options)
    run(warmup)
    return statistics.median(batch_size / run(steps) for _ in range(repeats))


def measure_kcnn(workload):
    """kcnn's training images/s for a workload, from benchmarks/throughput.py in a subprocess."""
    model, size, batch = WORKLOADS[workload]
    out = os.path.join(HERE, "results", f".kcnn_{workload}.json")
    subprocess.run(
        [
            sys.executable,
            os.path.join(HERE, "throughput.py"),
            "--models",
            model,
            "--mode",
            "train",
            "--input-size",
            str(size),
            "--batch-size",
            str(batch),
            "--no-reference",
            "--json",
            out,
        ],
        check=True,
        capture_output=True,
    )
    with open(out) as handle:
        rate = json.load(handle)["results"][0]["kcnn_images_per_s"]
    os.remove(out)
    return rate


def measure_torch_subprocess(workload):
    _, size, batch = WORKLOADS[workload]
    result = subprocess.run(
        [
            sys.executable,
            __file__,
            "--model",
            workload,
            "--input-size",
            str(size),
            "--batch-size",
            str(batch),
            "--quiet",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(result.stdout.strip())


def compare(rounds, json_path=None):
    """Alternate PyTorch and kcnn processes per workload; print medians and ratios as markdown
    (and write them with the machine's description to `json_path`)."""
    print(f"{machine.label()}, load average {machine.load_average()}")
    print("| workload | PyTorch img/s | kcnn img/s | kcnn / PyTorch |\n|---|---:|---:|---:|")
    results = []
    for workload, (_, size, batch) in WORKLOADS.items():
        torch_rates, kcnn_rates, loads = [], [], []
        for _ in range(rounds):
            torch_rates.append(measure_torch_subprocess(workload))
            kcnn_rates.append(measure_kcnn(workload))
            loads.append(machine.load_average())
        t, k = statistics.median(torch_rates), statistics.median(kcnn_rates)
        print(
            f"| {workload} {size}x{size} batch {batch} | {t:.1f} | {k:.1f} | {k / t:.2f} |",
            flush=True,
        )
        results.append({"workload": workload, "torch_images_per_s": torch_rates,
                        "kcnn_images_per_s": kcnn_rates, "ratio": k / t, "load_averages": loads})
    if json_path:
        with open(json_path, "w") as handle:
            json.dump({"environment": {**machine.describe(), "command": " ".join(sys.argv)},
                       "results": results}, handle, indent=2)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=sorted(WORKLOADS), default="resnet20")
    parser.add_argument("--input-size", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quiet", action="store_true", help="print only the images/s")
    parser.add_argument("--json", help="with --compare: write the results to this file")
    args = parser.parse_args(argv)
    if args.compare:
        compare(args.rounds, args.json)
        return 0
    _, size, batch = WORKLOADS[args.model]
    rate = measure_torch(args.model, args.input_size or size, args.batch_size or batch)
    print(f"{rate:.2f}" if args.quiet else f"PyTorch {args.model}: {rate:.1f} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
