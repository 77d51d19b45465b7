"""The PyTorch twins on CUDA, and dlcourse.device().

Tests marked ``gpu`` are skipped (see tests/conftest.py) where ``torch.cuda.is_available()`` is
False, as on CI; run them with ``make test-gpu`` on a machine with a GPU.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import dlcourse
from dlcourse import torch_ops


# --- device(): runs everywhere ----------------------------------------------------------------

def test_device_returns_a_torch_device():
    assert isinstance(dlcourse.device(), torch.device)


def _mps_available():
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


@pytest.mark.skipif(torch.cuda.is_available() or _mps_available(), reason="an accelerator is present")
def test_device_is_cpu_without_cuda_or_mps():
    assert dlcourse.device() == torch.device("cpu")


def test_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    mps = getattr(torch.backends, "mps", None)
    if mps is None:
        pytest.skip("this torch build has no torch.backends.mps")
    for cuda, apple, expected in [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")]:
        monkeypatch.setattr(torch.cuda, "is_available", lambda cuda=cuda: cuda)
        monkeypatch.setattr(mps, "is_available", lambda apple=apple: apple)
        assert dlcourse.device() == torch.device(expected)


# --- the torch twins on CUDA -------------------------------------------------------------------

CUDA = torch.device("cuda")

CONV_CASES = [
    dict(shapes=[(2, 3, 9, 8), (4, 3, 3, 3), (4,)], kwargs={}),
    dict(shapes=[(2, 4, 9, 8), (6, 2, 3, 2), (6,)], kwargs=dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)),
    dict(shapes=[(1, 6, 7, 7), (6, 1, 3, 3)], kwargs=dict(stride=2, padding=(1, 0), groups=6)),
    dict(shapes=[(3, 2, 5, 6), (5, 2, 1, 1), (5,)], kwargs=dict(padding=2)),
]


@pytest.fixture
def no_tf32(monkeypatch):
    """Full float32 precision for the reference: cuDNN may use TF32 (10-bit mantissa) by default."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CONV_CASES)
def test_torch_conv2d_on_cuda_matches_F_conv2d_and_stays_on_cuda(case, dtype, no_tf32):
    gen = torch.Generator().manual_seed(0)
    X, W, *b = [torch.randn(s, generator=gen, dtype=dtype).to(CUDA) for s in case["shapes"]]
    b = b[0] if b else None
    Y = torch_ops.conv2d(X, W, b, **case["kwargs"])
    assert Y.device.type == "cuda" and Y.dtype == dtype
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(Y, F.conv2d(X, W, b, **case["kwargs"]), **tol)


@pytest.mark.gpu
def test_torch_channel_functions_on_cuda_match_F_conv2d():
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(3, 6, 5, generator=gen, dtype=torch.float64).to(CUDA)
    K = torch.randn(4, 3, 2, 3, generator=gen, dtype=torch.float64).to(CUDA)
    expected = F.conv2d(X[None], K)[0]
    cases = [
        (torch_ops.corr2d(X[0], K[0, 0]), F.conv2d(X[None, :1], K[:1, :1])[0, 0]),
        (torch_ops.corr2d_loops(X[0], K[0, 0]), F.conv2d(X[None, :1], K[:1, :1])[0, 0]),
        (torch_ops.corr2d_multi_in(X, K[0]), expected[0]),
        (torch_ops.corr2d_multi_in_out(X, K), expected),
        (torch_ops.conv1x1(X, K[:, :, :1, :1]), F.conv2d(X[None], K[:, :, :1, :1])[0]),
        (torch_ops.pad2d(X, (1, 2)), F.pad(X, (2, 2, 1, 1))),
    ]
    for got, want in cases:
        assert got.device.type == "cuda"
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.gpu
def test_autograd_through_torch_conv2d_on_cuda():
    X = torch.randn(2, 4, 6, 6, dtype=torch.float64, device=CUDA, requires_grad=True)
    W = torch.randn(4, 2, 3, 3, dtype=torch.float64, device=CUDA, requires_grad=True)
    torch_ops.conv2d(X, W, stride=2, padding=1, groups=2).sum().backward()
    assert X.grad.device.type == "cuda" and W.grad.device.type == "cuda"
    gX, gW = X.grad.clone(), W.grad.clone()
    X.grad = W.grad = None
    F.conv2d(X, W, stride=2, padding=1, groups=2).sum().backward()
    torch.testing.assert_close(gX, X.grad)
    torch.testing.assert_close(gW, W.grad)


@pytest.mark.gpu
def test_torch_twin_refuses_inputs_on_cpu_and_cuda_naming_the_devices():
    X, W, b = torch.zeros(1, 2, 4, 4, device=CUDA), torch.zeros(3, 2, 3, 3), torch.zeros(3, device=CUDA)
    with pytest.raises(ValueError, match=r"one device.*X on cuda.*W on cpu"):
        torch_ops.conv2d(X, W, b)
    with pytest.raises(ValueError, match=r"one device.*b on cpu"):
        torch_ops.conv2d(X, W.to(CUDA), b.cpu())
    with pytest.raises(ValueError, match=r"X on cuda.*K on cpu"):
        torch_ops.corr2d(X[0, 0], W[0, 0])
    with pytest.raises(ValueError, match=r"X on cuda.*K on cpu"):
        torch_ops.corr2d_multi_in_out(X[0], W)


@pytest.mark.gpu
def test_device_returns_cuda_when_a_gpu_is_present():
    assert dlcourse.device().type == "cuda"


# --- the modern CNNs (chapters 8-13) at full size on CUDA -----------------------------------------

def _full_size_models():
    from dlcourse import models

    return {
        "lenet": (lambda: models.LeNet(), (1, 28)),
        "bn-lenet": (lambda: models.BNLeNet(), (1, 28)),
        "alexnet": (lambda: models.AlexNet(), (3, 224)),
        "vgg11": (lambda: models.vgg11(), (3, 224)),
        "vgg16": (lambda: models.vgg16(), (3, 224)),
        "nin": (lambda: models.NiN(), (3, 224)),
        "googlenet": (lambda: models.GoogLeNet(), (3, 224)),
        "resnet18": (lambda: models.resnet18(), (3, 224)),
        "resnet34": (lambda: models.resnet34(), (3, 224)),
    }


MODEL_NAMES = ["lenet", "bn-lenet", "alexnet", "vgg11", "vgg16", "nin", "googlenet", "resnet18", "resnet34"]


@pytest.mark.gpu
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_runs_forward_and_backward_on_cuda_at_full_size(name):
    factory, (channels, size) = _full_size_models()[name]
    torch.manual_seed(0)
    model = factory().to(CUDA).train()
    X = torch.randn(4, channels, size, size, device=CUDA)
    y = torch.randint(0, 10, (4,), device=CUDA)
    logits = model(X)
    assert logits.device.type == "cuda" and logits.shape[0] == 4
    F.cross_entropy(logits, y).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.device.type == "cuda", pname
        assert torch.isfinite(p.grad).all(), pname
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["lenet", "bn-lenet", "alexnet", "vgg", "nin", "googlenet", "resnet"])
def test_small_models_give_the_same_logits_on_cuda_as_on_the_cpu(name, no_tf32):
    from dlcourse.models import SMALL_MODELS

    torch.manual_seed(0)
    model = SMALL_MODELS[name]().double().eval()
    X = torch.randn(5, 1, 28, 28, dtype=torch.float64)
    expected = model(X)
    torch.testing.assert_close(model.to(CUDA)(X.to(CUDA)).cpu(), expected, rtol=1e-9, atol=1e-9)

# --- the recurrent twins on CUDA (chapters 14-16) -------------------------------------------------

RECURRENT = {"rnn": (torch.nn.RNN, 1), "lstm": (torch.nn.LSTM, 4), "gru": (torch.nn.GRU, 3)}


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_torch_recurrent_twins_on_cuda_match_cudnn_layers_forward_and_backward(kind, dtype, no_tf32):
    module, _ = RECURRENT[kind]
    T, N, D, H = 7, 3, 5, 6
    torch.manual_seed(0)
    m = module(D, H).to(CUDA, dtype)
    X = torch.randn(T, N, D, dtype=dtype, device=CUDA, requires_grad=True)
    h0 = torch.randn(N, H, dtype=dtype, device=CUDA)
    c0 = torch.randn(N, H, dtype=dtype, device=CUDA)
    weights = [m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0]
    if kind == "lstm":
        Y_ref, (h_ref, _) = m(X, (h0[None], c0[None]))
        Y, (h, _) = torch_ops.lstm(X, h0, c0, *weights)
    else:
        Y_ref, h_ref = m(X, h0[None])
        Y, h = getattr(torch_ops, kind)(X, h0, *weights)
    assert Y.device.type == "cuda" and Y.dtype == dtype and h.device.type == "cuda"
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(Y, Y_ref, **tol)
    torch.testing.assert_close(h, h_ref[0], **tol)
    G = torch.randn_like(Y)
    ours = torch.autograd.grad((Y * G).sum(), [X, *weights])
    theirs = torch.autograd.grad((Y_ref * G).sum(), [X, *weights])
    for a, b in zip(ours, theirs):
        assert a.device.type == "cuda"
        torch.testing.assert_close(a, b, **tol)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["rnn_cell", "lstm_cell", "gru_cell"])
def test_torch_recurrent_cells_on_cuda_stay_on_cuda_and_refuse_cpu_weights(kind):
    g = RECURRENT[kind.split("_")[0]][1]
    x, h = torch.randn(2, 3, device=CUDA), torch.randn(2, 4, device=CUDA)
    W_ih, W_hh = torch.randn(g * 4, 3, device=CUDA), torch.randn(g * 4, 4, device=CUDA)
    states = (h, h) if kind == "lstm_cell" else (h,)
    out = getattr(torch_ops, kind)(x, *states, W_ih, W_hh)
    for o in out if kind == "lstm_cell" else (out,):
        assert o.device.type == "cuda" and o.shape == (2, 4)
    with pytest.raises(ValueError, match=r"one device.*W_hh on cpu"):
        getattr(torch_ops, kind)(x, *states, W_ih, W_hh.cpu())
