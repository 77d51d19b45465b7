"""Shared pytest configuration for the whole suite.

* Hypothesis profiles: ``dev`` (default) and ``ci`` (chosen when the ``CI`` environment variable
  is set), both without per-example deadlines (the first call into PyTorch or NumPy's einsum
  planner can be slow) and sized so the library suite runs in well under a minute on 2 cores.
  ``HYPOTHESIS_PROFILE=<name>`` picks a profile explicitly.
* ``@pytest.mark.gpu`` tests are skipped, with the reason, when CUDA is not available.
* Fixtures ``repo_root`` (the checkout) and ``shared_data`` (``../shared/data`` beside it, which
  holds the real datasets the tests may use; the test is skipped when it is absent).
* ``DLCOURSE_DATA`` points at ``../shared/data`` for the whole run when that folder exists and no
  data folder is named already, so notebooks, ``nbgrader validate`` and the grader (subprocesses
  inherit it) read the real MNIST test set; without it they use the library's documented fallback.
* ``smoke_book``: the book executed once per session with smoke parameters (and built to HTML
  when a browser test is selected) into ``_build/smoke``; see tests/smoke_book.py.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parent.parent

_COMMON = dict(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", **_COMMON)
settings.register_profile("ci", **_COMMON, derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _real_data_when_available():
    with pytest.MonkeyPatch.context() as mp:
        if SHARED_DATA.is_dir() and not (os.environ.get("DLCOURSE_DATA") or os.environ.get("DLCOURSE_MNIST")):
            mp.setenv("DLCOURSE_DATA", str(SHARED_DATA))
        yield


def _cuda_available():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items or _cuda_available():
        return  # import torch only when a GPU test was collected
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU: torch.cuda.is_available() is False")
    for item in gpu_items:
        item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The root of the checkout (the folder holding ``pyproject.toml``)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data(repo_root) -> Path:
    """``../shared/data`` beside the checkout (real MNIST, The Time Machine); skip if absent."""
    path = repo_root.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"real test data not found at {path} (it lives beside the checkout, never in it)")
    return path


@pytest.fixture(scope="session")
def smoke_book(request):
    """The session's smoke build of the book (tests/smoke_book.py): chapter results and HTML."""
    import smoke_book as builder

    return builder.build(request.session.items)
