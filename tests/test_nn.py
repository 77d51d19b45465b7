"""The NumPy layer toolkit (dlcourse.nn): every layer's and container's backward against central
differences (float64), parameter naming and state, modes, the optimizers, and agreement with the
same PyTorch modules given the same weights (outputs and every parameter gradient)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from twins import conv2d_cases, draw_arrays, pool_cases

from dlcourse import nn as npnn
from dlcourse import numpy_ops as ops
from dlcourse.gradcheck import numerical_gradient, relative_error
from dlcourse.optim import SGD, Adam

F64 = np.float64


def _layer_gradients_vs_central_differences(layer, x, training=True, seed=0):
    """Largest relative error of ``dL/dx`` and of every ``dL/dparam`` against central differences,
    for ``L = sum(layer(x) * G)`` with a fixed random ``G`` (so ``dL/dy = G``)."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal(layer.forward(x, training=training).shape)

    def loss(xv):
        return float((layer.forward(xv, training=training) * G).sum())

    layer.zero_grad()
    layer.forward(x, training=training)
    dx = layer.backward(G)
    errors = {"x": relative_error(dx, numerical_gradient(loss, x))}
    for name, p in layer.params.items():
        analytic = layer.grads[name].copy()

        def loss_p(value, p=p):
            saved = p.copy()
            p[...] = value
            try:
                return loss(x)
            finally:
                p[...] = saved

        errors[name] = relative_error(analytic, numerical_gradient(loss_p, p))
    return errors


def _assert_gradients_pass(layer, x, training=True, bound=1e-7):
    errors = _layer_gradients_vs_central_differences(layer, x, training)
    assert max(errors.values()) < bound, errors
    return errors


def _away_from_zero(shape, seed, margin=0.1):
    """Standard-normal entries with |x| >= margin: no ReLU kink within a finite-difference step."""
    x = np.random.default_rng(seed).standard_normal(shape)
    return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * margin, x)


def _distinct(shape, seed):
    """Entries that are all different and spaced apart: no ties in a max-pooling window."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n) * 0.1).reshape(shape).astype(F64)


# --- every layer against central differences ---------------------------------------------------------

@pytest.mark.parametrize("kwargs", [dict(), dict(stride=2, padding=1), dict(padding=(1, 0), dilation=2),
                                    dict(groups=2, bias=False)], ids=["plain", "stride-pad", "dilation", "groups"])
def test_conv2d_layer_gradients_pass_a_central_difference_check(kwargs):
    layer = npnn.Conv2d(4, 6, 3, rng=0, dtype=F64, **kwargs)
    _assert_gradients_pass(layer, np.random.default_rng(1).standard_normal((2, 4, 6, 5)))
    assert set(layer.params) == ({"weight"} if kwargs.get("bias") is False else {"weight", "bias"})


def test_linear_layer_gradients_pass_a_central_difference_check():
    _assert_gradients_pass(npnn.Linear(5, 3, rng=0, dtype=F64), np.random.default_rng(1).standard_normal((4, 5)))


@pytest.mark.parametrize("layer", [npnn.ReLU(), npnn.Sigmoid(), npnn.Tanh(), npnn.Identity(), npnn.Flatten(),
                                   npnn.GlobalAvgPool2d(), npnn.AvgPool2d(3, 2, 1), npnn.MaxPool2d(2),
                                   npnn.MaxPool2d(3, 1, 1)], ids=repr)
def test_parameter_free_layer_gradients_pass_a_central_difference_check(layer):
    # Distinct, well-separated entries: no max-pool ties and no ReLU kink within the step.
    x = _distinct((2, 3, 5, 6), 0) - 4.05
    _assert_gradients_pass(layer, x)


@pytest.mark.parametrize("shape, cls", [((6, 3), npnn.BatchNorm1d), ((3, 2, 4, 5), npnn.BatchNorm2d)])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm_layer_gradients_pass_a_central_difference_check(shape, cls, training):
    layer = cls(shape[1], dtype=F64)
    rng = np.random.default_rng(2)
    layer.load_state_dict({"weight": rng.standard_normal(shape[1]), "bias": rng.standard_normal(shape[1]),
                           "running_mean": rng.standard_normal(shape[1]), "running_var": rng.uniform(0.5, 2, shape[1]),
                           "num_batches_tracked": np.array(0)})
    _assert_gradients_pass(layer, rng.standard_normal(shape) * 2 + 1, training=training)


def test_dropout_layer_backward_uses_the_forward_mask():
    layer = npnn.Dropout(0.4, rng=0)

    def fresh_forward(x):  # the same mask every time, so the function is deterministic
        layer.rng = np.random.default_rng(7)
        return layer.forward(x, training=True)

    x = np.random.default_rng(1).standard_normal((5, 8))
    G = np.random.default_rng(2).standard_normal((5, 8))
    y = fresh_forward(x)
    dx = layer.backward(G)
    numeric = numerical_gradient(lambda v: float((fresh_forward(v) * G).sum()), x)
    assert relative_error(dx, numeric) < 1e-8
    kept = y != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(y[kept], x[kept] / 0.6)
    np.testing.assert_array_equal(dx[~kept], 0)


# --- containers against central differences ------------------------------------------------------------

def _small_resnet_block(stride, rng, c_in=3, c_out=4):
    main = npnn.Sequential(
        ("conv1", npnn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False, rng=rng, dtype=F64)),
        ("bn1", npnn.BatchNorm2d(c_out, dtype=F64)), ("relu1", npnn.ReLU()),
        ("conv2", npnn.Conv2d(c_out, c_out, 3, padding=1, bias=False, rng=rng, dtype=F64)),
        ("bn2", npnn.BatchNorm2d(c_out, dtype=F64)),
    )
    shortcut = None
    if stride != 1 or c_in != c_out:
        shortcut = npnn.Sequential(("0", npnn.Conv2d(c_in, c_out, 1, stride=stride, bias=False, rng=rng, dtype=F64)),
                                   ("1", npnn.BatchNorm2d(c_out, dtype=F64)))
    return npnn.Residual(main, shortcut, shortcut_name="downsample")


@pytest.mark.parametrize("stride, c_in", [(1, 4), (2, 3)], ids=["identity-shortcut", "projection-shortcut"])
def test_residual_block_gradients_pass_a_central_difference_check(stride, c_in):
    block = _small_resnet_block(stride, np.random.default_rng(0), c_in=c_in)
    # Batch norm makes the loss smooth except at ReLU kinks; with this fixed case no
    # pre-activation lies within a step of 0.
    errors = _assert_gradients_pass(block, np.random.default_rng(3).standard_normal((3, c_in, 5, 5)))
    expected = {"x", "conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias"}
    if stride == 2:
        expected |= {"downsample.0.weight", "downsample.1.weight", "downsample.1.bias"}
    assert set(errors) == expected


def test_concat_and_sequential_gradients_pass_a_central_difference_check():
    rng = np.random.default_rng(0)
    inception = npnn.Concat(
        npnn.Sequential(npnn.Conv2d(3, 2, 1, rng=rng, dtype=F64), npnn.Tanh()),
        npnn.Sequential(npnn.Conv2d(3, 2, 1, rng=rng, dtype=F64), npnn.Tanh(), npnn.Conv2d(2, 3, 3, padding=1, rng=rng, dtype=F64)),
        npnn.Sequential(npnn.AvgPool2d(3, 1, 1), npnn.Conv2d(3, 1, 1, rng=rng, dtype=F64)),
        names=["b1", "b2", "b3"],
    )
    net = npnn.Sequential(inception, npnn.Sigmoid(), npnn.Flatten(), npnn.Linear(6 * 16, 4, rng=rng, dtype=F64))
    errors = _assert_gradients_pass(net, np.random.default_rng(1).standard_normal((2, 3, 4, 4)))
    assert "0.b2.2.weight" in errors and "3.bias" in errors
    assert net.forward(np.zeros((2, 3, 4, 4))).shape == (2, 4)
    assert inception.forward(np.zeros((2, 3, 4, 4))).shape == (2, 6, 4, 4)


# --- names, state, modes -----------------------------------------------------------------------------

def test_parameter_names_follow_the_container_names_like_a_torch_state_dict():
    block = _small_resnet_block(2, np.random.default_rng(0))
    net = npnn.Sequential(("stem", npnn.Conv2d(1, 3, 3, rng=0)), ("block", block), ("gap", npnn.GlobalAvgPool2d()))
    assert list(net.params) == ["stem.weight", "stem.bias", "block.conv1.weight", "block.bn1.weight", "block.bn1.bias",
                                "block.conv2.weight", "block.bn2.weight", "block.bn2.bias",
                                "block.downsample.0.weight", "block.downsample.1.weight", "block.downsample.1.bias"]
    assert "block.bn1.running_var" in net.buffers and "block.downsample.1.num_batches_tracked" in net.buffers
    assert set(net.state_dict()) == set(net.params) | set(net.buffers)
    assert dict(net.named_parameters()).keys() == net.params.keys()
    assert net.num_parameters() == sum(p.size for p in net.params.values())
    assert [k for k, _ in npnn.Sequential(npnn.ReLU(), npnn.Linear(2, 2)).named_parameters()] == ["1.weight", "1.bias"]


def test_params_are_the_layers_own_arrays_so_an_optimizer_updates_the_network():
    layer = npnn.Linear(3, 2, rng=0, dtype=F64)
    x = np.ones((1, 3))
    before = layer.forward(x).copy()
    params = layer.params
    params["bias"] += 1.0  # in place, as the optimizers do
    np.testing.assert_allclose(layer.forward(x), before + 1.0)


def test_gradients_accumulate_until_zero_grad():
    layer = npnn.Linear(3, 2, rng=0, dtype=F64)
    x, g = np.ones((4, 3)), np.ones((4, 2))
    layer.forward(x)
    layer.backward(g)
    once = layer.grads["weight"].copy()
    layer.forward(x)
    layer.backward(g)
    np.testing.assert_allclose(layer.grads["weight"], 2 * once)
    layer.zero_grad()
    assert all(not g.any() for g in layer.grads.values())


def test_bad_names_and_reused_layers_are_refused():
    relu = npnn.ReLU()
    with pytest.raises(ValueError, match="same layer instance"):
        npnn.Sequential(relu, relu)
    with pytest.raises(ValueError, match="distinct"):
        npnn.Sequential(("a", npnn.ReLU()), ("a", npnn.ReLU()))
    with pytest.raises(TypeError, match="must be a dlcourse.nn.Layer"):
        npnn.Sequential(torch.nn.ReLU())
    # Two inlined children with a parameter of the same name collide.
    clash = npnn.Concat(npnn.Linear(2, 2, rng=0), npnn.Linear(2, 2, rng=1), names=["", ""])
    with pytest.raises(ValueError, match="two entries are named 'weight'"):
        clash.params


def test_backward_without_a_forward_and_inside_no_grad_is_a_clear_error():
    layer = npnn.Conv2d(1, 1, 3, rng=0)
    with pytest.raises(RuntimeError, match="call forward first"):
        layer.backward(np.zeros((1, 1, 3, 3)))
    with npnn.no_grad():
        layer.forward(np.zeros((1, 1, 5, 5), np.float32))
    with pytest.raises(RuntimeError, match="outside no_grad"):
        layer.backward(np.zeros((1, 1, 3, 3)))
    layer.forward(np.zeros((1, 1, 5, 5), np.float32))
    layer.backward(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(RuntimeError, match="once per forward"):  # the inputs were released
        layer.backward(np.zeros((1, 1, 3, 3)))


def test_an_error_inside_a_sequential_names_the_layer_and_the_shape():
    net = npnn.Sequential(("conv", npnn.Conv2d(1, 2, 3, rng=0)), ("fc", npnn.Linear(10, 3, rng=0)))
    with pytest.raises(ValueError, match=r"in layer 'fc' \(Linear\), input shape \(2, 2, 3, 3\)"):
        net.forward(np.zeros((2, 1, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm2d expects 4-D input .* got shape \(2, 3\)"):
        npnn.BatchNorm2d(3).forward(np.zeros((2, 3)))


def test_load_state_dict_checks_keys_and_shapes_and_copies_in_place():
    net = npnn.Sequential(npnn.Linear(2, 3, rng=0), npnn.BatchNorm1d(3))
    weight = net.params["0.weight"]
    state = {k: np.full(v.shape, 0.5) for k, v in net.state_dict().items()}
    net.load_state_dict(state)
    assert net.params["0.weight"] is weight and (weight == 0.5).all() and weight.dtype == np.float32
    with pytest.raises(KeyError, match=r"missing \['1.running_var'\]"):
        net.load_state_dict({k: v for k, v in state.items() if k != "1.running_var"})
    with pytest.raises(ValueError, match=r"0.bias: shape \(4,\) does not match the model's \(3,\)"):
        net.load_state_dict({**state, "0.bias": np.zeros(4)})


def test_train_and_eval_switch_every_sub_layer_and_batch_norm_uses_running_stats_in_eval():
    bn = npnn.BatchNorm2d(2, momentum=0.5, dtype=F64)
    net = npnn.Sequential(npnn.Dropout(0.5, rng=0), npnn.Residual(npnn.Sequential(bn)))
    x = np.random.default_rng(0).standard_normal((4, 2, 3, 3)) + 3
    assert all(layer.training for _, layer in net.named_layers())
    net.forward(x)
    assert int(bn.buffers["num_batches_tracked"]) == 1
    assert np.all(bn.buffers["running_mean"] > 0.5)  # moved half-way toward the batch mean (about 3)
    net.eval()
    assert not any(layer.training for _, layer in net.named_layers())
    stats = {k: v.copy() for k, v in bn.buffers.items()}
    y1, y2 = net.forward(x), net.forward(x)
    np.testing.assert_array_equal(y1, y2)  # no dropout, running statistics
    assert all(np.array_equal(stats[k], v) for k, v in bn.buffers.items())  # untouched in eval
    expected = F.relu(torch.from_numpy(x) + F.batch_norm(torch.from_numpy(x), torch.from_numpy(stats["running_mean"]),
                                                         torch.from_numpy(stats["running_var"]), training=False))
    np.testing.assert_allclose(y1, expected.numpy(), rtol=1e-12)
    assert net.forward(x, training=True).shape == x.shape and int(bn.buffers["num_batches_tracked"]) == 2


def test_dropout_layer_is_seeded_drops_about_p_and_is_the_identity_in_eval():
    x = np.ones((200, 50))
    a, b = npnn.Dropout(0.3, rng=5), npnn.Dropout(0.3, rng=5)
    ya, yb = a.forward(x), b.forward(x)
    np.testing.assert_array_equal(ya, yb)
    assert abs((ya == 0).mean() - 0.3) < 0.02 and abs(ya.mean() - 1) < 0.05
    assert np.array_equal(a.forward(x, training=False), x)
    assert np.array_equal(a.backward(x), x)  # eval: the gradient passes unchanged


# --- optimizers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_matches_torch_optim_adam(weight_decay):
    rng = np.random.default_rng(0)
    ours = {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in ours.items()}
    opt = Adam(ours, lr=0.05, betas=(0.8, 0.99), weight_decay=weight_decay)
    topt = torch.optim.Adam(theirs.values(), lr=0.05, betas=(0.8, 0.99), weight_decay=weight_decay)
    for step in range(25):
        grads = {k: np.sin(3 * v + step) for k, v in ours.items()}  # any gradient field will do
        opt.step(grads)
        topt.zero_grad()
        for k, p in theirs.items():
            p.grad = torch.sin(3 * p.detach() + step)
        topt.step()
    for k in ours:
        np.testing.assert_allclose(ours[k], theirs[k].detach().numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="betas"):
        Adam(ours, betas=(0.9, 1.0))


# --- single layers: the same module in PyTorch -------------------------------------------------------------

TORCH_LAYERS = {
    "conv": lambda: torch.nn.Conv2d(3, 4, 3, stride=2, padding=1),
    "conv-groups": lambda: torch.nn.Conv2d(4, 6, (3, 2), padding=(1, 0), dilation=(1, 2), groups=2, bias=False),
    "linear": lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 36, 5)),
    "bn2d": lambda: torch.nn.BatchNorm2d(4, momentum=0.3),
    "bn1d": lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.BatchNorm1d(144, affine=False)),
    "pools": lambda: torch.nn.Sequential(torch.nn.MaxPool2d(3, 2, 1), torch.nn.AvgPool2d(2), torch.nn.AdaptiveAvgPool2d(1)),
    "acts": lambda: torch.nn.Sequential(torch.nn.Sigmoid(), torch.nn.Tanh(), torch.nn.ReLU(), torch.nn.Identity()),
}


@pytest.mark.parametrize("name", TORCH_LAYERS)
def test_from_torch_layers_agree_with_torch_on_outputs_gradients_and_running_stats(name):
    torch.manual_seed(0)
    module = TORCH_LAYERS[name]().double()
    twin = npnn.from_torch(module)
    x = np.random.default_rng(1).standard_normal((3, 4, 6, 6)) if name != "conv" else np.random.default_rng(1).standard_normal((3, 3, 6, 6))
    xt = torch.tensor(x, requires_grad=True)
    yt = module(xt)
    G = np.random.default_rng(2).standard_normal(tuple(yt.shape))
    (yt * torch.from_numpy(G)).sum().backward()
    y = twin.forward(x)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    dx = twin.backward(G)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for k, p in module.named_parameters():
        assert relative_error(twin.grads[k], p.grad.numpy()) < 1e-10, k
    for k, v in module.state_dict().items():  # running statistics updated alike
        np.testing.assert_allclose(twin.buffers.get(k, twin.params.get(k)), v.numpy(), rtol=1e-12, err_msg=k)


@settings(max_examples=20)
@given(case=conv2d_cases(max_size=7, max_batch=2))
def test_conv2d_layer_equals_torch_conv2d_module_forward_and_backward_property(case):
    (x_shape, w_shape, b_shape), kw = case["shapes"], case["kwargs"]
    X, W, b = draw_arrays(case)
    module = torch.nn.Conv2d(x_shape[1], w_shape[0], w_shape[2:], bias=b_shape is not None, **kw).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(W))
        if b is not None:
            module.bias.copy_(torch.from_numpy(b))
    layer = npnn.from_torch(module)
    xt = torch.tensor(X, requires_grad=True)
    yt = module(xt)
    G = np.random.default_rng(case["seed"] % 1000).standard_normal(tuple(yt.shape))
    yt.backward(torch.from_numpy(G))
    np.testing.assert_allclose(layer.forward(X), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer.backward(G), xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    for name, p in module.named_parameters():
        np.testing.assert_allclose(layer.grads[name], p.grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=name)


@settings(max_examples=20)
@given(case=pool_cases())
def test_pool_layers_equal_torch_pool_modules_forward_and_backward_property(case):
    shape, kwargs, seed = case
    X = np.random.default_rng(seed).standard_normal(shape)
    for module in (torch.nn.MaxPool2d(**kwargs), torch.nn.AvgPool2d(**kwargs)):
        layer = npnn.from_torch(module)
        xt = torch.tensor(X, requires_grad=True)
        yt = module(xt)
        G = np.ones(tuple(yt.shape)) + np.arange(yt.numel()).reshape(tuple(yt.shape))
        yt.backward(torch.from_numpy(G))
        np.testing.assert_allclose(layer.forward(X), yt.detach().numpy(), rtol=1e-12, err_msg=repr(module))
        np.testing.assert_allclose(layer.backward(G), xt.grad.numpy(), rtol=1e-12, atol=1e-12, err_msg=repr(module))


def test_from_torch_copies_weights_dtype_and_mode_and_refuses_unknown_modules():
    module = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Dropout(0.2)).eval()
    twin = npnn.from_torch(module)
    assert twin.params["0.weight"].dtype == np.float32 and not twin[1].training and twin[2].p == 0.2
    np.testing.assert_array_equal(twin.params["0.weight"], module[0].weight.detach().numpy())
    assert set(twin.state_dict()) == set(module.state_dict())
    with pytest.raises(TypeError, match="register a converter"):
        npnn.from_torch(torch.nn.LSTM(2, 2))
    with pytest.raises(TypeError, match="ceil_mode"):
        npnn.from_torch(torch.nn.MaxPool2d(2, ceil_mode=True))


# --- training -----------------------------------------------------------------------------------------------

def test_fit_trains_a_batch_norm_residual_network_and_is_seeded():
    """A separable toy problem (class = the quadrant holding the brightest pixel), 2 epochs."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 1, 8, 8)).astype(np.float32) * 0.3
    y = rng.integers(0, 4, 256)
    rows, cols = 1 + 4 * (y // 2) + rng.integers(0, 2, 256), 1 + 4 * (y % 2) + rng.integers(0, 2, 256)
    X[np.arange(256), 0, rows, cols] += 3

    def run(optimizer, lr):
        r = np.random.default_rng(1)
        net = npnn.Sequential(
            npnn.Conv2d(1, 8, 3, padding=1, bias=False, rng=r), npnn.BatchNorm2d(8), npnn.ReLU(),
            npnn.Residual(npnn.Sequential(npnn.Conv2d(8, 8, 3, padding=1, bias=False, rng=r), npnn.BatchNorm2d(8))),
            npnn.MaxPool2d(4), npnn.Flatten(), npnn.Dropout(0.1, rng=2), npnn.Linear(32, 4, rng=r),
        )
        hist = npnn.fit(net, X[:192], y[:192], X[192:], y[192:], epochs=3, batch_size=32, lr=lr,
                        optimizer=optimizer, lr_schedule="cosine", progress=False)
        return net, hist

    histories = {}
    for optimizer, lr in (("sgd", 0.05), ("adam", 0.01)):
        histories[optimizer] = net, hist = run(optimizer, lr)
        assert set(hist) == {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "time"}
        assert hist["val_acc"][-1] > 0.9, (optimizer, hist)
        assert hist["train_loss"][-1] < 0.5 * hist["train_loss"][0], (optimizer, hist)
        assert net.training  # fit leaves the model in training mode
    assert run("sgd", 0.05)[1]["val_loss"] == histories["sgd"][1]["val_loss"]  # same seeds, same run
    with pytest.raises(ValueError, match="optimizer"):
        npnn.fit(net, X, y, optimizer="rmsprop", progress=False)


def test_each_layer_keeps_its_own_mode_unless_forward_imposes_one():
    drop, bn = npnn.Dropout(0.5, rng=0), npnn.BatchNorm1d(3, dtype=F64)
    net = npnn.Sequential(bn, drop)
    drop.eval()  # e.g. dropout off while batch norm still learns its statistics, as torch allows
    x = np.random.default_rng(0).standard_normal((8, 3)) + 5
    y = net.forward(x)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)  # batch statistics: bn is training
    assert int(bn.buffers["num_batches_tracked"]) == 1
    net.forward(x, training=False)  # imposed on the whole tree: running statistics, no update
    assert int(bn.buffers["num_batches_tracked"]) == 1
    assert (net.forward(x, training=True) == 0).any()  # imposed: dropout on


# --- whole architectures: the NumPy twin of each PyTorch model agrees with it ----------------------------------

def _assert_numpy_twin_agrees(tmodel, x, y, bound=1e-8):
    """Build the NumPy twin of ``tmodel`` (float64, training mode, dropout off since its random
    stream cannot match torch's) from its structure and state_dict; compare the logits, the loss,
    every parameter gradient, the running statistics after the step, and the evaluation-mode
    logits."""
    tmodel = tmodel.double().train()
    for m in tmodel.modules():
        if isinstance(m, torch.nn.Dropout):
            m.eval()
    twin = npnn.from_torch(tmodel)
    assert set(twin.state_dict()) == set(tmodel.state_dict())
    logits_t = tmodel(torch.from_numpy(x))
    loss_t = F.cross_entropy(logits_t, torch.from_numpy(y))
    loss_t.backward()
    logits = twin.forward(x)
    loss, dlogits = ops.softmax_cross_entropy(logits, y)
    twin.zero_grad()
    twin.backward(dlogits)
    np.testing.assert_allclose(logits, logits_t.detach().numpy(), rtol=1e-9, atol=1e-11)
    assert abs(loss - loss_t.item()) < 1e-10
    named = dict(tmodel.named_parameters())
    assert set(twin.grads) == set(named)
    for name, p in named.items():
        # A convolution's bias just before a batch norm has a zero gradient (the norm removes any
        # shift): there both sides are rounding noise, ~1e-16, and only the absolute error means anything.
        ours, theirs = twin.grads[name], p.grad.numpy()
        assert relative_error(ours, theirs) < bound or np.abs(ours - theirs).max() < 1e-13, name
    for name, value in tmodel.state_dict().items():
        if "running" in name or "num_batches" in name:
            np.testing.assert_allclose(twin.buffers[name], value.numpy(), rtol=1e-12, atol=1e-14, err_msg=name)
    tmodel.eval()
    twin.eval()
    with torch.no_grad():
        expected = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(twin.forward(x), expected, rtol=1e-9, atol=1e-11)
    return twin


def _digits(n=3, channels=1, size=28, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, channels, size, size)), rng.integers(0, 10, n)


def _architectures():
    from dlcourse import models

    return {
        "lenet-modern": lambda: models.LeNet("modern"),
        "lenet-1998": lambda: models.LeNet("1998"),
        "bn-lenet": lambda: models.BNLeNet(),
        "alexnet-small": lambda: models.AlexNet.small(),
        "vgg-small": lambda: models.VGG.small(),
        "vgg-block": lambda: torch.nn.Sequential(models.vgg_block(2, 1, 4), torch.nn.Flatten(), torch.nn.Linear(4 * 14 * 14, 10)),
        "nin-small": lambda: models.NiN.small(),
        "nin-block": lambda: torch.nn.Sequential(models.nin_block(1, 6, 5, stride=2, padding=1), torch.nn.AdaptiveAvgPool2d(1),
                                                 torch.nn.Flatten(), torch.nn.Linear(6, 10)),
        "inception-block": lambda: torch.nn.Sequential(models.Inception(1, 2, (2, 3), (1, 2), 2), torch.nn.AdaptiveAvgPool2d(1),
                                                       torch.nn.Flatten(), torch.nn.Linear(9, 10)),
        "googlenet-small": lambda: models.GoogLeNet.small(),
        "nin-bn-small": lambda: models.NiN.small(batch_norm=True),
        "googlenet-bn-small": lambda: models.GoogLeNet.small(batch_norm=True),
        "residual-block": lambda: torch.nn.Sequential(models.Residual(1, 4, stride=2), models.Residual(4),
                                                      torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 10)),
        "resnet-small": lambda: models.ResNet.small(),
    }


ARCHITECTURES = ["lenet-modern", "lenet-1998", "bn-lenet", "alexnet-small", "vgg-small", "vgg-block", "nin-small",
                 "nin-block", "inception-block", "googlenet-small", "nin-bn-small", "googlenet-bn-small", "residual-block",
                 "resnet-small"]


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_numpy_twin_of_each_course_model_agrees_with_pytorch_on_outputs_and_every_gradient(arch):
    torch.manual_seed(0)
    tmodel = _architectures()[arch]()
    x, y = _digits()
    _assert_numpy_twin_agrees(tmodel, x, y)


def test_toolkit_resnet_has_the_pytorch_resnets_names_and_computes_the_same_function():
    from dlcourse import models

    torch.manual_seed(0)
    tmodel = models.ResNet.small(channels=(4, 8, 16)).double()
    ours = npnn.resnet(channels=(4, 8, 16), dtype=F64, rng=0)
    assert list(ours.state_dict()) == list(tmodel.state_dict())
    ours.load_state_dict(tmodel.state_dict())
    x, _ = _digits()
    with torch.no_grad():
        expected = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours.forward(x), expected, rtol=1e-9, atol=1e-11)


def test_numpy_lenet_is_the_toolkit_twin_of_the_pytorch_lenet():
    from dlcourse import models
    from dlcourse.numpy_lenet import NumpyLeNet

    torch.manual_seed(0)
    tmodel = models.LeNet("1998").double()
    twin = npnn.from_torch(tmodel)
    ours = NumpyLeNet("1998", dtype=F64)
    ours.load_state_dict(tmodel.state_dict())
    def structure(net):
        return [(name, type(layer).__name__) for name, layer in net.named_layers()]

    assert structure(twin) == structure(ours.net)  # the same layers under the same names
    x, _ = _digits()
    np.testing.assert_array_equal(ours.forward(x), twin.forward(x))


def test_the_toolkit_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, dlcourse.nn; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, "dlcourse.nn imported torch"


def test_numpy_lenet_backward_refuses_a_stale_cache():
    from dlcourse.numpy_lenet import NumpyLeNet

    model = NumpyLeNet(dtype=F64)
    X = np.random.default_rng(0).standard_normal((2, 1, 28, 28))
    _, old = model.forward(X, return_cache=True)
    logits, new = model.forward(X[:1], return_cache=True)
    with pytest.raises(ValueError, match="most recent forward"):
        model.backward(np.zeros((2, 10)), old)
    grads = model.backward(np.ones_like(logits), new)
    assert set(grads) == set(model.params) and grads["fc3.bias"].tolist() == [1.0] * 10
