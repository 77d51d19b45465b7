"""Grading spec for chapter 15: one LSTM step forward (a tuple of two states), its backward (a
tuple of seven gradients), and the LSTM over a sequence (PyTorch's nested ``(Y, (h_T, c_T))``).

Fixed edge cases beside the random ones: sizes of 1, all-zero weights (every gate at one half),
saturated gates (large weights: sigmoid of large negative pre-activations must not overflow into
a wrong answer), a gradient only on the memory cell, zero initial states, a single time step and
a long sequence, float32 and integer inputs.
"""
from __future__ import annotations

import numpy as np

from autograder.spec import Case, Task


def _lstm(rng, N, D, H, scale=1.0):
    bound = scale / np.sqrt(H)
    return (rng.standard_normal((N, D)), rng.standard_normal((N, H)) * 0.5, rng.standard_normal((N, H)),
            rng.uniform(-bound, bound, (4 * H, D)), rng.uniform(-bound, bound, (4 * H, H)),
            rng.uniform(-bound, bound, 4 * H), rng.uniform(-bound, bound, 4 * H))


def _sizes(rng):
    return tuple(int(v) for v in (rng.integers(1, 5), rng.integers(1, 6), rng.integers(1, 7)))


def _cell_cases(rng):
    cases = []
    for _ in range(5):
        N, D, H = _sizes(rng)
        cases.append(Case(_lstm(rng, N, D, H), label=f"N={N}, D={D}, H={H}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    cases.append(Case(_lstm(rng, 1, 1, 1), label="every size 1"))
    x, h, c, *W = _lstm(rng, 2, 3, 2)
    cases.append(Case((x, h, c, *(np.zeros_like(w) for w in W)), label="all weights 0 (every gate at one half)"))
    cases.append(Case(_lstm(rng, 3, 2, 3, scale=60.0), label="large weights: saturated gates, N=3, D=2, H=3"))
    x, h, c, *W = _lstm(rng, 2, 2, 2)
    cases.append(Case((x.astype(np.float32), h.astype(np.float32), c.astype(np.float32), *W), label="float32 states"))
    cases.append(Case((rng.integers(-2, 3, size=(2, 3)), *_lstm(rng, 2, 3, 2)[1:]), label="integer x (2, 3)"))
    return cases + random_cases


def _backward_cases(rng):
    cases = []
    for i in range(5):
        N, D, H = _sizes(rng)
        dc = rng.standard_normal((N, H)) if i % 2 else np.zeros((N, H))
        cases.append(Case((rng.standard_normal((N, H)), dc, *_lstm(rng, N, D, H)),
                          label=f"N={N}, D={D}, H={H}, " + ("a gradient dc_next" if i % 2 else "dc_next = 0")))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    cases.append(Case((rng.standard_normal((1, 1)), rng.standard_normal((1, 1)), *_lstm(rng, 1, 1, 1)),
                      label="every size 1"))
    cases.append(Case((np.zeros((2, 3)), np.ones((2, 3)), *_lstm(rng, 2, 2, 3)),
                      label="a gradient only on the memory cell (dh_next = 0)"))
    cases.append(Case((rng.standard_normal((2, 2)), rng.standard_normal((2, 2)), *_lstm(rng, 2, 3, 2, scale=20.0)),
                      label="large weights: saturated gates"))
    x, h, c, *W = _lstm(rng, 2, 2, 2)
    cases.append(Case((rng.standard_normal((2, 2)).astype(np.float32), np.zeros((2, 2), np.float32),
                       x.astype(np.float32), h, c, *W), label="float32 dh_next and x"))
    return cases + random_cases


def _layer_cases(rng):
    cases = []
    for _ in range(4):
        N, D, H = _sizes(rng)
        T = int(rng.integers(1, 9))
        _, h0, c0, *W = _lstm(rng, N, D, H)
        cases.append(Case((rng.standard_normal((T, N, D)), h0, c0, *W), label=f"T={T}, N={N}, D={D}, H={H}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    _, h0, c0, *W = _lstm(rng, 1, 1, 1)
    cases.append(Case((rng.standard_normal((1, 1, 1)), h0, c0, *W), label="a single step, every size 1"))
    _, h0, c0, *W = _lstm(rng, 2, 2, 3, scale=4.0)
    cases.append(Case((rng.standard_normal((40, 2, 2)), np.zeros((2, 3)), np.zeros((2, 3)), *W),
                      label="40 steps from zero states, large weights"))
    _, h0, c0, *W = _lstm(rng, 2, 3, 2)
    cases.append(Case((rng.integers(-2, 3, size=(3, 2, 3)), h0, c0, *W), label="integer X (3, 2, 3)"))
    return cases + random_cases


TASKS = [
    Task("lstm_cell_forward", 3, _cell_cases, rtol=1e-6, atol=1e-9, output_names=("h_next", "c_next"),
         dtype_rule="floats", description="one LSTM step"),
    Task("lstm_cell_backward", 4, _backward_cases, rtol=1e-6, atol=1e-9,
         output_names=("dx", "dh", "dc", "dW_ih", "dW_hh", "db_ih", "db_hh"),
         dtype_rule="floats", description="one LSTM step, backward"),
    Task("lstm_layer_forward", 3, _layer_cases, rtol=1e-6, atol=1e-9, output_names=("Y", ("h_T", "c_T")),
         dtype_rule="floats", description="the LSTM over a sequence"),
]
