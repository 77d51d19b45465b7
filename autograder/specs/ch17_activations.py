"""Grading spec for chapter 17: PReLU forward and backward (a tuple of three arrays), SiLU forward
and backward (a tuple of two), and a count of saturated sigmoid / tanh units.

Fixed edge cases come first, the same for every seed: inputs exactly at the kink (X = 0, where
the PReLU's slope applies, as in F.prelu), channels with no negative input (dalpha = 0), integer
and float32 inputs, inputs of +-1000 (np.exp(-x) overflows past 709, so a naive sigmoid returns
nan in the SiLU's derivative), 1x1 images, and for the count values far in the tails, all zeros
and tolerances the sigmoid's 1/4 scaling matters for.
"""
from __future__ import annotations

import numpy as np

from autograder.spec import Case, Task, shape_label


def _prelu_cases(rng):
    cases = []
    for _ in range(5):
        if rng.random() < 0.5:
            shape = (int(rng.integers(1, 7)), int(rng.integers(1, 5)))
        else:
            shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        X, dY = rng.standard_normal(shape) * 2, rng.standard_normal(shape)
        alpha = rng.random(shape[1]) * 0.6 - 0.1
        cases.append(Case((X, alpha, dY), label=shape_label(X=X, alpha=alpha)))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    X = np.array([[-2.0, 0.0], [0.0, 3.0], [1.5, -0.5]])
    cases.append(Case((X, np.array([0.2, 0.7]), rng.standard_normal((3, 2))),
                      label="zeros in X (the kink: the slope applies), X (3, 2)"))
    X = np.abs(rng.standard_normal((2, 3, 2, 2))) + 0.1
    X[:, 0] *= -1
    cases.append(Case((X, rng.random(3), rng.standard_normal((2, 3, 2, 2))),
                      label="channels 1 and 2 entirely positive (their dalpha is 0), X (2, 3, 2, 2)"))
    X = rng.integers(-4, 5, size=(3, 2, 1, 1))
    cases.append(Case((X, rng.random(2), rng.standard_normal((3, 2, 1, 1))), label="integer X, 1x1 images, X (3, 2, 1, 1)"))
    X = rng.standard_normal((4, 3)).astype(np.float32)
    cases.append(Case((X, rng.random(3).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)),
                      label="float32 inputs, X (4, 3)"))
    return cases + random_cases


def _silu_cases(rng):
    cases = []
    for _ in range(5):
        shape = tuple(int(s) for s in rng.integers(1, 6, size=int(rng.integers(1, 4))))
        X, dY = rng.standard_normal(shape) * float(rng.choice([1, 4, 20])), rng.standard_normal(shape)
        cases.append(Case((X, dY), label=shape_label(X=X)))
    random_cases, cases = cases, []
    X = np.array([0.0, 1000.0, -1000.0, 710.0, -710.0, -745.0])
    cases.append(Case((X, rng.standard_normal(6)), label="X = [0, 1000, -1000, 710, -710, -745] (exp overflows)"))
    X = rng.integers(-800, 801, size=(3, 4))
    cases.append(Case((X, rng.standard_normal((3, 4))), label="integer X up to +-800, X (3, 4)"))
    X = rng.standard_normal((2, 5)).astype(np.float32)
    cases.append(Case((X, rng.standard_normal((2, 5)).astype(np.float32)), label="float32 X (2, 5)"))
    return cases + random_cases


def _count_cases(rng):
    cases = []
    for _ in range(5):
        n, d = int(rng.integers(1, 80)), int(rng.integers(1, 8))
        scale = float(rng.choice([0.5, 2.0, 5.0, 30.0]))
        activation = str(rng.choice(["sigmoid", "tanh"]))
        tol = float(rng.choice([0.001, 0.01, 0.1, 0.3]))
        Z = rng.standard_normal((n, d)) * scale
        cases.append(Case((Z, activation, tol), label=f"{shape_label(Z=Z)} * {scale:g}, {activation}, tol={tol}"))
    random_cases, cases = cases, []
    # sigmoid'(z) / (1/4) crosses 0.05 near |z| = 4.36 and tanh' crosses 0.05 near |z| = 2.18:
    # values on both sides of both, so a missing 1/4 (or a tanh treated as a sigmoid) is caught.
    Z = np.array([[0.0, 3.0, -3.0, 4.0, -5.0, 2.0, 2.5, 1e4, -1e4]]).T * np.ones((1, 2))
    Z[:, 1] *= -1
    for activation in ("sigmoid", "tanh"):
        cases.append(Case((Z, activation, 0.05), label=f"values around the threshold and +-1e4, Z (9, 2), {activation}, tol=0.05"))
    cases.append(Case((np.zeros((5, 3)), "sigmoid", 0.9), label="all zeros (nothing saturated), Z (5, 3), sigmoid, tol=0.9"))
    Z = rng.integers(-30, 31, size=(40, 4))
    cases.append(Case((Z, "tanh", 0.01), label="integer Z (40, 4), tanh, tol=0.01"))
    cases.append(Case((rng.standard_normal((1, 6)) * 10, "sigmoid", 0.01), label="a single example, Z (1, 6), sigmoid"))
    return cases + random_cases


TASKS = [
    Task("prelu_forward_backward", 4, _prelu_cases, rtol=1e-6, atol=1e-9, output_names=("Y", "dX", "dalpha"),
         dtype_rule="floats", description="PReLU (a slope per channel) forward and backward"),
    Task("silu_forward_backward", 3, _silu_cases, rtol=1e-6, atol=1e-9, output_names=("Y", "dX"),
         dtype_rule="floats", description="SiLU forward and backward, finite for every finite input"),
    Task("count_saturated", 3, _count_cases, rtol=0, atol=0, dtype_rule="kind",
         description="saturated sigmoid / tanh units per column"),
]
