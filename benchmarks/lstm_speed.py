"""LSTM speed on CPU: the NumPy LSTM (forward + hand-written BPTT) vs torch.nn.LSTM (forward + autograd).

The chapter's shape, a character language model's minibatch: ``T=35`` steps, ``N=32`` sequences,
``D=64`` inputs, ``H=256`` hidden units, float32, every library at the same thread count (2 by
default).  Goal of issue 10: the NumPy LSTM within 3x of torch.  Run it (not a test; about 20 s)::

    python benchmarks/lstm_speed.py [--threads 2] [--repeats 7] [--out benchmarks/results/lstm_speed.json]

* NumPy: ``dlcourse.numpy_ops.lstm_forward`` then ``lstm_backward(..., cache=cache)`` (one forward,
  as a training step runs it), with ``dY`` and gradients for X, h0, c0 and all weights.  Its BLAS
  thread count is set with threadpoolctl, and through ``OPENBLAS_NUM_THREADS`` etc. before NumPy loads.
* PyTorch: ``nn.LSTM`` (one layer, the same weights) forward, then ``Y.backward(dY)`` with
  ``requires_grad`` on X, h0, c0 and the weights; ``torch.set_num_threads``.  On CPU, torch's LSTM
  is also a loop over time steps in C++ (one fused gate GEMM per step, like ours), so the gap that
  is left is Python's per-step overhead (a dozen NumPy calls per step, each a few microseconds)
  and the elementwise gate arithmetic, which torch fuses and NumPy runs as separate passes.
* Also timed: the torch twin ``dlcourse.torch_ops.lstm`` (the same loop in Python over tensors,
  autograd for the backward): what a per-step Python loop costs torch itself.
* Times are the minimum over ``--repeats`` runs after a warm-up; the variants alternate, so load
  from other processes hits them alike.  ``uptime``'s load averages at start and end go into the
  JSON: on a shared machine absolute times are inflated, ratios much less so.
  GFLOP/s counts the GEMMs only: forward ``2*T*N*(D+H)*4H``, backward twice that.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path


def _parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--T", type=int, default=35)
    p.add_argument("--N", type=int, default=32)
    p.add_argument("--D", type=int, default=64)
    p.add_argument("--H", type=int, default=256)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "lstm_speed.json"))
    return p.parse_args()


ARGS = _parse()
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)  # must happen before NumPy loads its BLAS

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dlcourse import torch_ops  # noqa: E402
from dlcourse.numpy_ops import lstm_backward, lstm_forward  # noqa: E402

try:
    from threadpoolctl import threadpool_limits

    threadpool_limits(ARGS.threads)
    NUMPY_THREADS_VIA = f"threadpoolctl.threadpool_limits({ARGS.threads})"
except ImportError:
    NUMPY_THREADS_VIA = f"OPENBLAS_NUM_THREADS={ARGS.threads} (threadpoolctl not installed)"
torch.set_num_threads(ARGS.threads)


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"


def best_times(fns, repeats):
    """Minimum time of each function over ``repeats`` rounds, run round-robin after a warm-up."""
    for fn in fns.values():
        fn()
    best = {key: float("inf") for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - start)
    return best


def main():
    T, N, D, H = ARGS.T, ARGS.N, ARGS.D, ARGS.H
    load_start, uptime_start = list(os.getloadavg()), uptime()
    rng = np.random.default_rng(0)
    k = 1 / np.sqrt(H)
    X = rng.standard_normal((T, N, D), dtype=np.float32)
    h0, c0 = rng.standard_normal((N, H), dtype=np.float32), rng.standard_normal((N, H), dtype=np.float32)
    W_ih, W_hh = (rng.uniform(-k, k, s).astype(np.float32) for s in ((4 * H, D), (4 * H, H)))
    b_ih, b_hh = (rng.uniform(-k, k, 4 * H).astype(np.float32) for _ in range(2))
    dY = rng.standard_normal((T, N, H), dtype=np.float32)
    weights = (W_ih, W_hh, b_ih, b_hh)

    m = torch.nn.LSTM(D, H)
    with torch.no_grad():
        for name, w in zip(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"), weights):
            getattr(m, name).copy_(torch.from_numpy(w))
    tX, th0, tc0 = (torch.from_numpy(a).clone().requires_grad_() for a in (X, h0, c0))
    tdY = torch.from_numpy(dY)
    twin_w = [torch.from_numpy(w).clone().requires_grad_() for w in weights]

    def numpy_step():
        Y, _, cache = lstm_forward(X, h0, c0, *weights)
        return Y, lstm_backward(dY, X, h0, c0, *weights, cache=cache)

    def torch_forward():
        with torch.no_grad():
            return m(tX, (th0[None], tc0[None]))[0]

    def torch_step():
        for p in (tX, th0, tc0, *m.parameters()):
            p.grad = None
        Y, _ = m(tX, (th0[None], tc0[None]))
        Y.backward(tdY)
        return Y

    def twin_step():
        for p in (tX, th0, tc0, *twin_w):
            p.grad = None
        Y, _ = torch_ops.lstm(tX, th0, tc0, *twin_w)
        Y.backward(tdY)
        return Y

    # correctness first: the benchmark compares equal computations
    Y, grads = numpy_step()
    tY = torch_step()
    np.testing.assert_allclose(Y, tY.detach().numpy(), rtol=1e-4, atol=1e-5)
    refs = [tX.grad, th0.grad, tc0.grad, m.weight_ih_l0.grad, m.weight_hh_l0.grad, m.bias_ih_l0.grad, m.bias_hh_l0.grad]
    for ours, ref in zip(grads, refs):
        ref = ref.numpy().reshape(ours.shape)
        np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-3 * float(np.abs(ref).max()))
        assert ours.dtype == np.float32

    t = best_times({
        "numpy_forward": lambda: lstm_forward(X, h0, c0, *weights),
        "torch_forward": torch_forward,
        "numpy_forward_backward": numpy_step,
        "torch_forward_backward": torch_step,
        "torch_twin_forward_backward": twin_step,
    }, ARGS.repeats)

    fwd_flops = 2 * T * N * (D + H) * 4 * H
    flops = {"numpy_forward": fwd_flops, "torch_forward": fwd_flops}
    result = {
        "shape": {"T": T, "N": N, "D": D, "H": H, "dtype": "float32"},
        "machine": {
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "platform": platform.platform(), "logical_cpus": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "torch": torch.__version__, "threads": ARGS.threads,
            "numpy_threads_via": NUMPY_THREADS_VIA, "torch_threads": torch.get_num_threads(),
            "uptime_at_start": uptime_start, "load_average_at_start": load_start,
            "uptime_at_end": uptime(), "load_average_at_end": list(os.getloadavg()),
        },
        "repeats": ARGS.repeats,
        "ms": {key: sec * 1e3 for key, sec in t.items()},
        "gflops": {key: flops.get(key, 3 * fwd_flops) / sec / 1e9 for key, sec in t.items()},
        "numpy_vs_torch_forward": t["numpy_forward"] / t["torch_forward"],
        "numpy_vs_torch_forward_backward": t["numpy_forward_backward"] / t["torch_forward_backward"],
        "torch_twin_vs_torch_forward_backward": t["torch_twin_forward_backward"] / t["torch_forward_backward"],
        "goal_within_3x": t["numpy_forward_backward"] / t["torch_forward_backward"] <= 3.0,
        "method": __doc__.split("Run it")[0].strip(),
    }
    print(f"LSTM T={T} N={N} D={D} H={H} float32, {ARGS.threads} threads; load at start: {uptime_start}")
    for key, ms in result["ms"].items():
        print(f"  {key:30} {ms:8.2f} ms  {result['gflops'][key]:6.1f} GFLOP/s")
    print(f"NumPy / torch: forward {result['numpy_vs_torch_forward']:.2f}x, forward+backward "
          f"{result['numpy_vs_torch_forward_backward']:.2f}x (goal <= 3x: "
          f"{'met' if result['goal_within_3x'] else 'NOT met'}); torch twin / nn.LSTM "
          f"{result['torch_twin_vs_torch_forward_backward']:.2f}x")
    out = Path(ARGS.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
