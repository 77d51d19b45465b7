"""Overfitting and its remedies, measured (chapter 19).

* :func:`overfit_mlp` -- a multilayer perceptron big enough to memorize a few hundred images, with
  an optional :class:`torch.nn.Dropout` after every hidden layer.
* :func:`fit_curves` -- trains a classifier with SGD (momentum, weight decay, augmentation as
  :func:`dlcourse.train.train`) and records the loss and accuracy on the training, validation and
  test sets after every epoch, all in evaluation mode, so the three curves are comparable; with
  ``patience`` it stops early and restores the weights of the best validation epoch.
* :func:`early_stopping_epoch` -- the rule itself, on a list of validation losses.
* :func:`accuracy_standard_error` -- how far a test accuracy measured on ``n`` images can be off.

The math of weight decay is in the twins (:func:`dlcourse.numpy_ops.l2_penalty`,
:func:`dlcourse.numpy_ops.sgd_update`); dropout in :func:`dlcourse.numpy_ops.dropout`;
augmentation in :mod:`dlcourse.augment`.
"""
from __future__ import annotations

import copy
import math
import time

import numpy as np

__all__ = ["overfit_mlp", "early_stopping_epoch", "fit_curves", "accuracy_standard_error"]


def overfit_mlp(hidden=(512, 512), dropout=0.0, in_features=784, num_classes=10):
    """``Flatten -> [Linear -> ReLU -> Dropout(dropout)] * len(hidden) -> Linear`` (a torch module).

    Takes ``(N, 1, 28, 28)`` images (any ``(N, ...)`` with ``in_features`` values each) and returns
    logits ``(N, num_classes)``.  With ``dropout=0`` no Dropout layer is added.
    """
    import torch.nn as nn

    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    layers, width = [nn.Flatten()], in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def early_stopping_epoch(val_losses, patience=None, min_delta=0.0):
    """Where early stopping stops and which weights it keeps: ``(best_epoch, stop_epoch)``, 1-based.

    ``val_losses``: the validation loss after epochs 1, 2, ...  An epoch *improves* when its loss
    is below the best so far by more than ``min_delta``.  Training stops after ``patience``
    epochs in a row without improvement (``stop_epoch``; with ``patience=None``, or if that never
    happens, the last epoch), and keeps the weights of the best epoch seen up to then.
    """
    losses = [float(v) for v in val_losses]
    if not losses:
        raise ValueError("val_losses is empty: early stopping needs at least one epoch")
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be None or an int >= 1, got {patience!r}")
    if not min_delta >= 0:
        raise ValueError(f"min_delta must be >= 0, got {min_delta!r}")
    best, best_epoch, waited = math.inf, 0, 0
    for epoch, loss in enumerate(losses, start=1):
        if loss < best - min_delta:
            best, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
            if patience is not None and waited >= patience:
                return best_epoch, epoch
    return best_epoch, len(losses)


def accuracy_standard_error(accuracy, n):
    """The standard error ``sqrt(p (1 - p) / n)`` of an accuracy ``p`` measured on ``n`` images."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    return math.sqrt(max(accuracy * (1 - accuracy), 0.0) / n)


def fit_curves(model, train_data, val_data, test_data=None, epochs=50, lr=0.05, momentum=0.9,
               weight_decay=0.0, batch_size=64, augment=None, patience=None, seed=0, device=None,
               progress=True):
    """Train ``model`` and record training / validation / test curves; return the history.

    ``*_data``: ``(X, y)`` as :func:`dlcourse.train.train` takes them (uint8 ``(N, 28, 28)``
    images are standardized).  Optimizer ``torch.optim.SGD(lr, momentum, weight_decay)`` (lecture
    004's rule, see :func:`dlcourse.numpy_ops.sgd_update`); ``augment``: None or ``f(X)`` applied
    to each training batch (e.g. :func:`dlcourse.augment.augmenter`).  After every epoch the
    model is evaluated (evaluation mode: no dropout, no augmentation) on all three sets.
    ``patience``: None (train all ``epochs``) or early stopping by :func:`early_stopping_epoch`:
    training stops once the validation loss has not improved for ``patience`` epochs, and the
    weights of the best validation epoch are restored.

    Returns a dict: ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``test_loss``,
    ``test_acc`` (per-epoch lists; test empty without ``test_data``), ``time`` (seconds since the
    start), ``best_epoch`` (1-based, lowest validation loss), ``stop_epoch`` and ``final`` (the
    returned model's ``{"train_acc", "val_acc", "test_acc"}``: the best epoch's with early
    stopping, else the last epoch's).
    """
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from dlcourse import device as best_device
    from dlcourse.train import _batches, _prepare, evaluate

    device = torch.device(device) if device is not None else best_device()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model.to(device)
    train_data, val_data, test_data = (_prepare(d, device) for d in (train_data, val_data, test_data))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    keys = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "time")
    history = {k: [] for k in keys}
    best_state, start = None, time.perf_counter()
    for epoch in tqdm(range(1, epochs + 1), desc="epochs", disable=not progress):
        model.train()
        for X, y in _batches(train_data, batch_size, True, generator, device):
            if augment is not None:
                X = augment(X)
            loss = F.cross_entropy(model(X), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        for name, data in (("train", train_data), ("val", val_data), ("test", test_data)):
            if data is not None:
                l, a = evaluate(model, data, device=device)
                history[f"{name}_loss"].append(l)
                history[f"{name}_acc"].append(a)
        history["time"].append(time.perf_counter() - start)
        best_epoch, stop_epoch = early_stopping_epoch(history["val_loss"], patience)
        if best_epoch == epoch and patience is not None:
            best_state = copy.deepcopy(model.state_dict())
        if patience is not None and epoch - best_epoch >= patience:
            break  # no improvement for `patience` epochs (stop_epoch == epoch)
    best_epoch, stop_epoch = early_stopping_epoch(history["val_loss"], patience)
    history["best_epoch"], history["stop_epoch"] = best_epoch, stop_epoch
    if patience is not None and best_state is not None:
        model.load_state_dict(best_state)
        pick = best_epoch - 1
    else:
        pick = len(history["val_loss"]) - 1
    history["final"] = {f"{n}_acc": history[f"{n}_acc"][pick] for n in ("train", "val", "test") if history[f"{n}_acc"]}
    return history
