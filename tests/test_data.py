"""dlcourse.data: IDX reading, checksummed downloads into the cache, local folders, the warned
fallback, and deterministic splits.  No test touches the network: downloads come from
``file://`` URLs, and "no network" is an opener that raises."""
from __future__ import annotations

import gzip
import hashlib
import urllib.error
import warnings

import numpy as np
import pytest

from dlcourse import data
from dlcourse.data import (
    CorruptFileError,
    DatasetFallbackWarning,
    download_file,
    load_digits_28,
    load_fashion_mnist,
    load_mnist,
    random_shift,
    read_idx,
    split_dataset,
    to_nchw,
)

ENV_VARS = ("DLCOURSE_DATA", "DLCOURSE_MNIST", "DLCOURSE_FASHION_MNIST", "DLCOURSE_CACHE")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No data folder from the environment, an empty cache, and a network that refuses."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path / "cache"))

    def no_network(url, timeout):
        raise urllib.error.URLError(f"no network in tests ({url})")

    monkeypatch.setattr(data, "_urlopen", no_network)


def idx_bytes(array):
    """Encode an array as IDX (uint8 or int32 only: what the tests need)."""
    code = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.tobytes()


def write_split(folder, split, n=5, seed=0, compress=True):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    stem = "t10k" if split == "test" else "train"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, arr in ((f"{stem}-images-idx3-ubyte", images), (f"{stem}-labels-idx1-ubyte", labels)):
        raw = idx_bytes(arr)
        path = folder / (name + (".gz" if compress else ""))
        path.write_bytes(gzip.compress(raw, mtime=0) if compress else raw)
        paths.append(path)
    return images, labels, paths


# --- IDX ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trips_gzipped_and_raw_files(tmp_path, compress):
    images, labels, (ipath, lpath) = write_split(tmp_path, "test", compress=compress)
    np.testing.assert_array_equal(read_idx(ipath), images)
    np.testing.assert_array_equal(read_idx(lpath), labels)
    big = np.arange(6, dtype=">i4").reshape(2, 3)
    (tmp_path / "ints").write_bytes(idx_bytes(big))
    out = read_idx(tmp_path / "ints")
    assert out.dtype == np.int32 and out.dtype.isnative and out.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_truncated_gzip_is_a_clear_error(tmp_path):
    _, _, (ipath, _) = write_split(tmp_path, "test")
    ipath.write_bytes(ipath.read_bytes()[:-100])
    with pytest.raises(CorruptFileError, match=r"corrupt or truncated gzip"):
        read_idx(ipath)


def test_truncated_and_padded_idx_payloads_are_clear_errors(tmp_path):
    raw = idx_bytes(np.zeros((3, 28, 28), np.uint8))
    (tmp_path / "short").write_bytes(raw[:-1])
    with pytest.raises(CorruptFileError, match=r"truncated: shape \(3, 28, 28\).*needs 2368 bytes, file has 2367"):
        read_idx(tmp_path / "short")
    (tmp_path / "long").write_bytes(raw + b"\0")
    with pytest.raises(CorruptFileError, match="trailing bytes"):
        read_idx(tmp_path / "long")
    (tmp_path / "html").write_bytes(b"<html>403 Forbidden</html>")
    with pytest.raises(CorruptFileError, match="not an IDX file"):
        read_idx(tmp_path / "html")


# --- local folders -------------------------------------------------------------------------------------

def test_root_argument_and_environment_variables_give_the_folder(tmp_path, monkeypatch):
    images, labels, _ = write_split(tmp_path / "mine", "test", n=4)
    X, y = load_mnist("test", root=tmp_path / "mine")
    np.testing.assert_array_equal(X, images)
    assert X.dtype == np.uint8 and X.shape == (4, 28, 28) and y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    monkeypatch.setenv("DLCOURSE_MNIST", str(tmp_path / "mine"))
    np.testing.assert_array_equal(load_mnist("test")[0], images)
    monkeypatch.delenv("DLCOURSE_MNIST")
    monkeypatch.setenv("DLCOURSE_DATA", str(tmp_path))  # a data folder with an mnist/ subfolder
    (tmp_path / "mine").rename(tmp_path / "mnist")
    np.testing.assert_array_equal(load_mnist("test")[0], images)


def test_a_folder_with_only_the_test_split_fails_clearly_for_train(tmp_path):
    write_split(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match=r"train split not found.*only the test split.*split_dataset"):
        load_mnist("train", root=tmp_path)


def test_a_missing_folder_is_an_error_not_a_fallback(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist("test", root=tmp_path / "nowhere")


def test_mnist_files_are_refused_as_fashion_mnist(tmp_path, monkeypatch):
    _, _, paths = write_split(tmp_path, "test")
    real_md5 = data.DATASETS["mnist"]["md5"]["t10k-images-idx3-ubyte.gz"]
    monkeypatch.setattr(data, "_md5", lambda p: real_md5 if p == paths[0] else "0" * 32)
    with pytest.raises(CorruptFileError, match="MNIST's file.*not Fashion-MNIST's"):
        load_fashion_mnist("test", root=tmp_path)


def test_bad_split_name():
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_mnist("validation")


# --- downloads ---------------------------------------------------------------------------------------

def serve(monkeypatch, tmp_path, dataset="mnist", split="test", corrupt=None):
    """Publish a fake split under a file:// mirror with its true MD5s registered."""
    images, labels, paths = write_split(tmp_path / "server", split, n=6)
    spec = dict(data.DATASETS[dataset])
    spec["md5"] = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in paths}
    spec["mirrors"] = [(tmp_path / "server").as_uri() + "/"]
    if corrupt:
        paths[0].write_bytes(corrupt(paths[0].read_bytes()))
    monkeypatch.setitem(data.DATASETS, dataset, spec)
    monkeypatch.setattr(data, "_urlopen", lambda url, timeout: __import__("urllib.request").request.urlopen(url))
    return images, labels


def test_download_verifies_and_fills_the_cache(tmp_path, monkeypatch):
    images, labels = serve(monkeypatch, tmp_path)
    X, y = load_mnist("test", progress=False)
    np.testing.assert_array_equal(X, images)
    cached = sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir())
    assert cached == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    # second call: from the cache, the network is not touched
    monkeypatch.setattr(data, "_urlopen", lambda url, timeout: pytest.fail(f"downloaded {url} again"))
    np.testing.assert_array_equal(load_mnist("test")[1], labels)


def test_checksum_mismatch_raises_and_caches_nothing(tmp_path, monkeypatch):
    serve(monkeypatch, tmp_path, corrupt=lambda b: b[:-1] + bytes([b[-1] ^ 1]))
    with pytest.raises(CorruptFileError, match="checksum mismatch.*not saved"):
        load_mnist("test", progress=False)
    folder = tmp_path / "cache" / "mnist"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_damaged_cached_file_is_replaced(tmp_path, monkeypatch):
    images, _ = serve(monkeypatch, tmp_path)
    load_mnist("test", progress=False)
    cached = tmp_path / "cache" / "mnist" / "t10k-images-idx3-ubyte.gz"
    cached.write_bytes(cached.read_bytes()[:50])  # e.g. a full disk
    np.testing.assert_array_equal(load_mnist("test", progress=False)[0], images)


def test_download_file_writes_nothing_on_failure(tmp_path, monkeypatch):
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello")
    monkeypatch.setattr(data, "_urlopen", lambda url, timeout: __import__("urllib.request").request.urlopen(url))
    dest = tmp_path / "out" / "file.bin"
    download_file(src.as_uri(), dest, md5=hashlib.md5(b"hello").hexdigest(), progress=False)
    assert dest.read_bytes() == b"hello"
    with pytest.raises(CorruptFileError):
        download_file(src.as_uri(), tmp_path / "out" / "bad.bin", md5="0" * 32, progress=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["file.bin"]  # no partial files


# --- the fallback --------------------------------------------------------------------------------------

def test_no_data_and_no_network_falls_back_with_a_warning_naming_the_substitute():
    with pytest.warns(DatasetFallbackWarning, match=r"scikit-learn's bundled digits \(sklearn.datasets.load_digits"):
        X, y = load_mnist("train")
    assert X.shape[1:] == (28, 28) and X.dtype == np.uint8 and y.dtype == np.int64
    with pytest.warns(DatasetFallbackWarning, match="digits, not clothing"):
        load_fashion_mnist("test")


def test_fallback_can_be_refused():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FileNotFoundError, match="unavailable.*no network in tests"):
            load_mnist("test", fallback=False)
        with pytest.raises(FileNotFoundError, match="download=False"):
            load_mnist("test", download=False, fallback=False)


def test_digits_fallback_looks_like_mnist():
    Xtr, ytr = load_digits_28("train")
    Xte, yte = load_digits_28("test")
    assert len(Xtr) + len(Xte) == 1797 and len(Xte) == 359
    assert Xtr.max() == 255 and Xtr[:, :4].max() == 0 and Xtr[:, :, 24:].max() == 0  # a 4-pixel margin
    assert set(np.unique(ytr)) == set(range(10))
    np.testing.assert_array_equal(load_digits_28("test")[0], Xte)  # deterministic


# --- splits and preprocessing -------------------------------------------------------------------------

def test_split_dataset_is_deterministic_disjoint_and_sized():
    X, y = np.arange(100).reshape(100, 1), np.arange(100)
    parts = split_dataset(X, y, (60, 25, 15), seed=3)
    assert [len(p[0]) for p in parts] == [60, 25, 15]
    ids = np.concatenate([p[1] for p in parts])
    assert sorted(ids) == list(range(100))
    for Xp, yp in parts:
        np.testing.assert_array_equal(Xp[:, 0], yp)  # rows stay paired with their labels
    again = split_dataset(X, y, (60, 25, 15), seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(parts, again))
    assert not np.array_equal(split_dataset(X, y, (60,), seed=4)[0][1], parts[0][1])
    assert [len(p[0]) for p in split_dataset(X, y, (0.8, 0.2))] == [80, 20]


@pytest.mark.parametrize("sizes, error", [((90, 20), ValueError), ((0.7, 0.4), ValueError), ((50, 0.5), TypeError)])
def test_split_dataset_rejects_impossible_sizes(sizes, error):
    with pytest.raises(error):
        split_dataset(np.zeros((100, 2)), np.zeros(100), sizes)


def test_to_nchw_and_random_shift():
    images = np.zeros((3, 28, 28), np.uint8)
    images[:, 10, 10] = 255
    X = to_nchw(images)
    assert X.shape == (3, 1, 28, 28) and X.dtype == np.float32
    np.testing.assert_allclose(X[0, 0, 0, 0], -data.MNIST_MEAN / data.MNIST_STD, rtol=1e-6)
    Y = random_shift(X, np.random.default_rng(0), max_shift=2)
    assert Y.shape == X.shape
    peaks = [np.unravel_index(Y[i, 0].argmax(), (28, 28)) for i in range(3)]
    assert all(8 <= r <= 12 and 8 <= c <= 12 for r, c in peaks)


# --- the real MNIST test set beside the checkout -----------------------------------------------------

def test_real_mnist_test_set_loads_with_its_published_checksums(shared_data):
    folder = shared_data / "mnist"
    for name, md5 in data.DATASETS["mnist"]["md5"].items():
        if (folder / name).exists():
            assert data._md5(folder / name) == md5, name
    X, y = load_mnist("test", root=folder)
    assert X.shape == (10000, 28, 28) and X.dtype == np.uint8 and y.shape == (10000,)
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the well-known first test labels
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
