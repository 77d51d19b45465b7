"""Datasets for the LeNet chapter: MNIST and Fashion-MNIST, read from IDX files (chapter 7).

Where the data come from, in this order:

1. ``root=`` -- a folder you name, holding the dataset's IDX files (``t10k-images-idx3-ubyte.gz``
   and friends, gzipped or not) directly or in a subfolder named after the dataset;
2. an environment variable: ``DLCOURSE_MNIST`` / ``DLCOURSE_FASHION_MNIST`` (that dataset's
   folder) or ``DLCOURSE_DATA`` (a data folder: its ``mnist/`` or ``fashion-mnist/`` subfolder is
   used, or the folder itself if the files sit there);
3. the per-user cache, :func:`cache_dir` (``~/.cache/dlcourse`` on Linux, overridable with
   ``DLCOURSE_CACHE``), filled by downloading from the canonical mirrors with MD5 verification and
   a progress bar.

A folder from 1. or 2. is authoritative and read-only: a file missing there is an error that says
which files were found (the course's CI folder, for instance, holds only the MNIST *test* set:
``load_mnist("train")`` fails and says so; use ``load_mnist("test")`` and :func:`split_dataset`).
Only when there is no such folder, nothing in the cache and no network does the loader fall back
to a small real dataset that ships with scikit-learn -- the UCI handwritten digits of
``sklearn.datasets.load_digits``, 1,797 images of 8x8 pixels resized to 28x28 -- and it says so
with a :class:`DatasetFallbackWarning`.  Never a silent substitute.

Integrity: a file whose MD5 does not match the published one is deleted, never cached; a
truncated or corrupt IDX file raises :class:`CorruptFileError` naming the file and what is wrong.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import sys
import urllib.error
import urllib.request
import warnings
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "load_mnist",
    "load_fashion_mnist",
    "load_digits_28",
    "read_idx",
    "download_file",
    "cache_dir",
    "split_dataset",
    "minibatches",
    "to_nchw",
    "random_shift",
    "MNIST_MEAN",
    "MNIST_STD",
    "FASHION_MNIST_CLASSES",
    "CorruptFileError",
    "DatasetFallbackWarning",
]

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
"""Mean and standard deviation of the MNIST training pixels scaled to [0, 1] (the usual constants)."""

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000),
}

# Published MD5 checksums of the gzipped files.
DATASETS = {
    "mnist": {
        "title": "MNIST",
        "env": "DLCOURSE_MNIST",
        "subfolders": ("mnist", "MNIST"),
        "mirrors": [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch's mirror
            "http://yann.lecun.com/exdb/mnist/",  # the original home (often refuses scripts)
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ],
        "md5": {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    },
    "fashion-mnist": {
        "title": "Fashion-MNIST",
        "env": "DLCOURSE_FASHION_MNIST",
        "subfolders": ("fashion-mnist", "fashion_mnist", "FashionMNIST"),
        "mirrors": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        "md5": {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    },
}


class CorruptFileError(ValueError):
    """A data file is truncated, not in the expected format, or fails its checksum."""


class DatasetFallbackWarning(UserWarning):
    """The requested dataset was unavailable and a stand-in (named in the message) is used."""


# --- where files live ----------------------------------------------------------------------------

def cache_dir():
    """The per-user cache folder for downloads (created on first use).

    ``DLCOURSE_CACHE`` if set; else the platform's cache folder: ``$XDG_CACHE_HOME/dlcourse`` or
    ``~/.cache/dlcourse`` on Linux, ``~/Library/Caches/dlcourse`` on macOS,
    ``%LOCALAPPDATA%\\dlcourse\\Cache`` on Windows.
    """
    if os.environ.get("DLCOURSE_CACHE"):
        return Path(os.environ["DLCOURSE_CACHE"]).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
        return base / "dlcourse" / "Cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "dlcourse"
    return Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "dlcourse"


def _find(folder, stem):
    """``folder/stem.gz`` or ``folder/stem`` (raw IDX), whichever exists, else None."""
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _local_folder(name, root):
    """The user's folder for dataset ``name``: ``(folder, how)``, or ``(None, None)``.

    ``root=`` and the dataset's own variable are authoritative (used even if files are missing,
    so the error can say so).  ``$DLCOURSE_DATA`` is a general data folder: it is used when it has
    the dataset's subfolder or holds IDX files itself, and skipped otherwise.
    """
    spec = DATASETS[name]
    if root is not None:
        folder, how, general = Path(root).expanduser(), f"root={str(root)!r}", False
    elif os.environ.get(spec["env"]):
        folder, how, general = Path(os.environ[spec["env"]]).expanduser(), f"${spec['env']}", False
    elif os.environ.get("DLCOURSE_DATA"):
        folder, how, general = Path(os.environ["DLCOURSE_DATA"]).expanduser(), "$DLCOURSE_DATA", True
    else:
        return None, None
    if not folder.is_dir():
        raise FileNotFoundError(f"{spec['title']}: the data folder given by {how} does not exist: {folder}")
    for sub in spec["subfolders"]:
        if (folder / sub).is_dir():
            return folder / sub, how
    if general and not any(_find(folder, stem) for stems in _FILES.values() for stem in stems[:2]):
        return None, None
    return folder, how


def _md5(path):
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_not_other_dataset(name, path):
    """A gz file in a local folder that is, byte for byte, another dataset's file: refuse it.

    (MNIST and Fashion-MNIST use the same file names, so a folder mix-up is easy to make.)
    """
    if path.suffix != ".gz":
        return
    digest = _md5(path)
    for other, spec in DATASETS.items():
        if other != name and digest in spec["md5"].values():
            raise CorruptFileError(
                f"{path} is {spec['title']}'s file (MD5 {digest}), not {DATASETS[name]['title']}'s: "
                f"point the loader at the {DATASETS[name]['title']} folder"
            )


# --- reading IDX ---------------------------------------------------------------------------------

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Read an IDX file (LeCun's format for MNIST), gzipped or raw, into a NumPy array.

    The format: two zero bytes, a type code (``0x08`` = uint8, ...), the number of dimensions
    ``d``, then ``d`` big-endian uint32 sizes, then the data in C order.  Gzip is recognised by its
    magic bytes, not by the file name.  Returns an array of the stored type (native byte order).
    Raises :class:`CorruptFileError` if the file is truncated, has trailing bytes, or is not IDX.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise CorruptFileError(f"{path}: corrupt or truncated gzip file ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise CorruptFileError(f"{path}: not an IDX file (header bytes {raw[:4].hex() or 'missing'})")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise CorruptFileError(f"{path}: truncated IDX header ({len(raw)} bytes, need {header})")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise CorruptFileError(
            f"{path}: IDX file {what}: shape {shape} of {dtype.name} needs {expected} bytes, file has {len(raw)}"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _read_pair(images_path, labels_path, title, split):
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise CorruptFileError(f"{images_path}: expected uint8 images (N, rows, cols), got {images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise CorruptFileError(
            f"{title} {split}: {images.shape[0]} images in {images_path.name} but labels of shape "
            f"{labels.shape} in {labels_path.name}"
        )
    return images, labels.astype(np.int64)


# --- downloading ---------------------------------------------------------------------------------

def _urlopen(url, timeout):
    """``urllib.request.urlopen`` (kept as a module attribute so tests can replace it)."""
    return urllib.request.urlopen(url, timeout=timeout)


def download_file(url, dest, md5=None, progress=True, timeout=30, sha256=None):
    """Download ``url`` (``http(s)://`` or ``file://``) to ``dest``, verifying its MD5 (or SHA-256).

    The bytes go to a temporary file beside ``dest`` and are moved into place only when complete
    and, if ``md5`` / ``sha256`` is given, matching it; on any failure the partial file is deleted, so the
    cache never holds a bad file.  Shows a tqdm progress bar when ``progress``.  Returns ``dest``.
    Raises :class:`CorruptFileError` on a checksum mismatch, ``OSError``/``URLError`` on network
    failure.
    """
    from tqdm import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    digest = hashlib.md5(usedforsecurity=False)
    digest256 = hashlib.sha256()
    try:
        with _urlopen(url, timeout) as response, open(part, "wb") as out:
            total = response.headers.get("Content-Length") if hasattr(response, "headers") else None
            with tqdm(total=int(total) if total else None, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=f"downloading {dest.name}", disable=not progress, file=sys.stderr) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    digest.update(block)
                    digest256.update(block)
                    bar.update(len(block))
        if md5 is not None and digest.hexdigest() != md5:
            raise CorruptFileError(
                f"checksum mismatch for {url}: MD5 {digest.hexdigest()}, expected {md5}; the file was not saved"
            )
        if sha256 is not None and digest256.hexdigest() != sha256:
            raise CorruptFileError(
                f"checksum mismatch for {url}: SHA-256 {digest256.hexdigest()}, expected {sha256}; the file was not saved"
            )
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return dest


def _from_cache(name, split, download, progress):
    """Paths of the split's two files in the cache, downloading what is missing.

    Returns ``(paths, None)`` or ``(None, reason)`` when the network is unreachable (so the caller
    may fall back).  A checksum mismatch on every mirror raises :class:`CorruptFileError`.
    """
    spec = DATASETS[name]
    folder = cache_dir() / name
    paths = []
    for stem in _FILES[split][:2]:
        fname = stem + ".gz"
        path, md5 = folder / fname, spec["md5"][fname]
        if path.is_file() and _md5(path) != md5:
            path.unlink()  # damaged in the cache (e.g. the disk filled up): fetch it again
        if not path.is_file():
            if not download:
                return None, f"not in the cache ({path}) and download=False"
            errors, mismatch = [], None
            for mirror in spec["mirrors"]:
                try:
                    download_file(mirror + fname, path, md5=md5, progress=progress)
                    break
                except CorruptFileError as err:
                    mismatch = err
                    errors.append(str(err))
                except (OSError, urllib.error.URLError, ValueError) as err:
                    errors.append(f"{mirror + fname}: {err}")
            else:
                if mismatch is not None:
                    raise CorruptFileError("; ".join(errors))
                return None, "download failed (" + "; ".join(errors) + ")"
        paths.append(path)
    return paths, None


# --- the fallback --------------------------------------------------------------------------------

def _resize_bilinear(images, size):
    """Resize ``(N, h, w)`` float images to ``(N, size, size)`` by bilinear interpolation (NumPy)."""
    n, h, w = images.shape
    # Sample at pixel centres, as image libraries do.
    ys = np.clip((np.arange(size) + 0.5) * h / size - 0.5, 0, h - 1)
    xs = np.clip((np.arange(size) + 0.5) * w / size - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = (ys - y0)[None, :, None], (xs - x0)[None, None, :]
    top = images[:, y0][:, :, x0] * (1 - wx) + images[:, y0][:, :, x1] * wx
    bottom = images[:, y1][:, :, x0] * (1 - wx) + images[:, y1][:, :, x1] * wx
    return top * (1 - wy) + bottom * wy


def load_digits_28(split="train", test_fraction=0.2, seed=0):
    """scikit-learn's bundled handwritten digits, made to look like MNIST: the offline fallback.

    ``sklearn.datasets.load_digits``: 1,797 images of 8x8 pixels with 17 grey levels (UCI
    "Optical Recognition of Handwritten Digits").  Each is resized to 20x20 (bilinear) and centred
    in a 28x28 frame with 4 pixels of margin, as MNIST centres its digits in a 20x20 box; grey
    levels 0..16 become 0..255.  A fixed permutation (``seed``) puts ``test_fraction`` of the
    images in ``"test"`` and the rest in ``"train"``.  Returns ``(images uint8 (N, 28, 28),
    labels int64 (N,))``.
    """
    _check_split(split)
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(
            "no MNIST data available and scikit-learn (whose bundled digits are the offline "
            "fallback) is not installed: pip install scikit-learn, or give a data folder"
        ) from None
    digits = load_digits()
    small = digits.images.astype(np.float64) / 16.0  # (1797, 8, 8), values 0..1
    images = np.zeros((len(small), 28, 28))
    images[:, 4:24, 4:24] = _resize_bilinear(small, 20)
    images = np.clip(np.rint(images * 255), 0, 255).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = int(round(test_fraction * len(images)))
    idx = order[:n_test] if split == "test" else order[n_test:]
    return images[idx], labels[idx]


# --- the loaders ---------------------------------------------------------------------------------

def _check_split(split):
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def _load(name, split, root, download, fallback, progress):
    _check_split(split)
    spec, (img_stem, lbl_stem, _) = DATASETS[name], _FILES[split]
    folder, how = _local_folder(name, root)
    if folder is not None:
        paths = [_find(folder, img_stem), _find(folder, lbl_stem)]
        if None in paths:
            present = sorted(p.name for p in folder.iterdir() if "idx" in p.name)
            hint = ""
            if split == "train" and any(p.startswith("t10k") for p in present):
                hint = (" This folder holds only the test split: load split='test' and divide it with "
                        "dlcourse.data.split_dataset (e.g. 8,000 train / 2,000 test).")
            raise FileNotFoundError(
                f"{spec['title']} {split} split not found in {folder} (from {how}): need "
                f"{img_stem}[.gz] and {lbl_stem}[.gz]; found {present or 'no IDX files'}.{hint}"
            )
        for path in paths:
            _check_not_other_dataset(name, path)
        return _read_pair(*paths, spec["title"], split)

    paths, reason = _from_cache(name, split, download, progress)
    if paths is not None:
        try:
            return _read_pair(*paths, spec["title"], split)
        except CorruptFileError:
            for path in paths:  # passed MD5 yet unreadable: never keep it
                path.unlink(missing_ok=True)
            raise
    if not fallback:
        raise FileNotFoundError(
            f"{spec['title']} {split} split unavailable: no data folder given (root= or "
            f"${spec['env']} / $DLCOURSE_DATA) and {reason}"
        )
    extra = " (digits, not clothing)" if name == "fashion-mnist" else ""
    warnings.warn(
        f"{spec['title']} is unavailable ({reason}); using scikit-learn's bundled digits "
        f"(sklearn.datasets.load_digits, 1,797 UCI handwritten digits of 8x8 pixels, resized to "
        f"28x28){extra} as a stand-in. Give a data folder with root= or ${spec['env']} for the real data.",
        DatasetFallbackWarning,
        stacklevel=3,
    )
    return load_digits_28(split)


def load_mnist(split="train", root=None, download=True, fallback=True, progress=True):
    """The MNIST handwritten digits: ``(images uint8 (N, 28, 28), labels int64 (N,))``.

    ``split``: ``"train"`` (60,000 images) or ``"test"`` (10,000).  ``root``: a folder holding the
    IDX files (overrides the environment variables ``DLCOURSE_MNIST`` and ``DLCOURSE_DATA``).
    ``download``: fetch missing files into :func:`cache_dir` (MD5-verified, with a progress bar).
    ``fallback``: with no folder, no cache and no network, warn (:class:`DatasetFallbackWarning`)
    and return :func:`load_digits_28` instead; with ``fallback=False`` raise
    ``FileNotFoundError``.  See the module docstring for the full search order.
    """
    return _load("mnist", split, root, download, fallback, progress)


def load_fashion_mnist(split="train", root=None, download=True, fallback=True, progress=True):
    """Zalando's Fashion-MNIST (10 kinds of clothing, :data:`FASHION_MNIST_CLASSES`), as :func:`load_mnist`.

    Environment variables: ``DLCOURSE_FASHION_MNIST``, then ``DLCOURSE_DATA`` (its
    ``fashion-mnist/`` subfolder).  The offline fallback is the same scikit-learn digits, with a
    warning saying they are digits, not clothing.
    """
    return _load("fashion-mnist", split, root, download, fallback, progress)


# --- splits and batches --------------------------------------------------------------------------

def split_dataset(X, y, sizes=(8000, 2000), seed=0):
    """Deterministic random split of ``(X, y)`` into parts: ``[(X_0, y_0), (X_1, y_1), ...]``.

    ``sizes``: counts (ints, e.g. ``(7000, 1000, 2000)`` for train / validation / test) or
    fractions (floats summing to at most 1, e.g. ``(0.8, 0.2)``).  Examples are drawn without
    replacement from one permutation of ``np.random.default_rng(seed)``, so the same seed always
    gives the same parts and the parts never overlap.  Parts keep the order of the permutation.
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got X shape {X.shape} and y shape {y.shape}")
    sizes = tuple(sizes)
    if not sizes:
        raise ValueError("sizes must name at least one part")
    n = len(X)
    if all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes):
        counts = [int(s) for s in sizes]
    elif all(isinstance(s, (float, np.floating)) for s in sizes):
        if any(s < 0 for s in sizes) or sum(sizes) > 1 + 1e-9:
            raise ValueError(f"fractions must be non-negative and sum to at most 1, got {sizes}")
        counts = [int(np.floor(s * n + 1e-9)) for s in sizes]
    else:
        raise TypeError(f"sizes must be all ints (counts) or all floats (fractions), got {sizes!r}")
    if any(c < 0 for c in counts) or sum(counts) > n:
        raise ValueError(f"split sizes {sizes} need {sum(counts)} examples, but there are only {n}")
    order = np.random.default_rng(seed).permutation(n)
    parts, start = [], 0
    for c in counts:
        idx = order[start : start + c]
        parts.append((X[idx], y[idx]))
        start += c
    return parts


def minibatches(X, y, batch_size, shuffle=True, rng=None):
    """Yield ``(X_batch, y_batch)`` pairs covering ``(X, y)`` once (the last batch may be smaller).

    ``shuffle`` draws a fresh order from ``rng`` (a ``np.random.Generator``; a seed or None is
    passed to ``np.random.default_rng``).
    """
    n = len(X)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = np.random.default_rng(rng).permutation(n) if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        yield X[idx], y[idx]


def to_nchw(images, mean=MNIST_MEAN, std=MNIST_STD, dtype=np.float32):
    """uint8 images ``(N, H, W)`` -> float ``(N, 1, H, W)``, scaled to [0, 1] then standardized.

    ``(images / 255 - mean) / std``; pass ``mean=0, std=1`` for plain [0, 1] pixels.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W), got {images.shape}")
    dtype = np.dtype(dtype)
    x = images.astype(dtype)[:, None] / dtype.type(255)
    return ((x - dtype.type(mean)) / dtype.type(std)).astype(dtype, copy=False)


def random_shift(X, rng=None, max_shift=2):
    """Data augmentation: shift each image by a random whole number of pixels (a new copy).

    ``X: (N, C, H, W)``; every image moves by its own ``(dy, dx)``, each uniform in
    ``[-max_shift, max_shift]``; the border that comes into view repeats the edge pixels
    (background, for MNIST).  ``rng``: a ``np.random.Generator`` or a seed.  A digit moved by a
    pixel or two is still the same digit, so the network learns that position does not matter.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(f"X must have shape (N, C, H, W), got {X.shape}")
    rng = np.random.default_rng(rng)
    m = int(max_shift)
    if m == 0:
        return X.copy()
    n, c, h, w = X.shape
    Xp = np.pad(X, [(0, 0), (0, 0), (m, m), (m, m)], mode="edge")
    windows = sliding_window_view(Xp, (h, w), axis=(2, 3))  # (N, C, 2m+1, 2m+1, H, W), a view
    dy, dx = rng.integers(0, 2 * m + 1, size=(2, n))
    return windows[np.arange(n)[:, None], np.arange(c)[None, :], dy[:, None], dx[:, None]]
