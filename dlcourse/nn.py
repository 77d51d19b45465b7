"""A small NumPy layer toolkit: layers with parameters, gradients, ``forward`` and ``backward``.

Chapters 1-7 chain the stateless functions of :mod:`dlcourse.numpy_ops` by hand, keeping every
intermediate value for the backward pass.  From chapter 8 on the networks are too deep for that,
so this module wraps each function in a :class:`Layer` that remembers what its backward needs::

    from dlcourse import nn as npnn

    net = npnn.Sequential(
        npnn.Conv2d(1, 8, 3, padding=1, rng=0), npnn.BatchNorm2d(8), npnn.ReLU(),
        npnn.Residual(npnn.Sequential(npnn.Conv2d(8, 8, 3, padding=1, bias=False), npnn.BatchNorm2d(8))),
        npnn.GlobalAvgPool2d(), npnn.Flatten(), npnn.Linear(8, 10),
    )
    logits = net.forward(X, training=True)          # X (N, 1, 28, 28) -> (N, 10)
    loss, dlogits = numpy_ops.softmax_cross_entropy(logits, y)
    net.zero_grad()
    net.backward(dlogits)                            # fills net.grads, returns dL/dX
    opt = dlcourse.optim.SGD(net.params, lr=0.05, momentum=0.9)
    opt.step(net.grads)

Every layer computes with the ``numpy_ops`` functions (``conv2d`` and ``conv2d_backward``,
``batch_norm`` and ``batch_norm_backward``, ...): no formula is written twice.

**Names.**  ``net.params``, ``net.grads`` and ``net.buffers`` are dicts keyed like PyTorch's
``state_dict``: ``"0.weight"``, ``"3.bn1.running_mean"``; a container's child names become the
prefixes (``Sequential(conv1=..., bn1=...)`` gives ``conv1.weight``).  So the same architecture
built here and in PyTorch exchange weights one to one (:meth:`Layer.load_state_dict`,
:func:`from_torch`).  The arrays in those dicts are the layers' own, updated in place by the
optimizers in :mod:`dlcourse.optim`; the dicts themselves are rebuilt at every access.

**Modes.**  ``forward(x, training=None)`` lets every layer use its own mode (:meth:`Layer.train`
/ :meth:`Layer.eval`, training by default; a container's ``train``/``eval`` sets its whole tree),
as PyTorch modules do; ``training=True`` or ``False`` imposes that mode on the whole tree for
this call.  Dropout and batch normalization behave differently in the two modes.

**Gradients accumulate**, as in PyTorch: ``backward`` adds to ``grads``; call :meth:`zero_grad`
before each step.  Each layer keeps the inputs of its *most recent* forward pass, so a layer
instance may appear only once in a network, and ``backward`` must follow the forward it belongs
to.  Inside ``with no_grad():`` nothing is kept (evaluation of large batches without holding
every activation).

This module imports no PyTorch; :func:`from_torch` imports it when called.
"""
from __future__ import annotations

import contextlib
import math
import time
from numbers import Integral

import numpy as np

from dlcourse import numpy_ops as ops

__all__ = [
    "Layer", "Conv2d", "Linear", "ReLU", "Sigmoid", "Tanh", "Identity", "MaxPool2d", "AvgPool2d",
    "GlobalAvgPool2d", "Flatten", "Dropout", "BatchNorm", "BatchNorm1d", "BatchNorm2d",
    "Sequential", "Residual", "Concat", "basic_block", "resnet", "no_grad", "fit", "evaluate", "from_torch", "register_converter",
]

_KEEP_CACHE = [True]  # False inside no_grad(): forward passes remember nothing


@contextlib.contextmanager
def no_grad():
    """Within this block forward passes keep no inputs for ``backward`` (saves memory in evaluation)."""
    old = _KEEP_CACHE[0]
    _KEEP_CACHE[0] = False
    try:
        yield
    finally:
        _KEEP_CACHE[0] = old


def _generator(rng):
    """A ``np.random.Generator`` from a Generator, a seed or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a np.random.Generator, an int seed or None, got {type(rng).__name__}")


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a floating type (float32 to train, float64 for gradient checks), got {dtype}")
    return dtype


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix and name else prefix or name


class Layer:
    """Base class: a differentiable function with parameters.

    Subclasses set ``self._params`` (own parameters, ``name -> np.ndarray``), optionally
    ``self._buffers`` (state that is not trained, e.g. running statistics) and list their
    sub-layers in :meth:`children`, and implement :meth:`forward` and :meth:`backward`.
    """

    def __init__(self):
        self._params, self._grads, self._buffers = {}, {}, {}
        self.training = True
        self._cache = None

    # --- the computation ---------------------------------------------------------------------

    def forward(self, x, training=None):
        """The layer's output for input ``x``; remembers what :meth:`backward` needs."""
        raise NotImplementedError

    def backward(self, dy):
        """Given ``dy = dL/dy`` for the last forward's output, add ``dL/dparam`` to :attr:`grads`
        and return ``dL/dx``."""
        raise NotImplementedError

    def __call__(self, x, training=None):
        return self.forward(x, training=training)

    def _mode(self, training):
        return self.training if training is None else bool(training)

    def _save(self, *values):
        self._cache = values if _KEEP_CACHE[0] else None

    def _saved(self):
        if self._cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward needs the inputs of a forward pass: call forward first "
                f"(outside no_grad()), and backward once per forward"
            )
        cache, self._cache = self._cache, None  # freed: the activations are no longer held
        return cache

    def _add_grad(self, name, g):
        if g is not None:
            self._grads[name] += g

    def _new_param(self, name, array):
        self._params[name] = array
        self._grads[name] = np.zeros_like(array)

    # --- structure -----------------------------------------------------------------------------

    def children(self):
        """Sub-layers as ``[(name, layer), ...]``; the name ``""`` puts a child's parameters
        directly under this layer's prefix (no extra level)."""
        return []

    def named_layers(self, prefix=""):
        """Every layer in the tree, this one first: ``(prefix, layer)`` pairs, depth first."""
        yield prefix, self
        for name, child in self.children():
            yield from child.named_layers(_join(prefix, name))

    def _named(self, attr):
        out = {}
        for prefix, layer in self.named_layers():
            for name, value in getattr(layer, attr).items():
                key = _join(prefix, name)
                if key in out:
                    raise ValueError(f"two entries are named {key!r}: give the sub-layers distinct names")
                out[key] = value
        return out

    @property
    def params(self):
        """``name -> parameter array`` for the whole tree (the arrays themselves, updated in place)."""
        return self._named("_params")

    @property
    def grads(self):
        """``name -> gradient array`` with the keys and shapes of :attr:`params`."""
        return self._named("_grads")

    @property
    def buffers(self):
        """``name -> buffer`` (running statistics and ``num_batches_tracked``) for the whole tree."""
        return self._named("_buffers")

    def named_parameters(self):
        """``(name, array)`` pairs, as ``torch.nn.Module.named_parameters``."""
        return iter(self.params.items())

    def num_parameters(self):
        """How many numbers the parameters hold."""
        return int(sum(p.size for p in self.params.values()))

    def zero_grad(self):
        """Set every gradient to zero (gradients accumulate across ``backward`` calls)."""
        for g in self.grads.values():
            g[...] = 0

    def train(self, mode=True):
        """Training mode (batch statistics, dropout on) for this layer and its sub-layers."""
        for _, layer in self.named_layers():
            layer.training = bool(mode)
        return self

    def eval(self):
        """Evaluation mode (running statistics, dropout off)."""
        return self.train(False)

    def state_dict(self):
        """Copies of every parameter and buffer, keyed and ordered like ``torch.nn.Module.state_dict()``
        (layer by layer, each layer's parameters then its buffers)."""
        self._named("_params"), self._named("_buffers")  # refuses clashing names
        return {_join(prefix, name): np.array(value, copy=True)
                for prefix, layer in self.named_layers()
                for name, value in {**layer._params, **layer._buffers}.items()}

    def load_state_dict(self, state, strict=True):
        """Copy parameters and buffers in from ``state`` (NumPy arrays or torch tensors).

        Values are copied into the existing arrays, so optimizers built on :attr:`params` stay
        valid, and cast to each array's dtype.  ``strict``: every key must match both ways.
        """
        own = {**self.params, **self.buffers}
        if strict:
            missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
            if missing or unexpected:
                raise KeyError(f"state_dict mismatch: missing {missing}, unexpected {unexpected}")
        for name, target in own.items():
            if name not in state:
                continue
            value = state[name]
            if hasattr(value, "detach"):
                value = value.detach().cpu().numpy()
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ValueError(f"{name}: shape {value.shape} does not match the model's {target.shape}")
            target[...] = value
        return self

    def _extra_repr(self):
        return ""

    def __repr__(self):
        kids = self.children()
        head = f"{type(self).__name__}({self._extra_repr()}"
        if not kids:
            return head + ")"
        lines = [head]
        for name, child in kids:
            text = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name or '-'}): {text}")
        return "\n".join(lines) + "\n)"


# --- layers with parameters --------------------------------------------------------------------

class Conv2d(Layer):
    """2-D convolution, as ``torch.nn.Conv2d``: ``X (N, C_in, H, W) -> (N, C_out, H', W')``.

    Parameters ``weight (C_out, C_in/groups, kh, kw)`` and ``bias (C_out,)`` (unless
    ``bias=False``), initialized as PyTorch does, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with
    ``fan_in = C_in/groups * kh * kw``, drawn from ``rng`` (Generator or seed) weight first.
    Forward :func:`~dlcourse.numpy_ops.conv2d`, backward :func:`~dlcourse.numpy_ops.conv2d_backward`.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, rng=None, dtype=np.float32):
        super().__init__()
        in_channels, out_channels = _positive_int(in_channels, "in_channels"), _positive_int(out_channels, "out_channels")
        groups = _positive_int(groups, "groups")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, Integral) else tuple(kernel_size)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, (kh, kw)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        dtype, rng = _float_dtype(dtype), _generator(rng)
        bound = 1 / math.sqrt(in_channels // groups * kh * kw)
        self._new_param("weight", rng.uniform(-bound, bound, (out_channels, in_channels // groups, kh, kw)).astype(dtype))
        if bias:
            self._new_param("bias", rng.uniform(-bound, bound, out_channels).astype(dtype))

    def _args(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups)

    def forward(self, x, training=None):
        self._save(x)
        return ops.conv2d(x, self._params["weight"], self._params.get("bias"), **self._args())

    def backward(self, dy):
        (x,) = self._saved()
        dx, dw, db = ops.conv2d_backward(dy, x, self._params["weight"], self._params.get("bias"), **self._args())
        self._add_grad("weight", dw)
        if "bias" in self._params:
            self._add_grad("bias", db)
        return dx

    def _extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}" + ("" if "bias" in self._params else ", bias=False"))


class Linear(Layer):
    """Fully connected layer, as ``torch.nn.Linear``: ``X (N, in_features) -> (N, out_features)``.

    ``weight (out_features, in_features)``, ``bias (out_features,)``; PyTorch's initialization
    (see :class:`Conv2d`).  Forward :func:`~dlcourse.numpy_ops.linear`, backward
    :func:`~dlcourse.numpy_ops.linear_backward`.
    """

    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=np.float32):
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features")
        self.out_features = _positive_int(out_features, "out_features")
        dtype, rng = _float_dtype(dtype), _generator(rng)
        bound = 1 / math.sqrt(in_features)
        self._new_param("weight", rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype))
        if bias:
            self._new_param("bias", rng.uniform(-bound, bound, out_features).astype(dtype))

    def forward(self, x, training=None):
        self._save(x)
        return ops.linear(x, self._params["weight"], self._params.get("bias"))

    def backward(self, dy):
        (x,) = self._saved()
        dx, dw, db = ops.linear_backward(dy, x, self._params["weight"], self._params.get("bias"))
        self._add_grad("weight", dw)
        if "bias" in self._params:
            self._add_grad("bias", db)
        return dx

    def _extra_repr(self):
        return f"{self.in_features}, {self.out_features}" + ("" if "bias" in self._params else ", bias=False")


class BatchNorm(Layer):
    """Batch normalization over axis 1 of ``(N, C)`` or ``(N, C, H, W)`` input, as torch's
    ``BatchNorm1d``/``BatchNorm2d``.

    Parameters ``weight (C,)`` (ones) and ``bias (C,)`` (zeros) unless ``affine=False``; buffers
    ``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked``, updated in
    training mode exactly as torch does (:func:`~dlcourse.numpy_ops.batch_norm`).  Evaluation mode
    normalizes with the running statistics.  The backward pass is training mode's
    (:func:`~dlcourse.numpy_ops.batch_norm_backward`); after an evaluation-mode forward the layer
    is a fixed per-channel affine map, and its backward is that map's.
    """

    ndims = None  # the accepted numbers of input dimensions; None: any (N, C, ...)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=np.float32):
        super().__init__()
        self.num_features = _positive_int(num_features, "num_features")
        self.eps, self.momentum = eps, momentum
        dtype = _float_dtype(dtype)
        if affine:
            self._new_param("weight", np.ones(num_features, dtype))
            self._new_param("bias", np.zeros(num_features, dtype))
        if track_running_stats:
            self._buffers["running_mean"] = np.zeros(num_features, dtype)
            self._buffers["running_var"] = np.ones(num_features, dtype)
            self._buffers["num_batches_tracked"] = np.zeros((), np.int64)

    def forward(self, x, training=None):
        x = np.asarray(x)
        if self.ndims is not None and x.ndim not in self.ndims:
            raise ValueError(f"{type(self).__name__} expects {' or '.join(f'{n}-D' for n in self.ndims)} input "
                             f"(N, C{', H, W' if 4 in self.ndims else ''}), got shape {x.shape}")
        # Without running statistics torch normalizes with the batch's, in both modes.
        training = self._mode(training) or "running_mean" not in self._buffers
        w, b = self._params.get("weight"), self._params.get("bias")
        rm, rv = self._buffers.get("running_mean"), self._buffers.get("running_var")
        y = ops.batch_norm(x, rm, rv, w, b, training=training, momentum=self.momentum, eps=self.eps)
        if training and "num_batches_tracked" in self._buffers:
            self._buffers["num_batches_tracked"] += 1
        self._save(x, training)
        return y

    def backward(self, dy):
        x, training = self._saved()
        w = self._params.get("weight")
        if training:
            dx, dw, db = ops.batch_norm_backward(dy, x, w, eps=self.eps)
        else:
            # Evaluation mode: y = x_hat * w + b with x_hat = batch_norm(x) using the running
            # statistics (the affine-free call computes it), a fixed affine map per channel.
            dy = np.asarray(dy)
            shape = (1, -1) + (1,) * (x.ndim - 2)
            axes = (0, *range(2, x.ndim))
            rm, rv = self._buffers["running_mean"], self._buffers["running_var"]
            x_hat = ops.batch_norm(x, rm, rv, training=False, eps=self.eps)
            scale = 1 / np.sqrt(rv.astype(dy.dtype) + dy.dtype.type(self.eps))
            if w is not None:
                scale = scale * w
            dx, dw, db = dy * scale.reshape(shape), (dy * x_hat).sum(axis=axes), dy.sum(axis=axes)
        if w is not None:
            self._add_grad("weight", dw)
            self._add_grad("bias", db)
        return dx

    def _extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(BatchNorm):
    """:class:`BatchNorm` for ``(N, C)`` input (after a linear layer), as ``torch.nn.BatchNorm1d``."""

    ndims = (2, 3)


class BatchNorm2d(BatchNorm):
    """:class:`BatchNorm` for ``(N, C, H, W)`` input (after a convolution), as ``torch.nn.BatchNorm2d``."""

    ndims = (4,)


# --- layers without parameters -----------------------------------------------------------------

class _Elementwise(Layer):
    fn = backward_fn = None

    def forward(self, x, training=None):
        self._save(x)
        return type(self).fn(x)

    def backward(self, dy):
        (x,) = self._saved()
        return type(self).backward_fn(dy, x)


class ReLU(_Elementwise):
    """``max(x, 0)`` elementwise (:func:`~dlcourse.numpy_ops.relu`); the gradient at 0 is 0, as torch's."""

    fn, backward_fn = staticmethod(ops.relu), staticmethod(ops.relu_backward)


class Sigmoid(_Elementwise):
    """The logistic sigmoid elementwise (:func:`~dlcourse.numpy_ops.sigmoid`)."""

    fn, backward_fn = staticmethod(ops.sigmoid), staticmethod(ops.sigmoid_backward)


class Tanh(_Elementwise):
    """``tanh`` elementwise (:func:`~dlcourse.numpy_ops.tanh`)."""

    fn, backward_fn = staticmethod(ops.tanh), staticmethod(ops.tanh_backward)


class Identity(Layer):
    """``y = x`` (e.g. a shortcut that needs no projection)."""

    def forward(self, x, training=None):
        return x

    def backward(self, dy):
        return dy


class _Pool(Layer):
    fn = backward_fn = None

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x, training=None):
        self._save(x)
        return type(self).fn(x, self.kernel_size, self.stride, self.padding)

    def backward(self, dy):
        (x,) = self._saved()
        return type(self).backward_fn(dy, x, self.kernel_size, self.stride, self.padding)

    def _extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool):
    """Max pooling ``(N, C, H, W) -> (N, C, H', W')``, as ``torch.nn.MaxPool2d`` (stride defaults
    to the kernel size)."""

    fn, backward_fn = staticmethod(ops.max_pool2d), staticmethod(ops.max_pool2d_backward)


class AvgPool2d(_Pool):
    """Average pooling ``(N, C, H, W) -> (N, C, H', W')``, as ``torch.nn.AvgPool2d`` (padding
    counts in the mean)."""

    fn, backward_fn = staticmethod(ops.avg_pool2d), staticmethod(ops.avg_pool2d_backward)


class GlobalAvgPool2d(Layer):
    """One mean per channel: ``(N, C, H, W) -> (N, C, 1, 1)``, as ``torch.nn.AdaptiveAvgPool2d(1)``."""

    def forward(self, x, training=None):
        self._save(x)
        return ops.global_avg_pool2d(x)

    def backward(self, dy):
        (x,) = self._saved()
        return ops.avg_pool2d_backward(dy, x, np.shape(x)[2:])


class Flatten(Layer):
    """``(N, d1, d2, ...) -> (N, d1 * d2 * ...)``, as ``torch.nn.Flatten()``."""

    def forward(self, x, training=None):
        x = np.asarray(x)
        if x.ndim < 1:
            raise ValueError(f"Flatten needs a batch (N, ...), got a scalar of shape {x.shape}")
        self._save(x.shape)
        return x.reshape(len(x), -1)

    def backward(self, dy):
        (shape,) = self._saved()
        return np.asarray(dy).reshape(shape)


class Dropout(Layer):
    """Inverted dropout, as ``torch.nn.Dropout(p)``: in training each entry is zeroed with
    probability ``p`` and the rest scaled by ``1/(1-p)``; in evaluation the identity.

    ``rng``: a ``np.random.Generator`` or a seed, so a run can be repeated (the masks come from
    :func:`~dlcourse.numpy_ops.dropout_mask`; the stream cannot match torch's).
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        from dlcourse.numpy_ops.dropout import check_dropout_p

        check_dropout_p(p)
        self.p, self.rng = p, _generator(rng)

    def forward(self, x, training=None):
        if not self._mode(training) or self.p == 0:
            self._save(None)
            return np.asarray(x)
        mask = ops.dropout_mask(x, self.p, self.rng)
        self._save(mask)
        return x * mask

    def backward(self, dy):
        (mask,) = self._saved()
        return np.asarray(dy) if mask is None else ops.dropout_backward(dy, mask)

    def _extra_repr(self):
        return f"p={self.p}"


# --- containers ----------------------------------------------------------------------------------

def _named_children(layers, names=None):
    """``[(name, layer)]`` from layers (and optional names), a dict, or ``(name, layer)`` pairs."""
    if len(layers) == 1 and isinstance(layers[0], dict):
        pairs = list(layers[0].items())
    elif layers and all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in layers):
        pairs = list(layers)
    else:
        if names is None:
            names = [str(i) for i in range(len(layers))]
        if len(names) != len(layers):
            raise ValueError(f"got {len(layers)} layers but {len(names)} names")
        pairs = list(zip(names, layers))
    for name, layer in pairs:
        if not isinstance(layer, Layer):
            raise TypeError(f"{name!r} must be a dlcourse.nn.Layer, got {type(layer).__name__}")
    seen = [n for n, _ in pairs if n]
    if len(set(seen)) != len(seen):
        raise ValueError(f"sub-layer names must be distinct, got {seen}")
    if len({id(layer) for _, layer in pairs}) != len(pairs):
        raise ValueError("the same layer instance appears twice: each layer keeps one forward's inputs, use two")
    return pairs


class Sequential(Layer):
    """Layers applied one after another, as ``torch.nn.Sequential``.

    ``Sequential(a, b, c)`` names the children ``"0"``, ``"1"``, ``"2"``;
    ``Sequential({"conv1": a, "act1": b})`` or ``Sequential(("conv1", a), ("act1", b))`` names
    them (parameter names ``conv1.weight``, ...).  ``backward`` runs the children's in reverse.
    An error inside a child names the child.
    """

    def __init__(self, *layers, names=None):
        super().__init__()
        self._children = _named_children(layers, names)

    def children(self):
        return list(self._children)

    def __len__(self):
        return len(self._children)

    def __getitem__(self, key):
        if isinstance(key, str):
            for name, layer in self._children:
                if name == key:
                    return layer
            raise KeyError(key)
        return self._children[key][1]

    def __iter__(self):
        return (layer for _, layer in self._children)

    def forward(self, x, training=None):
        for name, layer in self._children:
            try:
                x = layer.forward(x, training=training)
            except (ValueError, TypeError) as err:
                try:
                    named = type(err)(f"in layer {name!r} ({type(layer).__name__}), input shape {np.shape(x)}: {err}")
                except Exception:  # an exception type that takes other arguments: leave it as it is
                    raise err from None
                raise named from err
        return x

    def backward(self, dy):
        for _, layer in reversed(self._children):
            dy = layer.backward(dy)
        return dy


class Residual(Layer):
    """A residual block: ``y = activation(main(x) + shortcut(x))``, as ResNet does.

    ``main``: the block's layers (e.g. conv-BN-ReLU-conv-BN); ``shortcut``: None (the identity)
    or a projection when ``main`` changes the shape (e.g. a strided 1x1 convolution);
    ``activation``: applied after the addition (default :class:`ReLU`; None for none).
    ``main_name`` / ``shortcut_name``: the prefixes of their parameters; ``""`` (the default for
    ``main``) puts its children's names directly under the block, as torch blocks that hold
    ``conv1, bn1, conv2, bn2`` as attributes name them.  The addition and its backward are
    :func:`~dlcourse.numpy_ops.residual_add` / ``residual_add_backward``: the gradient reaches
    ``x`` along both paths and the two are summed.
    """

    def __init__(self, main, shortcut=None, activation="relu", main_name="", shortcut_name="shortcut"):
        super().__init__()
        self.main, self.shortcut = main, shortcut
        self.activation = ReLU() if activation == "relu" else activation
        pairs = [(main_name, main)] + ([(shortcut_name, shortcut)] if shortcut is not None else [])
        if self.activation is not None:
            pairs.append(("", self.activation))
        self._children = _named_children(pairs)

    def children(self):
        return list(self._children)

    def forward(self, x, training=None):
        fx = self.main.forward(x, training=training)
        sx = x if self.shortcut is None else self.shortcut.forward(x, training=training)
        y = ops.residual_add(sx, fx)
        return y if self.activation is None else self.activation.forward(y, training=training)

    def backward(self, dy):
        if self.activation is not None:
            dy = self.activation.backward(dy)
        dsx, dfx = ops.residual_add_backward(dy)
        dx = self.main.backward(dfx)
        return dx + (dsx if self.shortcut is None else self.shortcut.backward(dsx))


class Concat(Layer):
    """Parallel branches on the same input, outputs stacked along the channels (an inception block).

    ``branches``: layers mapping ``(N, C, H, W)`` to ``(N, C_i, H, W)``; returns
    ``(N, sum C_i, H, W)`` (:func:`~dlcourse.numpy_ops.concat_channels`).  ``names``: the branches'
    parameter prefixes (default ``"0"``, ``"1"``, ...; ``""`` inlines a branch's own names).
    Backward cuts the gradient into the branches' channel blocks and sums what each returns.
    """

    def __init__(self, *branches, names=None):
        super().__init__()
        if len(branches) == 1 and isinstance(branches[0], (list, tuple)):
            branches = tuple(branches[0])
        self._children = _named_children(branches, names)
        self._channels = None

    def children(self):
        return list(self._children)

    def forward(self, x, training=None):
        outs = [branch.forward(x, training=training) for _, branch in self._children]
        self._channels = [o.shape[1] for o in outs]
        return ops.concat_channels(outs)

    def backward(self, dy):
        if self._channels is None:
            raise RuntimeError("Concat.backward needs a forward pass first")
        dys = ops.concat_channels_backward(dy, self._channels)
        dx = None
        for (_, branch), d in zip(self._children, dys):
            g = branch.backward(d)
            dx = g if dx is None else dx + g
        return dx


# --- a ResNet, built from the pieces ----------------------------------------------------------------

def basic_block(in_channels, out_channels, stride=1, rng=None, dtype=np.float32):
    """ResNet's basic block as a :class:`Residual`: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    3x3 convolutions without bias (each batch norm's shift replaces it); the shortcut is the
    identity, or a strided 1x1 convolution and a batch norm (``shortcut.0``, ``shortcut.1``) when
    the block changes the channels or the size.  Names as :class:`dlcourse.models.Residual`'s
    (``conv1``, ``bn1``, ``relu1``, ``conv2``, ``bn2``, ``shortcut``).
    ``(N, in_channels, H, W) -> (N, out_channels, H/stride, W/stride)``.
    """
    rng, dtype = _generator(rng), _float_dtype(dtype)
    main = Sequential(
        ("conv1", Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False, rng=rng, dtype=dtype)),
        ("bn1", BatchNorm2d(out_channels, dtype=dtype)), ("relu1", ReLU()),
        ("conv2", Conv2d(out_channels, out_channels, 3, padding=1, bias=False, rng=rng, dtype=dtype)),
        ("bn2", BatchNorm2d(out_channels, dtype=dtype)),
    )
    shortcut = None
    if stride != 1 or in_channels != out_channels:
        shortcut = Sequential(Conv2d(in_channels, out_channels, 1, stride=stride, bias=False, rng=rng, dtype=dtype),
                              BatchNorm2d(out_channels, dtype=dtype))
    return Residual(main, shortcut, activation=ReLU(), shortcut_name="shortcut")


def resnet(blocks=(1, 1, 1), channels=(16, 32, 64), num_classes=10, in_channels=1, stem=(3, 1, 1),
           stem_pool=False, rng=None, dtype=np.float32):
    """A ResNet of basic blocks (:func:`basic_block`): ``(N, in_channels, H, W) -> (N, num_classes)`` logits.

    Stem: ``stem = (kernel, stride, padding)`` convolution with ``channels[0]`` filters, batch
    norm, ReLU, and a 3x3/2 max pool if ``stem_pool``; then one stage per entry of ``blocks``,
    the first block of every stage after the first halving the size with stride 2; global average
    pooling; a dense layer.  Children named as :class:`dlcourse.models.ResNet`'s (``conv1``,
    ``bn1``, ``relu``, ``maxpool``, ``layer1``..., ``avgpool``, ``flatten``, ``fc``), so the two
    exchange state dicts.  The defaults are the CPU-sized network for 28x28 digits.
    """
    if len(blocks) != len(channels) or not blocks:
        raise ValueError(f"blocks and channels must describe the same stages, got {blocks!r} and {channels!r}")
    rng, dtype = _generator(rng), _float_dtype(dtype)
    k, s, p = stem
    layers = [("conv1", Conv2d(in_channels, channels[0], k, stride=s, padding=p, bias=False, rng=rng, dtype=dtype)),
              ("bn1", BatchNorm2d(channels[0], dtype=dtype)), ("relu", ReLU()),
              ("maxpool", MaxPool2d(3, 2, 1) if stem_pool else Identity())]
    c = channels[0]
    for i, (n, out) in enumerate(zip(blocks, channels), start=1):
        stage = [basic_block(c, out, 1 if i == 1 else 2, rng, dtype)]
        stage += [basic_block(out, out, 1, rng, dtype) for _ in range(n - 1)]
        layers.append((f"layer{i}", Sequential(*stage)))
        c = out
    layers += [("avgpool", GlobalAvgPool2d()), ("flatten", Flatten()),
               ("fc", Linear(c, num_classes, rng=rng, dtype=dtype))]
    return Sequential(*layers)


# --- training ------------------------------------------------------------------------------------

def evaluate(model, X, y, batch_size=500):
    """``(mean cross-entropy, accuracy)`` of ``model`` on ``(X, y)``, in evaluation mode.

    ``X: (N, ...)`` inputs, ``y: (N,)`` integer labels; no inputs are kept for backward.
    """
    total_loss, correct = 0.0, 0
    with no_grad():
        for i in range(0, len(X), batch_size):
            logits = model.forward(X[i : i + batch_size], training=False)
            loss, _ = ops.softmax_cross_entropy(logits, y[i : i + batch_size])
            total_loss += loss * len(logits)
            correct += int((logits.argmax(axis=1) == y[i : i + batch_size]).sum())
    return total_loss / len(X), correct / len(X)


def fit(model, X, y, X_val=None, y_val=None, epochs=10, batch_size=64, lr=0.05, momentum=0.9,
        weight_decay=5e-4, lr_schedule="constant", augment=None, seed=0, optimizer="sgd",
        progress=True, desc=None, time_limit=None, eval_batch_size=500):
    """Train a :class:`Layer` classifier with softmax cross-entropy; return its history.

    ``X: (N, ...)`` float inputs in the model's dtype, ``y: (N,)`` int labels; ``X_val, y_val``
    optional, evaluated (evaluation mode) after every epoch.  ``optimizer``: ``"sgd"``
    (:class:`dlcourse.optim.SGD`, the lecture's rule with ``momentum`` and ``weight_decay``) or
    ``"adam"`` (:class:`dlcourse.optim.Adam`, ``weight_decay`` as torch's L2 term).
    ``lr_schedule``: ``"constant"`` or ``"cosine"`` (from ``lr`` to 0 along a half cosine over
    the run, updated every step).  ``augment``: None or ``f(X_batch, rng) -> X_batch``.
    ``seed`` fixes the shuffling and the augmentation.  ``time_limit``: seconds; training stops
    after the epoch that crosses it (the history says how many epochs ran).  ``eval_batch_size``:
    images per forward pass in validation.
    Returns per-epoch lists ``train_loss``, ``train_acc`` (running averages over the epoch, in
    training mode), ``val_loss``, ``val_acc``, ``lr``, ``time`` (seconds since the start), the
    layout of :func:`dlcourse.train.train`.
    """
    from tqdm import tqdm

    from dlcourse.data import minibatches
    from dlcourse.optim import SGD, Adam

    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {lr_schedule!r}")
    if optimizer == "sgd":
        opt = SGD(model.params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = Adam(model.params, lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    history = {k: [] for k in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "time")}
    total_steps, step, start = epochs * -(-len(X) // batch_size), 0, time.perf_counter()
    model.train()
    with tqdm(total=total_steps, desc=desc or type(model).__name__, unit="batch", disable=not progress) as bar:
        for epoch in range(epochs):
            loss_sum, correct, seen = 0.0, 0, 0
            for Xb, yb in minibatches(X, y, batch_size, shuffle=True, rng=rng):
                if lr_schedule == "cosine":
                    opt.lr = lr * 0.5 * (1 + np.cos(np.pi * step / total_steps))
                if augment is not None:
                    Xb = augment(Xb, rng)
                logits = model.forward(Xb, training=True)
                loss, dlogits = ops.softmax_cross_entropy(logits, yb)
                model.zero_grad()
                model.backward(dlogits)
                opt.step(model.grads)
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
                vl, va = evaluate(model, X_val, np.asarray(y_val), batch_size=eval_batch_size)
                history["val_loss"].append(vl)
                history["val_acc"].append(va)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / seen:.3f}", val_acc=f"{va:.3f}")
            history["time"].append(time.perf_counter() - start)
            if time_limit is not None and history["time"][-1] >= time_limit:
                break
    model.train()
    return history


# --- from PyTorch ----------------------------------------------------------------------------------

_CONVERTERS = {}


def register_converter(torch_class, fn):
    """Teach :func:`from_torch` a module class: ``fn(module, convert) -> Layer`` builds the NumPy
    layer (without weights; ``convert(child)`` converts a sub-module).  Returns ``fn``."""
    _CONVERTERS[torch_class] = fn
    return fn


def _pairs(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _builtin_converters():
    from torch import nn

    def conv(m, _):
        if m.padding_mode != "zeros" or isinstance(m.padding, str):
            raise TypeError(f"from_torch: Conv2d with padding={m.padding!r}, padding_mode={m.padding_mode!r} "
                            f"is not supported (integer zero padding only)")
        return Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
                      bias=m.bias is not None, dtype=_np_dtype(m.weight))

    def maxpool(m, _):
        if m.ceil_mode or _pairs(m.dilation) != (1, 1) or m.return_indices:
            raise TypeError(f"from_torch: {m!r}: ceil_mode, dilation and return_indices are not supported")
        return MaxPool2d(m.kernel_size, m.stride, m.padding)

    def avgpool(m, _):
        if m.ceil_mode or not m.count_include_pad or m.divisor_override is not None:
            raise TypeError(f"from_torch: {m!r}: only count_include_pad=True, ceil_mode=False is supported")
        return AvgPool2d(m.kernel_size, m.stride, m.padding)

    def adaptive(m, _):
        if _pairs(m.output_size) != (1, 1):
            raise TypeError(f"from_torch: {m!r}: only output_size 1 (global average pooling) is supported")
        return GlobalAvgPool2d()

    def flatten(m, _):
        if m.start_dim != 1 or m.end_dim != -1:
            raise TypeError(f"from_torch: {m!r}: only Flatten(1, -1) is supported")
        return Flatten()

    def batchnorm(cls):
        def build(m, _):
            if m.momentum is None:
                raise TypeError(f"from_torch: {m!r}: momentum=None (cumulative average) is not supported")
            dtype = _np_dtype(m.weight if m.weight is not None else m.running_mean)
            return cls(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats, dtype=dtype)
        return build

    builtins = {
        nn.Conv2d: conv,
        nn.Linear: lambda m, _: Linear(m.in_features, m.out_features, m.bias is not None, dtype=_np_dtype(m.weight)),
        nn.ReLU: lambda m, _: ReLU(), nn.Sigmoid: lambda m, _: Sigmoid(), nn.Tanh: lambda m, _: Tanh(),
        nn.Identity: lambda m, _: Identity(),
        nn.MaxPool2d: maxpool, nn.AvgPool2d: avgpool, nn.AdaptiveAvgPool2d: adaptive, nn.Flatten: flatten,
        nn.Dropout: lambda m, _: Dropout(m.p),
        nn.BatchNorm1d: batchnorm(BatchNorm1d), nn.BatchNorm2d: batchnorm(BatchNorm2d),
        nn.Sequential: lambda m, convert: Sequential(*[(name, convert(c)) for name, c in m.named_children()]),
    }
    for cls, fn in builtins.items():
        _CONVERTERS.setdefault(cls, fn)
    _course_converters()


def _course_converters():
    """Converters for the course's own PyTorch models (:mod:`dlcourse.models`): the networks
    whose ``forward`` runs their children in order, the inception block (branches side by side)
    and the residual block.  ``tests/test_nn.py`` checks every one against the PyTorch model."""
    from dlcourse import models

    for name in ("LeNet", "AlexNet", "VGG", "NiN", "GoogLeNet", "ResNet"):
        if hasattr(models, name):
            _CONVERTERS.setdefault(getattr(models, name), sequential_children)
    if hasattr(models, "Inception"):
        _CONVERTERS.setdefault(models.Inception, concat_children)
    if hasattr(models, "Residual"):
        _CONVERTERS.setdefault(models.Residual, _residual_block)


def concat_children(module, convert):
    """A converter for a torch module that runs its children side by side on the same input and
    concatenates their outputs along the channels (an inception block): a :class:`Concat`."""
    return Concat(*[(name, convert(child)) for name, child in module.named_children()])


def _residual_block(module, convert):
    """:class:`dlcourse.models.Residual`: ``relu2(bn2(conv2(relu1(bn1(conv1(x))))) + shortcut(x))``."""
    main = Sequential(*[(name, convert(getattr(module, name))) for name in ("conv1", "bn1", "relu1", "conv2", "bn2")])
    shortcut = None if module.shortcut is None else convert(module.shortcut)
    return Residual(main, shortcut, activation=convert(module.relu2), shortcut_name="shortcut")


def _np_dtype(tensor):
    import torch

    return {torch.float32: np.float32, torch.float64: np.float64}.get(tensor.dtype, np.float32)


def sequential_children(module, convert):
    """A converter for a torch module whose ``forward`` applies its children in registration
    order (e.g. :class:`dlcourse.models.LeNet`): the NumPy twin is a :class:`Sequential` with the
    children's names.  Register it with :func:`register_converter`; the agreement tests check
    that the outputs match."""
    return Sequential(*[(name, convert(child)) for name, child in module.named_children()])


def _convert(module):
    for cls in type(module).__mro__:
        if cls in _CONVERTERS:
            layer = _CONVERTERS[cls](module, _convert)
            layer.training = module.training  # this layer only: each child copied its own mode
            return layer
    raise TypeError(
        f"from_torch does not know how to build {type(module).__name__}: register a converter with "
        f"dlcourse.nn.register_converter({type(module).__name__}, fn)"
    )


def from_torch(module):
    """The NumPy twin of a PyTorch module: same architecture, same weights and buffers, same mode.

    Knows ``nn.Conv2d``, ``Linear``, ``ReLU``, ``Sigmoid``, ``Tanh``, ``Identity``,
    ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d(1)``, ``Flatten``, ``Dropout``,
    ``BatchNorm1d/2d`` and ``Sequential``, and every class given to :func:`register_converter`
    (the course's models in :mod:`dlcourse.models` are known).  Parameter and buffer names equal
    the module's ``state_dict`` keys; float64 modules give float64 layers.
    """
    _builtin_converters()
    layer = _convert(module)
    layer.load_state_dict(module.state_dict())
    return layer
