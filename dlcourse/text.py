"""Text as data: The Time Machine, vocabularies, and minibatches of subsequences (chapter 14).

A language model reads a long sequence of tokens and learns to predict the next one.  This module
turns a book into such a sequence and cuts it into minibatches:

* :func:`load_time_machine` -- H. G. Wells, *The Time Machine* (Project Gutenberg eBook #35), as
  one string, with Gutenberg's header and licence removed (:func:`strip_gutenberg`);
* :func:`clean_text` and :func:`tokenize` -- lower-case letters and spaces, split into characters
  or words;
* :class:`Vocab` -- tokens <-> indices, with an unknown token and reserved tokens;
* :func:`train_val_split` -- the last part of the text, contiguous, held out for validation;
* :func:`seq_data_iter_random` and :func:`seq_data_iter_sequential` -- the two ways of sampling
  ``(X, Y)`` minibatches of subsequences, ``Y`` being ``X`` shifted by one token;
  :class:`SeqDataLoader` wraps either as a re-iterable loader (``len()`` = batches per epoch)
  that :func:`dlcourse.train.train` accepts.

Where the book comes from, in this order (the same policy as :mod:`dlcourse.data`):

1. ``root=`` -- a folder holding ``timemachine.txt`` (or Gutenberg's name for it, ``pg35.txt``),
   directly or in a ``timemachine/`` subfolder, or the path of the file itself;
2. ``$DLCOURSE_TIMEMACHINE`` (that folder or file) or ``$DLCOURSE_DATA`` (a data folder: its
   ``timemachine/`` subfolder, or the folder itself if the file sits there);
3. the per-user cache (:func:`dlcourse.data.cache_dir`), filled by downloading Project Gutenberg's
   plain-text file with a progress bar and checking its SHA-256 (a file that does not match is
   never saved);
4. with none of those and no network, the only public-domain prose the course's dependencies
   ship: the *Lorem ipsum* passage bundled with setuptools (``jaraco.text``; scrambled Latin from
   Cicero's *De finibus bonorum et malorum*, 45 BC, about 1,300 characters), with a
   :class:`~dlcourse.data.DatasetFallbackWarning` naming it.  Never a silent substitute.
   ``fallback=False`` raises ``FileNotFoundError`` instead.

If Project Gutenberg ever regenerates the file (it re-wraps its headers now and then), the
download fails its checksum with a :class:`~dlcourse.data.CorruptFileError` that says so; put the
file you trust in a folder and pass ``root=``.
"""
from __future__ import annotations

import collections
import importlib.util
import os
import re
import warnings
from pathlib import Path

import numpy as np

from dlcourse import data as _data
from dlcourse.data import CorruptFileError, DatasetFallbackWarning

__all__ = [
    "TIME_MACHINE",
    "load_time_machine",
    "strip_gutenberg",
    "clean_text",
    "tokenize",
    "Vocab",
    "load_corpus_time_machine",
    "train_val_split",
    "seq_data_iter_random",
    "seq_data_iter_sequential",
    "SeqDataLoader",
    "lorem_ipsum_path",
]

TIME_MACHINE = {
    "title": "The Time Machine (H. G. Wells, Project Gutenberg eBook #35)",
    "env": "DLCOURSE_TIMEMACHINE",
    "subfolders": ("timemachine", "time-machine", "time_machine"),
    "filenames": ("timemachine.txt", "pg35.txt"),
    "cache_name": "timemachine.txt",
    "urls": [
        "https://www.gutenberg.org/cache/epub/35/pg35.txt",
        "https://www.gutenberg.org/ebooks/35.txt.utf-8",
    ],
    # The eBook as Project Gutenberg serves it (UTF-8 with a byte-order mark, CRLF line ends,
    # "Most recently updated: March 30, 2021"): 200,870 bytes.
    "sha256": "0359cedc583179f3e417605eb36efc1dc97b042a76ea67fac1e8c11109b0e2c9",
}
"""Where The Time Machine comes from and how it is checked."""


# --- the raw text ------------------------------------------------------------------------------

_START = re.compile(r"^\*\*\*\s*START OF (?:THE|THIS) PROJECT GUTENBERG EBOOK.*?\*\*\*\s*$", re.M | re.I)
_END = re.compile(r"^\*\*\*\s*END OF (?:THE|THIS) PROJECT GUTENBERG EBOOK.*?\*\*\*\s*$", re.M | re.I)


def strip_gutenberg(text):
    """The book inside a Project Gutenberg file: the text between its ``*** START OF ...`` and
    ``*** END OF ...`` lines, without Gutenberg's header above and licence below.

    Also drops a byte-order mark and turns Windows line ends into ``\\n``.  A text without the
    markers is returned whole (only normalized), so the function is safe on already-clean text;
    a START marker without an END marker (a truncated file) is a ``ValueError``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    start = _START.search(text)
    if start is None:
        return text.strip("\n")
    end = _END.search(text, start.end())
    if end is None:
        raise ValueError("the text has Project Gutenberg's START marker but no END marker: a truncated file?")
    return text[start.end():end.start()].strip("\n")


def _local_file(root):
    """The user's Time Machine file: ``(path, how)``, or ``(None, None)`` when no folder is named.

    ``root=`` and ``$DLCOURSE_TIMEMACHINE`` are authoritative (a missing file there is an error
    that says what the folder holds); ``$DLCOURSE_DATA`` is used only when it has the book.
    """
    spec = TIME_MACHINE
    if root is not None:
        place, how, general = Path(root).expanduser(), f"root={str(root)!r}", False
    elif os.environ.get(spec["env"]):
        place, how, general = Path(os.environ[spec["env"]]).expanduser(), f"${spec['env']}", False
    elif os.environ.get("DLCOURSE_DATA"):
        place, how, general = Path(os.environ["DLCOURSE_DATA"]).expanduser(), "$DLCOURSE_DATA", True
    else:
        return None, None
    if place.is_file():
        return place, how
    if not place.is_dir():
        raise FileNotFoundError(f"The Time Machine: {how} names {place}, which does not exist")
    folders = [place / sub for sub in spec["subfolders"] if (place / sub).is_dir()] + [place]
    for folder in folders:
        for name in spec["filenames"]:
            if (folder / name).is_file():
                return folder / name, how
    if general:
        return None, None
    present = sorted(p.name for folder in folders for p in folder.iterdir())
    raise FileNotFoundError(
        f"The Time Machine not found in {place} (from {how}): need one of {list(spec['filenames'])}, "
        f"directly or in a {spec['subfolders'][0]}/ subfolder; found {present[:10] or 'nothing'}"
    )


def _from_cache(download, progress):
    """``(path, None)`` of the cached, verified book, downloading it if needed; ``(None, reason)``
    when it is not cached and cannot be fetched.  Every URL failing its checksum raises."""
    spec = TIME_MACHINE
    path = _data.cache_dir() / "timemachine" / spec["cache_name"]
    if path.is_file() and _data._sha256(path) != spec["sha256"]:
        path.unlink()  # damaged in the cache: fetch it again
    if path.is_file():
        return path, None
    if not download:
        return None, f"not in the cache ({path}) and download=False"
    errors, mismatch = [], None
    for url in spec["urls"]:
        try:
            _data.download_file(url, path, sha256=spec["sha256"], progress=progress)
            return path, None
        except CorruptFileError as err:
            mismatch = err
            errors.append(str(err))
        except (OSError, ValueError) as err:  # URLError is an OSError
            errors.append(f"{url}: {err}")
    if mismatch is not None:
        raise CorruptFileError(
            "; ".join(errors) + ". Project Gutenberg may have regenerated the file: download it yourself "
            "and pass its folder with root= (or $DLCOURSE_TIMEMACHINE)"
        )
    return None, "download failed (" + "; ".join(errors) + ")"


def lorem_ipsum_path():
    """The *Lorem ipsum* text that setuptools ships (vendored ``jaraco.text``), or None.

    Looked up through the import system, not by a fixed path: a standalone ``jaraco.text`` first,
    then the copies setuptools vendors (``setuptools/_vendor`` and, in older releases,
    ``pkg_resources/_vendor``).
    """
    candidates = []
    try:
        spec = importlib.util.find_spec("jaraco.text")
        if spec is not None and spec.submodule_search_locations:
            candidates += [Path(p) for p in spec.submodule_search_locations]
    except (ImportError, ValueError):
        pass
    for package in ("setuptools", "pkg_resources"):
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.submodule_search_locations:
            candidates += [Path(p) / "_vendor" / "jaraco" / "text" for p in spec.submodule_search_locations]
    for folder in candidates:
        if (folder / "Lorem ipsum.txt").is_file():
            return folder / "Lorem ipsum.txt"
    return None


def load_time_machine(root=None, download=True, fallback=True, progress=True):
    """The text of *The Time Machine* as one string, Gutenberg header and licence removed.

    ``root``: a folder (or the file) holding the book; overrides ``$DLCOURSE_TIMEMACHINE`` and
    ``$DLCOURSE_DATA``.  ``download``: fetch it from Project Gutenberg into the cache (SHA-256
    checked, progress bar) when no folder is named and the cache is empty.  ``fallback``: with no
    folder, no cache and no network, warn (:class:`~dlcourse.data.DatasetFallbackWarning`) and
    return setuptools' bundled *Lorem ipsum* instead; with ``fallback=False`` raise
    ``FileNotFoundError``.  The text keeps its case, punctuation and line breaks (``\\n``);
    :func:`clean_text` reduces it to what the chapter's models read.
    """
    path, how = _local_file(root)
    if path is None:
        path, reason = _from_cache(download, progress)
    if path is not None:
        return strip_gutenberg(path.read_text(encoding="utf-8-sig"))
    lorem = lorem_ipsum_path()
    if not fallback or lorem is None:
        extra = "" if lorem is not None or not fallback else " and the fallback text (setuptools' bundled Lorem ipsum) is missing"
        raise FileNotFoundError(
            f"The Time Machine unavailable: no data folder given (root=, ${TIME_MACHINE['env']} or "
            f"$DLCOURSE_DATA) and {reason}{extra}"
        )
    warnings.warn(
        f"The Time Machine is unavailable ({reason}); using the 'Lorem ipsum' text bundled with setuptools "
        f"({lorem}; scrambled Latin from Cicero's De finibus, public domain, {lorem.stat().st_size:,} bytes) "
        f"as a stand-in. Give a data folder with root= or ${TIME_MACHINE['env']} for the real book.",
        DatasetFallbackWarning,
        stacklevel=2,
    )
    return lorem.read_text(encoding="utf-8").strip()


# --- tokens and the vocabulary ---------------------------------------------------------------------

def clean_text(text):
    """Lower-case letters and single spaces: every run of anything else (digits, punctuation,
    line breaks) becomes one space.  26 letters and the space: a small alphabet, so a character
    model spends its capacity on spelling and words rather than on rare symbols."""
    return re.sub(r"[^a-z]+", " ", text.lower()).strip()


def tokenize(text, token="char"):
    """Split ``text`` into a list of tokens: ``"char"`` (every character, spaces included) or
    ``"word"`` (whitespace-separated words)."""
    if token == "char":
        return list(text)
    if token == "word":
        return text.split()
    raise ValueError(f"token must be 'char' or 'word', got {token!r}")


class Vocab:
    """A vocabulary: the map between tokens and the integer indices a model reads.

    ``Vocab(tokens, min_freq=1, reserved_tokens=(), sep="")``: ``tokens`` is a list of tokens (or
    a list of such lists).  Index 0 is the unknown token ``"<unk>"``, which every token outside
    the vocabulary maps to; the ``reserved_tokens`` (e.g. ``"<pad>"``, ``"<bos>"``, ``"<eos>"``)
    come next, in the order given; then every token seen at least ``min_freq`` times, most
    frequent first, ties in sorted order, so the same text always gives the same indices.
    ``sep`` joins decoded tokens into a string: ``""`` for characters, ``" "`` for words.
    """

    unk_token = "<unk>"

    def __init__(self, tokens=(), min_freq=1, reserved_tokens=(), sep=""):
        if tokens and isinstance(tokens[0], (list, tuple)):
            tokens = [tok for line in tokens for tok in line]
        reserved_tokens = list(reserved_tokens or ())
        if self.unk_token in reserved_tokens or len(set(reserved_tokens)) != len(reserved_tokens):
            raise ValueError(f"reserved_tokens must be distinct and must not contain {self.unk_token!r}, got {reserved_tokens}")
        counter = collections.Counter(tokens)
        self.token_freqs = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        self.idx_to_token = [self.unk_token] + reserved_tokens
        self.idx_to_token += [tok for tok, freq in self.token_freqs
                              if freq >= min_freq and tok not in self.idx_to_token]
        self.token_to_idx = {tok: i for i, tok in enumerate(self.idx_to_token)}
        self.reserved_tokens = tuple(reserved_tokens)
        self.sep = sep

    def __len__(self):
        return len(self.idx_to_token)

    def __repr__(self):
        head = ", ".join(repr(t) for t in self.idx_to_token[:8])
        return f"Vocab({len(self)} tokens: {head}{', ...' if len(self) > 8 else ''})"

    @property
    def unk(self):
        """The index of the unknown token (0)."""
        return 0

    def __getitem__(self, token):
        """The index of one token (``unk`` if unknown)."""
        return self.token_to_idx.get(token, self.unk)

    def encode(self, tokens):
        """Token indices of a sequence of tokens (a string is a sequence of characters):
        an int64 array of shape ``(len(tokens),)``; unknown tokens get index 0."""
        return np.fromiter((self.token_to_idx.get(t, 0) for t in tokens), dtype=np.int64, count=len(tokens))

    def to_tokens(self, indices):
        """The list of tokens for a sequence of indices (ints, a NumPy array or a tensor)."""
        indices = np.asarray(indices.detach().cpu() if hasattr(indices, "detach") else indices)
        if indices.ndim != 1:
            raise ValueError(f"indices must be 1-D, got shape {indices.shape}")
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise ValueError(f"indices must lie in [0, {len(self)}), got values from {indices.min()} to {indices.max()}")
        return [self.idx_to_token[i] for i in indices.tolist()]

    def decode(self, indices):
        """The text for a sequence of indices: its tokens joined by ``sep``."""
        return self.sep.join(self.to_tokens(indices))


def load_corpus_time_machine(token="char", max_tokens=None, root=None, **load_kwargs):
    """The cleaned book as one long sequence of token indices, with its vocabulary.

    Returns ``(corpus, vocab)``: ``corpus`` an int64 array ``(num_tokens,)`` (at most
    ``max_tokens`` of them), ``vocab`` a :class:`Vocab` of characters (``token="char"``, 28
    entries for the real book: ``<unk>``, space and 26 letters) or of words (``"word"``).
    Other keyword arguments go to :func:`load_time_machine`.
    """
    tokens = tokenize(clean_text(load_time_machine(root=root, **load_kwargs)), token)
    vocab = Vocab(tokens, sep="" if token == "char" else " ")
    corpus = vocab.encode(tokens)
    return (corpus if max_tokens is None else corpus[:max_tokens]), vocab


def train_val_split(corpus, val_fraction=0.1):
    """Split a token sequence into ``(train, val)``: validation is the LAST ``val_fraction`` of it.

    A contiguous held-out part, not random positions: neighbouring subsequences share most of
    their context, so a randomly scattered validation set would be nearly memorized training
    text.  Deterministic (no seed): the same corpus always gives the same split.
    """
    corpus = np.asarray(corpus)
    if corpus.ndim != 1:
        raise ValueError(f"corpus must be a 1-D sequence of token indices, got shape {corpus.shape}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction!r}")
    n_val = int(round(len(corpus) * val_fraction))
    if n_val < 2 or len(corpus) - n_val < 2:
        raise ValueError(f"a corpus of {len(corpus)} tokens is too short to hold out {val_fraction:.0%} of it")
    return corpus[:-n_val], corpus[-n_val:]


# --- minibatches of subsequences -----------------------------------------------------------------

def _check_batching(corpus, batch_size, num_steps):
    corpus = np.asarray(corpus)
    if corpus.ndim != 1:
        raise ValueError(f"corpus must be a 1-D sequence of token indices, got shape {corpus.shape}")
    if batch_size < 1 or num_steps < 1:
        raise ValueError(f"batch_size and num_steps must be >= 1, got {batch_size} and {num_steps}")
    if len(corpus) < batch_size * num_steps + 1:
        raise ValueError(
            f"a corpus of {len(corpus)} tokens cannot fill one batch of {batch_size} subsequences of "
            f"{num_steps} steps (needs {batch_size * num_steps + 1}); use smaller batch_size or num_steps"
        )
    return corpus


def seq_data_iter_random(corpus, batch_size, num_steps, rng=None):
    """Random sampling: yield ``(X, Y)`` int64 arrays of shape ``(batch_size, num_steps)``.

    The corpus, started at a random offset in ``[0, num_steps)``, is cut into non-overlapping
    subsequences of ``num_steps`` tokens; these are visited in a random order, ``batch_size`` at a
    time (an incomplete last batch is dropped).  ``Y`` is ``X`` shifted one token ahead: the
    target at every position is the next token.  Subsequences in consecutive batches are not
    adjacent in the text, so a model must start each batch from a fresh state.
    ``rng``: a ``np.random.Generator``, a seed, or None.
    """
    corpus = _check_batching(corpus, batch_size, num_steps)
    rng = np.random.default_rng(rng)
    offset = int(rng.integers(0, num_steps))
    n_subseqs = (len(corpus) - offset - 1) // num_steps
    starts = offset + num_steps * rng.permutation(n_subseqs)
    window = np.arange(num_steps)
    for b in range(n_subseqs // batch_size):
        idx = starts[b * batch_size:(b + 1) * batch_size, None] + window
        yield corpus[idx], corpus[idx + 1]


def seq_data_iter_sequential(corpus, batch_size, num_steps, rng=None):
    """Sequential partitioning: yield ``(X, Y)`` int64 arrays of shape ``(batch_size, num_steps)``.

    After a random offset in ``[0, num_steps)`` the corpus is laid out as ``batch_size`` long
    rows, one after the other in the text, and the batches walk along the rows: row ``i`` of
    batch ``k + 1`` continues exactly where row ``i`` of batch ``k`` stopped.  A model may
    therefore carry its hidden state from one batch to the next (detaching it from the graph:
    truncated backpropagation through time).  ``Y`` is ``X`` shifted one token ahead.
    """
    corpus = _check_batching(corpus, batch_size, num_steps)
    offset = int(np.random.default_rng(rng).integers(0, num_steps))
    n = (len(corpus) - offset - 1) // batch_size * batch_size
    Xs = corpus[offset:offset + n].reshape(batch_size, -1)
    Ys = corpus[offset + 1:offset + 1 + n].reshape(batch_size, -1)
    for start in range(0, Xs.shape[1] - num_steps + 1, num_steps):
        yield Xs[:, start:start + num_steps], Ys[:, start:start + num_steps]


class SeqDataLoader:
    """A re-iterable loader of ``(X, Y)`` minibatches of subsequences of ``corpus``.

    ``sampling``: ``"random"`` (:func:`seq_data_iter_random`) or ``"sequential"``
    (:func:`seq_data_iter_sequential`).  Every pass draws a new random offset (and order) from
    one generator seeded by ``seed``, so epochs differ but a run is reproducible.
    ``as_tensors=True`` yields int64 ``torch`` tensors (what :func:`dlcourse.train.train` and
    :func:`dlcourse.langmodel.RNNLM` read), else NumPy arrays.  ``len()`` is the number of
    batches of a pass (it can be one less for some offsets: the last, incomplete one is dropped).
    """

    def __init__(self, corpus, batch_size, num_steps, sampling="random", seed=0, as_tensors=True):
        if sampling not in ("random", "sequential"):
            raise ValueError(f"sampling must be 'random' or 'sequential', got {sampling!r}")
        self.corpus = _check_batching(corpus, batch_size, num_steps)
        self.batch_size, self.num_steps, self.sampling = batch_size, num_steps, sampling
        self.as_tensors = as_tensors
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return (len(self.corpus) - 1) // self.num_steps // self.batch_size

    def __iter__(self):
        make = seq_data_iter_random if self.sampling == "random" else seq_data_iter_sequential
        batches = make(self.corpus, self.batch_size, self.num_steps, self.rng)
        if not self.as_tensors:
            yield from batches
            return
        import torch

        for X, Y in batches:
            yield torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(np.ascontiguousarray(Y))
