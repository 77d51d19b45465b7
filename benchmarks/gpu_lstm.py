"""LSTM on a GPU: torch.nn.LSTM (one cuDNN call for the whole sequence) vs the torch twin's per-step loop.

``dlcourse.torch_ops.lstm`` runs the chapter's loop in Python: per time step a handful of small
kernels (one gate GEMM, the sigmoids and tanhs, the cell update), each launched separately, and
autograd records and replays all of them.  cuDNN runs the whole recurrence, forward and backward,
in a few fused kernels.  On a GPU the per-step launch overhead, not arithmetic, bounds the loop:
the gap grows with ``T`` and shrinks as ``N`` and ``H`` grow.  Run it::

    python benchmarks/gpu_lstm.py [--T 35] [--N 32] [--D 64] [--H 256] [--repeats 20] [--out FILE]

Without CUDA it prints a message and exits with status 0 (nothing to measure).  Times are
medians after warm-up, with ``torch.cuda.synchronize()`` around each run; float32 (TF32 allowed
as torch's default for cuDNN, stated in the output) and, for a second row, a larger batch.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dlcourse import torch_ops  # noqa: E402


def _parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=int, default=35)
    p.add_argument("--N", type=int, default=32)
    p.add_argument("--D", type=int, default=64)
    p.add_argument("--H", type=int, default=256)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--out", default=None, help="write the figures as JSON here (default: print only)")
    return p.parse_args()


def median_ms(fn, repeats):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def bench(T, N, D, H, repeats, device):
    torch.manual_seed(0)
    m = torch.nn.LSTM(D, H).to(device)
    X = torch.randn(T, N, D, device=device, requires_grad=True)
    h0, c0 = torch.zeros(N, H, device=device), torch.zeros(N, H, device=device)
    G = torch.randn(T, N, H, device=device)
    weights = [m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0]

    def cudnn_step():
        Y, _ = m(X, (h0[None], c0[None]))
        Y.backward(G)

    def twin_step():
        Y, _ = torch_ops.lstm(X, h0, c0, *weights)
        Y.backward(G)

    with torch.no_grad():  # the two compute the same thing (TF32 may differ in the 3rd digit)
        diff = (m(X, (h0[None], c0[None]))[0] - torch_ops.lstm(X, h0, c0, *weights)[0]).abs().max().item()
    row = {"T": T, "N": N, "D": D, "H": H, "max_abs_difference": diff,
           "cudnn_forward_backward_ms": median_ms(cudnn_step, repeats),
           "twin_loop_forward_backward_ms": median_ms(twin_step, repeats)}
    row["twin_vs_cudnn"] = row["twin_loop_forward_backward_ms"] / row["cudnn_forward_backward_ms"]
    return row


def main():
    args = _parse()
    if not torch.cuda.is_available():
        print("gpu_lstm.py: no CUDA GPU here (torch.cuda.is_available() is False); nothing to measure.")
        return 0
    device = torch.device("cuda")
    rows = [bench(args.T, args.N, args.D, args.H, args.repeats, device),
            bench(args.T, 8 * args.N, args.D, args.H, args.repeats, device)]
    result = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version(), "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "rows": rows, "method": __doc__.split("Run it")[0].strip(),
    }
    print(f"{result['gpu']}, torch {result['torch']}, cuDNN {result['cudnn']} (TF32 allowed: {result['cudnn_allow_tf32']})")
    for r in rows:
        print(f"  T={r['T']} N={r['N']} D={r['D']} H={r['H']}: nn.LSTM (cuDNN) {r['cudnn_forward_backward_ms']:.2f} ms, "
              f"twin loop {r['twin_loop_forward_backward_ms']:.2f} ms -> {r['twin_vs_cudnn']:.1f}x "
              f"(max |difference| {r['max_abs_difference']:.1e})")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
