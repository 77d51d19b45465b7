"""Grading spec for chapters 8-9: inverted dropout forward and backward (with the mask given, so
the result is exact), and the parameter and multiply-accumulate count of any VGG configuration.

Fixed edge cases beside the random ones: p = 0 (keep everything), a mask that drops everything,
evaluation mode, integer and float32 inputs; VGG-11 and VGG-16 at ImageNet size (the papers'
132,863,336 and 138,357,544 parameters), odd image sizes that pooling rounds down, a single block.
"""
from __future__ import annotations

import numpy as np

from autograder.spec import Case, Task, shape_label


def _random_array(rng):
    shape = tuple(int(v) for v in rng.integers(1, 6, size=int(rng.integers(1, 5))))
    return rng.standard_normal(shape)


def _forward_cases(rng):
    cases = []
    for _ in range(5):
        X, p = _random_array(rng), float(rng.choice([0.1, 0.3, 0.5, 0.8]))
        keep = rng.random(X.shape) >= p
        cases.append(Case((X, keep, p, True), label=f"{shape_label(X=X)}, p={p}, training"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    X = rng.standard_normal((3, 4))
    cases.append(Case((X, np.ones(X.shape, bool), 0.0, True), label="p=0 keeps everything, X (3, 4)"))
    cases.append(Case((X, np.zeros(X.shape, bool), 0.5, True), label="a mask that drops every unit, X (3, 4)"))
    cases.append(Case((X, rng.random(X.shape) >= 0.5, 0.5, False), label="evaluation mode, X (3, 4)"))
    Xi = rng.integers(-5, 6, size=(2, 3, 4))
    cases.append(Case((Xi, rng.random(Xi.shape) >= 0.25, 0.25, True), label="integer X (2, 3, 4), p=0.25"))
    X32 = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    cases.append(Case((X32, rng.random(X32.shape) >= 0.5, 0.5, True), label="float32 X (2, 3, 4, 4), p=0.5"))
    return cases + random_cases


def _backward_cases(rng):
    cases = []
    for _ in range(5):
        dY, p = _random_array(rng), float(rng.choice([0.1, 0.3, 0.5, 0.8]))
        cases.append(Case((dY, rng.random(dY.shape) >= p, p), label=f"{shape_label(dY=dY)}, p={p}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    dY = rng.standard_normal((4, 2))
    cases.append(Case((dY, np.ones(dY.shape, bool), 0.0), label="p=0, dY (4, 2)"))
    dYi = rng.integers(-3, 4, size=(3, 3))
    cases.append(Case((dYi, rng.random(dYi.shape) >= 0.5, 0.5), label="integer dY (3, 3), p=0.5"))
    dY32 = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    cases.append(Case((dY32, rng.random(dY32.shape) >= 0.2, 0.2), label="float32 dY (2, 2, 3, 3), p=0.2"))
    return cases + random_cases


VGG11 = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
VGG16 = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))


def _vgg_cases(rng):
    cases = [
        Case((VGG11, 3, 224, 1000, 4096), label="VGG-11 (configuration A) at 224 x 224, 1,000 classes"),
        Case((VGG16, 3, 224, 1000, 4096), label="VGG-16 (configuration D) at 224 x 224, 1,000 classes"),
        Case((((1, 3),), 2, 9, 4, 7), label="one block, image 9 (pooling rounds down to 4)"),
        Case((((2, 4), (1, 6), (1, 8)), 1, 13, 5, 20), label="image 13 through three poolings: 6, 3, 1"),
    ]
    for _ in range(4):
        blocks = int(rng.integers(1, 4))
        arch = tuple((int(rng.integers(1, 4)), int(rng.integers(1, 17))) for _ in range(blocks))
        size = int(rng.integers(2 ** blocks, 40))
        args = (arch, int(rng.integers(1, 4)), size, int(rng.integers(2, 11)), int(rng.integers(4, 65)))
        cases.append(Case(args, label=f"arch={arch}, in_channels={args[1]}, image_size={size}, "
                                      f"num_classes={args[3]}, fc_width={args[4]}"))
    return cases


TASKS = [
    Task("dropout_forward", 3, _forward_cases, rtol=1e-6, atol=1e-7,
         dtype_rule="floats", description="inverted dropout, forward"),
    Task("dropout_backward", 2, _backward_cases, rtol=1e-6, atol=1e-7,
         dtype_rule="floats", description="inverted dropout, backward"),
    Task("vgg_complexity", 5, _vgg_cases, rtol=0, atol=0,
         dtype_rule="kind", description="parameters and MACs of every layer of a VGG configuration"),
]
