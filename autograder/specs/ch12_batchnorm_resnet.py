"""Grading spec for chapters 12-13: batch normalization forward (training and evaluation) and
backward, and the forward pass of a ResNet basic block.

The two batch-normalization tasks return tuples of arrays; each is graded as one task, element by
element, and a failure names the element.  Fixed edge cases sit beside the random ones so that no
grade depends on the seed: the smallest batch that has a variance (two values per channel), a
constant channel (zero variance: only eps keeps the division finite), 1x1 images, integer and
float32 inputs, momentum 0 and 1, and odd image sizes under stride 2.
"""
from __future__ import annotations

import numpy as np

from autograder.spec import Case, Task, shape_label


def _stats(rng, c):
    """gamma, beta, running_mean, running_var for c channels (the variance positive)."""
    return (rng.standard_normal(c), rng.standard_normal(c), rng.standard_normal(c), rng.random(c) + 0.2)


def _random_shape(rng):
    if rng.random() < 0.4:
        return (int(rng.integers(2, 9)), int(rng.integers(1, 6)))
    return (int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 6)), int(rng.integers(1, 6)))


def _forward_cases(rng):
    cases = []
    for _ in range(6):
        shape = _random_shape(rng)
        if shape[0] * int(np.prod(shape[2:])) < 2:
            shape = (2,) + shape[1:]
        training = bool(rng.random() < 0.6)
        momentum, eps = float(rng.choice([0.1, 0.25, 0.9])), float(rng.choice([1e-5, 1e-3]))
        X = rng.standard_normal(shape) * 2 + rng.standard_normal()
        cases.append(Case((X, *_stats(rng, shape[1]), training), {"momentum": momentum, "eps": eps},
                          label=f"{shape_label(X=X)}, training={training}, momentum={momentum}, eps={eps}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    X = rng.standard_normal((2, 3))
    cases.append(Case((X, *_stats(rng, 3), True), label="two examples per channel (the smallest batch), X (2, 3)"))
    X = rng.standard_normal((3, 2, 4, 4))
    X[:, 1] = 7.0
    cases.append(Case((X, *_stats(rng, 2), True), label="a constant channel (zero variance), X (3, 2, 4, 4)"))
    X = rng.standard_normal((4, 3, 1, 1))
    cases.append(Case((X, *_stats(rng, 3), True), {"momentum": 1.0}, label="1x1 images, momentum=1, X (4, 3, 1, 1)"))
    X = rng.integers(-5, 6, size=(5, 2, 2, 3))
    cases.append(Case((X, *_stats(rng, 2), True), {"momentum": 0.0}, label="integer X (5, 2, 2, 3), momentum=0"))
    X = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    cases.append(Case((X, *_stats(rng, 3), False), label="float32 X (4, 3, 3, 3), evaluation mode"))
    X = rng.standard_normal((1, 2, 3, 3))
    cases.append(Case((X, *_stats(rng, 2), False), label="evaluation mode on a single image, X (1, 2, 3, 3)"))
    return cases + random_cases


def _backward_cases(rng):
    cases = []
    for _ in range(6):
        shape = _random_shape(rng)
        if shape[0] * int(np.prod(shape[2:])) < 2:
            shape = (2,) + shape[1:]
        X, dY = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape)
        eps = float(rng.choice([1e-5, 1e-2]))
        cases.append(Case((dY, X, rng.standard_normal(shape[1])), {"eps": eps},
                          label=f"{shape_label(dY=dY, X=X)}, eps={eps}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    X, dY = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    cases.append(Case((dY, X, rng.standard_normal(4)), label="two examples per channel, X (2, 4)"))
    X, dY = rng.integers(-3, 4, size=(3, 2, 2, 2)), rng.standard_normal((3, 2, 2, 2))
    cases.append(Case((dY, X, rng.standard_normal(2)), label="integer X (3, 2, 2, 2)"))
    X, dY = rng.standard_normal((4, 3, 1, 1)), rng.standard_normal((4, 3, 1, 1))
    cases.append(Case((dY, X, rng.standard_normal(3)), label="1x1 images, X (4, 3, 1, 1)"))
    X = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    dY = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    cases.append(Case((dY, X, rng.standard_normal(2).astype(np.float32)), label="float32 dY, X (2, 2, 3, 3)"))
    return cases + random_cases


def _block(rng, c, o, projection):
    shapes = [(o, c, 3, 3), (o, o, 3, 3)] + ([(o, c, 1, 1)] if projection else [])
    params = []
    for shape in shapes:
        params += [rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:])), 1 + 0.2 * rng.standard_normal(o),
                   0.2 * rng.standard_normal(o)]
    return tuple(params)


def _block_cases(rng):
    cases = []
    for _ in range(4):
        n, c = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        h, w = (int(v) for v in rng.integers(2, 8, size=2))
        projection = bool(rng.random() < 0.5)
        stride = int(rng.integers(1, 3)) if projection else 1
        o = int(rng.integers(1, 5)) if projection else c
        X = rng.standard_normal((n, c, h, w))
        kind = "projection" if projection else "identity"
        cases.append(Case((X, _block(rng, c, o, projection), stride),
                          label=f"{shape_label(X=X)}, {c} -> {o} channels, {kind} shortcut, stride={stride}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    X = rng.standard_normal((2, 3, 7, 5))
    cases.append(Case((X, _block(rng, 3, 4, True), 2), label="odd image X (2, 3, 7, 5), projection, stride=2"))
    X = rng.standard_normal((2, 2, 4, 4))
    cases.append(Case((X, _block(rng, 2, 2, True), 1), label="projection with stride 1, X (2, 2, 4, 4)"))
    X = rng.integers(-2, 3, size=(2, 2, 3, 3))
    cases.append(Case((X, _block(rng, 2, 2, False), 1), label="integer X (2, 2, 3, 3), identity shortcut"))
    return cases + random_cases


TASKS = [
    Task("batch_norm_forward", 3, _forward_cases, rtol=1e-6, atol=1e-9,
         output_names=("Y", "new_running_mean", "new_running_var"),
        
         dtype_rule="floats", description="batch normalization forward, training and evaluation, running statistics"),
    Task("batch_norm_backward", 4, _backward_cases, rtol=1e-6, atol=1e-9, output_names=("dX", "dgamma", "dbeta"),
         dtype_rule="floats", description="batch normalization backward in training mode"),
    Task("residual_block_forward", 3, _block_cases, rtol=1e-6, atol=1e-9,
         dtype_rule="floats", description="a ResNet basic block, forward"),
]
