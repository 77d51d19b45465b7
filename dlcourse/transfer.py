"""Transfer learning with weights the course trains itself (chapter 22).

Lecture 003's scenarios, on a small CNN pretrained on one task (MNIST digits 0-4) and moved to
another (digits 5-9) with few labels:

* **from scratch**: random weights, everything trained on the few labels;
* **feature extractor**: the pretrained body frozen, only a new last layer (the head) trained;
* **fine-tuning**: the pretrained weights as the starting point, all layers trained (the body
  with a smaller learning rate, so the few labels adjust rather than erase what it learned);
* **fine-tuning the top**: the early (convolutional) layers frozen, the later ones trained.

:func:`small_cnn` is the network; :func:`prepare_transfer` sets one of the scenarios up (a fresh
head, frozen parameters); :func:`param_groups` gives the optimizer one learning rate per part;
:func:`fine_tune` trains; :func:`balanced_subset` draws the few labels.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["small_cnn", "SCENARIOS", "freeze", "count_parameters", "prepare_transfer", "param_groups",
           "balanced_subset", "fine_tune", "predict", "pretrained_weights"]

SCENARIOS = ("scratch", "feature_extractor", "fine_tune_top", "fine_tune")
"""The scenarios :func:`prepare_transfer` knows, in the order the chapter's table lists them."""

_TRAINABLE = {"scratch": ("",), "feature_extractor": ("head.",), "fine_tune_top": ("features.fc.", "head."),
              "fine_tune": ("",)}


def small_cnn(num_classes=5, seed=None):
    """A small LeNet-like CNN for ``(N, 1, 28, 28)`` images: ``features`` then ``head``.

    ``features``: conv 5x5 (1 -> 16, padding 2) - ReLU - max pool 2, conv 5x5 (16 -> 32) - ReLU -
    max pool 2, flatten, ``fc`` 800 -> 128 - ReLU: a 128-number description of the image.
    ``head``: Linear 128 -> ``num_classes`` (the logits).  ``seed``: seeds the initial weights.
    """
    import torch
    import torch.nn as nn
    from collections import OrderedDict

    if seed is not None:
        torch.manual_seed(seed)
    features = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 16, 5, padding=2)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(16, 32, 5)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()), ("fc", nn.Linear(32 * 5 * 5, 128)), ("relu3", nn.ReLU()),
    ]))
    return nn.Sequential(OrderedDict([("features", features), ("head", nn.Linear(128, num_classes))]))


def freeze(model, trainable=("head.",)):
    """Freeze every parameter of ``model`` whose name starts with none of ``trainable``.

    ``trainable``: name prefixes as in ``model.named_parameters()`` (``("",)``: everything).
    Sets ``requires_grad`` accordingly and returns the trainable names, in order.  A frozen
    parameter gets no gradient, so ``torch.optim.SGD`` leaves it (and its weight decay) alone.
    """
    if isinstance(trainable, str):
        trainable = (trainable,)
    names = []
    for name, p in model.named_parameters():
        p.requires_grad_(any(name.startswith(prefix) for prefix in trainable))
        if p.requires_grad:
            names.append(name)
    return names


def count_parameters(model, trainable_only=True):
    """How many numbers ``model`` has (only those with ``requires_grad`` by default)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def prepare_transfer(pretrained, scenario, num_classes=5, seed=0):
    """A new model for the target task, set up for ``scenario`` (one of :data:`SCENARIOS`).

    ``pretrained``: a :func:`small_cnn` trained on the source task (unchanged: it is copied);
    ignored for ``"scratch"``, which starts from random weights.  The head is always new (the
    target's ``num_classes``, random weights drawn with ``seed``); parameters outside the
    scenario's trainable part are frozen (see :func:`freeze`).
    """
    import copy

    import torch
    import torch.nn as nn

    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")
    if scenario == "scratch":
        model = small_cnn(num_classes, seed=seed)
    else:
        model = copy.deepcopy(pretrained)
        torch.manual_seed(seed)
        model.head = nn.Linear(model.head.in_features, num_classes)
    freeze(model, _TRAINABLE[scenario])
    return model


def param_groups(model, lrs):
    """Optimizer parameter groups with one learning rate per name prefix (discriminative rates).

    ``lrs``: ``{prefix: lr}``; each trainable parameter joins the group of the LONGEST prefix its
    name starts with (so ``{"": 0.01, "head.": 0.1}`` gives the head 0.1 and the rest 0.01);
    a trainable parameter no prefix matches raises ``ValueError``.  Frozen parameters are left
    out.  Returns ``[{"params": [...], "lr": lr, "names": [...]}, ...]`` (groups without
    parameters omitted), ready for ``torch.optim.SGD(groups, lr=...)``.
    """
    groups = {prefix: {"params": [], "lr": float(lr), "names": []} for prefix, lr in lrs.items()}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        matches = [prefix for prefix in lrs if name.startswith(prefix)]
        if not matches:
            raise ValueError(f"trainable parameter {name!r} matches none of the prefixes {sorted(lrs)}")
        group = groups[max(matches, key=len)]
        group["params"].append(p)
        group["names"].append(name)
    return [g for g in groups.values() if g["params"]]


def balanced_subset(X, y, n, seed=0):
    """``n`` examples of ``(X, y)``, as equally many per class as possible, drawn at random.

    ``n // k`` of each of the ``k`` classes present, the remaining ``n % k`` from classes drawn at
    random; returns ``(X_sub, y_sub)`` in random order.  Few labels, but every class has some.
    """
    X, y = np.asarray(X), np.asarray(y)
    classes = np.unique(y)
    rng = np.random.default_rng(seed)
    per_class = np.full(len(classes), n // len(classes))
    per_class[rng.choice(len(classes), n % len(classes), replace=False)] += 1
    picked = []
    for c, m in zip(classes, per_class):
        where = np.flatnonzero(y == c)
        if m > len(where):
            raise ValueError(f"asked for {m} examples of class {c}, but there are only {len(where)}")
        picked.append(rng.choice(where, m, replace=False))
    idx = rng.permutation(np.concatenate(picked))
    return X[idx], y[idx]


def fine_tune(model, train_data, steps=150, lr=0.05, body_lr=None, momentum=0.9, weight_decay=5e-4,
              batch_size=32, seed=0, augment=None):
    """Train the trainable parameters of ``model`` for ``steps`` minibatch SGD steps.

    ``train_data``: ``(X, y)`` (uint8 ``(N, 28, 28)`` images are standardized); however few the
    examples, the number of steps is the same (an epoch of 10 images is one step).  ``lr``: the
    head's rate; ``body_lr``: the rest's (default: ``lr``).  Cross-entropy loss, SGD with
    momentum and weight decay, a half-cosine decay of the rates.  Returns ``model`` (trained, in
    evaluation mode).
    """
    import torch
    import torch.nn.functional as F

    from dlcourse.train import _batches, _prepare

    device = next(model.parameters()).device
    X, y = _prepare(train_data, device)
    groups = param_groups(model, {"": lr if body_lr is None else body_lr, "head.": lr})
    for g in groups:
        g.pop("names")
    opt = torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model.train()
    done = 0
    while done < steps:
        for xb, yb in _batches((X, y), min(batch_size, len(X)), True, generator, device):
            if augment is not None:
                xb = augment(xb)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            done += 1
            if done == steps:
                break
    return model.eval()


def predict(model, X, batch_size=1000):
    """Predicted labels ``(N,)`` (NumPy int64) of ``model`` for images ``X`` (as :func:`fine_tune`)."""
    import torch

    from dlcourse.train import _as_tensors

    device = next(model.parameters()).device
    X, _ = _as_tensors((X, np.zeros(len(X), dtype=np.int64)), device)
    model.eval()
    with torch.no_grad():
        return torch.cat([model(X[i : i + batch_size]).argmax(1) for i in range(0, len(X), batch_size)]).cpu().numpy()


def pretrained_weights(images, labels, n=2000, epochs=2, seed=0):
    """The weights of a :func:`small_cnn` pretrained on the digits 0-4: a tuple of NumPy arrays.

    ``images``: uint8 ``(N, 28, 28)``, ``labels``: ``(N,)``; the first ``n`` images (in the order
    of a fixed permutation drawn with ``seed``) whose label is below 5 are trained on for
    ``epochs`` epochs (:func:`dlcourse.train.train`, learning rate 0.05, batches of 64, one CPU
    thread, deterministic).  Returns the arrays of ``model.state_dict()`` in its order
    (``features.conv1.weight``, ``features.conv1.bias``, ..., ``head.weight``, ``head.bias``):
    what chapter 22's graded fine-tuning task receives as its pretrained network.
    """
    import torch

    from dlcourse.train import train

    images, labels = np.asarray(images), np.asarray(labels)
    order = np.random.default_rng(seed).permutation(len(labels))
    pick = order[labels[order] < 5][:n]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = small_cnn(5, seed=seed)
        train(model, (images[pick], labels[pick]), epochs=epochs, lr=0.05, batch_size=64, seed=seed,
              device="cpu", progress=False)
    finally:
        torch.set_num_threads(threads)
    return tuple(v.detach().cpu().numpy().copy() for v in model.state_dict().values())
