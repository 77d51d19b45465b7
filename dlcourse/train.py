"""A reusable PyTorch training loop, its evaluation and its curves (chapter 7 on).

:func:`train` runs minibatch SGD with momentum and weight decay (``torch.optim.SGD``, the same
rule as :class:`dlcourse.optim.SGD`, see there) on whatever device :func:`dlcourse.device`
picks, with a progress bar, and returns a history of per-epoch training and validation loss and
accuracy; :func:`plot_history` draws it.  The layout of the history is the same as
:func:`dlcourse.numpy_lenet.fit`'s, so the NumPy and PyTorch runs plot alike.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["train", "evaluate", "random_shift", "plot_history"]


def _as_tensors(data, device):
    """``(X, y)`` arrays/tensors -> tensors on ``device``; uint8 ``(N, H, W)`` images are standardized."""
    X, y = data
    if isinstance(X, np.ndarray) and X.dtype == np.uint8 and X.ndim == 3:
        from dlcourse.data import to_nchw

        X = to_nchw(X)
    X = torch.as_tensor(X)
    if not (X.is_floating_point() or X.dtype == torch.int64):  # int64: token indices (N, T) of a sequence model
        raise TypeError(f"images must be floating point (N, C, H, W) or uint8 (N, H, W), got {X.dtype} {tuple(X.shape)}")
    y = torch.as_tensor(y).long()
    if len(X) != len(y):
        raise ValueError(f"images and labels differ in length: X shape {tuple(X.shape)}, y shape {tuple(y.shape)}")
    return X.to(device), y.to(device)


def _batches(data, batch_size, shuffle, generator, device):
    """Yield ``(X, y)`` batches on ``device`` from a ``DataLoader``/iterable of pairs or ``(X, y)`` tensors."""
    if isinstance(data, tuple):  # (X, y) tensors already on the device (see _prepare)
        X, y = data
        order = torch.randperm(len(X), generator=generator) if shuffle else torch.arange(len(X))
        order = order.to(device)
        for start in range(0, len(X), batch_size):
            idx = order[start : start + batch_size]
            yield X[idx], y[idx]
    else:  # a DataLoader (its own shuffling) or any iterable of (X, y)
        for X, y in data:
            yield X.to(device, non_blocking=True), y.to(device, non_blocking=True)


def _per_position(logits, y):
    """Sequence models: logits ``(N, T, V)`` against targets ``(N, T)`` are scored position by
    position, as ``N*T`` rows of a classifier (a language model predicts the next token everywhere)."""
    if logits.dim() == 3 and y.dim() == 2:
        return logits.reshape(-1, logits.shape[-1]), y.reshape(-1)
    return logits, y


def _prepare(data, device):
    if data is None:
        return None
    if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data[0], (tuple, list)):
        return _as_tensors(tuple(data), device)
    return data  # a DataLoader


def evaluate(model, data, device=None, batch_size=1000):
    """``(mean cross-entropy, accuracy)`` of ``model`` on ``data`` (``(X, y)`` or a DataLoader), in eval mode."""
    from dlcourse import device as best_device

    device = torch.device(device) if device is not None else best_device()
    data = _prepare(data, device)
    was_training = model.training
    model.eval()
    total, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for X, y in _batches(data, batch_size, False, None, device):
            logits, y = _per_position(model(X), y)
            total += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(dim=1) == y).sum().item()
            n += len(y)
    model.train(was_training)
    return total / n, correct / n


def random_shift(X, max_shift=2, generator=None):
    """Data augmentation for a batch ``X: (N, C, H, W)``: shift each image by its own random
    ``(dy, dx)`` in ``[-max_shift, max_shift]`` pixels; the border repeats the edge pixels.
    The tensor twin of :func:`dlcourse.data.random_shift`."""
    m = int(max_shift)
    if m == 0:
        return X
    n, c, h, w = X.shape
    Xp = F.pad(X, (m, m, m, m), mode="replicate")
    shifts = torch.randint(0, 2 * m + 1, (2, n), generator=generator).to(X.device)
    rows = (shifts[0][:, None] + torch.arange(h, device=X.device))[:, None, :, None].expand(n, c, h, w + 2 * m)
    Xp = Xp.gather(2, rows)
    cols = (shifts[1][:, None] + torch.arange(w, device=X.device))[:, None, None, :].expand(n, c, h, w)
    return Xp.gather(3, cols)


def train(model, train_data, val_data=None, epochs=10, lr=0.05, momentum=0.9, weight_decay=5e-4,
          batch_size=64, lr_schedule="constant", augment=None, device=None, seed=0, progress=True,
          optimizer="sgd", clip_grad_norm=None, max_seconds=None):
    """Train ``model`` (a classifier returning logits) with minibatch SGD; return its history.

    ``train_data``, ``val_data``: ``(X, y)`` pairs of arrays or tensors (``X (N, C, H, W)`` float,
    or uint8 ``(N, H, W)`` images, which are standardized with :func:`dlcourse.data.to_nchw`;
    ``y (N,)`` class indices) or ``DataLoader``\\ s.  Loss: cross-entropy.  Optimizer:
    ``torch.optim.SGD(lr, momentum, weight_decay)``; ``lr_schedule``: ``"constant"`` or
    ``"cosine"`` (from ``lr`` down to 0 along a half cosine, updated every step).  ``augment``:
    None or a function applied to each training batch of images (e.g. :func:`random_shift`).
    ``device``: default :func:`dlcourse.device`; the model and data are moved there.  ``seed``
    fixes the shuffling and augmentation (seed the initial weights yourself, with
    ``torch.manual_seed`` before building the model).

    Sequence models (chapters 14-16): ``X`` may hold int64 token indices ``(N, T)``, and logits
    ``(N, T, V)`` are scored against targets ``(N, T)`` at every position (loss and accuracy per
    token), e.g. a :class:`dlcourse.text.SeqDataLoader`.  ``optimizer``: ``"sgd"`` (above) or
    ``"adam"`` (``torch.optim.Adam(lr, weight_decay)``; ``momentum`` is ignored).
    ``clip_grad_norm``: None, or the largest global gradient norm allowed
    (``torch.nn.utils.clip_grad_norm_`` before every step), which keeps a recurrent network's
    exploding gradients from throwing its weights away.  ``max_seconds``: None, or a time budget:
    training stops after the first batch that ends past it (that last epoch is partial; it is
    still evaluated and recorded), so models can be compared at the same wall-clock cost.

    Returns a dict of per-epoch lists: ``train_loss`` and ``train_acc`` (running averages over
    the epoch's minibatches, in training mode), ``val_loss`` and ``val_acc`` (after each epoch,
    in eval mode; empty without ``val_data``), ``lr`` (at the epoch's end) and ``time``
    (seconds since the start).
    """
    from tqdm import tqdm

    from dlcourse import device as best_device

    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {lr_schedule!r}")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    device = torch.device(device) if device is not None else best_device()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model.to(device)
    train_data, val_data = _prepare(train_data, device), _prepare(val_data, device)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    try:
        steps_per_epoch = len(train_data) if not isinstance(train_data, tuple) else math.ceil(len(train_data[0]) / batch_size)
    except TypeError:
        steps_per_epoch = None
    total_steps = None if steps_per_epoch is None else epochs * steps_per_epoch
    if lr_schedule == "cosine":
        if total_steps is None:
            raise ValueError("lr_schedule='cosine' needs train_data with a length")
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps)))
    else:
        sched = None
    history = {k: [] for k in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "time")}
    start = time.perf_counter()
    with tqdm(total=total_steps, desc=f"training {type(model).__name__}", unit="batch", disable=not progress) as bar:
        for epoch in range(epochs):
            model.train()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), dtype=torch.long, device=device)
            seen = 0
            out_of_time = False
            for X, y in _batches(train_data, batch_size, True, generator, device):
                if augment is not None:
                    X = augment(X)
                logits, y = _per_position(model(X), y)
                loss = F.cross_entropy(logits, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if clip_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
                opt.step()
                if sched is not None:
                    sched.step()
                loss_sum += loss.detach() * len(y)
                correct += (logits.detach().argmax(dim=1) == y).sum()
                seen += len(y)
                bar.update(1)
                if max_seconds is not None and time.perf_counter() - start > max_seconds:
                    out_of_time = True
                    break
            history["train_loss"].append(loss_sum.item() / seen)
            history["train_acc"].append(correct.item() / seen)
            history["lr"].append(opt.param_groups[0]["lr"])
            postfix = dict(epoch=epoch + 1, loss=f"{history['train_loss'][-1]:.3f}", acc=f"{history['train_acc'][-1]:.3f}")
            if val_data is not None:
                vl, va = evaluate(model, val_data, device=device)
                history["val_loss"].append(vl)
                history["val_acc"].append(va)
                postfix["val_acc"] = f"{va:.3f}"
            bar.set_postfix(postfix)
            history["time"].append(time.perf_counter() - start)
            if out_of_time:
                break
    return history


def plot_history(history, axes=None, title=None):
    """Training and validation curves of a history from :func:`train` (or ``numpy_lenet.fit``).

    Two panels side by side: loss and accuracy against the epoch, training solid and validation
    dashed.  ``axes``: two matplotlib axes to draw on (default: a new figure).  Returns the axes.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    for ax, key, label in ((axes[0], "loss", "cross-entropy"), (axes[1], "acc", "accuracy")):
        ax.plot(epochs, history[f"train_{key}"], "-o", ms=3, label="train")
        if history.get(f"val_{key}"):
            ax.plot(epochs[: len(history[f"val_{key}"])], history[f"val_{key}"], "--o", ms=3, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        axes[0].figure.suptitle(title)
    return axes
