"""Grading spec for chapter 16: one GRU step with PyTorch's formula, the GRU over a sequence, and
gradient clipping by global norm (a tuple of four gradients graded as one task).

Fixed edge cases beside the random ones: sizes of 1, all-zero weights, a large ``b_hn`` (only the
reset gate placed as torch places it gets this right), saturated gates, zero initial states, a
single step and a long sequence, float32 and integer inputs; for clipping: a norm exactly at the
limit, far below it, all-zero gradients, and huge gradients.
"""
from __future__ import annotations

import numpy as np

from autograder.spec import Case, Task


def _gru(rng, N, D, H, scale=1.0):
    bound = scale / np.sqrt(H)
    return (rng.standard_normal((N, D)), rng.standard_normal((N, H)) * 0.5,
            rng.uniform(-bound, bound, (3 * H, D)), rng.uniform(-bound, bound, (3 * H, H)),
            rng.uniform(-bound, bound, 3 * H), rng.uniform(-bound, bound, 3 * H))


def _sizes(rng):
    return tuple(int(v) for v in (rng.integers(1, 5), rng.integers(1, 6), rng.integers(1, 7)))


def _cell_cases(rng):
    cases = []
    for _ in range(5):
        N, D, H = _sizes(rng)
        cases.append(Case(_gru(rng, N, D, H), label=f"N={N}, D={D}, H={H}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    cases.append(Case(_gru(rng, 1, 1, 1), label="every size 1"))
    x, h, *W = _gru(rng, 2, 3, 2)
    cases.append(Case((x, h, *(np.zeros_like(w) for w in W)), label="all weights 0"))
    x, h, W_ih, W_hh, b_ih, b_hh = _gru(rng, 3, 2, 3)
    b_hh[6:] = 2.5
    cases.append(Case((x, h, W_ih, W_hh, b_ih, b_hh), label="a large bias b_hn (where the reset gate acts matters)"))
    cases.append(Case(_gru(rng, 2, 2, 2, scale=50.0), label="large weights: saturated gates"))
    x, h, *W = _gru(rng, 2, 3, 2)
    cases.append(Case((rng.integers(-2, 3, size=(2, 3)), h.astype(np.float32), *W), label="integer x, float32 h"))
    return cases + random_cases


def _layer_cases(rng):
    cases = []
    for _ in range(4):
        N, D, H = _sizes(rng)
        T = int(rng.integers(1, 9))
        _, h0, *W = _gru(rng, N, D, H)
        cases.append(Case((rng.standard_normal((T, N, D)), h0, *W), label=f"T={T}, N={N}, D={D}, H={H}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    _, h0, *W = _gru(rng, 1, 1, 1)
    cases.append(Case((rng.standard_normal((1, 1, 1)), h0, *W), label="a single step, every size 1"))
    _, h0, *W = _gru(rng, 2, 2, 3, scale=4.0)
    cases.append(Case((rng.standard_normal((40, 2, 2)), np.zeros((2, 3)), *W), label="40 steps from a zero state"))
    _, h0, *W = _gru(rng, 2, 3, 2)
    cases.append(Case((rng.standard_normal((3, 2, 3)).astype(np.float32), h0, *W), label="float32 X (3, 2, 3)"))
    return cases + random_cases


def _grads(rng, D, H, scale):
    return (rng.standard_normal((3 * H, D)) * scale, rng.standard_normal((3 * H, H)) * scale,
            rng.standard_normal(3 * H) * scale, rng.standard_normal(3 * H) * scale)


def _clip_cases(rng):
    cases = []
    for _ in range(4):
        D, H = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        scale, max_norm = float(rng.choice([0.1, 1.0, 30.0])), float(rng.choice([0.5, 1.0, 5.0]))
        cases.append(Case((*_grads(rng, D, H, scale), max_norm),
                          label=f"D={D}, H={H}, gradients of scale {scale}, max_norm={max_norm}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    g = (np.array([[3.0]]), np.array([[4.0]]), np.zeros(3), np.zeros(3))
    cases.append(Case((*g, 5.0), label="joint norm exactly 5, max_norm=5"))
    cases.append(Case((*g, 100.0), label="joint norm 5, max_norm=100: unchanged"))
    cases.append(Case((np.zeros((3, 2)), np.zeros((3, 1)), np.zeros(3), np.zeros(3), 1.0), label="all-zero gradients"))
    cases.append(Case((*_grads(rng, 2, 2, 1e6), 1.0), label="huge gradients (about 1e6), max_norm=1"))
    cases.append(Case((rng.integers(-5, 6, size=(3, 2)), rng.integers(-5, 6, size=(3, 1)), np.ones(3), np.ones(3), 2.0),
                      label="integer gradients, max_norm=2"))
    return cases + random_cases


TASKS = [
    Task("gru_cell_forward", 4, _cell_cases, rtol=1e-6, atol=1e-9,
         dtype_rule="floats", description="one GRU step, PyTorch's formula"),
    Task("gru_layer_forward", 3, _layer_cases, rtol=1e-6, atol=1e-9, output_names=("Y", "h_T"),
         dtype_rule="floats", description="the GRU over a sequence"),
    Task("clip_by_global_norm", 3, _clip_cases, rtol=1e-7, atol=1e-12,
         output_names=("dW_ih", "dW_hh", "db_ih", "db_hh"),
         dtype_rule="floats", description="gradient clipping by global norm"),
]
