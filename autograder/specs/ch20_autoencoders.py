"""Grading spec for chapter 20: an autoencoder's reconstruction losses with their gradients, the
sizes a transposed-convolution decoder produces, and a denoising corruption.

Fixed edge cases sit before the random ones, so no grade depends on the seed: logits of +-1e4
(a loss that forms sigmoid(Z) first takes log(0)), targets exactly 0 and 1, a batch of one image,
integer and float32 inputs; decoders whose layers use output_padding and padding larger than a
pixel; salt-and-pepper noise with p = 0 and p = 1 and draws exactly at the boundaries p/2 and p.
"""
from __future__ import annotations

import numpy as np

from autograder.spec import Case, Task, shape_label


def _images(rng):
    """Logits Z and targets X in [0, 1] of one random batch shape (N first)."""
    n = int(rng.integers(1, 5))
    shape = (n,) + tuple(int(v) for v in rng.integers(1, 6, size=int(rng.integers(1, 4))))
    scale = float(rng.choice([0.5, 3.0, 10.0]))
    return rng.standard_normal(shape) * scale, rng.random(shape)


def _loss_cases(rng):
    cases = []
    for _ in range(5):
        Z, X = _images(rng)
        cases.append(Case((Z, X), label=shape_label(Z=Z, X=X)))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    Z = np.array([[[-1e4, 1e4], [-30.0, 30.0]], [[0.0, 2.0], [-2.0, 0.5]]])
    X = np.array([[[1.0, 0.0], [1.0, 0.0]], [[0.5, 1.0], [0.0, 0.25]]])
    cases.append(Case((Z, X), label="logits of +-1e4 and +-30 on the wrong targets, Z (2, 2, 2)"))
    Z = rng.standard_normal((1, 1, 4, 4)) * 3
    cases.append(Case((Z, (rng.random((1, 1, 4, 4)) > 0.5).astype(float)), label="one image, binary targets, Z (1, 1, 4, 4)"))
    Zi = rng.integers(-4, 5, size=(3, 5))
    cases.append(Case((Zi, rng.random((3, 5))), label="integer logits Z (3, 5)"))
    Z32 = (rng.standard_normal((2, 1, 3, 3)) * 2).astype(np.float32)
    cases.append(Case((Z32, rng.random((2, 1, 3, 3)).astype(np.float32)), label="float32 Z, X (2, 1, 3, 3)"))
    return cases + random_cases


def _decoder_cases(rng):
    cases = []
    for _ in range(5):
        layers = []
        for _ in range(int(rng.integers(1, 5))):
            k, s = int(rng.integers(1, 6)), int(rng.integers(1, 4))
            layers.append((k, s, int(rng.integers(0, k)), int(rng.integers(0, s))))
        size = int(rng.integers(1, 9))
        cases.append(Case((size, tuple(layers)), label=f"size={size}, layers={tuple(layers)}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    fixed = (
        (7, ((4, 2, 1, 0), (4, 2, 1, 0)), "the chapter's decoder, 7 -> 14 -> 28"),
        (7, ((3, 2, 1, 1), (3, 2, 1, 1)), "kernel 3, stride 2, padding 1, output_padding 1"),
        (4, ((5, 1, 2, 0),), "stride 1 with 'same' padding keeps the size"),
        (1, ((3, 3, 0, 2), (2, 2, 0, 0), (1, 1, 0, 0)), "a 1x1 code, output_padding 2, a 1x1 kernel"),
        (5, ((5, 3, 4, 0),), "padding 4 (larger than a pixel)"),
    )
    for size, layers, what in fixed:
        cases.append(Case((size, layers), label=f"{what}: size={size}, layers={layers}"))
    return cases + random_cases


def _noise_cases(rng):
    cases = []
    for _ in range(5):
        X, p = rng.random(tuple(int(v) for v in rng.integers(1, 6, size=3))), float(rng.choice([0.1, 0.3, 0.6]))
        cases.append(Case((X, rng.random(X.shape), p), label=f"{shape_label(X=X)}, p={p}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    X = rng.random((2, 4))
    u = np.array([[0.0, 0.1, 0.2, 0.3], [0.39, 0.4, 0.9, 0.2]])
    cases.append(Case((X, u, 0.4), label="draws exactly at p/2 = 0.2 and at p = 0.4, X (2, 4)"))
    X = rng.random((3, 3))
    cases.append(Case((X, rng.random((3, 3)), 0.0), label="p=0 leaves the image alone, X (3, 3)"))
    cases.append(Case((X, rng.random((3, 3)), 1.0), label="p=1 replaces every pixel, X (3, 3)"))
    Xi = rng.integers(0, 2, size=(2, 1, 3, 3))
    cases.append(Case((Xi, rng.random(Xi.shape), 0.5), label="integer (binary) X (2, 1, 3, 3), p=0.5"))
    X32 = rng.random((2, 5)).astype(np.float32)
    cases.append(Case((X32, rng.random((2, 5)), 0.3), label="float32 X (2, 5), p=0.3"))
    return cases + random_cases


TASKS = [
    Task("reconstruction_loss", 3, _loss_cases, rtol=1e-7, atol=1e-10, output_names=("loss", "dZ"),
         description="binary cross-entropy from logits, summed per image, with its gradient"),
    Task("mse_sigmoid_loss", 3, _loss_cases, rtol=1e-7, atol=1e-10, output_names=("loss", "dZ"),
         description="squared error of sigmoid(Z), summed per image, with its gradient"),
    Task("decoder_output_sizes", 2, _decoder_cases, rtol=0, atol=0, dtype_rule="kind",
         description="the image size after each transposed convolution of a decoder"),
    Task("salt_and_pepper", 2, _noise_cases, rtol=0, atol=0,
         description="salt-and-pepper corruption from given uniform draws"),
]
