"""Grading spec for chapter 14: a tanh RNN over a sequence (forward), backpropagation through
time (a tuple of six gradients graded as one task), and perplexity from logits.

Fixed edge cases beside the random ones: a single time step, sizes of 1, a long sequence with
large recurrent weights (saturated tanh, exploding products), h0 of zeros, float32 and integer
inputs, no gradient from beyond the sequence (dh_T = 0); for perplexity: uniform predictions
(perplexity V), certain right predictions (1), logits shifted by 1e4 and integer logits.
"""
from __future__ import annotations

import numpy as np

from autograder.spec import Case, Task, shape_label


def _rnn(rng, T, N, D, H, scale=1.0):
    bound = scale / np.sqrt(H)
    return (rng.standard_normal((T, N, D)), rng.standard_normal((N, H)) * 0.5,
            rng.uniform(-bound, bound, (H, D)), rng.uniform(-bound, bound, (H, H)),
            rng.uniform(-bound, bound, H), rng.uniform(-bound, bound, H))


def _sizes(rng):
    return tuple(int(v) for v in (rng.integers(1, 9), rng.integers(1, 5), rng.integers(1, 6), rng.integers(1, 7)))


def _label(X, H, extra=""):
    T, N, D = X.shape
    return f"T={T}, N={N}, D={D}, H={H}" + (f", {extra}" if extra else "")


def _forward_cases(rng):
    cases = []
    for _ in range(5):
        T, N, D, H = _sizes(rng)
        args = _rnn(rng, T, N, D, H)
        cases.append(Case(args, label=_label(args[0], H)))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    args = _rnn(rng, 1, 1, 1, 1)
    cases.append(Case(args, label="a single step, every size 1"))
    X, h0, *W = _rnn(rng, 30, 2, 3, 4, scale=5.0)
    cases.append(Case((X, np.zeros_like(h0), *W), label=_label(X, 4, "large weights (saturated tanh), h0 = 0")))
    X, h0, *W = _rnn(rng, 4, 3, 2, 3)
    cases.append(Case((X.astype(np.float32), h0.astype(np.float32), *(w.astype(np.float32) for w in W)),
                      label=_label(X, 3, "float32 inputs")))
    Xi = rng.integers(-2, 3, size=(3, 2, 2))
    cases.append(Case((Xi, *_rnn(rng, 3, 2, 2, 3)[1:]), label=_label(Xi, 3, "integer X")))
    return cases + random_cases


def _backward_cases(rng):
    cases = []
    for i in range(5):
        T, N, D, H = _sizes(rng)
        X, h0, *W = _rnn(rng, T, N, D, H)
        dY = rng.standard_normal((T, N, H))
        dh_T = rng.standard_normal((N, H)) if i % 2 else np.zeros((N, H))
        kind = "a gradient on h_T" if i % 2 else "dh_T = 0"
        cases.append(Case((dY, X, h0, *W, dh_T), label=_label(X, H, kind)))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    X, h0, *W = _rnn(rng, 1, 1, 1, 1)
    cases.append(Case((rng.standard_normal((1, 1, 1)), X, h0, *W, rng.standard_normal((1, 1))),
                      label="a single step, every size 1"))
    X, h0, *W = _rnn(rng, 25, 2, 2, 3, scale=3.0)
    cases.append(Case((rng.standard_normal((25, 2, 3)), X, h0, *W, np.zeros((2, 3))),
                      label=_label(X, 3, "large weights over 25 steps")))
    X, h0, *W = _rnn(rng, 5, 2, 3, 2)
    dY = np.zeros((5, 2, 2))
    dY[-1] = 1.0
    cases.append(Case((dY, X, h0, *W, np.zeros((2, 2))), label=_label(X, 2, "gradient only on the last output")))
    X, h0, *W = _rnn(rng, 3, 2, 2, 2)
    cases.append(Case((rng.standard_normal((3, 2, 2)).astype(np.float32), X.astype(np.float32), h0, *W,
                       np.zeros((2, 2))), label=_label(X, 2, "float32 dY and X")))
    return cases + random_cases


def _ppl_cases(rng):
    cases = []
    for _ in range(5):
        m, v = int(rng.integers(1, 40)), int(rng.integers(2, 30))
        logits = rng.standard_normal((m, v)) * float(rng.choice([0.5, 2.0, 5.0]))
        cases.append(Case((logits, rng.integers(0, v, m)), label=shape_label(logits=logits)))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    cases.append(Case((np.zeros((4, 28)), np.array([0, 3, 27, 12])), label="uniform predictions over 28 tokens"))
    logits = np.full((3, 5), -20.0)
    targets = np.array([4, 0, 2])
    logits[np.arange(3), targets] = 30.0
    cases.append(Case((logits, targets), label="certain and right predictions (3, 5)"))
    logits = rng.standard_normal((6, 7)) + 1e4
    cases.append(Case((logits, rng.integers(0, 7, 6)), label="logits shifted by 1e4 (6, 7)"))
    logits = rng.integers(-4, 5, size=(5, 3))
    cases.append(Case((logits, rng.integers(0, 3, 5)), label="integer logits (5, 3)"))
    logits = (rng.standard_normal((8, 6)) * 2).astype(np.float32)
    cases.append(Case((logits, rng.integers(0, 6, 8)), label="float32 logits (8, 6)"))
    cases.append(Case((rng.standard_normal((1, 4)), np.array([2])), label="a single prediction (1, 4)"))
    return cases + random_cases


TASKS = [
    Task("rnn_layer_forward", 3, _forward_cases, rtol=1e-6, atol=1e-9, output_names=("Y", "h_T"),
         dtype_rule="floats", description="a tanh RNN over a sequence"),
    Task("rnn_layer_backward", 4, _backward_cases, rtol=1e-6, atol=1e-9,
         output_names=("dX", "dh0", "dW_ih", "dW_hh", "db_ih", "db_hh"),
         dtype_rule="floats", description="backpropagation through time"),
    Task("perplexity", 3, _ppl_cases, rtol=1e-7, atol=0, description="perplexity from logits"),
]
