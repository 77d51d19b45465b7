"""Benchmark: a ResNet trained end to end in pure NumPy on real MNIST digits (chapter 13).

The network is built from the layer toolkit :mod:`dlcourse.nn` (batch normalization, basic
residual blocks with projection shortcuts, global average pooling): :func:`dlcourse.nn.resnet`,
the same architecture and parameter names as the PyTorch ``dlcourse.models.ResNet``, narrower
(see ``CONFIG``) so that NumPy trains it on two cores in minutes.  Every forward and backward
pass is NumPy; PyTorch is not imported.

Data as ``benchmarks/lenet_mnist.py``: the official MNIST test set (``DLCOURSE_DATA`` /
``DLCOURSE_MNIST`` / ``--data``, or ``../shared/data/mnist`` beside the checkout) split with fixed
seeds into 7,000 training, 1,000 validation and 2,000 test images.  Settings may be tuned on the
validation images; the test accuracy is measured once, at the end.

Target (issue 9): >= 98.5 % test accuracy within 300 s of training on 2 cores.  The wall-clock
figure is the training loop with the validation pass after every epoch; loading the data is not.
``cpu_seconds`` (the process's CPU time, all threads) and the machine's load (``uptime`` before
and after) are stored with it: on a shared machine the wall clock also counts the time other
jobs held the cores.

    python benchmarks/numpy_resnet.py                 # writes benchmarks/results/numpy_resnet.json
    python benchmarks/numpy_resnet.py --epochs 1 --train-size 1000 --no-write     # a smoke run
"""
from __future__ import annotations

import argparse
import os
import sys

# BLAS threads are fixed before NumPy loads its BLAS (hence before the imports below).
def _blas_threads(argv):
    for i, a in enumerate(argv):
        if a.startswith("--blas-threads="):
            return a.split("=", 1)[1]
        if a == "--blas-threads" and i + 1 < len(argv):
            return argv[i + 1]
    return "2"


_THREADS = _blas_threads(sys.argv)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _THREADS

import datetime  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from lenet_mnist import load_split, machine  # noqa: E402  (the same split and machine record)

from dlcourse import nn as npnn  # noqa: E402
from dlcourse.data import random_shift  # noqa: E402

# The settings, chosen on the validation set (see the history in the results file).
CONFIG = dict(blocks=(1, 1, 1), channels=(8, 16, 32), stem=(3, 1, 1), stem_pool=False, epochs=8, batch_size=64,
              lr=0.1, momentum=0.9, weight_decay=5e-4, lr_schedule="cosine", max_shift=2, seed=0)
TARGET_TEST_ACC, TARGET_SECONDS = 0.985, 300


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def run(splits, cfg, progress=True, train_size=None):
    (Xtr, ytr), (Xva, yva), (Xte, yte) = splits
    if train_size is not None:
        Xtr, ytr = Xtr[:train_size], ytr[:train_size]
    model = npnn.resnet(cfg["blocks"], cfg["channels"], num_classes=10, in_channels=1, stem=cfg["stem"],
                        stem_pool=cfg["stem_pool"], rng=cfg["seed"])
    augment = (lambda X, rng: random_shift(X, rng, cfg["max_shift"])) if cfg["max_shift"] else None
    start, cpu0 = time.perf_counter(), time.process_time()
    hist = npnn.fit(model, Xtr, ytr, Xva, yva, epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=cfg["lr"],
                    momentum=cfg["momentum"], weight_decay=cfg["weight_decay"], lr_schedule=cfg["lr_schedule"],
                    augment=augment, seed=cfg["seed"], progress=progress, desc="NumPy ResNet")
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu0
    _, test_acc = npnn.evaluate(model, Xte, yte)
    return dict(config={k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
                parameters=model.num_parameters(), train_images=len(Xtr), epochs_run=len(hist["train_loss"]),
                train_seconds=round(seconds, 2), cpu_seconds=round(cpu_seconds, 2),
                seconds_per_epoch=round(seconds / len(hist["train_loss"]), 2), val_acc=hist["val_acc"][-1],
                test_acc=test_acc, target_test_acc=TARGET_TEST_ACC, target_seconds=TARGET_SECONDS,
                history={k: [round(v, 5) for v in vals] for k, vals in hist.items()})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder with t10k-images-idx3-ubyte.gz (default: $DLCOURSE_DATA, "
                        "$DLCOURSE_MNIST or ../shared/data/mnist)")
    parser.add_argument("--epochs", type=int, default=CONFIG["epochs"])
    parser.add_argument("--channels", type=lambda s: tuple(int(c) for c in s.split(",")), default=CONFIG["channels"],
                        help="stage widths, e.g. 8,16,32")
    parser.add_argument("--lr", type=float, default=CONFIG["lr"])
    parser.add_argument("--train-size", type=int, help="train on the first N of the 7,000 training images (smoke runs)")
    parser.add_argument("--blas-threads", default="2", help="BLAS threads (default 2: the two cores)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write the results file")
    parser.add_argument("--note", default="", help="free text stored with the results")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    cfg = dict(CONFIG, epochs=args.epochs, channels=args.channels, lr=args.lr, blocks=(1,) * len(args.channels))
    data = args.data
    if data is None and not (os.environ.get("DLCOURSE_DATA") or os.environ.get("DLCOURSE_MNIST")):
        data = ROOT.parent / "shared" / "data" / "mnist"
    splits = load_split(data)
    info = machine()
    info["blas_threads"] = int(_THREADS)
    info["uptime_before"] = uptime()
    results = dict(benchmark="numpy_resnet", date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                   machine=info, note=args.note,
                   data="MNIST official test set, split 8,000 learn (7,000 train + 1,000 validation) / 2,000 test, seeds 0 and 1")
    results["numpy_resnet"] = r = run(splits, cfg, not args.no_progress, args.train_size)
    info["uptime_after"] = uptime()
    if hasattr(os, "getloadavg"):
        info["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    ok = r["test_acc"] >= TARGET_TEST_ACC and r["train_seconds"] <= TARGET_SECONDS
    print(f"NumPy ResNet (channels {cfg['channels']}, {r['parameters']:,} parameters, {r['epochs_run']} epochs, "
          f"{_THREADS} BLAS threads): validation {100 * r['val_acc']:.2f} %, test {100 * r['test_acc']:.2f} %, "
          f"{r['train_seconds']:.1f} s wall, {r['cpu_seconds']:.1f} s CPU  "
          f"[target >= {100 * TARGET_TEST_ACC:.1f} % in {TARGET_SECONDS} s: {'met' if ok else 'MISSED'}]")
    print(f"load: before {info['uptime_before']!r}, after {info['uptime_after']!r}")
    if not args.no_write:
        out = ROOT / "benchmarks" / "results" / "numpy_resnet.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {out.relative_to(ROOT)}")
    return results


if __name__ == "__main__":
    main()
