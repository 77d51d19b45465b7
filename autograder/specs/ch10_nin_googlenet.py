"""Grading spec for chapters 10-11: a NiN block and an inception block, forward in NumPy, and the
parameter / multiply-accumulate count of an inception block.

Fixed edge cases beside the random ones: stride larger than the kernel's reach (unused rows and
columns), non-square images, 1x1 and 2x2 images (the 5x5 branch's padding is wider than the
image), all-negative input (every max-pool window padded with -inf still picks a real value),
integer input; GoogLeNet's blocks 3a and 5b for the count.
"""
from __future__ import annotations

import numpy as np

from autograder.spec import Case, Task, shape_label


def _params(rng, shapes):
    params = []
    for shape in shapes:
        params += [rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:])), 0.1 * rng.standard_normal(shape[0])]
    return tuple(params)


def _nin(rng, c, o, k):
    return _params(rng, [(o, c, k, k), (o, o, 1, 1), (o, o, 1, 1)])


def _nin_cases(rng):
    cases = []
    for _ in range(5):
        n, c, o = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 5))
        k, stride, padding = int(rng.choice([1, 3, 5])), int(rng.integers(1, 4)), int(rng.integers(0, 3))
        h, w = (int(v) for v in rng.integers(max(1, k - 2 * padding), 12, size=2))
        X = rng.standard_normal((n, c, h, w))
        cases.append(Case((X, _nin(rng, c, o, k), stride, padding),
                          label=f"{shape_label(X=X)}, {k}x{k} kernel, {o} channels, stride={stride}, padding={padding}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    X = rng.standard_normal((2, 3, 8, 8))
    cases.append(Case((X, _nin(rng, 3, 2, 3), 3, 0), label="stride 3 leaves the last rows and columns unused, X (2, 3, 8, 8)"))
    X = rng.standard_normal((1, 2, 6, 11))
    cases.append(Case((X, _nin(rng, 2, 4, 5), 2, 2), label="non-square X (1, 2, 6, 11), 5x5, stride 2, padding 2"))
    X = rng.integers(-3, 4, size=(2, 2, 5, 5))
    cases.append(Case((X, _nin(rng, 2, 3, 3), 1, 1), label="integer X (2, 2, 5, 5)"))
    return cases + random_cases


def _inception(rng, c, c1, c2, c3, c4):
    return _params(rng, [(c1, c, 1, 1), (c2[0], c, 1, 1), (c2[1], c2[0], 3, 3), (c3[0], c, 1, 1),
                         (c3[1], c3[0], 5, 5), (c4, c, 1, 1)])


def _random_sizes(rng):
    c = int(rng.integers(1, 6))
    c1, c4 = (int(v) for v in rng.integers(1, 5, size=2))
    c2 = tuple(int(v) for v in rng.integers(1, 5, size=2))
    c3 = tuple(int(v) for v in rng.integers(1, 5, size=2))
    return c, c1, c2, c3, c4


def _inception_cases(rng):
    cases = []
    for _ in range(5):
        c, c1, c2, c3, c4 = _random_sizes(rng)
        h, w = (int(v) for v in rng.integers(1, 10, size=2))
        X = rng.standard_normal((int(rng.integers(1, 3)), c, h, w))
        cases.append(Case((X, _inception(rng, c, c1, c2, c3, c4)),
                          label=f"{shape_label(X=X)}, branches {c1}, {c2}, {c3}, {c4}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    X = rng.standard_normal((1, 2, 1, 1))
    cases.append(Case((X, _inception(rng, 2, 1, (2, 1), (1, 2), 1)), label="a 1x1 image, X (1, 2, 1, 1)"))
    X = -np.abs(rng.standard_normal((2, 3, 2, 2))) - 1
    cases.append(Case((X, _inception(rng, 3, 2, (1, 2), (2, 1), 3)), label="all-negative 2x2 images, X (2, 3, 2, 2)"))
    X = rng.integers(-4, 5, size=(1, 3, 4, 6))
    cases.append(Case((X, _inception(rng, 3, 1, (2, 2), (1, 1), 2)), label="integer non-square X (1, 3, 4, 6)"))
    return cases + random_cases


def _count_cases(rng):
    cases = [
        Case((192, 64, (96, 128), (16, 32), 32, 28), label="GoogLeNet's block 3a (192 channels, 28 x 28)"),
        Case((832, 384, (192, 384), (48, 128), 128, 7), label="GoogLeNet's block 5b (832 channels, 7 x 7)"),
        Case((1, 1, (1, 1), (1, 1), 1, 1), label="the smallest block: one channel everywhere, a 1x1 image"),
    ]
    for _ in range(4):
        c, c1, c2, c3, c4 = _random_sizes(rng)
        size = int(rng.integers(1, 30))
        cases.append(Case((c * 7, c1 * 5, (c2[0] * 3, c2[1] * 4), c3, c4, size),
                          label=f"in_channels={c * 7}, c1={c1 * 5}, c2={(c2[0] * 3, c2[1] * 4)}, c3={c3}, c4={c4}, size={size}"))
    return cases


TASKS = [
    Task("nin_block_forward", 3, _nin_cases, rtol=1e-6, atol=1e-9,
         dtype_rule="floats", description="a NiN block, forward"),
    Task("inception_forward", 4, _inception_cases, rtol=1e-6, atol=1e-9,
         dtype_rule="floats", description="an inception block, forward"),
    Task("inception_complexity", 3, _count_cases, rtol=0, atol=0,
         dtype_rule="kind", description="parameters and MACs of an inception block"),
]
