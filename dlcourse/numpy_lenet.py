"""LeNet in pure NumPy, forward and backward, trained with minibatch SGD (chapter 7).

The network of the lecture (conv 1->6 5x5, pool, conv 6->16 5x5, pool, fc 400->120->84->10),
built from the layer toolkit :mod:`dlcourse.nn`, whose layers wrap
:func:`~dlcourse.numpy_ops.conv2d`, the pooling functions, :func:`~dlcourse.numpy_ops.linear`
and the activations with the hand-written backward passes of chapter 6 and
:mod:`dlcourse.numpy_ops.layers`.  Two variants:

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

import numpy as np

from dlcourse import nn as npnn
from dlcourse import numpy_ops as ops

__all__ = ["NumpyLeNet", "LENET_PARAM_SHAPES", "lenet_layers", "fit", "evaluate"]

LENET_PARAM_SHAPES = {
    "conv1.weight": (6, 1, 5, 5), "conv1.bias": (6,),
    "conv2.weight": (16, 6, 5, 5), "conv2.bias": (16,),
    "fc1.weight": (120, 400), "fc1.bias": (120,),
    "fc2.weight": (84, 120), "fc2.bias": (84,),
    "fc3.weight": (10, 84), "fc3.bias": (10,),
}
"""Every parameter's shape (``num_classes=10``): 61,706 numbers in all."""

_VARIANTS = {
    # name: (activation layer, pooling layer)
    "modern": (npnn.ReLU, npnn.MaxPool2d),
    "1998": (npnn.Sigmoid, npnn.AvgPool2d),
}


def lenet_layers(variant="modern", num_classes=10, seed=0, dtype=np.float32):
    """The LeNet network as a :class:`dlcourse.nn.Sequential` whose children have the names of
    :class:`dlcourse.models.LeNet`'s modules (``conv1``, ``act1``, ``pool1``, ..., ``fc3``).

    Weights are drawn from ``np.random.default_rng(seed)`` in parameter order, each layer as
    PyTorch initializes it.
    """
    if variant not in _VARIANTS:
        raise ValueError(f"variant must be one of {sorted(_VARIANTS)}, got {variant!r}")
    Act, Pool = _VARIANTS[variant]
    rng, dtype = np.random.default_rng(seed), np.dtype(dtype)
    return npnn.Sequential(
        ("conv1", npnn.Conv2d(1, 6, 5, padding=2, rng=rng, dtype=dtype)), ("act1", Act()),  # (N, 6, 28, 28)
        ("pool1", Pool(2, 2)),                                                             # (N, 6, 14, 14)
        ("conv2", npnn.Conv2d(6, 16, 5, rng=rng, dtype=dtype)), ("act2", Act()),            # (N, 16, 10, 10)
        ("pool2", Pool(2, 2)),                                                             # (N, 16, 5, 5)
        ("flatten", npnn.Flatten()),                                                       # (N, 400)
        ("fc1", npnn.Linear(400, 120, rng=rng, dtype=dtype)), ("act3", Act()),
        ("fc2", npnn.Linear(120, 84, rng=rng, dtype=dtype)), ("act4", Act()),
        ("fc3", npnn.Linear(84, num_classes, rng=rng, dtype=dtype)),                       # (N, num_classes)
    )


class NumpyLeNet:
    """LeNet for 1x28x28 images, in NumPy.

    ``variant``: ``"modern"`` (ReLU, max pooling) or ``"1998"`` (sigmoid, average pooling).
    ``num_classes``: outputs of ``fc3``.  ``seed``: initial weights, drawn as PyTorch's default
    does, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for weights and biases.  ``dtype``: float32 to
    train, float64 for gradient checks.  ``net``: the :class:`dlcourse.nn.Sequential` that does
    the work; ``params``: its dict of arrays, the one an optimizer updates.
    """

    def __init__(self, variant="modern", num_classes=10, seed=0, dtype=np.float32):
        self.variant, self.num_classes, self.dtype = variant, num_classes, np.dtype(dtype)
        self.net = lenet_layers(variant, num_classes, seed, self.dtype)
        self.params = self.net.params  # the layers' own arrays: updating them updates the network
        self._last_forward = None

    # --- weights --------------------------------------------------------------------------------

    def state_dict(self):
        """A copy of the parameters, ``name -> np.ndarray``."""
        return self.net.state_dict()

    def load_state_dict(self, state):
        """Copy weights in from a dict of arrays or tensors (e.g. ``LeNet().state_dict()``).

        Arrays are copied into the existing ones (``self.params`` keeps its identity, so an
        optimizer built on it stays valid).
        """
        missing = [name for name in self.params if name not in state]
        if missing:
            raise KeyError(f"state has no {missing[0]!r} (has {sorted(state)})")
        self.net.load_state_dict(state, strict=False)

    # --- forward and backward ---------------------------------------------------------------------

    def _check_input(self, X):
        X = np.asarray(X)
        if X.ndim != 4 or X.shape[1:] != (1, 28, 28):
            raise ValueError(f"NumpyLeNet expects images of shape (N, 1, 28, 28), got {X.shape}")
        return X.astype(self.dtype, copy=False)

    def forward(self, X, return_cache=False):
        """Logits ``(N, num_classes)`` for images ``X: (N, 1, 28, 28)``.

        With ``return_cache=True`` returns ``(logits, cache)``: every layer of :attr:`net` keeps
        the input its backward needs, and ``cache`` is the token :meth:`backward` checks to be
        sure it differentiates this forward pass and not a later one.
        """
        X = self._check_input(X)
        if not return_cache:
            with npnn.no_grad():
                return self.net.forward(X)
        logits = self.net.forward(X)
        self._last_forward = cache = object()
        return logits, cache

    def backward(self, dlogits, cache):
        """Gradients of the loss for every parameter, given ``dlogits = dL/dlogits``.

        :attr:`net` walks the layers backwards, each turning the gradient of its output into the
        gradients of its input and parameters.  Returns ``name -> array`` with the shapes of
        :attr:`params` (new arrays).
        """
        if cache is None or cache is not self._last_forward:
            raise ValueError("backward needs the cache returned by the most recent forward(X, return_cache=True)")
        self._last_forward = None
        self.net.zero_grad()
        self.net.backward(dlogits)
        return {name: g.copy() for name, g in self.net.grads.items()}

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
    return npnn.evaluate(model.net, model._check_input(X), np.asarray(y), batch_size=batch_size)


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
    This is :func:`dlcourse.nn.fit` with :class:`dlcourse.optim.SGD` on the model's network.
    """
    X = model._check_input(X)
    if X_val is not None:
        X_val = model._check_input(X_val)
    return npnn.fit(model.net, X, np.asarray(y), X_val, y_val, epochs=epochs, batch_size=batch_size, lr=lr,
                    momentum=momentum, weight_decay=weight_decay, lr_schedule=lr_schedule, augment=augment,
                    seed=seed, optimizer="sgd", progress=progress, desc="NumPy LeNet", eval_batch_size=1000)
