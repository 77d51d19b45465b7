"""Chapters 14-16's recurrent layers: both twins' rnn/lstm/gru and their cells against
torch.nn.RNN/LSTM/GRU (and the *Cell modules) with the weights copied in, float32 and float64;
the NumPy BPTT against central differences (float64), against autograd through nn.RNN/LSTM/GRU and
through the torch twin; truncated BPTT; gradient clipping by global norm against
torch.nn.utils.clip_grad_norm_; the gradient-norm helpers behind the vanishing/exploding plots."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from twins import TWIN_NAMES, Twin, seeds, t, twin  # noqa: F401  (twin: fixture)

import dlcourse.numpy_ops as nops
import dlcourse.torch_ops as tops
from dlcourse.gradcheck import gradcheck
from dlcourse.optim import clip_grad_norm

KINDS = ("rnn", "lstm", "gru")
MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
CELLS = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _case(kind, T, N, D, H, seed, dtype=np.float64, bias=True, scale=1.0):
    """``X, h0, c0 (None unless LSTM), [W_ih, W_hh, b_ih, b_hh]`` from a seed; weights like torch's init."""
    r = np.random.default_rng(seed)
    g, k = GATES[kind], 1 / np.sqrt(H)
    X = r.standard_normal((T, N, D)).astype(dtype)
    h0 = r.standard_normal((N, H)).astype(dtype)
    c0 = r.standard_normal((N, H)).astype(dtype) if kind == "lstm" else None
    W = [r.uniform(-k, k, s).astype(dtype) * scale for s in ((g * H, D), (g * H, H))]
    b = [r.uniform(-k, k, g * H).astype(dtype) if bias else None for _ in range(2)]
    return X, h0, c0, W + b


def _module(kind, weights, cell=False, nonlinearity="tanh"):
    """nn.RNN/LSTM/GRU (or the *Cell) of one layer holding ``weights`` (torch's layout, copied in)."""
    W_ih, W_hh, b_ih, b_hh = weights
    H, D = W_hh.shape[1], W_ih.shape[1]
    kw = dict(bias=b_ih is not None)
    if kind == "rnn":
        kw["nonlinearity"] = nonlinearity
    m = (CELLS if cell else MODULES)[kind](D, H, **kw).to(torch.from_numpy(W_ih).dtype)
    suffix = "" if cell else "_l0"
    with torch.no_grad():
        for name, w in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), weights):
            if w is not None:
                getattr(m, name + suffix).copy_(t(w))
    return m


def _call(ops, kind, X, h0, c0, weights, **kw):
    """``(Y, h_T, c_T or None)`` from ``ops.<kind>`` (a twin module or the NumPy rnn module)."""
    if kind == "lstm":
        Y, (h, c) = ops.lstm(X, h0, c0, *weights)
        return Y, h, c
    Y, h = getattr(ops, kind)(X, h0, *weights, **kw)
    return Y, h, None


def _torch_reference(kind, X, h0, c0, weights, nonlinearity="tanh"):
    m = _module(kind, weights, nonlinearity=nonlinearity)
    hx = None if h0 is None else t(h0)[None]
    with torch.no_grad():
        if kind == "lstm":
            Y, (h, c) = m(t(X), None if hx is None else (hx, t(c0)[None]))
            return Y.numpy(), h[0].numpy(), c[0].numpy()
        Y, h = m(t(X), hx)
        return Y.numpy(), h[0].numpy(), None


TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-4, atol=1e-5)}


# --- forward: both twins equal nn.RNN / nn.LSTM / nn.GRU -----------------------------------------

@settings(max_examples=40)
@given(kind=st.sampled_from(KINDS), T=st.integers(1, 6), N=st.integers(1, 3), D=st.integers(1, 4),
       H=st.integers(1, 5), seed=seeds, dtype=st.sampled_from([np.float32, np.float64]), bias=st.booleans(),
       zero_state=st.booleans(), relu=st.booleans())
def test_twins_equal_torch_nn_recurrent_layers_with_the_weights_copied_in(kind, T, N, D, H, seed, dtype, bias,
                                                                           zero_state, relu):
    X, h0, c0, weights = _case(kind, T, N, D, H, seed, dtype, bias)
    if zero_state:  # None means zeros, as torch's hx=None
        h0 = c0 = None
    kw = {"nonlinearity": "relu"} if kind == "rnn" and relu else {}
    expected = _torch_reference(kind, X, h0, c0, weights, **kw)
    for name in TWIN_NAMES:
        tw = Twin(name)
        out = tw(kind, X, *((h0, c0) if kind == "lstm" else (h0,)), *weights, **kw)
        Y, state = out
        got = (Y, *state) if kind == "lstm" else (Y, state)
        for what, ours, theirs in zip(("Y", "h_T", "c_T"), got, expected):
            assert ours.shape == theirs.shape and ours.dtype == dtype, (name, what, ours.shape, ours.dtype)
            np.testing.assert_allclose(ours, theirs, **TOL[dtype], err_msg=f"{name}.{kind} {what}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_cells_equal_torch_nn_cells_and_one_step_of_the_sequence(twin, kind, dtype):
    X, h0, c0, weights = _case(kind, 1, 4, 3, 5, seed=7, dtype=dtype)
    cell = _module(kind, weights, cell=True)
    with torch.no_grad():
        expected = cell(t(X[0]), (t(h0), t(c0)) if kind == "lstm" else t(h0))
    expected = [e.numpy() for e in expected] if kind == "lstm" else [expected.numpy()]
    got = twin(f"{kind}_cell", X[0], *((h0, c0) if kind == "lstm" else (h0,)), *weights)
    got = list(got) if kind == "lstm" else [got]
    for ours, theirs in zip(got, expected):
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, theirs, **TOL[dtype])
    Y, h, c = _call(nops, kind, X, h0, c0, weights)
    np.testing.assert_allclose(got[0], Y[0], **TOL[dtype])


def test_rnn_cell_relu_and_none_state_mean_zeros(twin):
    X, _, _, weights = _case("rnn", 1, 3, 2, 4, seed=1)
    with torch.no_grad():
        expected = _module("rnn", weights, cell=True, nonlinearity="relu")(t(X[0])).numpy()
    np.testing.assert_allclose(twin("rnn_cell", X[0], None, *weights, nonlinearity="relu"), expected, rtol=1e-12)


def test_gru_reset_gate_multiplies_W_hn_h_plus_b_hn_as_torch_does():
    # Cho et al.'s GRU resets h before the product (W_hn (r*h)); torch resets after adding b_hn.
    # With b_hn != 0 and W_hn = 0 only torch's form lets the reset gate scale b_hn.
    X, h0, _, (W_ih, W_hh, b_ih, b_hh) = _case("gru", 1, 2, 3, 4, seed=3)
    W_hh[8:] = 0
    b_hh[8:] = 5.0
    h_torch = nops.gru_cell(X[0], h0, W_ih, W_hh, b_ih, b_hh)
    b_ih_cho = b_ih.copy()
    b_ih_cho[8:] += b_hh[8:]
    b_hh_cho = b_hh.copy()
    b_hh_cho[8:] = 0  # Cho's form: b_hn outside the reset gate
    h_cho = nops.gru_cell(X[0], h0, W_ih, W_hh, b_ih_cho, b_hh_cho)
    assert not np.allclose(h_torch, h_cho)


@pytest.mark.parametrize("kind", KINDS)
def test_integer_inputs_become_float64(twin, kind):
    X = np.ones((2, 1, 3), dtype=np.int64)
    weights = [np.ones((GATES[kind] * 2, 3), np.int64), np.zeros((GATES[kind] * 2, 2), np.int64), None, None]
    Y = twin(kind, X, *((None, None) if kind == "lstm" else (None,)), *weights)[0]
    assert Y.dtype == np.float64


# --- bad input ---------------------------------------------------------------------------------------

H_BAD = 3


@pytest.mark.parametrize("kind, args, match", [
    ("rnn", (np.ones((4, 3)), None, np.ones((3, 3)), np.ones((3, 3))), r"X must be 3-D \(T, N, D\).*\(4, 3\)"),
    ("rnn", (np.ones((0, 2, 3)), None, np.ones((3, 3)), np.ones((3, 3))), r"at least one time step"),
    ("rnn", (np.ones((4, 2, 5)), None, np.ones((3, 3)), np.ones((3, 3))), r"X shape \(4, 2, 5\) has D = 5 .* W_ih shape \(3, 3\) expects D = 3"),
    ("lstm", (np.ones((4, 2, 3)), None, None, np.ones((3, 3)), np.ones((3, 3))), r"W_hh must be \(4\*H, H\) for lstm.*\(3, 3\)"),
    ("gru", (np.ones((4, 2, 3)), None, np.ones((6, 3)), np.ones((9, 3))), r"W_ih must be \(3\*H, D\) = \(9, D\).*\(6, 3\)"),
    ("gru", (np.ones((4, 2, 3)), np.ones((3, 3)), np.ones((9, 3)), np.ones((9, 3))), r"h0 must be \(N, H\) = \(2, 3\).*\(3, 3\)"),
    ("lstm", (np.ones((4, 2, 3)), None, np.ones((2, 4)), np.ones((12, 3)), np.ones((12, 3))), r"c0 must be \(N, H\) = \(2, 3\)"),
    ("lstm", (np.ones((4, 2, 3)), None, None, np.ones((12, 3)), np.ones((12, 3)), np.ones(3)), r"b_ih must have shape \(12,\)"),
])
def test_bad_shapes_raise_naming_them(twin, kind, args, match):
    with pytest.raises(ValueError, match=match):
        twin(kind, *args)


def test_bad_cell_input_and_nonlinearity_raise(twin):
    with pytest.raises(ValueError, match=r"x must be 2-D \(N, D\).*\(5, 2, 3\)"):
        twin("rnn_cell", np.ones((5, 2, 3)), None, np.ones((3, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"nonlinearity must be 'tanh' or 'relu'.*'sigmoid'"):
        twin("rnn", np.ones((1, 2, 3)), None, np.ones((3, 3)), np.ones((3, 3)), nonlinearity="sigmoid")
    with pytest.raises(TypeError, match="X must be"):
        twin("gru", "text", None, np.ones((9, 3)), np.ones((9, 3)))


# --- BPTT ------------------------------------------------------------------------------------------

def _backward(kind, dY, X, h0, c0, weights, dh_T=None, dc_T=None, **kw):
    if kind == "lstm":
        return nops.lstm_backward(dY, X, h0, c0, *weights, dh_T=dh_T, dc_T=dc_T)
    return getattr(nops, f"{kind}_backward")(dY, X, h0, *weights, dh_T=dh_T, **kw)


def _loss(kind, G, gh, gc, **kw):
    """``L(X, h0, [c0,] W_ih, W_hh, b_ih, b_hh) = sum(Y*G) + sum(h_T*gh) [+ sum(c_T*gc)]`` on the NumPy twin."""
    def f(X, *rest):
        if kind == "lstm":
            h0, c0, *w = rest
        else:
            (h0, *w), c0 = rest, None
        Y, h, c = _call(nops, kind, X, h0, c0, w, **kw)
        return (Y * G).sum() + (h * gh).sum() + (0 if c is None else (c * gc).sum())
    return f


@pytest.mark.parametrize("kind, kw", [("rnn", {}), ("rnn", {"nonlinearity": "relu"}), ("lstm", {}), ("gru", {})],
                         ids=["rnn-tanh", "rnn-relu", "lstm", "gru"])
def test_bptt_passes_gradcheck_for_every_input_weight_and_bias(kind, kw):
    T, N, D, H = 4, 2, 3, 3
    X, h0, c0, weights = _case(kind, T, N, D, H, seed=11, scale=2.0)
    r = np.random.default_rng(12)
    G, gh, gc = r.standard_normal((T, N, H)), r.standard_normal((N, H)), r.standard_normal((N, H))
    grads = _backward(kind, G, X, h0, c0, weights, gh, gc if kind == "lstm" else None, **kw)
    inputs = [X, h0] + ([c0] if kind == "lstm" else []) + weights
    assert len(grads) == len(inputs) and [g.shape for g in grads] == [a.shape for a in inputs]
    # relu: random pre-activations are never within eps = 1e-6 of the kink, so the check is smooth here
    err = gradcheck(_loss(kind, G, gh, gc, **kw), inputs, list(grads))
    assert err < 1e-7, err


@settings(max_examples=25)
@given(kind=st.sampled_from(KINDS), T=st.integers(1, 5), N=st.integers(1, 3), D=st.integers(1, 4),
       H=st.integers(1, 4), seed=seeds, bias=st.booleans(), final=st.booleans())
def test_bptt_equals_autograd_through_torch_nn_and_through_the_torch_twin(kind, T, N, D, H, seed, bias, final):
    X, h0, c0, weights = _case(kind, T, N, D, H, seed, bias=bias)
    r = np.random.default_rng(seed + 1)
    G = r.standard_normal((T, N, H))
    gh, gc = (r.standard_normal((N, H)), r.standard_normal((N, H))) if final else (None, None)
    ours = _backward(kind, G, X, h0, c0, weights, gh, gc if kind == "lstm" else None)
    states = [h0, c0] if kind == "lstm" else [h0]

    def autograd(fn):
        leaves = [t(a).clone().requires_grad_() for a in [X, *states]]
        params = [None if w is None else t(w).clone().requires_grad_() for w in weights]
        Y, h, c = fn(leaves, params)
        loss = (Y * t(G)).sum()
        if final:
            loss = loss + (h * t(gh)).sum() + (0 if c is None else (c * t(gc)).sum())
        loss.backward()
        return [a.grad for a in leaves] + [None if p is None else p.grad for p in params]

    def via_nn(leaves, params):
        m = _module(kind, [None if p is None else p.detach().numpy() for p in params])
        X_, *st_ = leaves
        # route the copied-in module's parameter gradients to our leaves
        names = [n for n in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]
        for name, p in zip(names, params):
            if p is not None:
                delattr(m, name)
                setattr(m, name, p)
        if kind == "lstm":
            Y, (h, c) = m(X_, (st_[0][None], st_[1][None]))
            return Y, h[0], c[0]
        Y, h = m(X_, st_[0][None])
        return Y, h[0], None

    def via_twin(leaves, params):
        X_, *st_ = leaves
        return _call(tops, kind, X_, *(st_ if kind == "lstm" else (st_[0], None)), params)

    for fn in (via_nn, via_twin):
        for ours_g, theirs in zip(ours, autograd(fn)):
            if theirs is None:
                assert ours_g is None
            else:
                np.testing.assert_allclose(ours_g, theirs.numpy(), rtol=1e-9, atol=1e-12, err_msg=fn.__name__)


@pytest.mark.parametrize("kind", KINDS)
def test_backward_with_the_forward_cache_equals_recomputing_it(kind):
    X, h0, c0, weights = _case(kind, 5, 3, 4, 6, seed=2, dtype=np.float32)
    G = np.random.default_rng(0).standard_normal((5, 3, 6)).astype(np.float32)
    fwd = getattr(nops, f"{kind}_forward")
    out = fwd(X, h0, c0, *weights) if kind == "lstm" else fwd(X, h0, *weights)
    Y, cache = out[0], out[-1]
    np.testing.assert_array_equal(Y, _call(nops, kind, X, h0, c0, weights)[0])
    fresh = _backward(kind, G, X, h0, c0, weights)
    cached = (nops.lstm_backward(G, X, h0, c0, *weights, cache=cache) if kind == "lstm"
              else getattr(nops, f"{kind}_backward")(G, X, h0, *weights, cache=cache))
    for a, b in zip(fresh, cached):
        assert a.dtype == np.float32  # float32 stays float32 through BPTT
        np.testing.assert_array_equal(a, b)


def test_backward_checks_dY_and_final_state_shapes_and_the_cache_kind():
    X, h0, c0, weights = _case("lstm", 3, 2, 4, 5, seed=0)
    with pytest.raises(ValueError, match=r"dY must be \(T, N, H\) = \(3, 2, 5\).*\(3, 2, 4\)"):
        nops.lstm_backward(np.ones((3, 2, 4)), X, h0, c0, *weights)
    with pytest.raises(ValueError, match=r"dc_T must be \(N, H\) = \(2, 5\)"):
        nops.lstm_backward(np.ones((3, 2, 5)), X, h0, c0, *weights, dc_T=np.ones(5))
    _, _, cache = nops.lstm_forward(X, h0, c0, *weights)
    with pytest.raises(TypeError, match="cache must be what gru_forward returned"):
        nops.gru_backward(np.ones((3, 2, 5)), X, h0, *weights, cache=cache)
    with pytest.raises(ValueError, match=r"cache was computed for X shape \(3, 2, 4\), but X has shape \(3, 2, 3\)"):
        nops.lstm_backward(np.ones((3, 2, 5)), X[..., :3], h0, c0, *weights, cache=cache)
    Xr, h0r, _, wr = _case("rnn", 3, 2, 4, 5, seed=0)
    _, _, cache = nops.rnn_forward(Xr, h0r, *wr)
    with pytest.raises(ValueError, match="cache was computed with nonlinearity='tanh', not 'relu'"):
        nops.rnn_backward(np.ones((3, 2, 5)), Xr, h0r, *wr, nonlinearity="relu", cache=cache)


@pytest.mark.parametrize("kind", KINDS)
def test_bptt_over_two_chunks_with_the_state_gradient_passed_back_equals_bptt_over_the_whole(kind):
    # The chunked form of BPTT: chunk 2's dh0 (and dc0) become chunk 1's dh_T (dc_T).  Truncated
    # BPTT is exactly this minus that hand-over, which the next test pins.
    X, h0, c0, weights = _case(kind, 8, 2, 3, 4, seed=5)
    G = np.random.default_rng(1).standard_normal((8, 2, 4))
    whole = _backward(kind, G, X, h0, c0, weights)
    _, h1, c1 = _call(nops, kind, X[:5], h0, c0, weights)
    second = _backward(kind, G[5:], X[5:], h1, c1, weights)
    ns = 2 if kind == "lstm" else 1
    first = _backward(kind, G[:5], X[:5], h0, c0, weights, *second[1:1 + ns])
    np.testing.assert_allclose(np.concatenate([first[0], second[0]]), whole[0], rtol=1e-10, atol=1e-13)
    for a, b, w in zip(first[1 + ns:], second[1 + ns:], whole[1 + ns:]):
        np.testing.assert_allclose(a + b, w, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_bptt_gives_the_gradient_of_the_graph_cut_at_the_detached_state(kind):
    # Minibatch 2 of a long sequence starts from minibatch 1's final state, detached: autograd
    # through nn.<kind> then stops at minibatch 2's first step.  The NumPy BPTT of minibatch 2
    # alone, from that state (a constant: its dh0 is dropped), is that gradient -- and it is
    # not the gradient of the uncut graph, which the cut deliberately gives up.
    X, h0, c0, weights = _case(kind, 9, 2, 3, 4, seed=8)
    G2 = np.random.default_rng(2).standard_normal((4, 2, 4))
    m = _module(kind, weights)
    params = [m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0]

    def run(x, state):
        if kind == "lstm":
            Y, (h, c) = m(x, state)
            return Y, (h, c)
        return m(x, state)

    state0 = (t(h0)[None], t(c0)[None]) if kind == "lstm" else t(h0)[None]
    _, state = run(t(X[:5]), state0)
    detached = tuple(s.detach() for s in state) if kind == "lstm" else state.detach()
    Y2, _ = run(t(X[5:]), detached)
    (Y2 * t(G2)).sum().backward()
    tbptt = [p.grad.clone() for p in params]

    st_np = [s[0].numpy() for s in detached] if kind == "lstm" else [detached[0].numpy(), None]
    ours = _backward(kind, G2, X[5:], st_np[0], st_np[1], weights)
    ns = 2 if kind == "lstm" else 1
    for a, b in zip(ours[1 + ns:], tbptt):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-9, atol=1e-12)

    for p in params:
        p.grad = None
    _, state = run(t(X[:5]), state0)
    Y2, _ = run(t(X[5:]), state)  # not detached: the gradient flows into minibatch 1
    (Y2 * t(G2)).sum().backward()
    assert not np.allclose(ours[2 + ns], params[1].grad.numpy(), rtol=1e-6)  # dW_hh differs


# --- vanishing and exploding gradients ---------------------------------------------------------------

def test_rnn_gradient_norms_in_the_linear_regime_are_the_powers_of_W_hh():
    # At h = 0 with zero input, tanh'(0) = 1: dh_T/dh_t = W_hh^(T-t), whose spectral norm is
    # |lambda_max|^(T-t) for a symmetric W_hh -- vanishing below 1, exploding above.
    r = np.random.default_rng(0)
    H, T = 5, 12
    A = r.standard_normal((H, H))
    for rho in (0.8, 1.25):
        W = (A + A.T) / 2
        W *= rho / np.abs(np.linalg.eigvalsh(W)).max()
        norms = nops.rnn_state_gradient_norms(np.zeros((T, 1, 2)), None, np.ones((H, 2)), W)
        assert norms.shape == (T + 1, 1)
        np.testing.assert_allclose(norms[:, 0], rho ** np.arange(T, -1, -1), rtol=1e-10)


@pytest.mark.parametrize("ord_", [2, "fro"])
def test_gradient_norms_equal_the_norms_of_autograd_jacobians(ord_):
    T, N, D, H = 4, 2, 3, 3
    X, h0, c0, w = _case("lstm", T, N, D, H, seed=4, scale=2.0)
    hn, cn = nops.lstm_state_gradient_norms(X, h0, c0, *w, ord=ord_)
    Xr, h0r, _, wr = _case("rnn", T, N, D, H, seed=4, scale=2.0)
    rn = nops.rnn_state_gradient_norms(Xr, h0r, *wr, ord=ord_)
    _, _, cache = nops.lstm_forward(X, h0, c0, *w)
    Yr, _ = nops.rnn(Xr, h0r, *wr)
    Hr = np.concatenate([h0r[None], Yr])
    for s in range(T + 1):
        for n in range(N):
            def lstm_from(h, c, s=s, n=n):
                if s == T:
                    return torch.cat([h, c])
                _, (hT, cT) = tops.lstm(t(X[s:, n:n + 1]), h[None], c[None], *map(t, w))
                return torch.cat([hT[0], cT[0]])

            def rnn_from(h, s=s, n=n):
                return h if s == T else tops.rnn(t(Xr[s:, n:n + 1]), h[None], *map(t, wr))[1][0]

            Jh, Jc = torch.autograd.functional.jacobian(lstm_from, (t(cache.H[s, n]), t(cache.C[s, n])))
            np.testing.assert_allclose(hn[s, n], np.linalg.norm(Jh[:H].numpy(), ord_), rtol=1e-10)
            np.testing.assert_allclose(cn[s, n], np.linalg.norm(Jc[H:].numpy(), ord_), rtol=1e-10)
            J = torch.autograd.functional.jacobian(rnn_from, t(Hr[s, n]))
            np.testing.assert_allclose(rn[s, n], np.linalg.norm(J.numpy(), ord_), rtol=1e-10)


def test_lstm_memory_keeps_the_gradient_alive_when_the_forget_gate_is_open():
    T, H = 50, 4
    X, h0, c0, (W_ih, W_hh, b_ih, b_hh) = _case("lstm", T, 1, 3, H, seed=6)
    b_ih[H:2 * H] = 8.0  # forget gate sigmoid(~8) ~ 0.9997: the memory is kept
    _, cn = nops.lstm_state_gradient_norms(X, h0, c0, W_ih, W_hh, b_ih, b_hh)
    assert cn[0, 0] > 0.9
    b_ih[H:2 * H] = -2.0  # mostly closed: sigmoid(-2) ~ 0.12 per step
    _, cn = nops.lstm_state_gradient_norms(X, h0, c0, W_ih, W_hh, b_ih, b_hh)
    assert cn[0, 0] < 1e-10
    with pytest.raises(ValueError, match="ord must be 2"):
        nops.rnn_state_gradient_norms(X, h0, np.ones((H, 3)), np.eye(H), ord=1)


# --- gradient clipping by global norm -----------------------------------------------------------------

@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch_clip_grad_norm_(norm_type, max_norm):
    r = np.random.default_rng(1)
    grads = [r.standard_normal((3, 4)), None, r.standard_normal(5).astype(np.float32), np.zeros((0, 2))]
    # None is skipped as torch skips parameters without a gradient; the empty array counts 0 in
    # every norm (torch's inf norm refuses empty tensors, so it is left out of torch's list)
    present = [g for g in grads if g is not None and g.size]
    params = [torch.zeros(g.shape, dtype=t(g).dtype, requires_grad=True) for g in present]
    for p, g in zip(params, present):
        p.grad = t(g.copy())
    expected = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
    total = clip_grad_norm(grads, max_norm, norm_type)
    assert isinstance(total, float)
    np.testing.assert_allclose(total, float(expected), rtol=1e-6)
    for g, p in zip(present, params):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-6)
        assert g.dtype == p.grad.numpy().dtype


def test_clipped_gradients_have_norm_max_norm_and_keep_their_direction():
    r = np.random.default_rng(2)
    grads = {"W": r.standard_normal((4, 4)) * 100, "b": r.standard_normal(4) * 100}
    before = np.concatenate([g.ravel() for g in grads.values()])
    total = clip_grad_norm(grads, 5.0)
    after = np.concatenate([g.ravel() for g in grads.values()])
    np.testing.assert_allclose(total, np.linalg.norm(before), rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(after), 5.0, rtol=1e-6)
    np.testing.assert_allclose(after / np.linalg.norm(after), before / np.linalg.norm(before), rtol=1e-12)
    small = {"W": np.full((2, 2), 0.1)}
    clip_grad_norm(small, 5.0)
    np.testing.assert_array_equal(small["W"], 0.1)  # under the bound: untouched


def test_clip_grad_norm_refuses_what_it_cannot_scale_in_place():
    with pytest.raises(TypeError, match="floating np.ndarray"):
        clip_grad_norm([[1.0, 2.0]], 1.0)
    with pytest.raises(TypeError, match="dict of arrays or a list"):
        clip_grad_norm(np.ones(3), 1.0)
    with pytest.raises(ValueError, match="max_norm must be a non-negative number"):
        clip_grad_norm([np.ones(3)], -1)
    with pytest.raises(ValueError, match="total norm .* is nan"):
        clip_grad_norm([np.array([np.nan, 1.0])], 1.0, error_if_nonfinite=True)
    assert clip_grad_norm([], 1.0) == 0.0


def test_clipping_tames_an_exploding_rnn_gradient():
    # An RNN with W_hh = 3 I at h = 0 (tanh'(0) = 1): the gradient reaching h0 from the last
    # output is 3^T times it; clipping bounds the update whatever the sequence length.
    H, T = 4, 30
    G = np.zeros((T, 1, H))
    G[-1] = 1.0
    grads = [g for g in nops.rnn_backward(G, np.zeros((T, 1, 2)), None, np.zeros((H, 2)), 3.0 * np.eye(H))
             if g is not None]
    np.testing.assert_allclose(np.linalg.norm(grads[1]), 3.0 ** T * 2, rtol=1e-12)  # |G[-1]| = 2
    total = clip_grad_norm(grads, 1.0)
    assert total > 3.0 ** T
    np.testing.assert_allclose(np.linalg.norm(np.concatenate([g.ravel() for g in grads])), 1.0, rtol=1e-9)


# --- the registry ------------------------------------------------------------------------------------

def test_recurrent_names_are_in_both_twins_and_the_backward_passes_numpy_only():
    for name in ("rnn", "lstm", "gru", "rnn_cell", "lstm_cell", "gru_cell"):
        assert name in nops.__all__ and name in tops.__all__
    for name in ("rnn_backward", "lstm_backward", "gru_backward", "rnn_forward", "lstm_forward", "gru_forward",
                 "rnn_state_gradient_norms", "lstm_state_gradient_norms"):
        assert name in nops.NUMPY_ONLY and name not in tops.__all__
