"""Convolution speed: naive loops vs vectorized NumPy (im2col + one GEMM) vs PyTorch CPU.

Forward and backward (dX, dW, db) on LeNet-, VGG- and ResNet-sized layers, float32, with every
library at the same thread count (2 by default), next to the machine's measured float32 matmul
peak (2048 x 2048 @ 2048 x 2048) in NumPy and in PyTorch.  Ratios are against torch measured in
the same run.  Run it (not a test; takes about a minute on 2 cores)::

    python benchmarks/conv_speed.py [--threads 2] [--repeats 5] [--out benchmarks/results/conv_speed.json]

* NumPy: ``dlcourse.numpy_ops.conv2d`` and ``conv2d_backward``.  NumPy's BLAS (OpenBLAS) thread
  count is set with threadpoolctl when it is installed, else with ``OPENBLAS_NUM_THREADS`` /
  ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` set before NumPy is imported (this script does that).
* PyTorch: ``torch.nn.functional.conv2d`` forward; backward is
  ``torch.ops.aten.convolution_backward`` (what autograd calls), with ``torch.set_num_threads``.
* Naive: four Python loops over (image, filter, row, column), each output pixel one NumPy
  multiply-and-sum over its window (backward: the same loops scatter ``dY`` into ``dX`` and
  ``dW``).  It is far too slow for the full batch, so it runs on a subset of the images and
  filters and is extrapolated linearly (the work is exactly proportional to both); the JSON
  records the subset.
* Times are the minimum over ``--repeats`` runs after one warm-up run; NumPy and torch runs
  alternate, so that other load on the machine hits both alike.  GFLOP/s counts one
  multiply-add as 2 FLOPs: forward ``2*N*O*H'*W'*(C/groups)*kh*kw``, backward twice that (dX and
  dW; db is negligible).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path


def _parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "conv_speed.json"))
    p.add_argument("--quick", action="store_true", help="small layers only (smoke test)")
    return p.parse_args()


ARGS = _parse()
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)  # must happen before NumPy loads its BLAS

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dlcourse.numpy_ops import conv2d, conv2d_backward  # noqa: E402

try:
    from threadpoolctl import threadpool_limits

    threadpool_limits(ARGS.threads)
    NUMPY_THREADS_VIA = f"threadpoolctl.threadpool_limits({ARGS.threads})"
except ImportError:
    NUMPY_THREADS_VIA = f"OPENBLAS_NUM_THREADS={ARGS.threads} (threadpoolctl not installed)"
torch.set_num_threads(ARGS.threads)

LAYERS = [
    # name, X shape, W shape, padding
    ("LeNet conv1", (256, 1, 28, 28), (6, 1, 5, 5), 2),
    ("LeNet conv2", (256, 6, 14, 14), (16, 6, 5, 5), 0),
    ("VGG block1 conv2", (8, 64, 112, 112), (64, 64, 3, 3), 1),
    ("ResNet conv2_x", (32, 64, 56, 56), (64, 64, 3, 3), 1),
]
NAIVE_MAX_PIXELS = 25_000  # output pixels (n, o, i, j) the naive loops actually visit per run


def best_time(fn, repeats):
    fn()  # warm-up: allocations, library initialisation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def best_times(fns, repeats):
    """Like :func:`best_time` for several functions, run round-robin so that a busy machine
    slows them all alike and the ratios stay meaningful."""
    for fn in fns.values():
        fn()
    best = {key: float("inf") for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - start)
    return best


def naive_forward(X, W, padding):
    n, c, h, w = X.shape
    o, _, kh, kw = W.shape
    Xp = np.pad(X, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    ho, wo = h + 2 * padding - kh + 1, w + 2 * padding - kw + 1
    Y = np.zeros((n, o, ho, wo), dtype=X.dtype)
    for i_n in range(n):
        for i_o in range(o):
            for i in range(ho):
                for j in range(wo):
                    Y[i_n, i_o, i, j] = np.sum(Xp[i_n, :, i : i + kh, j : j + kw] * W[i_o])
    return Y


def naive_backward(dY, X, W, padding):
    n, c, h, w = X.shape
    o, _, kh, kw = W.shape
    Xp = np.pad(X, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    dXp, dW = np.zeros_like(Xp), np.zeros_like(W)
    for i_n in range(n):
        for i_o in range(o):
            for i in range(dY.shape[2]):
                for j in range(dY.shape[3]):
                    g = dY[i_n, i_o, i, j]
                    dW[i_o] += g * Xp[i_n, :, i : i + kh, j : j + kw]
                    dXp[i_n, :, i : i + kh, j : j + kw] += g * W[i_o]
    dX = dXp[:, :, padding : padding + h, padding : padding + w]
    return dX, dW, dY.sum(axis=(0, 2, 3))


def matmul_peak(repeats):
    n = 2048
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    tA, tB = torch.from_numpy(A), torch.from_numpy(B)
    flops = 2 * n**3
    return {
        "numpy_gflops": flops / best_time(lambda: A @ B, repeats) / 1e9,
        "torch_gflops": flops / best_time(lambda: tA @ tB, repeats) / 1e9,
    }


def bench_layer(name, x_shape, w_shape, padding, repeats):
    rng = np.random.default_rng(0)
    X = rng.standard_normal(x_shape, dtype=np.float32)
    W = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(np.float32)
    b = rng.standard_normal(w_shape[0], dtype=np.float32)
    tX, tW, tb = map(torch.from_numpy, (X, W, b))
    n, c, h, w = x_shape
    o, _, kh, kw = w_shape
    ho, wo = h + 2 * padding - kh + 1, w + 2 * padding - kw + 1
    fwd_flops = 2 * n * o * ho * wo * c * kh * kw
    dY = rng.standard_normal((n, o, ho, wo), dtype=np.float32)
    tdY = torch.from_numpy(dY)

    # correctness first: a benchmark of wrong code is worthless
    Y = conv2d(X, W, b, padding=padding)
    np.testing.assert_allclose(Y, F.conv2d(tX, tW, tb, padding=padding).numpy(), rtol=1e-3, atol=1e-3)
    dX, dW, db = conv2d_backward(dY, X, W, b, padding=padding)
    tdX, tdW, tdb = torch.ops.aten.convolution_backward(
        tdY, tX, tW, [o], [1, 1], [padding, padding], [1, 1], False, [0, 0], 1, [True, True, True]
    )
    for ours, ref in ((dX, tdX), (dW, tdW), (db, tdb)):
        np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-3, atol=1e-2 * float(np.abs(ref.numpy()).max()))

    t = best_times({
        "numpy_forward": lambda: conv2d(X, W, b, padding=padding),
        "torch_forward": lambda: F.conv2d(tX, tW, tb, padding=padding),
        "numpy_backward": lambda: conv2d_backward(dY, X, W, b, padding=padding),
        "torch_backward": lambda: torch.ops.aten.convolution_backward(
            tdY, tX, tW, [o], [1, 1], [padding, padding], [1, 1], False, [0, 0], 1, [True, True, True]
        ),
    }, repeats)

    # naive loops on a subset of images and filters, extrapolated linearly to the full layer
    n_sub = max(1, min(n, NAIVE_MAX_PIXELS // (o * ho * wo)))
    o_sub = o if n_sub > 1 else max(1, min(o, NAIVE_MAX_PIXELS // (ho * wo)))
    scale = (n / n_sub) * (o / o_sub)
    Xs, Ws, dYs = X[:n_sub], W[:o_sub], dY[:n_sub, :o_sub]
    np.testing.assert_allclose(naive_forward(Xs, Ws, padding), Y[:n_sub, :o_sub] - b[:o_sub, None, None],
                               rtol=1e-3, atol=1e-3)
    t["naive_forward"] = best_time(lambda: naive_forward(Xs, Ws, padding), 1) * scale
    t["naive_backward"] = best_time(lambda: naive_backward(dYs, Xs, Ws, padding), 1) * scale

    row = {
        "layer": name, "X": list(x_shape), "W": list(w_shape), "padding": padding, "stride": 1,
        "forward_gflop": fwd_flops / 1e9, "backward_gflop": 2 * fwd_flops / 1e9,
        "naive_measured_on": {"images": n_sub, "filters": o_sub, "extrapolation_factor": scale},
    }
    for key, sec in t.items():
        flops = fwd_flops if key.endswith("forward") else 2 * fwd_flops
        row[f"{key}_ms"] = sec * 1e3
        row[f"{key}_gflops"] = flops / sec / 1e9
    for pass_ in ("forward", "backward"):
        row[f"numpy_vs_torch_{pass_}"] = t[f"numpy_{pass_}"] / t[f"torch_{pass_}"]
        row[f"naive_vs_torch_{pass_}"] = t[f"naive_{pass_}"] / t[f"torch_{pass_}"]
    return row


def machine_info():
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = "unknown"
    try:
        cfg = np.show_config(mode="dicts")
        blas = f"{cfg['Build Dependencies']['blas']['name']} {cfg['Build Dependencies']['blas'].get('version', '')}"
    except Exception:  # noqa: BLE001 - older NumPy
        pass
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(), "cpu": cpu, "logical_cpus": os.cpu_count(),
        "python": platform.python_version(), "numpy": np.__version__, "numpy_blas": blas,
        "torch": torch.__version__, "threads": ARGS.threads, "numpy_threads_via": NUMPY_THREADS_VIA,
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def main():
    info = machine_info()
    peak = matmul_peak(ARGS.repeats)
    layers = LAYERS[:2] if ARGS.quick else LAYERS
    rows = []
    for name, xs, ws, pad in layers:
        print(f"... {name}", file=sys.stderr, flush=True)
        rows.append(bench_layer(name, xs, ws, pad, ARGS.repeats))
    info["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    resnet = next((r for r in rows if r["layer"] == "ResNet conv2_x"), None)
    targets = None
    if resnet:
        targets = {
            "forward_within_2x_of_torch": resnet["numpy_vs_torch_forward"] <= 2.0,
            "backward_within_3x_of_torch": resnet["numpy_vs_torch_backward"] <= 3.0,
            "forward_ratio": resnet["numpy_vs_torch_forward"],
            "backward_ratio": resnet["numpy_vs_torch_backward"],
        }
    result = {"machine": info, "matmul_2048_float32_peak": peak, "layers": rows, "targets_resnet_layer": targets,
              "method": __doc__.split("Run it")[0].strip() + " Naive loops are extrapolated (see naive_measured_on)."}

    print(f"\n{ARGS.threads} threads; 2048^2 float32 matmul peak: NumPy {peak['numpy_gflops']:.0f} GFLOP/s, "
          f"torch {peak['torch_gflops']:.0f} GFLOP/s   ({info['cpu']})")
    head = f"{'layer':18} {'pass':8} {'naive* ms':>10} {'numpy ms':>9} {'torch ms':>9} " \
           f"{'naive GF/s':>10} {'numpy GF/s':>10} {'torch GF/s':>10} {'numpy/torch':>11} {'naive/torch':>11}"
    print(head)
    print("-" * len(head))
    for r in rows:
        for p in ("forward", "backward"):
            print(f"{r['layer']:18} {p:8} {r[f'naive_{p}_ms']:10.0f} {r[f'numpy_{p}_ms']:9.1f} {r[f'torch_{p}_ms']:9.1f} "
                  f"{r[f'naive_{p}_gflops']:10.3f} {r[f'numpy_{p}_gflops']:10.1f} {r[f'torch_{p}_gflops']:10.1f} "
                  f"{r[f'numpy_vs_torch_{p}']:10.2f}x {r[f'naive_vs_torch_{p}']:10.0f}x")
    print("* naive: measured on a subset of images x filters, extrapolated linearly (see the JSON).")
    if targets:
        print(f"targets (ResNet layer): forward {targets['forward_ratio']:.2f}x torch "
              f"({'met' if targets['forward_within_2x_of_torch'] else 'NOT met'}, goal <= 2x); "
              f"backward {targets['backward_ratio']:.2f}x ({'met' if targets['backward_within_3x_of_torch'] else 'NOT met'}, goal <= 3x)")
    out = Path(ARGS.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
