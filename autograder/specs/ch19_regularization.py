"""Grading spec for chapter 19: one SGD step of a fully connected layer with dropout on its input
and weight decay on its weights (the mask given, so the result is exact), the L2 penalty of a
network's weights (biases excluded), and early stopping on the validation accuracy.

Fixed edge cases beside the random ones: a mask that drops every input (only the decay moves the
weights), no weight decay, integer and float32 inputs, a single example; no parameters at all,
biases only, a 0-d array; a single epoch, a constant curve, ties, gains no larger than min_delta,
patience None and 1.
"""
from __future__ import annotations

import numpy as np

from autograder.spec import Case, Task, shape_label


def _layer(rng, n, d_in, d_out, p):
    X, W, b = rng.standard_normal((n, d_in)), rng.standard_normal((d_out, d_in)), rng.standard_normal(d_out)
    mask = (rng.random((n, d_in)) >= p) / (1 - p) if p < 1 else np.zeros((n, d_in))
    return X, W, b, rng.standard_normal((n, d_out)), mask


def _step_cases(rng):
    cases = []
    for _ in range(5):
        n, d_in, d_out = (int(v) for v in rng.integers(1, 7, size=3))
        p, lr, lam = float(rng.choice([0.1, 0.3, 0.5])), float(rng.choice([0.01, 0.1, 0.5])), float(rng.choice([1e-4, 1e-2, 0.1]))
        X, W, b, dY, mask = _layer(rng, n, d_in, d_out, p)
        cases.append(Case((X, W, b, dY, mask, lr, lam), label=f"{shape_label(X=X, W=W)}, p={p}, lr={lr}, weight_decay={lam}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    X, W, b, dY, mask = _layer(rng, 3, 4, 2, 1.0)
    cases.append(Case((X, W, b, dY, mask, 0.1, 0.5), label="a mask that drops every input, X (3, 4), W (2, 4)"))
    X, W, b, dY, mask = _layer(rng, 4, 3, 3, 0.5)
    cases.append(Case((X, W, b, dY, mask, 0.2, 0.0), label="no weight decay, X (4, 3), W (3, 3), p=0.5"))
    X, W, b, dY, mask = _layer(rng, 1, 5, 2, 0.2)
    cases.append(Case((X, W, b, dY, mask, 0.05, 0.01), label="a single example, X (1, 5), W (2, 5)"))
    Xi = rng.integers(-3, 4, size=(3, 2))
    _, W, b, dY, mask = _layer(rng, 3, 2, 2, 0.5)
    cases.append(Case((Xi, W, b, dY, mask, 0.1, 0.01), label="integer X (3, 2), W (2, 2)"))
    X, W, b, dY, mask = _layer(rng, 2, 3, 4, 0.25)
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    cases.append(Case((f32(X), f32(W), f32(b), f32(dY), mask, 0.1, 0.01), label="float32 X (2, 3), W (4, 3), b, dY"))
    return cases + random_cases


def _penalty_cases(rng):
    cases = []
    for _ in range(4):
        params = []
        for _ in range(int(rng.integers(1, 5))):
            ndim = int(rng.integers(1, 5))
            params.append(rng.standard_normal(tuple(int(v) for v in rng.integers(1, 5, size=ndim))))
        lam = float(rng.choice([1e-4, 5e-4, 0.01, 1.0]))
        cases.append(Case((tuple(params), lam), label=f"arrays of shapes {[p.shape for p in params]}, weight_decay={lam}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    cases.append(Case(((), 0.1), label="no parameters at all"))
    cases.append(Case(((rng.standard_normal(3), np.float64(2.0)), 0.1), label="biases only: shapes (3,) and ()"))
    cases.append(Case(((rng.integers(-3, 4, size=(2, 3)), rng.standard_normal((2, 2, 2, 2)).astype(np.float32)), 1.0),
                      label="an integer matrix (2, 3) and a float32 kernel (2, 2, 2, 2)"))
    cases.append(Case(((rng.standard_normal((3, 3)), rng.standard_normal(3)), 0.0), label="weight_decay = 0"))
    cases.append(Case(((rng.standard_normal((6, 1, 3, 3)), rng.standard_normal(6), rng.standard_normal((10, 24)),
                        rng.standard_normal(10)), 5e-4), label="a small CNN's parameters, weight_decay=5e-4"))
    return cases + random_cases


def _stop_cases(rng):
    cases = []
    for k in range(6):
        n = int(rng.integers(2, 16))
        acc = np.round(0.8 + 0.1 * np.cumsum(rng.standard_normal(n)) / 4, 3)
        patience = None if k == 0 else int(rng.integers(1, 6))
        min_delta = float(rng.choice([0.0, 0.0045, 0.0205]))  # never a difference of 3-decimal values
        cases.append(Case((acc,), {"patience": patience, "min_delta": min_delta},
                          label=f"a random curve of {n} epochs, patience={patience}, min_delta={min_delta}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    cases.append(Case((np.array([0.5]),), {"patience": 3}, label="a single epoch"))
    cases.append(Case((np.array([0.9, 0.9, 0.9, 0.9]),), {"patience": 2}, label="a constant curve (ties)"))
    cases.append(Case((np.array([0.1, 0.2, 0.3, 0.4]),), {"patience": 1}, label="always improving, patience 1"))
    cases.append(Case((np.array([0.8, 0.85, 0.87, 0.86, 0.87, 0.86, 0.9]),), {"patience": None},
                      label="patience None: the whole curve"))
    cases.append(Case((np.array([0.80, 0.805, 0.808, 0.9, 0.7]),), {"patience": 2, "min_delta": 0.0105},
                      label="gains below min_delta do not count (min_delta=0.0105)"))
    cases.append(Case((np.array([0.7, 0.6, 0.65, 0.8, 0.5, 0.4]),), {"patience": 2},
                      label="a dip shorter than the patience, then a new best"))
    return cases + random_cases


TASKS = [
    Task("dropout_linear_sgd_step", 4, _step_cases, rtol=1e-9, atol=1e-12, output_names=("W_new", "b_new"),
         dtype_rule="floats", description="one SGD step with dropout on the input and weight decay on the weights"),
    Task("l2_penalty_total", 2, _penalty_cases, rtol=1e-10, atol=1e-12,
         description="the L2 penalty of a network's weights, biases excluded"),
    Task("early_stop", 4, _stop_cases, rtol=0, atol=0, output_names=("best_epoch", "stop_epoch"), dtype_rule="kind",
         description="early stopping on the validation accuracy: the epoch kept and the epoch it stops"),
]
