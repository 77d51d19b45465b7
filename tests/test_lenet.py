"""LeNet in NumPy and PyTorch: shapes, the lecture's parameter counts, the NumPy backward pass
against central differences and autograd, and short training runs on real MNIST digits."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.gradcheck import relative_error
from dlcourse.models import LeNet, layer_table
from dlcourse.numpy_lenet import LENET_PARAM_SHAPES, NumpyLeNet, evaluate, fit
from dlcourse.train import evaluate as torch_evaluate
from dlcourse.train import plot_history, random_shift, train

VARIANTS = ("modern", "1998")

# The lecture's table: conv1 1->6 5x5, conv2 6->16 5x5, fc 400->120->84->10 (weights + biases).
LECTURE_PARAMS = {"conv1": 6 * 25 + 6, "conv2": 16 * 6 * 25 + 16, "fc1": 400 * 120 + 120,
                  "fc2": 120 * 84 + 84, "fc3": 84 * 10 + 10}


@pytest.fixture(scope="module")
def mnist_small(shared_data):
    """500 training and 400 held-out real MNIST digits (from the official test set)."""
    from dlcourse.data import load_mnist, split_dataset, to_nchw

    X, y = load_mnist("test", root=shared_data / "mnist", download=False, fallback=False)
    (Xa, ya), (Xb, yb) = split_dataset(X, y, (500, 400), seed=0)
    return to_nchw(Xa), ya, to_nchw(Xb), yb


# --- shapes and parameters -------------------------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS)
def test_layer_table_has_the_lectures_shapes_and_parameter_counts(variant):
    table = layer_table(LeNet(variant), (2, 1, 28, 28))
    rows = {r["name"]: r for r in table}
    assert {name: rows[name]["params"] for name in LECTURE_PARAMS} == LECTURE_PARAMS
    assert table.total_params == sum(LECTURE_PARAMS.values()) == 61_706
    assert rows["conv1"]["output_shape"] == (2, 6, 28, 28)
    assert rows["pool1"]["output_shape"] == (2, 6, 14, 14)
    assert rows["conv2"]["output_shape"] == (2, 16, 10, 10)
    assert rows["pool2"]["output_shape"] == (2, 16, 5, 5)
    assert rows["flatten"]["output_shape"] == (2, 400)
    assert rows["fc3"]["output_shape"] == (2, 10)
    assert [r["type"] for r in table][:3] == ["Conv2d", "ReLU" if variant == "modern" else "Sigmoid",
                                              "MaxPool2d" if variant == "modern" else "AvgPool2d"]
    text = str(table)
    assert "61,706" in text and "fc1" in text and "(2, 16, 5, 5)" in text


def test_layer_table_counts_a_reused_module_once():
    class Net(torch.nn.Module):  # the lecture's Net reuses one pooling module, as here a linear one
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(torch.relu(self.fc(x)))

    table = layer_table(Net(), (1, 4))
    assert [r["name"] for r in table] == ["fc", "fc"] and table.total_params == 20


def test_numpy_lenet_has_the_torch_models_parameter_names_and_shapes():
    numpy_shapes = {k: v.shape for k, v in NumpyLeNet().params.items()}
    torch_shapes = {k: tuple(v.shape) for k, v in LeNet().state_dict().items()}
    assert numpy_shapes == torch_shapes == LENET_PARAM_SHAPES
    assert sum(np.prod(s) for s in LENET_PARAM_SHAPES.values()) == 61_706


def test_wrong_input_size_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\), got \(2, 1, 32, 32\)"):
        LeNet()(torch.zeros(2, 1, 32, 32))
    assert LeNet(padding=0)(torch.zeros(2, 1, 32, 32)).shape == (2, 10)  # the original 32x32 LeNet
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        NumpyLeNet().forward(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="variant"):
        NumpyLeNet("1989")


# --- the NumPy network equals the PyTorch one -------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS)
def test_numpy_lenet_forward_and_backward_equal_torch_autograd(variant):
    torch.manual_seed(0)
    tmodel = LeNet(variant).double()
    nmodel = NumpyLeNet(variant, dtype=np.float64)
    nmodel.load_state_dict(tmodel.state_dict())
    X = np.random.default_rng(1).standard_normal((4, 1, 28, 28))
    y = np.array([3, 1, 4, 1])
    logits = tmodel(torch.from_numpy(X))
    ref = F.cross_entropy(logits, torch.from_numpy(y))
    ref.backward()
    loss, grads = nmodel.loss_and_grads(X, y)
    np.testing.assert_allclose(nmodel.forward(X), logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert abs(loss - ref.item()) < 1e-12
    for name, p in tmodel.named_parameters():
        assert relative_error(grads[name], p.grad.numpy()) < 1e-10, name


# --- gradient check of the whole network -----------------------------------------------------------

def _numerical_partial(model, X, y, w, i, h, points):
    """dL/dw[i] by central differences: the 2-point ``(L(+h) - L(-h)) / 2h`` (error O(h^2)) or the
    4-point ``(L(-2h) - 8 L(-h) + 8 L(+h) - L(+2h)) / 12h`` (error O(h^4))."""
    def loss_at(delta):
        old = w[i]
        w[i] = old + delta
        try:
            return model.loss_and_grads(X, y)[0]
        finally:
            w[i] = old

    if points == 2:
        return (loss_at(h) - loss_at(-h)) / (2 * h)
    return (loss_at(-2 * h) - 8 * loss_at(-h) + 8 * loss_at(h) - loss_at(2 * h)) / (12 * h)


@pytest.mark.parametrize("variant, h, points", [("modern", 1e-5, 2), ("1998", 1e-3, 4)])
def test_numpy_lenet_gradients_pass_a_central_difference_check(variant, h, points):
    """Every parameter tensor, 12 random entries each, batch of 2 images, float64: rel. error < 1e-7.

    The error is measured per tensor, relative to that tensor's largest gradient.  Two choices of
    step, for two different reasons:

    * modern (ReLU, max pooling) has kinks (ReLU at 0, ties in a pooling window) where a
      difference that straddles the kink is meaningless.  The step h = 1e-5 is small enough that no
      pre-activation of this fixed random case crosses 0 (with h = 1e-3, conv1's check fails at
      about 2e-2: a kink), and large enough for rounding.
    * 1998 (sigmoid, average pooling) is smooth, but its conv1 gradients are tiny (about 1e-5:
      four sigmoids, each with slope at most 1/4 -- vanishing gradients), so the rounding error of
      the loss, about 1e-16 |L| / h, is large relative to them: the 2-point formula bottoms out
      near 7e-8 at its best step.  The 4-point formula (truncation O(h^4)) allows h = 1e-3, where
      rounding is ten times smaller.
    """
    model = NumpyLeNet(variant, seed=2, dtype=np.float64)
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((2, 1, 28, 28)), np.array([7, 2])
    _, grads = model.loss_and_grads(X, y)
    for name, w in model.params.items():
        idx = [np.unravel_index(i, w.shape) for i in rng.choice(w.size, size=min(12, w.size), replace=False)]
        numeric = np.array([_numerical_partial(model, X, y, w, i, h, points) for i in idx])
        analytic = np.array([grads[name][i] for i in idx])
        assert relative_error(analytic, numeric) < 1e-7, name


# --- training ------------------------------------------------------------------------------------

def test_numpy_lenet_training_reduces_the_loss_on_real_digits(mnist_small):
    Xa, ya, Xb, yb = mnist_small
    model = NumpyLeNet("modern", seed=0)
    before = evaluate(model, Xb, yb)
    hist = fit(model, Xa, ya, Xb, yb, epochs=3, batch_size=16, lr=0.03, momentum=0.9, lr_schedule="cosine",
               progress=False)
    assert set(hist) == {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "time"}
    assert len(hist["val_acc"]) == 3
    assert hist["val_loss"][-1] < 0.6 * before[0], (before, hist)
    assert hist["val_acc"][-1] > 0.6, hist


def test_torch_training_loop_learns_real_digits_and_is_seeded(mnist_small):
    Xa, ya, Xb, yb = mnist_small

    def run():
        torch.manual_seed(0)
        model = LeNet()
        hist = train(model, (Xa, ya), (Xb, yb), epochs=3, lr=0.05, batch_size=16, device="cpu", seed=0,
                     progress=False, lr_schedule="cosine", augment=random_shift)
        return model, hist

    before = torch_evaluate(LeNet(), (Xb, yb), device="cpu")
    model, hist = run()
    assert len(hist["train_loss"]) == len(hist["val_acc"]) == 3
    assert hist["val_loss"][-1] < 0.6 * before[0], (before, hist)
    assert hist["val_acc"][-1] > 0.6, hist
    assert hist["lr"][-1] == pytest.approx(0.0, abs=1e-12)  # the cosine ends at 0
    _, hist2 = run()
    assert hist2["train_loss"] == hist["train_loss"]  # same seed, same run


def test_train_accepts_a_dataloader_and_uint8_images():
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8), rng.integers(0, 10, 40)
    hist = train(LeNet(), (images, labels), epochs=1, device="cpu", progress=False)
    assert hist["val_acc"] == [] and len(hist["train_acc"]) == 1
    ds = torch.utils.data.TensorDataset(torch.randn(40, 1, 28, 28), torch.from_numpy(labels))
    hist = train(LeNet(), torch.utils.data.DataLoader(ds, batch_size=16), epochs=1, device="cpu", progress=False)
    assert len(hist["train_loss"]) == 1


def test_random_shift_moves_images_by_whole_pixels():
    X = torch.zeros(50, 1, 9, 9)
    X[:, 0, 4, 4] = 1
    Y = random_shift(X, 2, torch.Generator().manual_seed(0))
    where = Y[:, 0].flatten(1).argmax(1)
    rows, cols = where // 9, where % 9
    assert Y.sum().item() == 50 and rows.min() >= 2 and rows.max() <= 6 and cols.min() >= 2 and cols.max() <= 6
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 5


def test_plot_history_draws_train_and_validation_curves():
    import matplotlib

    matplotlib.use("Agg")
    hist = {"train_loss": [1.0, 0.5], "train_acc": [0.6, 0.8], "val_loss": [0.9, 0.6], "val_acc": [0.7, 0.75]}
    axes = plot_history(hist)
    assert [len(ax.lines) for ax in axes] == [2, 2]
    assert [line.get_label() for line in axes[1].lines] == ["train", "validation"]
