"""Grading spec for chapter 18: the fans of any weight shape (a tuple of two ints), the bound of
He's uniform initialization for a leaky ReLU, and the weight-gradient norm of every layer of a
bias-free ReLU MLP.

Fixed edge cases come first, the same for every seed: a linear weight, 1-D / 2-D / 3-D
convolutions, a kernel of size 1, a zero dimension (fans of 0), non-square kernels whose fans a
swapped (fan_out, fan_in) pair or a missing receptive field gets wrong; for the bound, PyTorch's
default slope sqrt(5), mode="fan_out" on a weight whose fans differ, a negative slope; for the
gradient norms, a single layer (no ReLU), a dead hidden layer (all gradients 0 below it), integer
and float32 inputs, and layers of different widths so that a transposed product fails.
"""
from __future__ import annotations

import math

import numpy as np

from autograder.spec import Case, Task, shape_label


def _fan_cases(rng):
    cases = []
    for _ in range(5):
        shape = tuple(int(s) for s in rng.integers(1, 9, size=int(rng.integers(2, 6))))
        cases.append(Case((shape,), label=f"shape {shape}"))
    random_cases, cases = cases, []
    for shape, what in (((120, 84), "a linear weight"), ((6, 1, 5, 5), "LeNet's first convolution"),
                        ((8, 3, 5), "a 1-D convolution"), ((4, 2, 3, 1, 2), "a 3-D convolution"),
                        ((16, 8, 1, 1), "a 1x1 convolution"), ((5, 0, 3, 3), "no input channels"),
                        ((7, 4, 3, 5), "a non-square kernel")):
        cases.append(Case((shape,), label=f"{what}, shape {shape}"))
    return cases + random_cases


def _bound_cases(rng):
    cases = []
    for _ in range(5):
        shape = tuple(int(s) for s in rng.integers(1, 9, size=int(rng.integers(2, 5))))
        a = float(rng.choice([0.0, 0.01, 0.2, 1.0, math.sqrt(5)]))
        mode = str(rng.choice(["fan_in", "fan_out"]))
        cases.append(Case((shape, a, mode), label=f"shape {shape}, a={a:g}, mode={mode}"))
    random_cases, cases = cases, []
    cases.append(Case(((64, 32, 3, 3), math.sqrt(5), "fan_in"), label="shape (64, 32, 3, 3), a=sqrt(5) (PyTorch's default), fan_in"))
    cases.append(Case(((10, 40), 0.0, "fan_out"), label="shape (10, 40), a=0, mode=fan_out"))
    cases.append(Case(((6, 3, 2), -0.3, "fan_in"), label="shape (6, 3, 2), a=-0.3 (a negative slope), fan_in"))
    cases.append(Case(((9, 9), 0.0, "fan_in"), label="shape (9, 9), a=0 (ReLU), fan_in"))
    return cases + random_cases


def _mlp(rng, widths, scale=None, dtype=np.float64):
    return tuple((rng.standard_normal((o, i)) * (scale if scale is not None else math.sqrt(2 / i))).astype(dtype)
                 for i, o in zip(widths[:-1], widths[1:]))


def _norm_cases(rng):
    cases = []
    for _ in range(5):
        depth = int(rng.integers(1, 7))
        widths = [int(w) for w in rng.integers(1, 9, size=depth + 1)]
        n = int(rng.integers(1, 9))
        X, G = rng.standard_normal((n, widths[0])), rng.standard_normal((n, widths[-1]))
        scale = float(rng.choice([0.1, 0.5, 1.0]))
        cases.append(Case((X, _mlp(rng, widths, scale), G),
                          label=f"{shape_label(X=X)}, widths {widths}, weights' std {scale:g}"))
    random_cases, cases = cases, []
    X, G = rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    cases.append(Case((X, _mlp(rng, [4, 2]), G), label="a single layer (no ReLU), X (3, 4), widths [4, 2]"))
    X, G = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    cases.append(Case((X, _mlp(rng, [3, 7, 2, 5, 4]), G), label="widths [3, 7, 2, 5, 4] (all different), X (5, 3)"))
    X, G = np.abs(rng.standard_normal((4, 3))) + 0.1, rng.standard_normal((4, 2))
    weights = (-np.abs(rng.standard_normal((5, 3))),) + _mlp(rng, [5, 4, 2])
    cases.append(Case((X, weights, G), label="the first hidden layer dead (negative inputs), widths [3, 5, 4, 2]"))
    X, G = rng.integers(-3, 4, size=(6, 4)), rng.standard_normal((6, 3))
    cases.append(Case((X, _mlp(rng, [4, 5, 3]), G), label="integer X (6, 4), widths [4, 5, 3]"))
    X, G = rng.standard_normal((4, 5)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    cases.append(Case((X, _mlp(rng, [5, 6, 2], dtype=np.float32), G), label="float32 inputs, widths [5, 6, 2]"))
    X, G = rng.standard_normal((8, 16)), rng.standard_normal((8, 10))
    cases.append(Case((X, _mlp(rng, [16] * 10 + [10], 0.1), G), label="10 layers, weights' std 0.1 (tiny gradients)"))
    return cases + random_cases


TASKS = [
    Task("fan_in_fan_out", 3, _fan_cases, rtol=0, atol=0, output_names=("fan_in", "fan_out"), dtype_rule="kind",
         description="fan-in and fan-out of a linear or convolution weight"),
    Task("kaiming_uniform_bound", 3, _bound_cases, rtol=1e-9, atol=0,
         description="the bound of He's uniform initialization for a leaky ReLU"),
    Task("mlp_gradient_norms", 4, _norm_cases, rtol=1e-6, atol=1e-12, dtype_rule="floats",
         description="the weight-gradient norm of every layer of a ReLU MLP"),
]
