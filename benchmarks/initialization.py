"""Benchmark (chapter 18): a deep ReLU MLP trained on real MNIST digits under each initialization.

Data as ``benchmarks/modern_cnns.py``: the official MNIST test set (10,000 images; ``--data``, or
``../shared/data/mnist`` beside the checkout, or ``DLCOURSE_DATA``), split with a fixed seed into
8,000 to learn from and 2,000 held-out test images, the 8,000 again into 7,000 for training and
1,000 for validation.

The network: :class:`dlcourse.models.DeepMLP` with ``DEPTH`` hidden layers of ``WIDTH`` ReLU
units, initialized by :func:`dlcourse.models.initialize` as ``naive`` (N(0, 0.05^2) for every
weight), ``xavier`` (Glorot normal) or ``he`` (Kaiming normal, fan in), and once more naive but
with batch normalization.  Training: ``dlcourse.train.train``, SGD with momentum 0.9, learning
rate 0.05 on a cosine schedule, weight decay 5e-4, batches of 64, the same seed for every run.
Recorded in ``benchmarks/results/initialization.json`` (the book reads it): per run the
validation accuracy after every epoch, the test accuracy once after training, the training loss
per epoch, seconds, and the machine's load average before and after.

    python benchmarks/initialization.py                 # writes benchmarks/results/initialization.json
    python benchmarks/initialization.py --epochs 1 --limit 1000 --no-write     # a smoke run
"""
from __future__ import annotations

import os
import sys

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(THREADS)  # before NumPy and torch load their thread pools

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEPTH, WIDTH, EPOCHS, LR, NAIVE_STD = 20, 128, 10, 0.05, 0.05
RUNS = {  # name -> (scheme, batch_norm)
    "naive": ("naive", False),
    "xavier": ("xavier", False),
    "he": ("he", False),
    "naive+bn": ("naive", True),
}


def load_average():
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def main():
    import torch

    from dlcourse.data import load_mnist, split_dataset, to_nchw
    from dlcourse.models import DeepMLP, initialize
    from dlcourse.train import evaluate, train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder holding MNIST's IDX files (default: the library's search)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--limit", type=int, help="train on this many images only (smoke runs)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--note", default="", help="free text stored with the results (e.g. the machine's load)")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    data = args.data
    if data is None and (ROOT.parent / "shared" / "data" / "mnist").is_dir() and not os.environ.get("DLCOURSE_DATA"):
        data = str(ROOT.parent / "shared" / "data" / "mnist")
    X, y = load_mnist("test", root=data, download=False, fallback=False)
    (X_learn, y_learn), (X_test, y_test) = split_dataset(X, y, (8000, 2000), seed=0)
    (X_train, y_train), (X_val, y_val) = split_dataset(X_learn, y_learn, (7000, 1000), seed=1)
    X_train, X_val, X_test = (to_nchw(a) for a in (X_train, X_val, X_test))
    if args.limit:
        X_train, y_train = X_train[:args.limit], y_train[:args.limit]
    results = dict(
        benchmark="initialization", date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        machine=dict(platform=platform.platform(), cpus=os.cpu_count(), torch=torch.__version__, threads=THREADS,
                     load_average_before=load_average()),
        note=args.note, smoke=bool(args.limit or args.epochs != EPOCHS),
        setup=dict(depth=DEPTH, width=WIDTH, epochs=args.epochs, lr=LR, momentum=0.9, weight_decay=5e-4,
                   batch_size=64, naive_std=NAIVE_STD, train=len(X_train), val=len(X_val), test=len(X_test)),
        runs={},
    )
    for name, (scheme, batch_norm) in RUNS.items():
        torch.manual_seed(0)
        model = initialize(DeepMLP(DEPTH, WIDTH, "relu", batch_norm=batch_norm), scheme, std=NAIVE_STD, rng=0)
        start = time.perf_counter()
        history = train(model, (X_train, y_train), (X_val, y_val), epochs=args.epochs, lr=LR, momentum=0.9,
                        weight_decay=5e-4, lr_schedule="cosine", seed=0, progress=False, device="cpu")
        seconds = time.perf_counter() - start
        test_loss, test_acc = evaluate(model, (X_test, y_test), device="cpu")
        results["runs"][name] = dict(scheme=scheme, batch_norm=batch_norm, test_acc=float(test_acc),
                                     val_acc=[float(v) for v in history["val_acc"]],
                                     train_loss=[float(v) for v in history["train_loss"]], seconds=round(seconds, 1))
        print(f"{name:>9}: test accuracy {100 * test_acc:.1f} %, validation by epoch "
              f"{[round(100 * v, 1) for v in history['val_acc']]}, {seconds:.0f} s", flush=True)
    results["machine"]["load_average_after"] = load_average()
    if not args.no_write:
        out = ROOT / "benchmarks" / "results" / "initialization.json"
        out.write_text(json.dumps(results, indent=1) + "\n")
        print("wrote", out)


if __name__ == "__main__":
    main()
