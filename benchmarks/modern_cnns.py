"""Benchmark: every modern CNN of chapters 8-13, CPU-sized, trained on real MNIST digits on 2 CPU threads.

Data (as ``benchmarks/lenet_mnist.py``): the official MNIST test set (10,000 images;
``../shared/data/mnist`` beside the checkout, or ``DLCOURSE_DATA`` / ``DLCOURSE_MNIST`` /
``--data``), split with a fixed seed into 8,000 images to learn from and 2,000 held-out test
images; the 8,000 are split again into 7,000 for training and 1,000 for validation.  The settings
below were chosen on the validation set; the test accuracy is measured once, after training.

Each network is the ``small()`` variant of its class (``dlcourse.models.SMALL_MODELS``), trained
with ``dlcourse.train.train`` (SGD with momentum 0.9, weight decay 5e-4, cosine learning rate) and
whole-pixel random shifts as augmentation.  Recorded per model in
``benchmarks/results/modern_cnns.json`` (the book reads it): test and validation accuracy,
parameters and multiply-accumulates per image (``dlcourse.models.complexity``), training seconds
(wall clock of the training loop, validation after every epoch included) and CPU seconds, seconds
per epoch, epochs, the per-epoch curves, and the machine's load average before and after (on a
shared machine the wall clock also counts the time other jobs held the cores).

Targets (issue 9): every modern CNN >= 98.8 % test accuracy; the ResNet >= 99.2 % with
augmentation; each within 120 s on 2 cores; the batch-normalized LeNet reaches 98.5 % validation
accuracy in at most half the epochs the plain LeNet needs, both trained side by side with the same
settings.  On a shared, loaded machine the wall clock says little, so the JSON also judges each run
on its CPU seconds with one thread (``--threads 1``): ``target_cpu_seconds`` (190, about 120 s on
2 idle cores), ``met_cpu_seconds`` and ``met_test_acc``, with the test set's standard error and the
gap to the target.

With ``--dataset fashion-mnist`` the script runs d2l's recipe instead, meant for a GPU: the
ImageNet-shaped networks (``num_classes=10, in_channels=1``), Fashion-MNIST's 60,000 training
images upsampled to 224x224 (AlexNet, VGG, NiN) or 96x96 (GoogLeNet, ResNet-18), batch 128, 10
epochs, plain SGD with d2l's learning rates, accuracy on the 10,000 test images after every epoch
as d2l reports it -- so the figures can be set beside d2l's published ones.

    python benchmarks/modern_cnns.py                          # all; writes benchmarks/results/modern_cnns.json
    python benchmarks/modern_cnns.py --models resnet,nin --no-write   # a subset (--only is the same)
    python benchmarks/modern_cnns.py --models nin --update            # re-run one, merge into the JSON
    python benchmarks/modern_cnns.py --models nin --set nin.epochs=20 --set nin.model.dropout=0.3 \
        --out /tmp/trial.json                                         # a settings trial
    python benchmarks/modern_cnns.py --epochs 1 --limit 1000 --no-write      # a smoke run
    python benchmarks/modern_cnns.py --dataset fashion-mnist   # on a GPU: d2l's recipe
"""
from __future__ import annotations

import os
import sys

THREADS = 2
if "--threads" in sys.argv[:-1]:
    THREADS = int(sys.argv[sys.argv.index("--threads") + 1])
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(THREADS)  # before NumPy and torch load their thread pools

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Settings per network, chosen on the validation set (short runs).  "shift": random whole-pixel
# shifts of up to that many pixels (dlcourse.augment.random_shift, edge pixels repeated); "model":
# arguments for the network's small() factory.
#
# The LeNet pair shares one setting so the comparison measures batch normalization alone: a
# constant learning rate (as d2l compares them), since a cosine schedule lifts both networks at its
# end and hides how fast each learns; plain LeNet is the control here (chapter 7's tuned recipe is
# benchmarks/lenet_mnist.py).  AlexNet: dropout 0.3 -- with the paper's 0.5 and lr 0.01-0.02 the
# 256-unit dense layers stalled near 30 % validation accuracy after 3 epochs; with lr 0.005 for 10
# epochs it underfit (97.9 % validation; 98.7 % with lr 0.01 for 12, training accuracy still below
# validation); 40 epochs fit the CPU budget (about 4.5 CPU-s an epoch) and reach 99.3 %.  VGG: dropout 0.3 and 15
# epochs (10 epochs with 0.5 underfit: 98.7 % validation, 99.1 % with these).  NiN: 18 epochs
# (99.2 % validation against 99.1 % for 12 -- within the noise of 1,000 images -- at 197 CPU-s
# measured under load, a little over the budget).  GoogLeNet: at an eighth of the widths (96 K
# parameters) every recipe that fit the budget stopped at 97.6-98.3 % validation with training
# accuracy no higher (underfitting; many tiny convolutions make per-call overhead, not
# arithmetic, its cost); GoogLeNet.small() now has a quarter of the widths and dropout 0.2:
# 10 epochs at dropout 0.4 and 12 epochs at dropout 0.2 both reached 99.4 % validation, the
# second with the lower validation loss (0.023 against 0.031), so 12 epochs (the trials are in
# the JSON, "settings_trials", validation figures only).  ResNet: 12, 20 and 25 epochs reached
# 99.2, 99.2 and 99.3 % validation on the idle machine with 2 threads (45, 74 and 90 s), so 25.
COMMON = dict(batch_size=64, momentum=0.9, weight_decay=5e-4, lr_schedule="cosine", shift=2)
CONFIGS = {
    "lenet": dict(COMMON, epochs=12, lr=0.02, lr_schedule="constant"),
    "bn-lenet": dict(COMMON, epochs=12, lr=0.02, lr_schedule="constant"),
    "alexnet": dict(COMMON, epochs=40, lr=0.01, model=dict(dropout=0.3)),
    "vgg": dict(COMMON, epochs=15, lr=0.02, model=dict(dropout=0.3)),
    "nin": dict(COMMON, epochs=18, lr=0.05),
    "googlenet": dict(COMMON, epochs=12, lr=0.05),
    "resnet": dict(COMMON, epochs=25, lr=0.1),
}
TARGETS = {name: dict(test_acc=0.988, seconds=120) for name in CONFIGS}
TARGETS["lenet"] = dict(test_acc=None, seconds=120)  # the control of the batch-norm comparison
TARGETS["bn-lenet"] = dict(test_acc=0.985, seconds=120)
TARGETS["resnet"] = dict(test_acc=0.992, seconds=120)
# The 120 s on 2 idle cores, as CPU seconds of one thread (what a loaded, shared machine can still
# measure: the wall clock there counts the time other jobs held the cores).
CPU_SECONDS_BUDGET = 190

# d2l's recipe on Fashion-MNIST (chapters 8-8.6 of d2l.ai): image side, learning rate; batch 128,
# 10 epochs, SGD without momentum or weight decay.
D2L_RECIPE = {
    "alexnet": dict(size=224, lr=0.01),
    "vgg": dict(size=224, lr=0.05),
    "nin": dict(size=224, lr=0.05),
    "googlenet": dict(size=96, lr=0.01),
    "bn-lenet": dict(size=28, lr=0.1),
    "resnet": dict(size=96, lr=0.05),
}


def load_split(data):
    from dlcourse.data import load_mnist, split_dataset, to_nchw

    X, y = load_mnist("test", root=data, download=False, fallback=False)
    (X_learn, y_learn), (X_test, y_test) = split_dataset(X, y, (8000, 2000), seed=0)
    (X_train, y_train), (X_val, y_val) = split_dataset(X_learn, y_learn, (7000, 1000), seed=1)
    return [(to_nchw(a), b) for a, b in ((X_train, y_train), (X_val, y_val), (X_test, y_test))]


def load_average():
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def first_epoch_reaching(curve, level):
    """1-based epoch at which ``curve`` first reaches ``level``, or None."""
    return next((i + 1 for i, v in enumerate(curve) if v >= level), None)


def run_mnist(name, splits, cfg, progress, limit=None):
    import torch

    from dlcourse.augment import random_shift
    from dlcourse.models import SMALL_MODELS, complexity
    from dlcourse.train import evaluate, train

    (Xtr, ytr), (Xva, yva), (Xte, yte) = splits
    if limit:
        Xtr, ytr = Xtr[:limit], ytr[:limit]
    torch.manual_seed(0)
    model = SMALL_MODELS[name](**cfg.get("model", {}))
    counted = complexity(model, (1, 1, 28, 28))
    shift = cfg["shift"]
    augment = (lambda X: random_shift(X, shift)) if shift else None
    load_before = load_average()
    start, cpu0 = time.perf_counter(), time.process_time()
    hist = train(model, (Xtr, ytr), (Xva, yva), epochs=cfg["epochs"], lr=cfg["lr"], momentum=cfg["momentum"],
                 weight_decay=cfg["weight_decay"], batch_size=cfg["batch_size"], lr_schedule=cfg["lr_schedule"],
                 augment=augment, device="cpu", seed=0, progress=progress)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu0
    _, test_acc = evaluate(model, (Xte, yte), device="cpu")
    target = TARGETS[name]
    return dict(
        model=type(model).__name__, factory=f"{type(model).__name__}.small()" + (" with batch_norm=True" if name == "bn-lenet" else ""),
        params=counted.total_params, macs=counted.total_macs, config=cfg, threads=torch.get_num_threads(),
        train_images=len(Xtr), epochs=cfg["epochs"], train_seconds=round(seconds, 2), cpu_seconds=round(cpu_seconds, 2),
        seconds_per_epoch=round(seconds / cfg["epochs"], 2), val_acc=hist["val_acc"][-1], test_acc=test_acc,
        epochs_to_val_985=first_epoch_reaching(hist["val_acc"], 0.985),
        target_test_acc=target["test_acc"], target_seconds=target["seconds"],
        met=bool((target["test_acc"] is None or test_acc >= target["test_acc"]) and seconds <= target["seconds"]),
        **budget_fields(test_acc, cpu_seconds, target["test_acc"], len(yte)),
        load_average_before=load_before, load_average_after=load_average(), uptime_after=uptime(),
        history={k: [round(v, 5) for v in vals] for k, vals in hist.items()},
    )


def budget_fields(test_acc, cpu_seconds, target_test_acc, test_images):
    """The targets judged on what a shared machine can measure: CPU seconds of one thread against
    :data:`CPU_SECONDS_BUDGET`, and the test accuracy with its binomial standard error, so that a
    gap to the target can be set against the noise of a 2,000-image test set."""
    return dict(target_cpu_seconds=CPU_SECONDS_BUDGET,
                met_test_acc=bool(target_test_acc is None or test_acc >= target_test_acc),
                met_cpu_seconds=bool(cpu_seconds <= CPU_SECONDS_BUDGET), test_images=test_images,
                test_standard_error=round(math.sqrt(test_acc * (1 - test_acc) / test_images), 5),
                test_gap=None if target_test_acc is None else round(max(0.0, target_test_acc - test_acc), 5))


def fashion_model(name):
    from torch import nn

    from dlcourse.models import VGG, VGG_CONFIGS, AlexNet, GoogLeNet, LeNet, NiN, resnet18

    size = D2L_RECIPE[name]["size"]
    if name == "vgg":  # d2l's VGG-11 with a quarter of the channels ("ratio = 4"), hidden 4096
        arch = [c // 4 if isinstance(c, int) else c for c in VGG_CONFIGS["A"]]
        net = VGG(arch, num_classes=10, in_channels=1, input_size=size)
    elif name == "bn-lenet":
        net = LeNet(num_classes=10, batch_norm=True)
    else:
        factory = {"alexnet": AlexNet, "nin": NiN, "googlenet": GoogLeNet, "resnet": resnet18}[name]
        kwargs = dict(input_size=size) if name == "alexnet" else {}
        net = factory(num_classes=10, in_channels=1, **kwargs)
    if size == 28:
        return net
    # Upsampling inside the model, on the device, for training and evaluation alike (d2l resizes
    # every image with torchvision's Resize, bilinear).
    return nn.Sequential(nn.Upsample(size=(size, size), mode="bilinear", align_corners=False), net)


def run_fashion(name, data, progress, epochs=10, device=None):
    import torch

    from dlcourse import device as best_device
    from dlcourse.data import load_fashion_mnist, to_nchw
    from dlcourse.train import evaluate, train

    device = torch.device(device) if device else best_device()
    Xtr, ytr = load_fashion_mnist("train", root=data, fallback=False)
    Xte, yte = load_fashion_mnist("test", root=data, fallback=False)
    mean, std = Xtr.mean() / 255, Xtr.std() / 255
    train_set, test_set = (to_nchw(Xtr, mean, std), ytr), (to_nchw(Xte, mean, std), yte)
    torch.manual_seed(0)
    model = fashion_model(name)
    recipe = D2L_RECIPE[name]
    start = time.perf_counter()
    hist = train(model, train_set, test_set, epochs=epochs, lr=recipe["lr"], momentum=0.0, weight_decay=0.0,
                 batch_size=128, lr_schedule="constant", device=device, seed=0, progress=progress)
    seconds = time.perf_counter() - start
    _, test_acc = evaluate(model, test_set, device=device)
    return dict(recipe=dict(recipe, epochs=epochs, batch_size=128, optimizer="SGD"), device=str(device),
                train_seconds=round(seconds, 2), test_acc=test_acc,
                history={k: [round(v, 5) for v in vals] for k, vals in hist.items()})


def update_file(out, results):
    """Merge ``results`` into the results file ``out`` under a lock: its models replaced or added, the
    batch-norm comparison recomputed when both LeNets are present, each run's header kept in ``runs``."""
    import fcntl
    import hashlib
    import tempfile

    lock_path = Path(tempfile.gettempdir()) / f"modern_cnns-{hashlib.sha1(str(out.resolve()).encode()).hexdigest()[:12]}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = json.loads(out.read_text()) if out.exists() else {}
        if old.get("dataset", results["dataset"]) != results["dataset"]:
            raise SystemExit(f"{out} holds {old['dataset']} results, not {results['dataset']}")
        merged = dict(old, **{k: v for k, v in results.items() if k not in ("models", "runs")})
        merged["models"] = dict(old.get("models", {}), **results["models"])
        run = {k: v for k, v in results.items() if k not in ("models", "runs", "batch_norm_comparison")}
        merged["runs"] = old.get("runs", []) + [dict(run, models=list(results["models"]))]
        comparison = compare_lenets(merged["models"])
        if comparison:
            merged["batch_norm_comparison"] = comparison
        out.write_text(json.dumps(merged, indent=1) + "\n")
    return merged


def compare_lenets(models):
    """LeNet vs batch-norm LeNet: epochs to 98.5 % validation accuracy (None if either is missing)."""
    if "lenet" not in models or "bn-lenet" not in models:
        return None
    plain, bn = models["lenet"]["epochs_to_val_985"], models["bn-lenet"]["epochs_to_val_985"]
    # Not reached in E epochs means "more than E": then at most half needs 2 * bn <= E + 1.
    plain_at_least = plain if plain is not None else models["lenet"]["epochs"] + 1
    return dict(level=0.985, epochs_lenet=plain, epochs_bn_lenet=bn, epochs_run=models["lenet"]["epochs"],
                met=bool(bn is not None and 2 * bn <= plain_at_least),
                note="first epoch with validation accuracy >= 98.5 %, same settings for both; "
                     "None: not reached in epochs_run epochs")


def parse_overrides(items, names, parser):
    """``["alexnet.epochs=30", "nin.model.dropout=0.3"]`` -> ``{"alexnet": {"epochs": 30}, "nin":
    {"model": {"dropout": 0.3}}}``; a model not being run, or a setting it has not, is an error."""
    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        parts = key.split(".")
        if not sep or len(parts) not in (2, 3) or (len(parts) == 3 and parts[1] != "model"):
            parser.error(f"--set expects MODEL.KEY=VALUE or MODEL.model.ARG=VALUE, got {item!r}")
        if parts[0] not in names:
            parser.error(f"--set {item!r}: {parts[0]!r} is not among the models run ({names})")
        if len(parts) == 2 and parts[1] not in CONFIGS[parts[0]] and parts[1] != "model":
            parser.error(f"--set {item!r}: no setting {parts[1]!r}; settings: {sorted(CONFIGS[parts[0]])}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        entry = out.setdefault(parts[0], {})
        if len(parts) == 3:
            entry.setdefault("model", {})[parts[2]] = value
        else:
            entry[parts[1]] = value
    return out


def machine():
    info = dict(python=platform.python_version(), platform=platform.platform(), cpu_count=os.cpu_count(),
                numpy=np.__version__)
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name()
    except ImportError:
        pass
    try:
        info["cpu_model"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info["load_average_before"] = load_average()
    info["uptime_before"] = uptime()
    return info


def report(name, r):
    if "target_test_acc" in r:
        print(f"{name:10s} {r['params']:>8,} params {r['macs'] / 1e6:6.2f} M MACs  {r['epochs']:2d} epochs "
              f"{r['train_seconds']:7.1f} s ({r['seconds_per_epoch']:.1f} s/epoch, CPU {r['cpu_seconds']:.0f} s)  validation {100 * r['val_acc']:.2f} %  "
              f"test {100 * r['test_acc']:.2f} %  [target " + (f">= {100 * r['target_test_acc']:.1f} % " if r["target_test_acc"] else "")
              + f"in {r['target_seconds']} s: {'met' if r['met'] else 'MISSED'}]", flush=True)
    else:
        print(f"{name:10s} Fashion-MNIST, {r['device']}: test {100 * r['test_acc']:.2f} % in {r['train_seconds']:.0f} s", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder with the dataset's IDX files (default: $DLCOURSE_DATA, "
                        "$DLCOURSE_MNIST or ../shared/data/mnist)")
    parser.add_argument("--dataset", choices=("mnist", "fashion-mnist"), default="mnist")
    parser.add_argument("--only", "--models", dest="only",
                        help="comma-separated model names to run (default all): " + ",".join(CONFIGS))
    parser.add_argument("--set", action="append", default=[], metavar="MODEL.KEY=VALUE",
                        help="override one setting of one model for this run, e.g. alexnet.epochs=30, "
                             "googlenet.batch_size=128, nin.model.dropout=0.3 (VALUE is read as JSON, else "
                             "kept as a string); repeatable.  For settings trials: choose on validation accuracy")
    parser.add_argument("--epochs", type=int, help="override every model's epochs (smoke runs; the targets need the defaults)")
    parser.add_argument("--limit", type=int, help="train on the first LIMIT training images only (smoke runs)")
    parser.add_argument("--threads", type=int, default=THREADS, help=f"torch threads (default {THREADS})")
    parser.add_argument("--device", help="fashion-mnist only: torch device (default dlcourse.device())")
    parser.add_argument("--out", help="results file (default benchmarks/results/modern_cnns.json, "
                        "or modern_cnns_fashion.json with --dataset fashion-mnist)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write the results file")
    parser.add_argument("--update", action="store_true",
                        help="replace only the models run in an existing results file (so models can run in "
                             "separate processes); the file is locked while it is rewritten")
    parser.add_argument("--note", default="", help="free text stored with the results (e.g. the machine's load)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    names = list(CONFIGS) if not args.only else [n.strip() for n in args.only.split(",")]
    known = CONFIGS if args.dataset == "mnist" else D2L_RECIPE
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown model(s) {unknown} for {args.dataset}; choose from {list(known)}")
    results = dict(benchmark="modern_cnns", dataset=args.dataset,
                   date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                   machine=machine(), note=args.note, smoke=bool(args.epochs or args.limit), models={})
    progress = not args.no_progress
    if args.dataset == "mnist":
        data = args.data
        if data is None and not (os.environ.get("DLCOURSE_DATA") or os.environ.get("DLCOURSE_MNIST")):
            data = ROOT.parent / "shared" / "data" / "mnist"
        results["data"] = ("MNIST official test set, split 8,000 learn (7,000 train + 1,000 validation) / 2,000 test, "
                           "seeds 0 and 1")
        splits = load_split(data)
        overrides = parse_overrides(args.set, names, parser)
        for name in names:
            cfg = dict(CONFIGS[name], **({"epochs": args.epochs} if args.epochs else {}))
            for key, value in overrides.get(name, {}).items():
                if key == "model":
                    cfg["model"] = dict(cfg.get("model", {}), **value)
                else:
                    cfg[key] = value
            results["models"][name] = run_mnist(name, splits, cfg, progress, args.limit)
            report(name, results["models"][name])
        comparison = compare_lenets(results["models"])
        if comparison:
            results["batch_norm_comparison"] = comparison
            print(f"98.5 % validation accuracy after {comparison['epochs_lenet']} epochs (LeNet) and "
                  f"{comparison['epochs_bn_lenet']} (batch-norm LeNet): {'met' if comparison['met'] else 'MISSED'} "
                  f"(target: at most half)")
    else:
        if not torch.cuda.is_available() and not args.device:
            print("note: d2l's Fashion-MNIST recipe trains at 224x224 and is meant for a GPU; "
                  "no CUDA device here, so it runs on the CPU (slowly)", flush=True)
        results["data"] = "Fashion-MNIST, 60,000 training / 10,000 test images (d2l's recipe)"
        for name in names:
            results["models"][name] = run_fashion(name, args.data, progress, args.epochs or 10, args.device)
            report(name, results["models"][name])
    results["machine"]["load_average_after"] = load_average()
    results["machine"]["uptime_after"] = uptime()
    if not args.no_write:
        default = "modern_cnns.json" if args.dataset == "mnist" else "modern_cnns_fashion.json"
        out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / default
        out.parent.mkdir(parents=True, exist_ok=True)
        if args.update:
            results = update_file(out, results)
        else:
            out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {out}")
    return results


if __name__ == "__main__":
    main()
