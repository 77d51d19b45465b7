"""Figures and displays the book uses: image grids, annotated small matrices, curves, source.

Only this module imports matplotlib, and only when a function here is called, so ``import
dlcourse`` stays light for the autograder and the tests.  Every function returns the matplotlib
objects it drew on, so a caller can add to a figure after the fact.
"""
from __future__ import annotations

import inspect
import math

import numpy as np

__all__ = ["show_images", "show_matrix", "show_matrices", "plot_curves", "show_source"]


def _as_numpy(a):
    """A NumPy copy of ``a`` (a NumPy array, a tensor on any device, or a nested list)."""
    if hasattr(a, "detach"):  # a torch.Tensor, possibly on a GPU or requiring grad
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _grid(n, ncols, cell_size, figsize=None):
    import matplotlib.pyplot as plt

    ncols = max(1, min(n, ncols or n))
    nrows = math.ceil(n / ncols)
    if figsize is None:
        figsize = (cell_size * ncols, cell_size * nrows)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, layout="constrained")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def show_images(images, titles=None, ncols=None, cmap="gray", cell_size=2.5, vmin=None, vmax=None,
                colorbar=False, figsize=None):
    """Show a grid of images, one per axis, without ticks.

    ``images``: a sequence of 2-D ``(H, W)`` grayscale arrays or 3-D ``(H, W, 3)`` RGB arrays
    (NumPy arrays or tensors; sizes may differ).  ``titles``: one string per image or None.
    ``ncols``: images per row (default: all in one row).  ``vmin``/``vmax`` fix the colour range
    of grayscale images (default: each image is scaled to its own range); ``colorbar`` adds one
    per image.  Returns ``(fig, axes)`` with ``axes`` a 2-D array of matplotlib axes.
    """
    images = [_as_numpy(im) for im in images]
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    fig, axes = _grid(len(images), ncols, cell_size, figsize)
    for k, (ax, im) in enumerate(zip(axes.flat, images)):
        if im.ndim not in (2, 3):
            raise ValueError(f"image {k} must be (H, W) or (H, W, 3), got shape {im.shape}")
        shown = ax.imshow(im, cmap=cmap if im.ndim == 2 else None, vmin=vmin, vmax=vmax,
                          interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[k])
        if colorbar and im.ndim == 2:
            fig.colorbar(shown, ax=ax, shrink=0.8)
    return fig, axes


def show_matrix(A, ax=None, title=None, fmt="{:g}", cmap="Blues", highlight=(), fontsize=None,
                symmetric=False):
    """Draw a small 2-D array as a grid of cells with its values written in them.

    ``A: (h, w)`` array or tensor.  ``fmt`` formats each value.  ``highlight`` is a sequence of
    ``(row, col, height, width)`` or ``(row, col, height, width, colour)`` rectangles to outline
    (e.g. the window a kernel sits on; the default colour is crimson).  ``symmetric`` centres
    the colour scale on zero (for signed values such as kernels, with a diverging ``cmap``).  Draws on ``ax`` (a new figure when None) and returns the axis.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    A = _as_numpy(A)
    if A.ndim != 2:
        raise ValueError(f"show_matrix needs a 2-D array, got shape {A.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.5 * A.shape[1] + 0.6, 0.5 * A.shape[0] + 0.6),
                             layout="constrained")
    values = A.astype(float)
    if symmetric:  # zero in the middle of the colour map; pale colours keep the text readable
        m = 1.6 * float(np.abs(values).max()) + 1e-12
        vmin, vmax = -m, m
    else:  # leave the darkest colours unused so the text stays readable
        lo, hi = float(values.min()), float(values.max())
        vmin, vmax = lo - 0.25 * (hi - lo + 1e-12), hi + 0.5 * (hi - lo + 1e-12)
    ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    for (i, j), v in np.ndenumerate(A):
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=fontsize)
    for row, col, h, w, *color in highlight:
        inset = 0.06  # so that frames of neighbouring windows stay apart
        ax.add_patch(Rectangle((col - 0.5 + inset, row - 0.5 + inset), w - 2 * inset, h - 2 * inset,
                               fill=False, edgecolor=color[0] if color else "crimson", linewidth=2.5))
    ax.set_xticks(np.arange(A.shape[1] + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(A.shape[0] + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if title is not None:
        ax.set_title(title)
    return ax


def show_matrices(matrices, titles=None, ncols=None, cell_size=2.2, highlights=None, **kwargs):
    """Several :func:`show_matrix` panels side by side.

    ``matrices``: sequence of 2-D arrays; ``titles``: one per matrix or None; ``highlights``: one
    ``highlight`` sequence per matrix or None; other keyword arguments go to :func:`show_matrix`.
    Returns ``(fig, axes)``.
    """
    fig, axes = _grid(len(matrices), ncols, cell_size)
    for k, (ax, A) in enumerate(zip(axes.flat, matrices)):
        show_matrix(A, ax=ax, title=None if titles is None else titles[k],
                    highlight=() if highlights is None else highlights[k], **kwargs)
    return fig, axes


def plot_curves(curves, xlabel="step", ylabel="loss", title=None, logy=False, ax=None,
                styles=None):
    """Plot one or more curves against their index (0, 1, 2, ...).

    ``curves``: a dict ``{label: sequence of numbers}``.  ``logy`` uses a log scale on y;
    ``styles`` maps a label to extra keyword arguments for ``ax.plot`` (e.g. a line style).
    Returns the axis.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.2), layout="constrained")
    for label, values in curves.items():
        values = _as_numpy(values).astype(float).ravel()
        ax.plot(np.arange(len(values)), values, label=label, **(styles or {}).get(label, {}))
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    ax.grid(True, alpha=0.3)
    return ax


def show_source(obj):
    """Display the source code of ``obj`` (a function, class or module) as a Python code block.

    This is how the book shows the library's code instead of a copy of it: the text comes from
    ``inspect.getsource`` at run time, so the page always shows the code that runs.  Returns an
    ``IPython.display.Markdown`` object (rendered with syntax highlighting by Jupyter and by
    the book).
    """
    from IPython.display import Markdown

    source = inspect.getsource(obj)
    fence = "````"
    while fence in source:
        fence += "`"
    return Markdown(f"{fence}python\n{source.rstrip()}\n{fence}\n")
