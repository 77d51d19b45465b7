"""dlcourse.text: The Time Machine's lookup order (folder, environment, checksummed download into
the cache, the warned fallback), Gutenberg stripping, vocabularies, the contiguous validation
split and the two ways of sampling subsequences.  No test touches the network: downloads come
from ``file://`` URLs, and "no network" is an opener that raises."""
from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcourse import data, text
from dlcourse.data import CorruptFileError, DatasetFallbackWarning
from dlcourse.text import (
    SeqDataLoader,
    Vocab,
    clean_text,
    load_corpus_time_machine,
    load_time_machine,
    seq_data_iter_random,
    seq_data_iter_sequential,
    strip_gutenberg,
    tokenize,
    train_val_split,
)

ENV_VARS = ("DLCOURSE_DATA", "DLCOURSE_TIMEMACHINE", "DLCOURSE_CACHE")

BOOK = "The Time Machine\n\nThe Time Traveller (for so it will be convenient to speak of him)\nwas expounding."
GUTENBERG = (
    "\ufeffThe Project Gutenberg eBook of The Time Machine\r\n\r\nRelease date: October 2, 2004 [eBook #35]\r\n\r\n"
    "*** START OF THE PROJECT GUTENBERG EBOOK THE TIME MACHINE ***\r\n\r\n\r\n"
    + BOOK.replace("\n", "\r\n")
    + "\r\n\r\n*** END OF THE PROJECT GUTENBERG EBOOK THE TIME MACHINE ***\r\n\r\n"
    "Section 1. General Terms of Use and Redistributing Project Gutenberg electronic works\r\n"
)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No data folder from the environment, an empty cache, and a network that refuses."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path / "cache"))

    def no_network(url, timeout):
        raise urllib.error.URLError(f"no network in tests ({url})")

    monkeypatch.setattr(data, "_urlopen", no_network)


def write_book(folder, name="timemachine.txt", content=GUTENBERG):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content.encode("utf-8"))
    return folder / name


# --- Gutenberg's header and licence ------------------------------------------------------------------

def test_strip_gutenberg_keeps_only_the_book():
    assert strip_gutenberg(GUTENBERG) == BOOK


def test_strip_gutenberg_leaves_clean_text_alone_and_refuses_a_truncated_file():
    assert strip_gutenberg(BOOK) == BOOK
    with pytest.raises(ValueError, match="START marker but no END marker"):
        strip_gutenberg(GUTENBERG[: GUTENBERG.index("*** END")])
    with pytest.raises(TypeError, match="must be a str"):
        strip_gutenberg(GUTENBERG.encode())


# --- local folders ---------------------------------------------------------------------------------

def test_root_argument_names_a_folder_a_subfolder_or_the_file(tmp_path):
    path = write_book(tmp_path / "books" / "timemachine")
    assert load_time_machine(root=tmp_path / "books" / "timemachine") == BOOK
    assert load_time_machine(root=tmp_path / "books") == BOOK  # the timemachine/ subfolder
    assert load_time_machine(root=path) == BOOK
    write_book(tmp_path / "gutenberg", name="pg35.txt")  # Project Gutenberg's own file name
    assert load_time_machine(root=tmp_path / "gutenberg") == BOOK


def test_environment_variables_give_the_folder(tmp_path, monkeypatch):
    write_book(tmp_path / "d" / "timemachine")
    monkeypatch.setenv("DLCOURSE_DATA", str(tmp_path / "d"))
    assert load_time_machine() == BOOK
    write_book(tmp_path / "mine", content=GUTENBERG.replace("convenient", "CONVENIENT"))
    monkeypatch.setenv("DLCOURSE_TIMEMACHINE", str(tmp_path / "mine"))  # the dataset's own variable wins
    assert "CONVENIENT" in load_time_machine()


def test_a_named_folder_without_the_book_is_an_error_not_a_fallback(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match=r"not found in .*empty.*found \['notes.txt'\]"):
        load_time_machine(root=tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_time_machine(root=tmp_path / "nowhere")


def test_a_general_data_folder_without_the_book_is_skipped(tmp_path, monkeypatch):
    (tmp_path / "d" / "mnist").mkdir(parents=True)
    monkeypatch.setenv("DLCOURSE_DATA", str(tmp_path / "d"))
    with pytest.raises(FileNotFoundError, match="no network in tests"):  # went on to the download
        load_time_machine(fallback=False)


# --- downloads ---------------------------------------------------------------------------------

def serve(monkeypatch, tmp_path, content=GUTENBERG, registered=None):
    """Publish a book under a file:// URL and register its SHA-256 (or ``registered``)."""
    path = write_book(tmp_path / "server", content=content)
    spec = dict(text.TIME_MACHINE)
    spec["urls"] = [path.as_uri()]
    spec["sha256"] = registered or hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setattr(text, "TIME_MACHINE", spec)
    monkeypatch.setattr(data, "_urlopen", lambda url, timeout: urllib.request.urlopen(url))
    return path


def test_download_verifies_its_sha256_and_fills_the_cache(tmp_path, monkeypatch):
    serve(monkeypatch, tmp_path)
    assert load_time_machine(progress=False) == BOOK
    assert [p.name for p in (tmp_path / "cache" / "timemachine").iterdir()] == ["timemachine.txt"]
    monkeypatch.setattr(data, "_urlopen", lambda url, timeout: pytest.fail(f"downloaded {url} again"))
    assert load_time_machine() == BOOK  # from the cache


def test_checksum_mismatch_raises_and_caches_nothing(tmp_path, monkeypatch):
    serve(monkeypatch, tmp_path, registered="0" * 64)
    with pytest.raises(CorruptFileError, match="SHA-256 .* expected 0{64}.*regenerated"):
        load_time_machine(progress=False)
    folder = tmp_path / "cache" / "timemachine"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_damaged_cached_book_is_fetched_again(tmp_path, monkeypatch):
    serve(monkeypatch, tmp_path)
    load_time_machine(progress=False)
    cached = tmp_path / "cache" / "timemachine" / "timemachine.txt"
    cached.write_text("half a bo")
    assert load_time_machine(progress=False) == BOOK


def test_the_registered_checksum_is_the_real_gutenberg_file(shared_data):
    path = shared_data / "timemachine" / "timemachine.txt"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    assert data._sha256(path) == text.TIME_MACHINE["sha256"]


# --- the fallback ----------------------------------------------------------------------------------

def test_no_book_and_no_network_falls_back_to_lorem_ipsum_with_a_warning_naming_it():
    with pytest.warns(DatasetFallbackWarning, match=r"'Lorem ipsum' text bundled with setuptools.*Cicero"):
        fallback = load_time_machine()
    assert fallback.startswith("Lorem ipsum dolor sit amet") and len(fallback) > 1000


def test_fallback_can_be_refused_and_a_missing_fallback_is_an_error(monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FileNotFoundError, match="unavailable.*no network in tests"):
            load_time_machine(fallback=False)
        with pytest.raises(FileNotFoundError, match="download=False"):
            load_time_machine(download=False, fallback=False)
        monkeypatch.setattr(text, "lorem_ipsum_path", lambda: None)
        with pytest.raises(FileNotFoundError, match="fallback text .* is missing"):
            load_time_machine()


# --- the real book --------------------------------------------------------------------------------

def test_the_real_book_loads_without_gutenberg_text(shared_data):
    book = load_time_machine(root=shared_data)
    assert book.startswith("The Time Machine\n\nAn Invention\n\nby H. G. Wells")
    assert book.endswith("still lived on in the heart of man.")
    assert "gutenberg" not in book.lower() and "\r" not in book
    corpus, vocab = load_corpus_time_machine(root=shared_data)
    assert len(vocab) == 28 and vocab.idx_to_token[:4] == ["<unk>", " ", "e", "t"]
    assert len(corpus) == 174_215 and corpus.dtype == np.int64 and corpus.min() >= 1
    assert vocab.decode(corpus[:16]) == "the time machine"
    words, wvocab = load_corpus_time_machine("word", root=shared_data)
    assert wvocab.idx_to_token[1:4] == ["the", "i", "and"] and wvocab.decode(words[:3]) == "the time machine"


# --- tokens and vocabularies ------------------------------------------------------------------------

def test_clean_text_keeps_lower_case_letters_and_single_spaces():
    assert clean_text("The Time-Traveller's\n  machine, 1895!") == "the time traveller s machine"


def test_tokenize_by_character_or_word():
    assert tokenize("ab c", "char") == ["a", "b", " ", "c"]
    assert tokenize("ab  c\nd", "word") == ["ab", "c", "d"]
    with pytest.raises(ValueError, match="'char' or 'word'"):
        tokenize("ab", "byte")


def test_vocab_orders_unknown_reserved_then_by_frequency_with_sorted_ties():
    vocab = Vocab(list("abracadabra"), reserved_tokens=["<pad>", "<bos>"])
    assert vocab.idx_to_token == ["<unk>", "<pad>", "<bos>", "a", "b", "r", "c", "d"]
    assert vocab["a"] == 3 and vocab["z"] == vocab.unk == 0 and len(vocab) == 8
    assert vocab.token_freqs[:3] == [("a", 5), ("b", 2), ("r", 2)]
    assert Vocab(list("abracadabra"), min_freq=2).idx_to_token == ["<unk>", "a", "b", "r"]
    assert Vocab([["x", "y"], ["y"]]).idx_to_token == ["<unk>", "y", "x"]  # a list of lines


def test_encode_decode_round_trip_and_unknown_tokens():
    vocab = Vocab(list("hello world"))
    ids = vocab.encode("hello")
    assert ids.dtype == np.int64 and ids.shape == (5,)
    assert vocab.decode(ids) == "hello"
    assert vocab.encode("hex").tolist()[-1] == 0 and vocab.decode(vocab.encode("hex")) == "he<unk>"
    words = Vocab("the cat and the hat".split(), sep=" ")
    assert words.decode(words.encode(["the", "hat"])) == "the hat"
    assert len(vocab) == 9  # <unk> and the 8 distinct characters
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 9\)"):
        vocab.decode([1, 9])
    with pytest.raises(ValueError, match="must be 1-D"):
        vocab.decode(np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="must not contain '<unk>'"):
        Vocab("ab", reserved_tokens=["<unk>"])


# --- the validation split -----------------------------------------------------------------------------

def test_train_val_split_holds_out_the_contiguous_tail():
    corpus = np.arange(1000)
    train, val = train_val_split(corpus, 0.1)
    assert len(train) == 900 and len(val) == 100
    np.testing.assert_array_equal(np.concatenate([train, val]), corpus)
    np.testing.assert_array_equal(val, np.arange(900, 1000))
    np.testing.assert_array_equal(train_val_split(corpus, 0.1)[1], val)  # deterministic
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        train_val_split(corpus, 1.0)
    with pytest.raises(ValueError, match="too short"):
        train_val_split(np.arange(5), 0.1)
    with pytest.raises(ValueError, match=r"1-D .* shape \(2, 3\)"):
        train_val_split(np.zeros((2, 3)), 0.1)


# --- sampling subsequences ------------------------------------------------------------------------

batching = dict(n=st.integers(30, 200), batch_size=st.integers(1, 4), num_steps=st.integers(1, 6), seed=st.integers(0, 99))


@settings(max_examples=40)
@given(**batching)
def test_random_sampling_draws_disjoint_aligned_subsequences_with_next_token_targets(n, batch_size, num_steps, seed):
    corpus = np.arange(n)  # token value == its position, so X shows where it was cut
    batches = list(seq_data_iter_random(corpus, batch_size, num_steps, rng=seed))
    X = np.concatenate([x for x, _ in batches]) if batches else np.zeros((0, num_steps), int)
    for x, y in batches:
        assert x.shape == y.shape == (batch_size, num_steps) and x.dtype == np.int64
        np.testing.assert_array_equal(y, x + 1)
    np.testing.assert_array_equal(np.diff(X, axis=1), 1)  # each row is a contiguous stretch
    starts = X[:, 0]
    assert len(set(starts)) == len(starts)  # never the same subsequence twice in an epoch
    assert len(set(starts % num_steps)) <= 1 and starts.min(initial=0) < num_steps + 10 ** 9
    offset = starts[0] % num_steps if len(starts) else 0
    assert len(batches) == (n - offset - 1) // num_steps // batch_size  # only the incomplete batch is dropped
    assert X.max(initial=0) + 1 < n  # every target exists


@settings(max_examples=40)
@given(**batching)
def test_sequential_sampling_continues_each_row_in_the_next_batch(n, batch_size, num_steps, seed):
    corpus = np.arange(n)
    batches = list(seq_data_iter_sequential(corpus, batch_size, num_steps, rng=seed))
    assert batches, "the corpus is long enough for at least one batch"
    for x, y in batches:
        assert x.shape == (batch_size, num_steps)
        np.testing.assert_array_equal(y, x + 1)
        np.testing.assert_array_equal(np.diff(x, axis=1), 1)
    for (x0, _), (x1, _) in zip(batches, batches[1:]):
        np.testing.assert_array_equal(x1[:, 0], x0[:, -1] + 1)  # row i picks up where it stopped
    assert batches[0][0][0, 0] < num_steps  # a random offset, smaller than one subsequence


def test_random_sampling_depends_on_the_seed_only():
    corpus = np.arange(500)
    first = [x for x, _ in seq_data_iter_random(corpus, 4, 5, rng=1)]
    again = [x for x, _ in seq_data_iter_random(corpus, 4, 5, rng=1)]
    other = [x for x, _ in seq_data_iter_random(corpus, 4, 5, rng=2)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_a_corpus_too_short_for_one_batch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"20 tokens cannot fill one batch of 4 subsequences of 5 steps \(needs 21\)"):
        list(seq_data_iter_random(np.arange(20), 4, 5))
    with pytest.raises(ValueError, match="must be >= 1"):
        list(seq_data_iter_sequential(np.arange(20), 0, 5))


@pytest.mark.parametrize("sampling", ["random", "sequential"])
def test_seq_data_loader_yields_tensors_and_a_new_offset_every_epoch(sampling):
    import torch

    loader = SeqDataLoader(np.arange(1000), batch_size=4, num_steps=7, sampling=sampling, seed=0)
    epochs = [list(loader) for _ in range(4)]
    for batches in epochs:
        assert len(batches) in (len(loader), len(loader) - 1)
        X, Y = batches[0]
        assert X.dtype == torch.int64 and tuple(X.shape) == (4, 7) and torch.equal(Y, X + 1)
    assert len({int(b[0][0].min()) % 7 for b in epochs}) > 1  # offsets differ between epochs
    again = SeqDataLoader(np.arange(1000), 4, 7, sampling=sampling, seed=0)
    assert torch.equal(next(iter(again))[0], epochs[0][0][0])  # reproducible from the seed
    with pytest.raises(ValueError, match="'random' or 'sequential'"):
        SeqDataLoader(np.arange(1000), 4, 7, sampling="shuffled")
