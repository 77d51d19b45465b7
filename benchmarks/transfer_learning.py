"""Benchmark (chapter 22): transfer learning with weights the course trains itself.

A small CNN (``dlcourse.transfer.small_cnn``) is pretrained on the MNIST digits 0-4, then moved to
the digits 5-9 with few labels, in each of lecture 003's scenarios (``dlcourse.transfer.SCENARIOS``:
from scratch, frozen feature extractor, fine-tuning the top, fine-tuning everything), and
measured on held-out images of 5-9.  A second target is scikit-learn's 8x8 digits 5-9, upsampled to
28x28 (``dlcourse.data.load_digits_28``): other writers, other scanning, a blurrier look.

Data: the official MNIST test set (10,000 images; ``../shared/data/mnist`` beside the checkout, or
``DLCOURSE_DATA`` / ``DLCOURSE_MNIST`` / ``--data``).  Source: its digits 0-4 (about 5,100), of
which 1,000 are kept back to measure the pretrained network.  Target: its digits 5-9 (about 4,900),
2,000 held out as the test set (seed 0), the labelled examples drawn class-balanced from the rest
(``dlcourse.transfer.balanced_subset``) with one seed per draw.

Recipe (``dlcourse.transfer.fine_tune``): 150 SGD steps (momentum 0.9, weight decay 5e-4, batches
of 32, half-cosine decay), head learning rate 0.05; the pretrained layers that are trained get
0.01 (from scratch: 0.05 everywhere).  Pretraining: ``dlcourse.train.train``, ``--pretrain-epochs``
epochs, learning rate 0.05, batches of 64.

Recorded in ``benchmarks/results/transfer_learning.json`` (the chapter reads it): per target,
scenario and number of labels the test accuracy of every draw, mean and standard deviation; the
pretraining's accuracy and seconds; trainable parameters per scenario; the load average.

    python benchmarks/transfer_learning.py                   # writes benchmarks/results/transfer_learning.json
    python benchmarks/transfer_learning.py --pretrain-epochs 1 --draws 1 --no-write    # a smoke run
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

STEPS, HEAD_LR, BODY_LR, BATCH = 150, 0.05, 0.01, 32
LABELS = {"MNIST 5-9": (10, 50, 200, 1000), "scikit-learn digits 5-9": (10, 50, 200)}


def load_average():
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def body_lr(scenario):
    """The recipe's learning rate for the trained layers below the head."""
    return HEAD_LR if scenario == "scratch" else BODY_LR


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="folder with the MNIST IDX files")
    parser.add_argument("--pretrain-epochs", type=int, default=5)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--note", default="", help="free text stored with the results (e.g. the machine's load)")
    args = parser.parse_args()
    import torch

    from dlcourse.data import load_digits_28, load_mnist, split_dataset
    from dlcourse.train import evaluate, train
    from dlcourse.transfer import (SCENARIOS, balanced_subset, count_parameters, fine_tune, predict,
                                   prepare_transfer, small_cnn)

    torch.set_num_threads(THREADS)
    load_before = load_average()
    X, y = load_mnist("test", root=args.data, download=False, fallback=False, progress=False)
    source = y < 5
    (Xs_train, ys_train), (Xs_val, ys_val) = split_dataset(X[source], y[source], (int(source.sum()) - 1000, 1000), seed=0)
    Xt, yt = X[~source], y[~source] - 5
    mnist_pool, mnist_test = split_dataset(Xt, yt, (len(Xt) - 2000, 2000), seed=0)
    dx = np.concatenate([load_digits_28("train")[0], load_digits_28("test")[0]])
    dy = np.concatenate([load_digits_28("train")[1], load_digits_28("test")[1]])
    keep = dy >= 5
    digits_pool, digits_test = split_dataset(dx[keep], dy[keep] - 5, (int(keep.sum()) - 400, 400), seed=0)
    targets = {"MNIST 5-9": (mnist_pool, mnist_test), "scikit-learn digits 5-9": (digits_pool, digits_test)}

    start, cpu = time.perf_counter(), time.process_time()
    pretrained = small_cnn(5, seed=0)
    history = train(pretrained, (Xs_train, ys_train), (Xs_val, ys_val), epochs=args.pretrain_epochs, lr=0.05,
                    batch_size=64, device="cpu", progress=False)
    pretrain = dict(images=len(Xs_train), epochs=args.pretrain_epochs, seconds=round(time.perf_counter() - start, 2),
                    cpu_seconds=round(time.process_time() - cpu, 2), val_acc=history["val_acc"],
                    val_images=len(Xs_val))
    print(f"pretrained on {len(Xs_train):,} images of 0-4 in {pretrain['seconds']:.0f} s: "
          f"validation accuracy {100 * history['val_acc'][-1]:.2f} %", flush=True)

    results = {}
    for target, (pool, test) in targets.items():
        results[target] = {}
        for scenario in SCENARIOS:
            rows = {}
            for n in LABELS[target]:
                accs, secs = [], []
                for draw in range(args.draws):
                    X_few, y_few = balanced_subset(*pool, n, seed=100 + draw)
                    model = prepare_transfer(pretrained, scenario, seed=draw)
                    t0 = time.perf_counter()
                    fine_tune(model, (X_few, y_few), steps=STEPS, lr=HEAD_LR, body_lr=body_lr(scenario),
                              batch_size=BATCH, seed=draw)
                    secs.append(round(time.perf_counter() - t0, 2))
                    accs.append(float(np.mean(predict(model, test[0]) == test[1])))
                rows[str(n)] = dict(test_acc=accs, mean=float(np.mean(accs)),
                                    std=float(np.std(accs, ddof=1)) if len(accs) > 1 else None, seconds=secs)
                print(f"{target:24s} {scenario:18s} {n:5d} labels: {100 * np.mean(accs):.1f} % "
                      f"({', '.join(f'{100 * a:.1f}' for a in accs)})", flush=True)
            results[target][scenario] = rows
    trainable = {s: count_parameters(prepare_transfer(pretrained, s)) for s in SCENARIOS}
    out = dict(
        benchmark="transfer_learning", date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        machine=dict(python=platform.python_version(), platform=platform.platform(), cpu_count=os.cpu_count(),
                     torch=torch.__version__, threads=THREADS, load_average_before=load_before,
                     load_average_after=load_average()),
        note=args.note, smoke=args.pretrain_epochs < 5 or args.draws < 3,
        data=dict(source_train=len(Xs_train), source_val=len(Xs_val), mnist_pool=len(mnist_pool[0]),
                  mnist_test=len(mnist_test[0]), digits_pool=len(digits_pool[0]), digits_test=len(digits_test[0])),
        recipe=dict(steps=STEPS, head_lr=HEAD_LR, body_lr=BODY_LR, batch_size=BATCH, momentum=0.9, weight_decay=5e-4),
        pretrain=pretrain, trainable_parameters=trainable,
        total_parameters=count_parameters(pretrained, trainable_only=False), labels=LABELS, results=results,
    )
    if not args.no_write:
        path = ROOT / "benchmarks" / "results" / "transfer_learning.json"
        path.write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
