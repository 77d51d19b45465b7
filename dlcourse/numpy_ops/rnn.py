"""Recurrent layers in NumPy: the vanilla RNN, the LSTM and the GRU, forward and BPTT (chapters 14-16).

A recurrent layer applies the same cell at every time step, carrying a hidden state ``h`` (and,
for the LSTM, a memory cell ``c``) from one step to the next::

    RNN:   h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)                  phi = tanh or relu

    LSTM:  i, f, g, o = split(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh, 4)      (input, forget, cell, output)
           i, f, o = sigmoid(i), sigmoid(f), sigmoid(o);  g = tanh(g)
           c_t = f * c_{t-1} + i * g                                          (additive memory)
           h_t = o * tanh(c_t)

    GRU:   r, z = sigmoid(split(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh, 3)[:2])   (reset, update)
           n   = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))                  (candidate)
           h_t = (1 - z) * n + z * h_{t-1}

The weights use **torch's layout**, so they copy one to one from ``torch.nn.RNN`` / ``nn.LSTM`` /
``nn.GRU`` (``weight_ih_l0`` is ``W_ih``, ``weight_hh_l0`` is ``W_hh``, ...): ``W_ih (G*H, D)``,
``W_hh (G*H, H)``, ``b_ih, b_hh (G*H,)`` with ``G = 1, 4, 3`` gate blocks stacked in torch's
order (LSTM: input, forget, cell, output; GRU: reset, update, new).  Note that torch's GRU puts
the reset gate on ``W_hn h + b_hn`` (after the matrix product), not on ``h`` as in Cho et al.

Shapes (time first, as torch's default ``batch_first=False``): ``X (T, N, D)``; states ``h0, c0``
and final states ``(N, H)``; outputs ``Y (T, N, H)`` (the hidden state at every step).  ``h0`` or
``c0`` may be None (zeros, as torch); either bias may be None (torch's ``bias=False``).  Floating
inputs keep their dtype (float32 stays float32); integer inputs become float64.

Speed (the NumPy LSTM is benchmarked against ``torch.nn.LSTM`` in ``benchmarks/lstm_speed.py``):
the input projection ``W_ih x_t + b`` of every step is one GEMM over all ``T*N`` rows before the
loop, and each step does one ``(N, H) @ (H, G*H)`` product for all gates at once; the backward
pass likewise collects the pre-activation gradients of every step and forms ``dX``, ``dW_ih``,
``dW_hh`` with one GEMM each after the loop, so only ``dA_t @ W_hh`` stays inside it.  What
does not depend on the recursion (the gates' derivatives) is computed for all steps at once, so a
step runs a handful of NumPy calls: at this size Python's per-call overhead is a real cost.

Backward passes (BPTT, NumPy only; the torch twin gets them from autograd) take ``dY = dL/dY``
``(T, N, H)`` and, optionally, the gradient reaching the final state(s) from later use
(``dh_T``, ``dc_T``), and return the gradients of every input in the forward's order.  They
recompute the forward unless handed the ``cache`` that :func:`rnn_forward` / :func:`lstm_forward`
/ :func:`gru_forward` return beside the outputs (a training loop does that to run the forward once).
"""
from __future__ import annotations

import numpy as np

from dlcourse.numpy_ops._arrays import as_numeric_array

__all__ = [
    "rnn_cell", "lstm_cell", "gru_cell", "rnn", "lstm", "gru",
    "rnn_forward", "lstm_forward", "gru_forward", "rnn_backward", "lstm_backward", "gru_backward",
    "rnn_state_gradient_norms", "lstm_state_gradient_norms",
]

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
"""Gate blocks stacked in ``W_ih``/``W_hh``/``b``: ``W_ih`` is ``(GATES[kind] * H, D)``."""

NONLINEARITIES = ("tanh", "relu")


# --- checks shared with the torch twin (plain shapes, no arrays) ---------------------------------

def check_recurrent_args(kind, x_shape, w_ih_shape, w_hh_shape, b_ih_shape, b_hh_shape, states, sequence=True):
    """Validate the shapes of a recurrent call; return ``(T, N, D, H)`` (``T`` is None for a cell).

    ``kind``: ``"rnn"``, ``"lstm"`` or ``"gru"``.  ``x_shape``: ``(T, N, D)`` when ``sequence``,
    else ``(N, D)`` (one step).  ``states``: ``{name: shape or None}`` for ``h0``/``c0`` (or ``h``/``c``),
    each ``(N, H)``.  Bias shapes may be None.  Raises ``ValueError`` naming the shapes.
    """
    g = GATES[kind]
    x_shape, w_ih_shape, w_hh_shape = tuple(x_shape), tuple(w_ih_shape), tuple(w_hh_shape)
    if sequence:
        if len(x_shape) != 3:
            raise ValueError(f"X must be 3-D (T, N, D): time, batch, features (torch's batch_first=False), got shape {x_shape}")
        t, n, d = x_shape
        if t == 0:
            raise ValueError(f"X must have at least one time step, got shape {x_shape}")
    else:
        if len(x_shape) != 2:
            raise ValueError(f"x must be 2-D (N, D): one time step of a batch, got shape {x_shape}")
        t, (n, d) = None, x_shape
    if len(w_hh_shape) != 2 or w_hh_shape[0] != g * w_hh_shape[1] or w_hh_shape[1] == 0:
        raise ValueError(
            f"W_hh must be ({g}*H, H) for {kind} ({g} gate block{'s' if g > 1 else ''} stacked as in torch), got shape {w_hh_shape}"
        )
    h = w_hh_shape[1]
    if len(w_ih_shape) != 2 or w_ih_shape[0] != g * h:
        raise ValueError(f"W_ih must be ({g}*H, D) = ({g * h}, D) to match W_hh shape {w_hh_shape}, got shape {w_ih_shape}")
    if w_ih_shape[1] != d:
        raise ValueError(
            f"X shape {x_shape} has D = {d} features but W_ih shape {w_ih_shape} expects D = {w_ih_shape[1]}"
        )
    for name, shape in (("b_ih", b_ih_shape), ("b_hh", b_hh_shape)):
        if shape is not None and tuple(shape) != (g * h,):
            raise ValueError(f"{name} must have shape ({g * h},) to match W_hh shape {w_hh_shape}, got {tuple(shape)}")
    for name, shape in states.items():
        if shape is not None and tuple(shape) != (n, h):
            raise ValueError(f"{name} must be (N, H) = {(n, h)} for X shape {x_shape} and W_hh shape {w_hh_shape}, got shape {tuple(shape)}")
    return t, n, d, h


def check_nonlinearity(nonlinearity):
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu' (as torch.nn.RNN), got {nonlinearity!r}")


# --- helpers ---------------------------------------------------------------------------------------

def _prepare(kind, X, states, W_ih, W_hh, b_ih, b_hh, sequence=True):
    """Arrays in one floating dtype, shapes checked; None states become zeros."""
    X, W_ih, W_hh = as_numeric_array(X, "X" if sequence else "x"), as_numeric_array(W_ih, "W_ih"), as_numeric_array(W_hh, "W_hh")
    b_ih = None if b_ih is None else as_numeric_array(b_ih, "b_ih")
    b_hh = None if b_hh is None else as_numeric_array(b_hh, "b_hh")
    states = {k: None if v is None else as_numeric_array(v, k) for k, v in states.items()}
    t, n, d, h = check_recurrent_args(
        kind, X.shape, W_ih.shape, W_hh.shape, None if b_ih is None else b_ih.shape,
        None if b_hh is None else b_hh.shape, {k: None if v is None else v.shape for k, v in states.items()}, sequence,
    )
    arrays = [a for a in (X, W_ih, W_hh, b_ih, b_hh, *states.values()) if a is not None]
    dtype = np.result_type(*arrays)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.float64
    cast = lambda a: None if a is None else a.astype(dtype, copy=False)  # noqa: E731
    states = [np.zeros((n, h), dtype) if v is None else cast(v) for v in states.values()]
    return (cast(X), states, cast(W_ih), cast(W_hh), cast(b_ih), cast(b_hh)), (t, n, d, h)


def _sigmoid(a, out=None):
    """``sigmoid(a) = (1 + tanh(a/2)) / 2``: one transcendental, never overflows, keeps the dtype."""
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def _bias(b_ih, b_hh):
    if b_ih is None:
        return b_hh
    return b_ih if b_hh is None else b_ih + b_hh


def _input_projection(X, W_ih, b):
    """``W_ih x_t + b`` for every step at once: one ``(T*N, D) @ (D, G*H)`` GEMM."""
    t, n, d = X.shape
    A = (X.reshape(t * n, d) @ W_ih.T).reshape(t, n, -1)
    if b is not None:
        A += b
    return A


class RecurrentCache:
    """What a backward pass needs from its forward (returned by the ``*_forward`` functions).

    Attributes: ``kind``; ``inputs`` (the converted ``X, states, W_ih, W_hh, b_ih, b_hh``);
    ``H`` (``(T+1, N, H)``: ``h0`` then every hidden state, so ``Y`` is ``H[1:]``); and per kind
    the activations: ``"rnn"``: nothing more; ``"lstm"``: ``gates`` (``(T, N, 4H)`` activated i,
    f, g, o), ``C`` (``(T+1, N, H)`` cell states), ``tanh_C`` (``(T, N, H)``); ``"gru"``:
    ``gates`` (``(T, N, 3H)`` activated r, z, n), ``hn`` (``(T, N, H)``: ``W_hn h + b_hn``).
    """

    def __init__(self, kind, inputs, H, **activations):
        self.kind, self.inputs, self.H = kind, inputs, H
        self.__dict__.update(activations)


# --- single steps ----------------------------------------------------------------------------------

def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """One step of the vanilla RNN, as ``torch.nn.RNNCell``: returns ``h' (N, H)``.

    ``x: (N, D)``, ``h: (N, H)`` (None: zeros), ``W_ih: (H, D)``, ``W_hh: (H, H)``, ``b_ih, b_hh:
    (H,)`` or None; ``h' = phi(x W_ih^T + b_ih + h W_hh^T + b_hh)``, ``phi`` = ``"tanh"`` or ``"relu"``.
    """
    check_nonlinearity(nonlinearity)
    (x, (h,), W_ih, W_hh, b_ih, b_hh), _ = _prepare("rnn", x, {"h": h}, W_ih, W_hh, b_ih, b_hh, sequence=False)
    a = x @ W_ih.T + h @ W_hh.T
    b = _bias(b_ih, b_hh)
    if b is not None:
        a += b
    return np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)


def lstm_cell(x, h, c, W_ih, W_hh, b_ih=None, b_hh=None):
    """One step of the LSTM, as ``torch.nn.LSTMCell``: returns ``(h', c')``, each ``(N, H)``.

    ``x: (N, D)``, ``h, c: (N, H)`` (None: zeros), ``W_ih: (4H, D)``, ``W_hh: (4H, H)``,
    ``b_ih, b_hh: (4H,)`` or None; gate blocks in torch's order (input, forget, cell, output).
    """
    (x, (h, c), W_ih, W_hh, b_ih, b_hh), (_, _, _, H) = _prepare(
        "lstm", x, {"h": h, "c": c}, W_ih, W_hh, b_ih, b_hh, sequence=False)
    a = x @ W_ih.T + h @ W_hh.T
    b = _bias(b_ih, b_hh)
    if b is not None:
        a += b
    i, f, g, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), _sigmoid(a[:, 3 * H:])
    c_new = f * c + i * g
    return o * np.tanh(c_new), c_new


def gru_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    """One step of the GRU, as ``torch.nn.GRUCell``: returns ``h' (N, H)``.

    ``x: (N, D)``, ``h: (N, H)`` (None: zeros), ``W_ih: (3H, D)``, ``W_hh: (3H, H)``, ``b_ih, b_hh:
    (3H,)`` or None; blocks (reset, update, new); the reset gate multiplies ``W_hn h + b_hn``.
    """
    (x, (h,), W_ih, W_hh, b_ih, b_hh), (_, _, _, H) = _prepare("gru", x, {"h": h}, W_ih, W_hh, b_ih, b_hh, sequence=False)
    gi, gh = x @ W_ih.T, h @ W_hh.T
    if b_ih is not None:
        gi += b_ih
    if b_hh is not None:
        gh += b_hh
    r = _sigmoid(gi[:, :H] + gh[:, :H])
    z = _sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1 - z) * n + z * h


# --- whole sequences: forward with the cache the backward needs -------------------------------------

def rnn_forward(X, h0, W_ih, W_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """:func:`rnn` that also returns its cache: ``(Y, h_T, cache)`` (pass ``cache`` to :func:`rnn_backward`).

    ``Y`` is a view into ``cache.H``: modify a copy, not ``Y``, before the backward pass.
    """
    check_nonlinearity(nonlinearity)
    inputs, (T, N, _, Hd) = _prepare("rnn", X, {"h0": h0}, W_ih, W_hh, b_ih, b_hh)
    X, (h0,), W_ih, W_hh, b_ih, b_hh = inputs
    A = _input_projection(X, W_ih, _bias(b_ih, b_hh))
    H = np.empty((T + 1, N, Hd), X.dtype)
    H[0] = h0
    W_hhT = W_hh.T
    for t in range(T):
        a = A[t]
        a += H[t] @ W_hhT
        if nonlinearity == "tanh":
            np.tanh(a, out=H[t + 1])
        else:
            np.maximum(a, 0, out=H[t + 1])
    return H[1:], H[T], RecurrentCache("rnn", inputs, H, nonlinearity=nonlinearity)


def lstm_forward(X, h0, c0, W_ih, W_hh, b_ih=None, b_hh=None):
    """:func:`lstm` that also returns its cache: ``(Y, (h_T, c_T), cache)`` (for :func:`lstm_backward`)."""
    inputs, (T, N, _, Hd) = _prepare("lstm", X, {"h0": h0, "c0": c0}, W_ih, W_hh, b_ih, b_hh)
    X, (h0, c0), W_ih, W_hh, b_ih, b_hh = inputs
    h2, h3 = 2 * Hd, 3 * Hd
    # sigmoid(a) = (1 + tanh(a/2)) / 2.  Halving the i, f, o rows of the weights once (exact in
    # floating point) lets ONE tanh over all 4H pre-activations per step serve the three sigmoid
    # gates and the tanh cell gate; then (1 + t)/2 on the sigmoid blocks.  Same values as
    # applying sigmoid and tanh block by block, in fewer and larger NumPy passes.
    half = np.full(4 * Hd, 0.5, X.dtype)
    half[h2:h3] = 1
    gates = _input_projection(X, W_ih, _bias(b_ih, b_hh))  # (T, N, 4H): pre-activations, activated in place
    gates *= half
    W_hhT = (W_hh * half[:, None]).T  # a transposed view, as W_hh.T: the layout BLAS was fastest with
    H = np.empty((T + 1, N, Hd), X.dtype)
    C = np.empty((T + 1, N, Hd), X.dtype)
    tanh_C = np.empty((T, N, Hd), X.dtype)
    H[0], C[0] = h0, c0
    for t in range(T):
        a = gates[t]
        a += H[t] @ W_hhT  # one product for all four gates
        np.tanh(a, out=a)
        for s in (a[:, :h2], a[:, h3:]):  # input and forget gates are adjacent: two slices, not three
            s *= 0.5
            s += 0.5
        c = C[t + 1]
        np.multiply(a[:, Hd:h2], C[t], out=c)
        c += a[:, :Hd] * a[:, h2:h3]
        np.tanh(c, out=tanh_C[t])
        np.multiply(a[:, h3:], tanh_C[t], out=H[t + 1])
    cache = RecurrentCache("lstm", inputs, H, gates=gates, C=C, tanh_C=tanh_C)
    return H[1:], (H[T], C[T]), cache


def gru_forward(X, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    """:func:`gru` that also returns its cache: ``(Y, h_T, cache)`` (for :func:`gru_backward`)."""
    inputs, (T, N, _, Hd) = _prepare("gru", X, {"h0": h0}, W_ih, W_hh, b_ih, b_hh)
    X, (h0,), W_ih, W_hh, b_ih, b_hh = inputs
    gates = _input_projection(X, W_ih, b_ih)  # (T, N, 3H); b_hh stays apart: the reset gate needs W_hn h + b_hn
    H = np.empty((T + 1, N, Hd), X.dtype)
    hn = np.empty((T, N, Hd), X.dtype)
    H[0] = h0
    W_hhT = W_hh.T
    h2 = 2 * Hd
    for t in range(T):
        gh = H[t] @ W_hhT
        if b_hh is not None:
            gh += b_hh
        a = gates[t]
        a[:, :h2] += gh[:, :h2]
        _sigmoid(a[:, :h2], out=a[:, :h2])  # reset and update gates
        hn[t] = gh[:, h2:]
        n = a[:, h2:]
        n += a[:, :Hd] * hn[t]
        np.tanh(n, out=n)
        z = a[:, Hd:h2]
        h = H[t + 1]
        np.subtract(H[t], n, out=h)  # h' = n + z * (h - n)
        h *= z
        h += n
    return H[1:], H[T], RecurrentCache("gru", inputs, H, gates=gates, hn=hn)


def rnn(X, h0, W_ih, W_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """A vanilla RNN over a sequence, as one layer of ``torch.nn.RNN``: returns ``(Y, h_T)``.

    ``X: (T, N, D)``, ``h0: (N, H)`` (None: zeros), ``W_ih: (H, D)``, ``W_hh: (H, H)``, ``b_ih,
    b_hh: (H,)`` or None.  ``Y: (T, N, H)`` every hidden state; ``h_T: (N, H)`` the last one.
    """
    Y, h_T, _ = rnn_forward(X, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity)
    return Y, h_T


def lstm(X, h0, c0, W_ih, W_hh, b_ih=None, b_hh=None):
    """An LSTM over a sequence, as one layer of ``torch.nn.LSTM``: returns ``(Y, (h_T, c_T))``.

    ``X: (T, N, D)``, ``h0, c0: (N, H)`` (None: zeros), ``W_ih: (4H, D)``, ``W_hh: (4H, H)``,
    ``b_ih, b_hh: (4H,)`` or None, gate blocks (input, forget, cell, output).  ``Y: (T, N, H)``.
    """
    Y, state, _ = lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh)
    return Y, state


def gru(X, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    """A GRU over a sequence, as one layer of ``torch.nn.GRU``: returns ``(Y, h_T)``.

    ``X: (T, N, D)``, ``h0: (N, H)`` (None: zeros), ``W_ih: (3H, D)``, ``W_hh: (3H, H)``, ``b_ih,
    b_hh: (3H,)`` or None, blocks (reset, update, new).  ``Y: (T, N, H)``.
    """
    Y, h_T, _ = gru_forward(X, h0, W_ih, W_hh, b_ih, b_hh)
    return Y, h_T


# --- backpropagation through time ------------------------------------------------------------------

def _backward_inputs(kind, dY, cache, forward, args, final_grads):
    """Run (or reuse) the forward; check ``dY`` and the final-state gradients; return them as arrays."""
    if cache is None:
        cache = forward(*args)[-1]
    elif not isinstance(cache, RecurrentCache) or cache.kind != kind:
        raise TypeError(f"cache must be what {kind}_forward returned, got {cache!r}")
    else:  # the cache stands in for the arguments: catch the cheap signs that it came from other ones
        w_hh = args[4 if kind == "lstm" else 3]
        for name, given, cached in (("X", args[0], cache.inputs[0]), ("W_hh", w_hh, cache.inputs[3])):
            if given is not None and np.shape(given) != cached.shape:
                raise ValueError(f"cache was computed for {name} shape {cached.shape}, but {name} has shape {np.shape(given)}")
        if kind == "rnn" and args[-1] != cache.nonlinearity:
            raise ValueError(f"cache was computed with nonlinearity={cache.nonlinearity!r}, not {args[-1]!r}")
    X = cache.inputs[0]
    T, N, Hd = cache.H.shape[0] - 1, cache.H.shape[1], cache.H.shape[2]
    dY = as_numeric_array(dY, "dY")
    if dY.shape != (T, N, Hd):
        raise ValueError(f"dY must be (T, N, H) = {(T, N, Hd)} like Y for X shape {X.shape}, got shape {dY.shape}")
    out = []
    for name, g in final_grads.items():
        if g is not None:
            g = as_numeric_array(g, name)
            if g.shape != (N, Hd):
                raise ValueError(f"{name} must be (N, H) = {(N, Hd)} like the final state, got shape {g.shape}")
        out.append(g)
    return cache, dY.astype(X.dtype, copy=False), out


def _weight_grads(dA, X, H, W_ih, b_ih, b_hh, dA_hh=None):
    """``dX, dW_ih, dW_hh, db_ih, db_hh`` from the pre-activation gradients of every step.

    ``dA (T, N, G*H)``: gradient of the input-side pre-activations ``W_ih x_t + b_ih``;
    ``dA_hh``: of the hidden-side ones ``W_hh h_{t-1} + b_hh`` (the same array except in the
    GRU).  One GEMM each over all ``T*N`` rows instead of one per step.
    """
    dA_hh = dA if dA_hh is None else dA_hh
    T, N, GH = dA.shape
    flat, flat_hh = dA.reshape(T * N, GH), dA_hh.reshape(T * N, GH)
    dX = (flat @ W_ih).reshape(X.shape)
    dW_ih = flat.T @ X.reshape(T * N, -1)
    dW_hh = flat_hh.T @ H[:-1].reshape(T * N, -1)
    db_ih = None if b_ih is None else flat.sum(axis=0)
    db_hh = None if b_hh is None else flat_hh.sum(axis=0)
    return dX, dW_ih, dW_hh, db_ih, db_hh


def rnn_backward(dY, X, h0, W_ih, W_hh, b_ih=None, b_hh=None, dh_T=None, nonlinearity="tanh", cache=None):
    """BPTT through :func:`rnn`: returns ``(dX, dh0, dW_ih, dW_hh, db_ih, db_hh)``.

    ``dY: (T, N, H)`` gradient of the loss with respect to ``Y``; ``dh_T: (N, H)`` or None, the
    gradient reaching ``h_T`` from elsewhere (e.g. a later minibatch).  The other arguments are
    the forward's (or pass ``cache`` from :func:`rnn_forward`, computed from them).  Gradients
    have their inputs' shapes (``db_*`` is None where the bias was None; ``dh0`` is returned even
    when ``h0`` was None).  Walking back from ``t = T``: ``dh = dY[t] + dh_next``, ``da = dh *
    phi'(a_t)``, ``dh_next = da @ W_hh``; the weight gradients sum ``da`` over all steps.
    """
    cache, dY, (dh,) = _backward_inputs(
        "rnn", dY, cache, rnn_forward, (X, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity), {"dh_T": dh_T})
    X, _, W_ih, W_hh, b_ih, b_hh = cache.inputs
    H = cache.H
    T = H.shape[0] - 1
    dh = np.zeros_like(H[0]) if dh is None else dh.astype(X.dtype)
    # phi'(a_t) for every step at once, from the outputs: tanh' = 1 - h^2, relu' = [h > 0]
    dA = 1 - H[1:] * H[1:] if cache.nonlinearity == "tanh" else (H[1:] > 0).astype(X.dtype)
    for t in range(T - 1, -1, -1):
        da = dA[t]
        da *= dh + dY[t]
        dh = da @ W_hh
    dX, dW_ih, dW_hh, db_ih, db_hh = _weight_grads(dA, X, H, W_ih, b_ih, b_hh)
    return dX, dh, dW_ih, dW_hh, db_ih, db_hh


def lstm_backward(dY, X, h0, c0, W_ih, W_hh, b_ih=None, b_hh=None, dh_T=None, dc_T=None, cache=None):
    """BPTT through :func:`lstm`: returns ``(dX, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh)``.

    ``dY: (T, N, H)``; ``dh_T, dc_T: (N, H)`` or None (gradients reaching the final state from
    elsewhere).  The other arguments are the forward's (or pass ``cache`` from
    :func:`lstm_forward`).  At each step, from ``h_t = o * tanh(c_t)`` and
    ``c_t = f * c_{t-1} + i * g``::

        dh = dY[t] + dh_next;  dc = dc_next + dh * o * (1 - tanh(c_t)^2)
        do = dh * tanh(c_t);  di = dc * g;  df = dc * c_{t-1};  dg = dc * i
        dc_next = dc * f                       (the memory's gradient path: just a product of forget gates)
        dA = [di*i(1-i), df*f(1-f), dg*(1-g^2), do*o(1-o)];  dh_next = dA @ W_hh
    """
    cache, dY, (dh, dc) = _backward_inputs(
        "lstm", dY, cache, lstm_forward, (X, h0, c0, W_ih, W_hh, b_ih, b_hh), {"dh_T": dh_T, "dc_T": dc_T})
    X, _, W_ih, W_hh, b_ih, b_hh = cache.inputs
    H, C, tanh_C, gates = cache.H, cache.C, cache.tanh_C, cache.gates
    T, Hd = H.shape[0] - 1, H.shape[2]
    h2, h3 = 2 * Hd, 3 * Hd
    dh = np.zeros_like(H[0]) if dh is None else dh.astype(X.dtype)
    dc = np.zeros_like(H[0]) if dc is None else dc.astype(X.dtype, copy=True)
    # Every factor that does not depend on the recursion, for all steps at once (a few large
    # vectorized passes instead of a dozen small ones per step):  dA = [dc, dc, dc, dh] * P with
    # P = [g i(1-i), c_{t-1} f(1-f), i (1-g^2), tanh(c_t) o(1-o)], and dc gains dh * K, K = o (1 - tanh(c_t)^2).
    i, f, g, o = gates[..., :Hd], gates[..., Hd:h2], gates[..., h2:h3], gates[..., h3:]
    P = np.empty(gates.shape, X.dtype)
    np.multiply(i, 1 - i, out=P[..., :Hd])
    P[..., :Hd] *= g
    np.multiply(f, 1 - f, out=P[..., Hd:h2])
    P[..., Hd:h2] *= C[:-1]
    np.multiply(g, g, out=P[..., h2:h3])
    np.subtract(1, P[..., h2:h3], out=P[..., h2:h3])
    P[..., h2:h3] *= i
    np.multiply(o, 1 - o, out=P[..., h3:])
    P[..., h3:] *= tanh_C
    K = 1 - tanh_C * tanh_C
    K *= o
    dA = P  # overwritten step by step, from the last: P[t] is read just before dA[t] replaces it
    blocks = dA.reshape(T, -1, 4, Hd)  # a view (P is contiguous): the four gate blocks on axis 2
    for t in range(T - 1, -1, -1):
        dh = dh + dY[t]
        dc += dh * K[t]
        blocks[t, :, 3] *= dh
        blocks[t, :, :3] *= dc[:, None, :]  # input, forget and cell blocks all scale with dc
        dc *= f[t]
        dh = dA[t] @ W_hh
    dX, dW_ih, dW_hh, db_ih, db_hh = _weight_grads(dA, X, H, W_ih, b_ih, b_hh)
    return dX, dh, dc, dW_ih, dW_hh, db_ih, db_hh


def gru_backward(dY, X, h0, W_ih, W_hh, b_ih=None, b_hh=None, dh_T=None, cache=None):
    """BPTT through :func:`gru`: returns ``(dX, dh0, dW_ih, dW_hh, db_ih, db_hh)``.

    ``dY: (T, N, H)``; ``dh_T: (N, H)`` or None.  The other arguments are the forward's (or pass
    ``cache`` from :func:`gru_forward`).  From ``h_t = (1 - z) n + z h_{t-1}`` and
    ``n = tanh(gi_n + r * hn)`` with ``hn = W_hn h_{t-1} + b_hn``::

        dn = dh (1 - z);  dz = dh (h_{t-1} - n);  dh_next = dh z + dA_hh @ W_hh
        da_n = dn (1 - n^2);  dr = da_n * hn
        dA_ih = [dr r(1-r), dz z(1-z), da_n];  dA_hh = [same, same, da_n * r]
    """
    cache, dY, (dh,) = _backward_inputs(
        "gru", dY, cache, gru_forward, (X, h0, W_ih, W_hh, b_ih, b_hh), {"dh_T": dh_T})
    X, _, W_ih, W_hh, b_ih, b_hh = cache.inputs
    H, gates, hn = cache.H, cache.gates, cache.hn
    T, Hd = H.shape[0] - 1, H.shape[2]
    h2 = 2 * Hd
    dh = np.zeros_like(H[0]) if dh is None else dh.astype(X.dtype)
    # Every pre-activation gradient is dh (the gradient reaching h_t) times a factor that does not
    # depend on the recursion: computed for all steps at once before the loop.
    r, z, n = gates[..., :Hd], gates[..., Hd:h2], gates[..., h2:]
    N = gates.shape[1]
    P = np.empty((T, N, 3, Hd), X.dtype)  # input side: [dr-factor, dz-factor, dn-factor]
    np.multiply(n, n, out=P[:, :, 2])
    np.subtract(1, P[:, :, 2], out=P[:, :, 2])
    P[:, :, 2] *= 1 - z                                     # (1 - z)(1 - n^2)
    np.multiply(r, 1 - r, out=P[:, :, 0])
    P[:, :, 0] *= hn
    P[:, :, 0] *= P[:, :, 2]                                # (1 - z)(1 - n^2) hn r(1 - r)
    np.subtract(H[:-1], n, out=P[:, :, 1])
    P[:, :, 1] *= z * (1 - z)                               # (h_{t-1} - n) z(1 - z)
    dA_hh = P.copy()                                        # hidden side: the n block also carries r
    dA_hh[:, :, 2] *= r
    Dh = np.empty((T, N, Hd), X.dtype)
    for t in range(T - 1, -1, -1):
        dh = np.add(dh, dY[t], out=Dh[t])
        dA_hh[t] *= dh[:, None, :]
        dh = dh * z[t] + dA_hh[t].reshape(N, -1) @ W_hh
    P *= Dh[:, :, None, :]
    dA, dA_hh = P.reshape(gates.shape), dA_hh.reshape(gates.shape)
    dX, dW_ih, dW_hh, db_ih, db_hh = _weight_grads(dA, X, H, W_ih, b_ih, b_hh, dA_hh)
    return dX, dh, dW_ih, dW_hh, db_ih, db_hh


# --- vanishing and exploding gradients: how much of h_T's gradient reaches h_t ----------------------

def _matrix_norms(J, ord):
    if ord not in (2, "fro"):
        raise ValueError(f"ord must be 2 (spectral norm) or 'fro' (Frobenius), got {ord!r}")
    return np.linalg.norm(J, ord=ord, axis=(-2, -1))


def rnn_state_gradient_norms(X, h0, W_ih, W_hh, b_ih=None, b_hh=None, nonlinearity="tanh", ord=2):
    """``||dh_T / dh_t||`` for ``t = 0..T`` through :func:`rnn`: an array ``(T+1, N)``, one column per example.

    Backpropagating from ``h_T`` to ``h_t`` multiplies ``T - t`` step Jacobians
    ``dh_s/dh_{s-1} = diag(phi'(a_s)) W_hh``, so the norm behaves like ``sigma_max(W_hh)^(T-t)``
    times the product of the ``phi'`` factors (at most 1 for tanh): it dies out geometrically when
    ``sigma_max(W_hh) < 1`` (vanishing) and may blow up when it is larger (exploding).  Row ``T``
    is the norm of the identity (1 for ``ord=2``).  ``ord``: 2 (spectral) or ``"fro"``.
    Costs ``T`` batched ``(H, H)`` products per example: meant for plots, not for training.
    """
    _, _, cache = rnn_forward(X, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity)
    W_hh, H = cache.inputs[3], cache.H
    T, N, Hd = H.shape[0] - 1, H.shape[1], H.shape[2]
    J = np.broadcast_to(np.eye(Hd, dtype=H.dtype), (N, Hd, Hd)).copy()
    norms = np.empty((T + 1, N), H.dtype)
    norms[T] = _matrix_norms(J, ord)
    for t in range(T, 0, -1):
        h = H[t]
        d = 1 - h * h if nonlinearity == "tanh" else (h > 0).astype(H.dtype)
        J = (J * d[:, None, :]) @ W_hh  # J_{t-1} = J_t diag(phi'(a_t)) W_hh
        norms[t - 1] = _matrix_norms(J, ord)
    return norms


def lstm_state_gradient_norms(X, h0, c0, W_ih, W_hh, b_ih=None, b_hh=None, ord=2):
    """``(||dh_T/dh_t||, ||dc_T/dc_t||)`` for ``t = 0..T`` through :func:`lstm`: two arrays ``(T+1, N)``.

    The Jacobians are blocks of ``d(h_T, c_T) / d(h_t, c_t)``, the product of the ``2H x 2H``
    step Jacobians of the joint state.  The memory's own path contributes ``diag(f_s)`` per step,
    with no ``W_hh`` and no squashing: with the forget gate open (``f`` near 1) ``dc_T/dc_t``
    stays near 1 over long spans where a vanilla RNN's gradient has long vanished.
    """
    _, _, cache = lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh)
    W_hh, H, C, tanh_C, gates = cache.inputs[3], cache.H, cache.C, cache.tanh_C, cache.gates
    T, N, Hd = H.shape[0] - 1, H.shape[1], H.shape[2]
    W_i, W_f, W_g, W_o = (W_hh[k * Hd:(k + 1) * Hd] for k in range(4))
    J = np.broadcast_to(np.eye(2 * Hd, dtype=H.dtype), (N, 2 * Hd, 2 * Hd)).copy()
    h_norms, c_norms = np.empty((T + 1, N), H.dtype), np.empty((T + 1, N), H.dtype)
    h_norms[T], c_norms[T] = _matrix_norms(J[:, :Hd, :Hd], ord), _matrix_norms(J[:, Hd:, Hd:], ord)
    for t in range(T, 0, -1):
        a, tc = gates[t - 1], tanh_C[t - 1]
        i, f, g, o = a[:, :Hd], a[:, Hd:2 * Hd], a[:, 2 * Hd:3 * Hd], a[:, 3 * Hd:]
        dc_dh = ((C[t - 1] * f * (1 - f))[:, :, None] * W_f + (g * i * (1 - i))[:, :, None] * W_i
                 + (i * (1 - g * g))[:, :, None] * W_g)
        k = o * (1 - tc * tc)
        M = np.zeros_like(J)
        M[:, :Hd, :Hd] = (tc * o * (1 - o))[:, :, None] * W_o + k[:, :, None] * dc_dh
        M[:, :Hd, Hd:] = np.einsum("nh,hk->nhk", k * f, np.eye(Hd, dtype=H.dtype))
        M[:, Hd:, :Hd] = dc_dh
        M[:, Hd:, Hd:] = np.einsum("nh,hk->nhk", f, np.eye(Hd, dtype=H.dtype))
        J = J @ M
        h_norms[t - 1], c_norms[t - 1] = _matrix_norms(J[:, :Hd, :Hd], ord), _matrix_norms(J[:, Hd:, Hd:], ord)
    return h_norms, c_norms
