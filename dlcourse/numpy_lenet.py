"""LeNet in pure NumPy, forward and backward, trained with minibatch SGD (chapter 7).

The network of the lecture (conv 1->6 5x5, pool, conv 6->16 5x5, pool, fc 400->120->84->10),
built from the library's layers: :func:`~dlcourse.numpy_ops.conv2d`, the pooling functions,
:func:`~dlcourse.numpy_ops.linear` and the activations, with the hand-written backward passes of
chapter 6 and :mod:`dlcourse.numpy_ops.layers`.  Two variants:

* ``"1998"`` -- LeCun et al.'s choices as d2l presents them: sigmoid activations, 2x2 average
  pooling;
* ``"modern"`` -- the lecture's PyTorch ``Net``: ReLU activations, 2x2 max pooling.

MNIST images are 28x28 but ``fc1`` expects ``16 * 5 * 5 = 400`` features, the size a 32x32 input
gives (LeNet-5 was designed for 32x32 images: MNIST's 28x28 digits padded by 2).  As d2l does,
``conv1`` pads its input by 2 pixels on each side, so a 28x28 image gives a 28x28 feature map and
the shapes downstream are the lecture's: 6x28x28 -> 6x14x14 -> 16x10x10 -> 16x5x5 = 400.

Parameters live in one dict with the names of the PyTorch model's ``state_dict``
(``conv1.weight``, ``conv1.bias``, ..., ``fc3.bias``), so weights can move between
:class:`NumpyLeNet` and :class:`dlcourse.models.LeNet` with :meth:`NumpyLeNet.load_state_dict`.
"""
from __future__ import annotations

import time

import numpy as np

from dlcourse import numpy_ops as ops
from dlcourse.data import minibatches
from dlcourse.optim import SGD

__all__ = ["NumpyLeNet", "LENET_PARAM_SHAPES", "fit", "evaluate"]

LENET_PARAM_SHAPES = {
    "conv1.weight": (6, 1, 5, 5), "conv1.bias": (6,),
    "conv2.weight": (16, 6, 5, 5), "conv2.bias": (16,),
    "fc1.weight": (120, 400), "fc1.bias": (120,),
    "fc2.weight": (84, 120), "fc2.bias": (84,),
    "fc3.weight": (10, 84), "fc3.bias": (10,),
}
"""Every parameter's shape (``num_classes=10``): 61,706 numbers in all."""

_VARIANTS = {
    # name: (activation, its backward, pooling, its backward)
    "modern": (ops.relu, ops.relu_backward, ops.max_pool2d, ops.max_pool2d_backward),
    "1998": (ops.sigmoid, ops.sigmoid_backward, ops.avg_pool2d, ops.avg_pool2d_backward),
}


class NumpyLeNet:
    """LeNet for 1x28x28 images, in NumPy.

    ``variant``: ``"modern"`` (ReLU, max pooling) or ``"1998"`` (sigmoid, average pooling).
    ``num_classes``: outputs of ``fc3``.  ``seed``: initial weights, drawn as PyTorch's default
    does, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for weights and biases.  ``dtype``: float32 to
    train, float64 for gradient checks.  ``params``: the dict of arrays an optimizer updates.
    """

    def __init__(self, variant="modern", num_classes=10, seed=0, dtype=np.float32):
        if variant not in _VARIANTS:
            raise ValueError(f"variant must be one of {sorted(_VARIANTS)}, got {variant!r}")
        self.variant, self.num_classes, self.dtype = variant, num_classes, np.dtype(dtype)
        self.act, self.act_backward, self.pool, self.pool_backward = _VARIANTS[variant]
        rng = np.random.default_rng(seed)
        self.params = {}
        for name, shape in LENET_PARAM_SHAPES.items():
            if name.startswith("fc3"):
                shape = (num_classes, *shape[1:])
            weight_shape = LENET_PARAM_SHAPES[name.replace("bias", "weight")]
            bound = 1 / np.sqrt(np.prod(weight_shape[1:]))  # 1/sqrt(fan_in)
            self.params[name] = rng.uniform(-bound, bound, size=shape).astype(self.dtype)

    # --- weights --------------------------------------------------------------------------------

    def state_dict(self):
        """A copy of the parameters, ``name -> np.ndarray``."""
        return {name: w.copy() for name, w in self.params.items()}

    def load_state_dict(self, state):
        """Copy weights in from a dict of arrays or tensors (e.g. ``LeNet().state_dict()``).

        Arrays are copied into the existing ones (``self.params`` keeps its identity, so an
        optimizer built on it stays valid).
        """
        for name, w in self.params.items():
            if name not in state:
                raise KeyError(f"state has no {name!r} (has {sorted(state)})")
            value = state[name]
            if hasattr(value, "detach"):
                value = value.detach().cpu().numpy()
            value = np.asarray(value)
            if value.shape != w.shape:
                raise ValueError(f"{name}: shape {value.shape} does not match the model's {w.shape}")
            w[...] = value

    # --- forward and backward ---------------------------------------------------------------------

    def _check_input(self, X):
        X = np.asarray(X)
        if X.ndim != 4 or X.shape[1:] != (1, 28, 28):
            raise ValueError(f"NumpyLeNet expects images of shape (N, 1, 28, 28), got {X.shape}")
        return X.astype(self.dtype, copy=False)

    def forward(self, X, return_cache=False):
        """Logits ``(N, num_classes)`` for images ``X: (N, 1, 28, 28)``.

        With ``return_cache=True`` returns ``(logits, cache)``, the intermediate values
        :meth:`backward` needs (each layer's input).
        """
        p, act, pool = self.params, self.act, self.pool
        X = self._check_input(X)
        a1 = ops.conv2d(X, p["conv1.weight"], p["conv1.bias"], padding=2)   # (N, 6, 28, 28)
        h1 = act(a1)
        s1 = pool(h1, 2)                                                    # (N, 6, 14, 14)
        a2 = ops.conv2d(s1, p["conv2.weight"], p["conv2.bias"])             # (N, 16, 10, 10)
        h2 = act(a2)
        s2 = pool(h2, 2)                                                    # (N, 16, 5, 5)
        f = s2.reshape(len(X), -1)                                          # (N, 400)
        a3 = ops.linear(f, p["fc1.weight"], p["fc1.bias"])                  # (N, 120)
        h3 = act(a3)
        a4 = ops.linear(h3, p["fc2.weight"], p["fc2.bias"])                 # (N, 84)
        h4 = act(a4)
        logits = ops.linear(h4, p["fc3.weight"], p["fc3.bias"])             # (N, 10)
        if not return_cache:
            return logits
        cache = dict(X=X, a1=a1, h1=h1, s1=s1, a2=a2, h2=h2, s2=s2, f=f, a3=a3, h3=h3, a4=a4, h4=h4)
        return logits, cache

    def backward(self, dlogits, cache):
        """Gradients of the loss for every parameter, given ``dlogits = dL/dlogits``.

        Walks the forward pass backwards, each layer's backward function turning the gradient of
        its output into the gradients of its input and parameters.  Returns
        ``name -> array`` with the shapes of :attr:`params`.
        """
        p, c, g = self.params, cache, {}
        dh4, g["fc3.weight"], g["fc3.bias"] = ops.linear_backward(dlogits, c["h4"], p["fc3.weight"], p["fc3.bias"])
        da4 = self.act_backward(dh4, c["a4"])
        dh3, g["fc2.weight"], g["fc2.bias"] = ops.linear_backward(da4, c["h3"], p["fc2.weight"], p["fc2.bias"])
        da3 = self.act_backward(dh3, c["a3"])
        df, g["fc1.weight"], g["fc1.bias"] = ops.linear_backward(da3, c["f"], p["fc1.weight"], p["fc1.bias"])
        ds2 = df.reshape(c["s2"].shape)
        dh2 = self.pool_backward(ds2, c["h2"], 2)
        da2 = self.act_backward(dh2, c["a2"])
        ds1, g["conv2.weight"], g["conv2.bias"] = ops.conv2d_backward(da2, c["s1"], p["conv2.weight"], p["conv2.bias"])
        dh1 = self.pool_backward(ds1, c["h1"], 2)
        da1 = self.act_backward(dh1, c["a1"])
        _, g["conv1.weight"], g["conv1.bias"] = ops.conv2d_backward(
            da1, c["X"], p["conv1.weight"], p["conv1.bias"], padding=2
        )
        return {name: g[name].astype(self.dtype, copy=False) for name in p}

    def loss_and_grads(self, X, y):
        """Mean softmax cross-entropy on ``(X, y)`` and its gradient for every parameter."""
        logits, cache = self.forward(X, return_cache=True)
        loss, dlogits = ops.softmax_cross_entropy(logits, y)
        return loss, self.backward(dlogits, cache)

    def predict(self, X, batch_size=1000):
        """Predicted classes ``(N,)`` int64, computed ``batch_size`` images at a time."""
        return np.concatenate([self.forward(X[i : i + batch_size]).argmax(axis=1) for i in range(0, len(X), batch_size)])

    __call__ = forward


def evaluate(model, X, y, batch_size=1000):
    """``(mean cross-entropy, accuracy)`` of a :class:`NumpyLeNet` on ``(X, y)``."""
    total_loss, correct = 0.0, 0
    for i in range(0, len(X), batch_size):
        logits = model.forward(X[i : i + batch_size])
        loss, _ = ops.softmax_cross_entropy(logits, y[i : i + batch_size])
        total_loss += loss * len(logits)
        correct += int((logits.argmax(axis=1) == y[i : i + batch_size]).sum())
    return total_loss / len(X), correct / len(X)


def fit(model, X, y, X_val=None, y_val=None, epochs=10, batch_size=64, lr=0.05, momentum=0.9,
        weight_decay=5e-4, lr_schedule="constant", augment=None, seed=0, progress=True):
    """Train a :class:`NumpyLeNet` with minibatch SGD (momentum, weight decay); return its history.

    ``X: (N, 1, 28, 28)`` float images (e.g. :func:`dlcourse.data.to_nchw`), ``y: (N,)`` int
    labels; ``X_val, y_val`` optional, evaluated after every epoch.  ``lr_schedule``:
    ``"constant"`` or ``"cosine"`` (the rate falls from ``lr`` to 0 along a half cosine over the
    run).  ``augment``: None or a function ``(X_batch, rng) -> X_batch`` (e.g.
    :func:`dlcourse.data.random_shift`).  ``seed`` fixes the shuffling and the augmentation.
    Returns a dict of per-epoch lists: ``train_loss``, ``train_acc`` (running averages over the
    epoch's minibatches), ``val_loss``, ``val_acc`` (empty without validation data),
    ``lr`` and ``time`` (seconds since the start), the same layout as :func:`dlcourse.train.train`.
    """
    from tqdm import tqdm

    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {lr_schedule!r}")
    X, y = np.asarray(X, dtype=model.dtype), np.asarray(y)
    rng = np.random.default_rng(seed)
    opt = SGD(model.params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    history = {k: [] for k in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "time")}
    steps_per_epoch = -(-len(X) // batch_size)
    total_steps, step, start = epochs * steps_per_epoch, 0, time.perf_counter()
    with tqdm(total=total_steps, desc="NumPy LeNet", unit="batch", disable=not progress) as bar:
        for epoch in range(epochs):
            loss_sum, correct, seen = 0.0, 0, 0
            for Xb, yb in minibatches(X, y, batch_size, shuffle=True, rng=rng):
                if lr_schedule == "cosine":
                    opt.lr = lr * 0.5 * (1 + np.cos(np.pi * step / total_steps))
                if augment is not None:
                    Xb = augment(Xb, rng)
                logits, cache = model.forward(Xb, return_cache=True)
                loss, dlogits = ops.softmax_cross_entropy(logits, yb)
                opt.step(model.backward(dlogits, cache))
                loss_sum += loss * len(yb)
                correct += int((logits.argmax(axis=1) == yb).sum())
                seen += len(yb)
                step += 1
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
            history["train_loss"].append(loss_sum / seen)
            history["train_acc"].append(correct / seen)
            history["lr"].append(float(opt.lr))
            if X_val is not None:
                vl, va = evaluate(model, np.asarray(X_val, dtype=model.dtype), np.asarray(y_val))
                history["val_loss"].append(vl)
                history["val_acc"].append(va)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / seen:.3f}", val_acc=f"{va:.3f}")
            history["time"].append(time.perf_counter() - start)
    return history
