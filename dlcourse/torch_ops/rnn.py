"""Recurrent layers in PyTorch (chapters 14-16): the twins of :mod:`dlcourse.numpy_ops.rnn`.

The same cells and the same loop over time, written with tensor operations (not ``nn.RNN`` /
``nn.LSTM`` / ``nn.GRU``, which they are tested against), so autograd differentiates them (BPTT
is ``loss.backward()`` here) and they run on the inputs' device.  Weights in torch's layout
(``W_ih (G*H, D)``, ``W_hh (G*H, H)``, gate blocks in ``nn.LSTM``/``nn.GRU`` order); ``X (T, N, D)``,
states ``(N, H)``, ``Y (T, N, H)``; None states are zeros and None biases are absent.

Truncated BPTT: pass ``h_T.detach()`` (``(h_T.detach(), c_T.detach())`` for the LSTM) as the next
minibatch's initial state, so its backward pass stops at the minibatch's first step.
"""
from __future__ import annotations

import torch

from dlcourse.numpy_ops.rnn import check_nonlinearity, check_recurrent_args
from dlcourse.torch_ops.conv import _same_device, as_tensor

__all__ = ["rnn_cell", "lstm_cell", "gru_cell", "rnn", "lstm", "gru"]


def _prepare(kind, X, states, W_ih, W_hh, b_ih, b_hh, sequence=True):
    X, W_ih, W_hh = as_tensor(X, "X" if sequence else "x"), as_tensor(W_ih, "W_ih"), as_tensor(W_hh, "W_hh")
    b_ih = None if b_ih is None else as_tensor(b_ih, "b_ih")
    b_hh = None if b_hh is None else as_tensor(b_hh, "b_hh")
    states = {k: None if v is None else as_tensor(v, k) for k, v in states.items()}
    _same_device(X=X, W_ih=W_ih, W_hh=W_hh, b_ih=b_ih, b_hh=b_hh, **states)
    shape = lambda a: None if a is None else tuple(a.shape)  # noqa: E731
    t, n, d, h = check_recurrent_args(kind, tuple(X.shape), tuple(W_ih.shape), tuple(W_hh.shape), shape(b_ih),
                                      shape(b_hh), {k: shape(v) for k, v in states.items()}, sequence)
    dtype = X.dtype
    for a in (W_ih, W_hh, b_ih, b_hh, *states.values()):
        if a is not None:
            dtype = torch.promote_types(dtype, a.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float64
    cast = lambda a: None if a is None else a.to(dtype)  # noqa: E731
    states = [X.new_zeros((n, h), dtype=dtype) if v is None else cast(v) for v in states.values()]
    return (cast(X), states, cast(W_ih), cast(W_hh), cast(b_ih), cast(b_hh)), (t, n, d, h)


def _add(a, b):
    return a if b is None else a + b


def _rnn_step(a_x, h, W_hh, b_hh, nonlinearity):
    a = _add(a_x + h @ W_hh.T, b_hh)
    return torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)


def _lstm_step(a_x, h, c, W_hh, b_hh, H):
    a = _add(a_x + h @ W_hh.T, b_hh)  # all four gates in one product
    i, f, o = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H:2 * H]), torch.sigmoid(a[:, 3 * H:])
    g = torch.tanh(a[:, 2 * H:3 * H])
    c = f * c + i * g
    return o * torch.tanh(c), c


def _gru_step(a_x, h, W_hh, b_hh, H):
    gh = _add(h @ W_hh.T, b_hh)
    r = torch.sigmoid(a_x[:, :H] + gh[:, :H])
    z = torch.sigmoid(a_x[:, H:2 * H] + gh[:, H:2 * H])
    n = torch.tanh(a_x[:, 2 * H:] + r * gh[:, 2 * H:])
    return n + z * (h - n)


def _projection(X, W_ih, b_ih):
    """``W_ih x_t + b_ih`` for every step in one matmul: ``(T, N, G*H)``."""
    return _add(X @ W_ih.T, b_ih)


# --- single steps --------------------------------------------------------------------------------

def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """One vanilla RNN step, as ``torch.nn.RNNCell``: ``x (N, D)``, ``h (N, H)`` -> ``h' (N, H)``."""
    check_nonlinearity(nonlinearity)
    (x, (h,), W_ih, W_hh, b_ih, b_hh), _ = _prepare("rnn", x, {"h": h}, W_ih, W_hh, b_ih, b_hh, sequence=False)
    return _rnn_step(_projection(x, W_ih, b_ih), h, W_hh, b_hh, nonlinearity)


def lstm_cell(x, h, c, W_ih, W_hh, b_ih=None, b_hh=None):
    """One LSTM step, as ``torch.nn.LSTMCell``: ``x (N, D)``, ``h, c (N, H)`` -> ``(h', c')``."""
    (x, (h, c), W_ih, W_hh, b_ih, b_hh), (_, _, _, H) = _prepare(
        "lstm", x, {"h": h, "c": c}, W_ih, W_hh, b_ih, b_hh, sequence=False)
    return _lstm_step(_projection(x, W_ih, b_ih), h, c, W_hh, b_hh, H)


def gru_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    """One GRU step, as ``torch.nn.GRUCell``: ``x (N, D)``, ``h (N, H)`` -> ``h' (N, H)``."""
    (x, (h,), W_ih, W_hh, b_ih, b_hh), (_, _, _, H) = _prepare("gru", x, {"h": h}, W_ih, W_hh, b_ih, b_hh, sequence=False)
    return _gru_step(_projection(x, W_ih, b_ih), h, W_hh, b_hh, H)


# --- whole sequences -----------------------------------------------------------------------------

def rnn(X, h0, W_ih, W_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """A vanilla RNN over ``X (T, N, D)`` from ``h0 (N, H)``, as ``nn.RNN``: returns ``(Y (T, N, H), h_T)``."""
    check_nonlinearity(nonlinearity)
    (X, (h,), W_ih, W_hh, b_ih, b_hh), _ = _prepare("rnn", X, {"h0": h0}, W_ih, W_hh, b_ih, b_hh)
    A = _projection(X, W_ih, b_ih)
    Y = []
    for t in range(X.shape[0]):
        h = _rnn_step(A[t], h, W_hh, b_hh, nonlinearity)
        Y.append(h)
    return torch.stack(Y), h


def lstm(X, h0, c0, W_ih, W_hh, b_ih=None, b_hh=None):
    """An LSTM over ``X (T, N, D)`` from ``h0, c0 (N, H)``, as ``nn.LSTM``: returns ``(Y, (h_T, c_T))``."""
    (X, (h, c), W_ih, W_hh, b_ih, b_hh), (_, _, _, H) = _prepare("lstm", X, {"h0": h0, "c0": c0}, W_ih, W_hh, b_ih, b_hh)
    A = _projection(X, W_ih, b_ih)
    Y = []
    for t in range(X.shape[0]):
        h, c = _lstm_step(A[t], h, c, W_hh, b_hh, H)
        Y.append(h)
    return torch.stack(Y), (h, c)


def gru(X, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    """A GRU over ``X (T, N, D)`` from ``h0 (N, H)``, as ``nn.GRU``: returns ``(Y (T, N, H), h_T)``."""
    (X, (h,), W_ih, W_hh, b_ih, b_hh), (_, _, _, H) = _prepare("gru", X, {"h0": h0}, W_ih, W_hh, b_ih, b_hh)
    A = _projection(X, W_ih, b_ih)
    Y = []
    for t in range(X.shape[0]):
        h = _gru_step(A[t], h, W_hh, b_hh, H)
        Y.append(h)
    return torch.stack(Y), h
