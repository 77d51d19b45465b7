"""Chapters 17-18: leaky ReLU and GELU (both twins against torch.nn.functional, the NumPy
backward passes against central differences in float64 and against autograd) and the weight
initializers (fans against torch.nn.init's, empirical variances against the formulas)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dlcourse.numpy_ops as nops
import dlcourse.torch_ops as tops
from dlcourse.gradcheck import gradcheck
from twins import TWIN_NAMES, Twin, finite, t, twin  # noqa: F401  (twin is a fixture)

rng = np.random.default_rng(0)
APPROX = ("none", "tanh")


# --- forward agreement with torch.nn.functional ---------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5), elements=finite),
       st.sampled_from([0.0, 0.01, 0.2, 1.0, -0.5]))
def test_leaky_relu_matches_F_leaky_relu_on_any_shape(X, slope):
    for name in TWIN_NAMES:
        np.testing.assert_array_equal(Twin(name)("leaky_relu", X, slope), F.leaky_relu(t(X), slope).numpy())


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5), elements=finite),
       st.sampled_from(APPROX))
def test_gelu_matches_F_gelu_on_any_shape(X, approximate):
    for name in TWIN_NAMES:
        np.testing.assert_allclose(Twin(name)("gelu", X, approximate=approximate),
                                   F.gelu(t(X), approximate=approximate).numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("fname, kwargs", [("leaky_relu", {}), ("gelu", {}), ("gelu", {"approximate": "tanh"})])
def test_activations_keep_float32_and_turn_integers_into_float64(twin, fname, kwargs):
    X32 = rng.standard_normal((3, 4)).astype(np.float32)
    assert twin(fname, X32, **kwargs).dtype == np.float32
    Xi = np.array([-3, 0, 2])
    out = twin(fname, Xi, **kwargs)
    assert out.dtype == np.float64
    ref = (F.leaky_relu if fname == "leaky_relu" else lambda x: F.gelu(x, **kwargs))(t(Xi.astype(np.float64)))
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-12)


def test_gelu_of_extreme_inputs_is_finite_and_tends_to_relu(twin):
    X = np.array([-1e4, -40.0, 0.0, 40.0, 1e4])
    for approximate in APPROX:
        Y = twin("gelu", X, approximate=approximate)
        assert np.all(np.isfinite(Y))
        np.testing.assert_allclose(Y, [0.0, 0.0, 0.0, 40.0, 1e4], atol=1e-300)


# --- backward passes ------------------------------------------------------------------------------

@pytest.mark.parametrize("approximate", APPROX)
def test_gelu_backward_passes_gradcheck(approximate):
    X, G = rng.standard_normal((3, 4, 5)) * 3, rng.standard_normal((3, 4, 5))
    dX = nops.gelu_backward(G, X, approximate=approximate)
    err = gradcheck(lambda X: (nops.gelu(X, approximate=approximate) * G).sum(), [X], [dX])
    assert err < 1e-7, err


@pytest.mark.parametrize("slope", [0.01, 0.2, -0.3])
def test_leaky_relu_backward_passes_gradcheck_away_from_the_kink(slope):
    # Leaky ReLU is linear on each side of 0: keep every entry at least 1e-3 from the kink (eps is
    # 1e-6) and the central difference is as exact as for a smooth function.
    X = rng.standard_normal((4, 6))
    X = np.where(np.abs(X) < 1e-3, 1e-3 * np.sign(X + 1e-12), X)
    G = rng.standard_normal(X.shape)
    err = gradcheck(lambda X: (nops.leaky_relu(X, slope) * G).sum(), [X], [nops.leaky_relu_backward(G, X, slope)])
    assert err < 1e-7, err


def test_backward_functions_agree_with_autograd_including_the_kink():
    X = np.concatenate([rng.standard_normal(10), [0.0, -0.0]])  # 0 itself: the slope, as torch
    G = rng.standard_normal(X.shape)
    for name, fn, kw in (("leaky_relu", F.leaky_relu, {"negative_slope": 0.1}),
                         ("gelu", F.gelu, {"approximate": "none"}), ("gelu", F.gelu, {"approximate": "tanh"})):
        Xt = t(X).requires_grad_()
        fn(Xt, **kw).backward(t(G))
        np.testing.assert_allclose(getattr(nops, f"{name}_backward")(G, X, **kw), Xt.grad.numpy(),
                                   rtol=1e-12, atol=1e-15, err_msg=f"{name} {kw}")
        # the torch twin's autograd gradient too
        Xt = t(X).requires_grad_()
        getattr(tops, name)(Xt, **kw).backward(t(G))
        np.testing.assert_allclose(getattr(nops, f"{name}_backward")(G, X, **kw), Xt.grad.numpy(),
                                   rtol=1e-12, atol=1e-15, err_msg=f"torch_ops.{name} {kw}")


def test_leaky_relu_with_slope_zero_is_relu_forward_and_backward():
    X, G = np.array([-2.0, 0.0, 3.0]), np.array([1.0, 1.0, 1.0])
    np.testing.assert_array_equal(nops.leaky_relu(X, 0.0), nops.relu(X))
    np.testing.assert_array_equal(nops.leaky_relu_backward(G, X, 0.0), nops.relu_backward(G, X))


# --- errors name the problem ---------------------------------------------------------------------

def test_bad_arguments_raise_naming_them(twin):
    with pytest.raises(ValueError, match="approximate must be one of"):
        twin("gelu", np.ones(3), approximate="erf")
    with pytest.raises(TypeError, match="negative_slope must be a real number"):
        twin("leaky_relu", np.ones(3), np.ones(3))
    with pytest.raises(TypeError, match="X must be"):
        twin("gelu", "abc") if twin.name == "numpy_ops" else twin("gelu", ["a"])


def test_backward_with_wrong_dY_shape_raises():
    with pytest.raises(ValueError, match=r"dY shape \(2,\) must equal the forward input's shape \(3,\)"):
        nops.gelu_backward(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="dY shape"):
        nops.leaky_relu_backward(np.ones((2, 2)), np.ones(4))


# --- initialization -------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=2, max_size=5))
def test_fans_match_torch_nn_init(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    for ops in (nops, tops):
        assert ops.fan_in_and_fan_out(tuple(shape)) == expected


def test_fans_of_a_bias_raise_and_of_real_layers_are_as_the_chapter_says():
    for ops in (nops, tops):
        with pytest.raises(ValueError, match="at least 2 dimensions"):
            ops.fan_in_and_fan_out((10,))
    assert nops.fan_in_and_fan_out(torch.nn.Linear(784, 256).weight.shape) == (784, 256)
    assert nops.fan_in_and_fan_out(torch.nn.Conv2d(16, 32, 3).weight.shape) == (16 * 9, 32 * 9)


@pytest.mark.parametrize("nonlinearity, param", [("linear", None), ("sigmoid", None), ("tanh", None),
                                                 ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                                                 ("selu", None), ("conv2d", None)])
def test_gains_match_torch_nn_init(nonlinearity, param):
    assert math.isclose(nops.calculate_gain(nonlinearity, param), torch.nn.init.calculate_gain(nonlinearity, param))
    assert tops.calculate_gain is nops.calculate_gain


def _torch_std(fill, shape, **kwargs):
    """The standard deviation torch.nn.init's in-place initializer aims for, by its own variance
    over many draws (so the test pins our formula to torch's, not to our reading of the paper)."""
    w = torch.empty(shape, dtype=torch.float64)
    fill(w, **kwargs)
    return w.std().item()


INITS = [
    ("xavier_uniform", {}, torch.nn.init.xavier_uniform_, {}),
    ("xavier_uniform", {"gain": 5 / 3}, torch.nn.init.xavier_uniform_, {"gain": 5 / 3}),
    ("xavier_normal", {}, torch.nn.init.xavier_normal_, {}),
    ("kaiming_normal", {}, torch.nn.init.kaiming_normal_, {}),
    ("kaiming_normal", {"mode": "fan_out", "nonlinearity": "relu"}, torch.nn.init.kaiming_normal_,
     {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_uniform", {"a": math.sqrt(5)}, torch.nn.init.kaiming_uniform_, {"a": math.sqrt(5)}),
    ("normal_init", {"std": 0.05}, torch.nn.init.normal_, {"std": 0.05}),
]


@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 3, 3)])
@pytest.mark.parametrize("name, kwargs, torch_fill, torch_kwargs", INITS)
def test_initializers_have_torch_nn_inits_variance(twin, shape, name, kwargs, torch_fill, torch_kwargs):
    W = twin(name, shape, rng=0, **kwargs)
    assert W.shape == shape and W.dtype == np.float32
    ref = _torch_std(torch_fill, shape, **torch_kwargs)
    # 60,000 or 18,432 entries: the sample std of each is within ~1 % of the true one (4 sigma)
    assert abs(W.std() / ref - 1) < 0.03, (W.std(), ref)
    assert abs(W.mean()) < 0.05 * ref


def test_uniform_initializers_stay_inside_their_bound(twin):
    fan_in, fan_out = 200, 300
    W = twin("xavier_uniform", (fan_out, fan_in), rng=1)
    assert np.abs(W).max() <= math.sqrt(6 / (fan_in + fan_out)) + 1e-7
    W = twin("kaiming_uniform", (fan_out, fan_in), rng=1)
    assert np.abs(W).max() <= math.sqrt(3 * 2 / fan_in) + 1e-7


def test_initializers_are_reproducible_from_a_seed_and_accept_a_dtype(twin):
    a = twin("kaiming_normal", (5, 4), rng=3)
    np.testing.assert_array_equal(a, twin("kaiming_normal", (5, 4), rng=3))
    assert not np.array_equal(a, twin("kaiming_normal", (5, 4), rng=4))
    dtype = np.float64 if twin.name == "numpy_ops" else torch.float64
    assert twin("xavier_normal", (5, 4), rng=3, dtype=dtype).dtype == np.float64


def test_initializer_errors_name_the_problem(twin):
    with pytest.raises(ValueError, match="mode must be one of"):
        twin("kaiming_normal", (3, 4), mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        twin("kaiming_normal", (3, 4), nonlinearity="swish")
    with pytest.raises(ValueError, match=r"its fan_in is 0"):
        twin("kaiming_normal", (3, 0))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        twin("xavier_uniform", (3,))


# --- dlcourse.models.deep: the networks chapters 17-18 measure -----------------------------------

def test_initialize_draws_each_scheme_with_its_variance_and_zero_biases():
    from dlcourse.models import DeepCNN, DeepMLP, initialize
    from dlcourse.models.deep import weight_layers

    for net in (DeepMLP(3, 200, "tanh"), DeepCNN(3, 24, "relu")):
        for scheme, std_of in (("naive", lambda fi, fo: 0.05), ("xavier", lambda fi, fo: math.sqrt(2 / (fi + fo))),
                               ("he", lambda fi, fo: math.sqrt(2 / fi))):
            initialize(net, scheme, std=0.05, rng=0)
            for m in weight_layers(net):
                fan_in, fan_out = nops.fan_in_and_fan_out(tuple(m.weight.shape))
                assert abs(m.weight.std().item() / std_of(fan_in, fan_out) - 1) < 0.2, (scheme, m)
                assert torch.all(m.bias == 0)
    with pytest.raises(ValueError, match="scheme must be one of"):
        initialize(DeepMLP(2, 4), "orthogonal")


def test_gradient_norms_and_activation_stds_have_one_entry_per_layer():
    from dlcourse.models import DeepCNN, DeepMLP, activation_stds, gradient_norms, initialize

    X, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    for net, layers in ((DeepMLP(4, 16, batch_norm=True, residual=True), 4), (DeepCNN(3, 4, "gelu", residual=True), 3)):
        initialize(net, "he", rng=1)
        g = gradient_norms(net, X, y)
        assert g.shape == (layers + 1,) and np.all(np.isfinite(g)) and np.all(g > 0)
        assert activation_stds(net, X).shape == (layers,)
        assert net(X).shape == (8, 10)
    with pytest.raises(ValueError, match="activation must be one of"):
        DeepMLP(2, 4, "swish")


def test_sigmoid_mlp_gradient_vanishes_towards_the_input_and_relu_he_does_not():
    # chapter 17's claim, pinned: the first layer of a deep sigmoid MLP gets far less gradient
    # than the last hidden layer; a ReLU MLP under He keeps them within a small factor.
    from dlcourse.models import DeepMLP, gradient_norms, initialize

    torch.manual_seed(0)
    X, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    g_sig = gradient_norms(initialize(DeepMLP(10, 64, "sigmoid"), "xavier", rng=0), X, y)
    g_relu = gradient_norms(initialize(DeepMLP(10, 64, "relu"), "he", rng=0), X, y)
    assert g_sig[-2] / g_sig[0] > 1e3
    assert 0.1 < g_relu[-2] / g_relu[0] < 10
