"""Benchmark (chapter 19): a multilayer perceptron made to overfit 500 real MNIST digits, and
what weight decay, dropout, data augmentation and early stopping each do about it.

Data: the official MNIST test set (10,000 images; ``../shared/data/mnist`` beside the checkout,
or ``DLCOURSE_DATA`` / ``DLCOURSE_MNIST`` / ``--data``), split with seed 0 into 500 training,
1,000 validation and 5,000 test images (``dlcourse.data.split_dataset``).  The network is
``dlcourse.regularization.overfit_mlp()`` (784-512-512-10, ReLU), trained by
``dlcourse.regularization.fit_curves`` with SGD (learning rate 0.02, momentum 0.9, batches of 64)
for ``--epochs`` epochs, evaluated on all three sets after every epoch.

First a sweep on seed 0 picks the weight decay and the dropout rate by the lowest validation
loss; then every method (baseline, weight decay, dropout, augmentation by random shifts of up to
2 pixels, early stopping with patience 10, and all four together) is trained with ``--seeds``
seeds (the weights' initialization and the batch order).  Recorded in
``benchmarks/results/regularization.json`` (the chapter reads it): per method the final train /
validation / test accuracy of every seed, their means and standard deviations, the binomial
standard error of one test accuracy on 5,000 images, the best and the stopping epoch, seconds,
the per-epoch curves of seed 0, and the machine's load average before and after.

    python benchmarks/regularization.py                     # writes benchmarks/results/regularization.json
    python benchmarks/regularization.py --epochs 5 --seeds 1 --no-write   # a smoke run
"""
from __future__ import annotations

import os
import sys

THREADS = 1
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(THREADS)  # before NumPy and torch load their thread pools

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (500, 1000, 5000)
LR, MOMENTUM, BATCH = 0.02, 0.9, 64
WEIGHT_DECAYS = (1e-3, 3e-3, 1e-2, 3e-2)
DROPOUTS = (0.2, 0.5)
SHIFT, PATIENCE = 2, 10


def load_average():
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def run(splits, seed, epochs, weight_decay=0.0, dropout=0.0, shift=0, patience=None):
    import torch

    from dlcourse.augment import augmenter
    from dlcourse.regularization import fit_curves, overfit_mlp

    torch.manual_seed(seed)
    model = overfit_mlp(dropout=dropout)
    start, cpu = time.perf_counter(), time.process_time()
    h = fit_curves(model, *splits, epochs=epochs, lr=LR, momentum=MOMENTUM, weight_decay=weight_decay,
                   batch_size=BATCH, augment=augmenter(max_shift=shift) if shift else None, patience=patience,
                   seed=seed, device="cpu", progress=False)
    h["seconds"], h["cpu_seconds"] = time.perf_counter() - start, time.process_time() - cpu
    return h


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="folder with the MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--note", default="", help="free text stored with the results (e.g. the machine's load)")
    args = parser.parse_args()
    import torch

    from dlcourse.data import load_mnist, split_dataset
    from dlcourse.regularization import accuracy_standard_error

    torch.set_num_threads(THREADS)
    data = args.data or (str(ROOT.parent / "shared" / "data") if (ROOT.parent / "shared" / "data").exists() else None)
    X, y = load_mnist("test", root=data, download=False, fallback=False, progress=False)
    splits = split_dataset(X, y, SIZES, seed=0)
    load_before = load_average()

    sweep = {}
    for wd in WEIGHT_DECAYS:
        h = run(splits, 0, args.epochs, weight_decay=wd)
        sweep[f"weight_decay={wd:g}"] = dict(val_loss=h["val_loss"][-1], val_acc=h["val_acc"][-1])
        print(f"sweep weight_decay={wd:g}: validation loss {h['val_loss'][-1]:.3f}, accuracy {h['val_acc'][-1]:.3f}", flush=True)
    for p in DROPOUTS:
        h = run(splits, 0, args.epochs, dropout=p)
        sweep[f"dropout={p:g}"] = dict(val_loss=h["val_loss"][-1], val_acc=h["val_acc"][-1])
        print(f"sweep dropout={p:g}: validation loss {h['val_loss'][-1]:.3f}, accuracy {h['val_acc'][-1]:.3f}", flush=True)
    best_wd = min(WEIGHT_DECAYS, key=lambda wd: sweep[f"weight_decay={wd:g}"]["val_loss"])
    best_p = min(DROPOUTS, key=lambda p: sweep[f"dropout={p:g}"]["val_loss"])

    methods = {
        "baseline": {},
        "weight decay": dict(weight_decay=best_wd),
        "dropout": dict(dropout=best_p),
        "augmentation": dict(shift=SHIFT),
        "early stopping": dict(patience=PATIENCE),
        "all four": dict(weight_decay=best_wd, dropout=best_p, shift=SHIFT, patience=PATIENCE),
    }
    results = {}
    for name, settings in methods.items():
        runs = [run(splits, seed, args.epochs, **settings) for seed in range(args.seeds)]
        test = np.array([h["final"]["test_acc"] for h in runs])
        r = dict(settings=settings,
                 train_acc=[h["final"]["train_acc"] for h in runs], val_acc=[h["final"]["val_acc"] for h in runs],
                 test_acc=test.tolist(), test_acc_mean=float(test.mean()),
                 test_acc_std_over_seeds=float(test.std(ddof=1)) if len(test) > 1 else None,
                 test_standard_error=accuracy_standard_error(float(test.mean()), SIZES[2]),
                 best_epoch=[h["best_epoch"] for h in runs], stop_epoch=[h["stop_epoch"] for h in runs],
                 seconds=[round(h["seconds"], 2) for h in runs], cpu_seconds=[round(h["cpu_seconds"], 2) for h in runs],
                 curves={k: [round(v, 5) for v in runs[0][k]] for k in
                         ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc")})
        results[name] = r
        print(f"{name:15s} test {100 * r['test_acc_mean']:.2f} % (seeds {', '.join(f'{100 * a:.2f}' for a in test)}), "
              f"train {100 * np.mean(r['train_acc']):.1f} %, best epoch {r['best_epoch']}, "
              f"{np.mean(r['seconds']):.1f} s a run", flush=True)

    out = dict(
        benchmark="regularization", date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        machine=dict(python=platform.python_version(), platform=platform.platform(), cpu_count=os.cpu_count(),
                     torch=torch.__version__, threads=THREADS, load_average_before=load_before,
                     load_average_after=load_average()),
        note=args.note, smoke=args.epochs < 80 or args.seeds < 3,
        data=dict(source="MNIST test set (10,000 images), split with seed 0", train=SIZES[0], val=SIZES[1], test=SIZES[2]),
        settings=dict(model="overfit_mlp() 784-512-512-10", lr=LR, momentum=MOMENTUM, batch_size=BATCH,
                      epochs=args.epochs, seeds=args.seeds, shift=SHIFT, patience=PATIENCE,
                      weight_decay_chosen=best_wd, dropout_chosen=best_p),
        sweep=sweep, methods=results,
    )
    if not args.no_write:
        path = ROOT / "benchmarks" / "results" / "regularization.json"
        path.write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
