"""What each kind of task may not load, for the sandbox to hide (one source: the worker's lists)."""
from __future__ import annotations

from pathlib import Path

from autograder.worker import FORBIDDEN_IN_NUMPY, FORBIDDEN_IN_TORCH, package_dirs


def forbidden_packages(mode: str) -> tuple:
    """Top-level package names a ``"numpy"`` or ``"torch"`` task may not use."""
    if mode not in ("numpy", "torch"):
        raise ValueError(f"mode must be 'numpy' or 'torch', not {mode!r}")
    return FORBIDDEN_IN_NUMPY if mode == "numpy" else FORBIDDEN_IN_TORCH


def hidden_package_dirs(mode: str) -> list:
    """Real paths of the forbidden packages' installed folders (and vendored ``.libs``) for
    ``mode``: the sandbox should not show them at all to a task of that mode."""
    return [Path(p) for p in package_dirs(forbidden_packages(mode))]
