"""Benchmark: character language models on The Time Machine, 2 CPU threads (chapters 14-16).

Data: H. G. Wells, *The Time Machine* (``../shared/data/timemachine`` beside the checkout, or
wherever ``--data`` / ``DLCOURSE_TIMEMACHINE`` / ``DLCOURSE_DATA`` point), reduced to lower-case
letters and spaces (28 tokens with ``<unk>``); the last 10 % of the text, contiguous, is the
validation text, never trained on.

Runs (each from the same seed, each timed alone):

* PyTorch :class:`~dlcourse.langmodel.RNNLM` with an LSTM, a vanilla RNN and a GRU, the same
  hidden size and the same wall-clock budget (``--torch-seconds``, 180 s), trained with
  :func:`dlcourse.train.train` (Adam, gradient clipping, random sampling of subsequences).
  Target: the LSTM's validation perplexity <= 5.0 within 180 s.
* The NumPy LSTM (:class:`~dlcourse.langmodel.NumpyRNNLM`: ``numpy_ops.lstm`` forward,
  ``numpy_ops.lstm_backward`` BPTT, truncated BPTT with the state carried, clipping, the course's
  SGD with momentum, or ``--numpy-optimizer adam``) for ``--numpy-seconds`` (300 s).  Target: validation perplexity <= 6.5.

Perplexities in the results are measured after training by :func:`dlcourse.langmodel.perplexity`
over the whole training text and the whole validation text, the state carried from chunk to
chunk; the per-epoch curves come from the training loops.  ``train_seconds`` is the training loop
(per-epoch validation included), ``cpu_seconds`` the process's CPU time over it; the machine's
``uptime`` before and after each run is stored, because the machine is shared.

``OMP_WAIT_POLICY=PASSIVE`` is set before PyTorch loads: on a loaded machine OpenMP's default
busy-waiting makes the two threads of an LSTM's many small per-step products wait for each other
for whole scheduler slices (measured here: 10-30x slower per batch than with passive waiting).

    python benchmarks/char_lm.py                    # everything; writes benchmarks/results/char_lm.json
    python benchmarks/char_lm.py --only torch --torch-seconds 30 --no-write     # a quick look
"""
from __future__ import annotations

import os

THREADS = 2
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(THREADS)  # before NumPy loads its BLAS
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dlcourse.text import load_corpus_time_machine, train_val_split  # noqa: E402

TORCH_CONFIG = dict(hidden=256, batch_size=32, num_steps=64, epochs=40, lr=0.005, optimizer="adam",
                    clip_grad_norm=1.0, lr_schedule="constant", seconds=180)
NUMPY_CONFIG = dict(cell="lstm", hidden=128, batch_size=32, num_steps=35, epochs=60, optimizer="sgd", lr=1.0, momentum=0.9,
                    clip=1.0, seconds=300, blas_threads=THREADS)
TARGETS = {"torch_lstm_val_ppl": 5.0, "torch_seconds": 180, "numpy_lstm_val_ppl": 6.5, "numpy_seconds": 300}
PROMPT = "the time traveller"
MARGIN = 10  # seconds: the loops stop after the batch that crosses the budget, then validate once more


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unavailable"


def run_torch(cell, train, val, vocab, cfg, progress):
    import torch

    from dlcourse.langmodel import RNNLM, generate, perplexity
    from dlcourse.text import SeqDataLoader
    from dlcourse.train import train as train_loop

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    model = RNNLM(len(vocab), cfg["hidden"], cell)
    loader = SeqDataLoader(train, cfg["batch_size"], cfg["num_steps"], sampling="random", seed=0)
    n_val = (len(val) - 1) // cfg["num_steps"] * cfg["num_steps"]
    val_pairs = (torch.from_numpy(val[:n_val].reshape(-1, cfg["num_steps"])),
                 torch.from_numpy(val[1:n_val + 1].reshape(-1, cfg["num_steps"])))
    before = uptime()
    start, cpu0 = time.perf_counter(), time.process_time()
    hist = train_loop(model, loader, val_pairs, epochs=cfg["epochs"], lr=cfg["lr"], weight_decay=0.0,
                      optimizer=cfg["optimizer"], clip_grad_norm=cfg["clip_grad_norm"], lr_schedule=cfg["lr_schedule"],
                      max_seconds=cfg["seconds"] - MARGIN, device="cpu", seed=0, progress=progress)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu0
    after = uptime()
    return dict(
        cell=cell, params=sum(p.numel() for p in model.parameters()), threads=torch.get_num_threads(),
        train_seconds=round(seconds, 2), cpu_seconds=round(cpu_seconds, 2), epochs_run=len(hist["train_loss"]),
        train_ppl=perplexity(model, train, num_steps=cfg["num_steps"]),
        val_ppl=perplexity(model, val, num_steps=cfg["num_steps"]),
        greedy=generate(model, vocab, PROMPT, 120, temperature=0.0),
        sampled={str(t): generate(model, vocab, PROMPT, 120, temperature=t, seed=0) for t in (0.5, 1.0)},
        history=dict(time=[round(t, 2) for t in hist["time"]],
                     train_ppl=[round(math.exp(v), 4) for v in hist["train_loss"]],
                     val_ppl=[round(math.exp(v), 4) for v in hist["val_loss"]]),
        uptime_before=before, uptime_after=after,
    )


def run_numpy(train, val, vocab, cfg, progress):
    from threadpoolctl import threadpool_limits

    from dlcourse.langmodel import NumpyRNNLM, fit_numpy, generate, perplexity

    with threadpool_limits(limits=cfg["blas_threads"], user_api="blas"):
        return _run_numpy(train, val, vocab, cfg, progress, NumpyRNNLM, fit_numpy, generate, perplexity)


def _run_numpy(train, val, vocab, cfg, progress, NumpyRNNLM, fit_numpy, generate, perplexity):
    from dlcourse import optim

    model = NumpyRNNLM(len(vocab), cfg["hidden"], cfg["cell"], seed=0)
    if cfg["optimizer"] == "adam":
        if not hasattr(optim, "Adam"):
            raise SystemExit("--numpy-optimizer adam needs dlcourse.optim.Adam, which this checkout does not have")
        opt = optim.Adam(model.params, lr=cfg["lr"])
    else:
        opt = optim.SGD(model.params, lr=cfg["lr"], momentum=cfg["momentum"])
    before = uptime()
    start, cpu0 = time.perf_counter(), time.process_time()
    hist = fit_numpy(model, train, val, epochs=cfg["epochs"], batch_size=cfg["batch_size"], num_steps=cfg["num_steps"],
                     optimizer=opt, clip=cfg["clip"], max_seconds=cfg["seconds"] - MARGIN,
                     seed=0, progress=progress)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu0
    after = uptime()
    return dict(
        cell=cfg["cell"], params=int(sum(p.size for p in model.params.values())), threads=cfg["blas_threads"],
        train_seconds=round(seconds, 2), cpu_seconds=round(cpu_seconds, 2), epochs_run=round(hist["epoch"][-1], 2),
        train_ppl=perplexity(model, train, num_steps=cfg["num_steps"]),
        val_ppl=perplexity(model, val, num_steps=cfg["num_steps"]),
        greedy=generate(model, vocab, PROMPT, 120, temperature=0.0),
        sampled={str(t): generate(model, vocab, PROMPT, 120, temperature=t, seed=0) for t in (0.5, 1.0)},
        history=dict(time=[round(t, 2) for t in hist["time"]], epoch=[round(e, 3) for e in hist["epoch"]],
                     train_ppl=[round(v, 4) for v in hist["train_ppl"]],
                     val_ppl=[None if math.isnan(v) else round(v, 4) for v in hist["val_ppl"]],
                     grad_norm=[round(v, 4) for v in hist["grad_norm"]]),
        uptime_before=before, uptime_after=after,
    )


def machine():
    info = dict(python=platform.python_version(), platform=platform.platform(), cpu_count=os.cpu_count(),
                numpy=np.__version__, omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"))
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        pass
    try:
        info["cpu_model"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder with timemachine.txt (default: $DLCOURSE_TIMEMACHINE, "
                        "$DLCOURSE_DATA or ../shared/data)")
    parser.add_argument("--only", choices=("torch", "numpy"))
    parser.add_argument("--cells", default="lstm,rnn,gru", help="PyTorch cells to run, comma-separated")
    parser.add_argument("--torch-seconds", type=float, default=TORCH_CONFIG["seconds"])
    parser.add_argument("--numpy-seconds", type=float, default=NUMPY_CONFIG["seconds"])
    parser.add_argument("--numpy-threads", type=int, default=THREADS,
                        help="BLAS threads of the NumPy run (at most 2; on a loaded machine 1 can be faster)")
    parser.add_argument("--numpy-hidden", type=int, default=NUMPY_CONFIG["hidden"])
    parser.add_argument("--numpy-lr", type=float, default=NUMPY_CONFIG["lr"])
    parser.add_argument("--numpy-optimizer", choices=("sgd", "adam"), default=NUMPY_CONFIG["optimizer"],
                        help="the course's SGD with momentum (default) or dlcourse.optim.Adam where the checkout has it")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write the results file")
    parser.add_argument("--note", default="", help="free text stored with the results")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    data = args.data
    if data is None and not (os.environ.get("DLCOURSE_TIMEMACHINE") or os.environ.get("DLCOURSE_DATA")):
        data = ROOT.parent / "shared" / "data"
    corpus, vocab = load_corpus_time_machine(root=data, download=False, fallback=False)
    train, val = train_val_split(corpus, 0.1)
    results = dict(benchmark="char_lm", date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                   machine=machine(), note=args.note, uptime_start=uptime(),
                   data=f"The Time Machine, lower-case letters and spaces: {len(corpus):,} characters, vocabulary "
                        f"{len(vocab)}; training = first {len(train):,}, validation = last {len(val):,} (contiguous)",
                   vocab_size=len(vocab), train_tokens=len(train), val_tokens=len(val), prompt=PROMPT, targets=TARGETS)
    progress = not args.no_progress
    if args.only in (None, "torch"):
        cfg = dict(TORCH_CONFIG, seconds=args.torch_seconds)
        results["torch_config"] = cfg
        results["torch"] = {}
        for cell in args.cells.split(","):
            r = run_torch(cell, train, val, vocab, cfg, progress)
            results["torch"][cell] = r
            print(f"torch {cell}: {r['params']:,} params, {r['train_seconds']} s ({r['epochs_run']} epochs), "
                  f"train ppl {r['train_ppl']:.3f}, val ppl {r['val_ppl']:.3f}\n  greedy: {r['greedy']!r}", flush=True)
    if args.only in (None, "numpy"):
        cfg = dict(NUMPY_CONFIG, seconds=args.numpy_seconds, blas_threads=min(args.numpy_threads, THREADS),
                   hidden=args.numpy_hidden, lr=args.numpy_lr, optimizer=args.numpy_optimizer)
        results["numpy_config"] = cfg
        r = run_numpy(train, val, vocab, cfg, progress)
        results["numpy"] = r
        print(f"numpy {cfg['cell']}: {r['params']:,} params, {r['train_seconds']} s ({r['epochs_run']} epochs), "
              f"train ppl {r['train_ppl']:.3f}, val ppl {r['val_ppl']:.3f}\n  greedy: {r['greedy']!r}\n"
              f"  validation perplexity by epoch: {r['history']['val_ppl']}", flush=True)
    results["uptime_end"] = uptime()
    lstm, np_lstm = results.get("torch", {}).get("lstm"), results.get("numpy")
    if lstm:
        results["torch_target_met"] = bool(lstm["val_ppl"] <= TARGETS["torch_lstm_val_ppl"]
                                           and lstm["train_seconds"] <= TARGETS["torch_seconds"])
    if np_lstm:
        results["numpy_target_met"] = bool(np_lstm["val_ppl"] <= TARGETS["numpy_lstm_val_ppl"]
                                           and np_lstm["train_seconds"] <= TARGETS["numpy_seconds"])
    if not args.no_write:
        out = ROOT / "benchmarks" / "results" / "char_lm.json"
        out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {out.relative_to(ROOT)}")
    return results


if __name__ == "__main__":
    main()
