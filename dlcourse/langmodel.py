"""Character language models: a recurrent network that predicts the next token (chapters 14-16).

A language model reads tokens ``x_1 .. x_t`` and outputs a probability for every possible next
token ``x_{t+1}``.  Here each token goes in as a one-hot vector (or through an embedding), a
recurrent layer (vanilla RNN, LSTM or GRU) carries what it has read in its hidden state, and a
linear layer maps the hidden state at every step to one score (logit) per vocabulary entry::

    x_t (one-hot, V) --> recurrent layer --> h_t (H) --> linear --> logits o_t (V) --> softmax

Training minimizes the softmax cross-entropy of the true next token, averaged over positions.
Its exponential is the **perplexity**, :func:`perplexity`: the number of equally likely choices
that would leave the model as uncertain as it is.  A model that knows nothing about a vocabulary of
``V`` tokens has perplexity ``V``; one that always knows the next token has perplexity 1.

* :class:`RNNLM` -- the PyTorch model (``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` inside), trained with
  :func:`dlcourse.train.train`;
* :class:`NumpyRNNLM` -- the same model in NumPy on the course's own recurrent layers
  (:func:`dlcourse.numpy_ops.lstm` and :func:`~dlcourse.numpy_ops.lstm_backward`, ...) with its
  training loop :func:`fit_numpy` (truncated BPTT with the state carried between batches,
  gradient clipping);
* :func:`perplexity` -- on a whole text, the state carried from one chunk to the next;
* :func:`generate` -- text from a prompt, greedy (``temperature=0``) or sampled.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["RNNLM", "NumpyRNNLM", "perplexity", "generate", "fit_numpy", "CELLS"]

CELLS = ("rnn", "lstm", "gru")


def _check_cell(cell):
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")


def _check_tokens(X, vocab_size):
    """Token indices ``(N, T)`` (a tensor or an array): integers in ``[0, vocab_size)``."""
    shape = tuple(X.shape)
    if len(shape) != 2:
        raise ValueError(f"X must hold token indices of shape (N, T), got shape {shape}")
    if isinstance(X, torch.Tensor):
        is_int = not (X.is_floating_point() or X.is_complex() or X.dtype == torch.bool)
    else:
        is_int = np.issubdtype(X.dtype, np.integer)
    if not is_int:
        raise TypeError(f"X must hold integer token indices, got dtype {X.dtype}")
    if X.shape[0] and X.shape[1]:
        lo, hi = int(X.min()), int(X.max())
        if lo < 0 or hi >= vocab_size:
            raise ValueError(f"token indices must lie in [0, {vocab_size}), got values from {lo} to {hi}")


class RNNLM(nn.Module):
    """A recurrent language model: one-hot (or embedded) tokens, a recurrent layer, a linear output.

    ``RNNLM(vocab_size, hidden=256, cell="lstm", embed_dim=None, num_layers=1, dropout=0.0)``.
    ``cell``: ``"rnn"`` (tanh), ``"lstm"`` or ``"gru"`` (``torch.nn.RNN`` / ``LSTM`` / ``GRU``,
    batch first).  ``embed_dim=None`` feeds one-hot vectors of length ``vocab_size``, as the
    lecture draws it; an int puts an ``nn.Embedding`` of that width in front instead (the same
    thing, stored as a lookup table: a one-hot vector times a matrix picks one of its columns).

    ``forward(X, state=None, return_state=False)``: ``X`` int64 token indices ``(N, T)``;
    returns logits ``(N, T, vocab_size)`` for the token after each position (and the final
    state: ``h (num_layers, N, H)``, or ``(h, c)`` for the LSTM, when ``return_state``).
    ``state=None`` starts from zeros.
    """

    def __init__(self, vocab_size, hidden=256, cell="lstm", embed_dim=None, num_layers=1, dropout=0.0):
        super().__init__()
        _check_cell(cell)
        if vocab_size < 2 or hidden < 1:
            raise ValueError(f"vocab_size must be >= 2 and hidden >= 1, got {vocab_size} and {hidden}")
        self.vocab_size, self.hidden, self.cell, self.num_layers = vocab_size, hidden, cell, num_layers
        self.embedding = nn.Embedding(vocab_size, embed_dim) if embed_dim else None
        layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = layer(embed_dim or vocab_size, hidden, num_layers=num_layers, batch_first=True,
                         dropout=dropout if num_layers > 1 else 0.0)
        self.output = nn.Linear(hidden, vocab_size)

    def forward(self, X, state=None, return_state=False):
        _check_tokens(X, self.vocab_size)
        if self.embedding is not None:
            inputs = self.embedding(X)
        else:
            inputs = F.one_hot(X, self.vocab_size).to(self.output.weight.dtype)
        Y, state = self.rnn(inputs, state)  # Y: (N, T, H), the top layer's state at every step
        logits = self.output(Y)
        return (logits, state) if return_state else logits

    def begin_state(self, batch_size, device=None):
        """Zero initial state for ``batch_size`` sequences (what ``state=None`` means)."""
        h = torch.zeros(self.num_layers, batch_size, self.hidden, device=device)
        return (h, h.clone()) if self.cell == "lstm" else h

    def extra_repr(self):
        return f"vocab_size={self.vocab_size}, hidden={self.hidden}, cell={self.cell!r}"


# --- the NumPy model --------------------------------------------------------------------------------

class NumpyRNNLM:
    """:class:`RNNLM` in NumPy (one-hot input, one recurrent layer, linear output), trained with its
    own BPTT: the course's :func:`~dlcourse.numpy_ops.lstm` / :func:`~dlcourse.numpy_ops.lstm_backward`
    (or the RNN and GRU pairs).

    ``params``: a dict of float arrays named after :class:`RNNLM`'s ``state_dict`` keys, so weights
    copy one to one: ``rnn.weight_ih_l0 (G*H, V)``, ``rnn.weight_hh_l0 (G*H, H)``,
    ``rnn.bias_ih_l0``, ``rnn.bias_hh_l0 (G*H,)``, ``output.weight (V, H)``, ``output.bias (V,)``
    (``G`` = 1, 4, 3 for rnn, lstm, gru).  Initialized as PyTorch does: uniform in
    ``[-1/sqrt(H), 1/sqrt(H)]``.  The state is ``h (N, H)``, or ``(h, c)`` for the LSTM.
    """

    def __init__(self, vocab_size, hidden=256, cell="lstm", seed=0, dtype=np.float32):
        _check_cell(cell)
        self.vocab_size, self.hidden, self.cell = vocab_size, hidden, cell
        G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
        rng = np.random.default_rng(seed)
        k = 1 / math.sqrt(hidden)
        shapes = {"rnn.weight_ih_l0": (G * hidden, vocab_size), "rnn.weight_hh_l0": (G * hidden, hidden),
                  "rnn.bias_ih_l0": (G * hidden,), "rnn.bias_hh_l0": (G * hidden,),
                  "output.weight": (vocab_size, hidden), "output.bias": (vocab_size,)}
        self.params = {name: rng.uniform(-k, k, shape).astype(dtype) for name, shape in shapes.items()}

    @classmethod
    def from_torch(cls, model):
        """A NumPy copy of a one-layer, one-hot :class:`RNNLM` (same weights, float32)."""
        if model.num_layers != 1 or model.embedding is not None:
            raise ValueError("only a one-layer RNNLM with one-hot inputs (embed_dim=None) has a NumPy twin")
        twin = cls(model.vocab_size, model.hidden, model.cell)
        state = model.state_dict()
        twin.params = {name: state[name].detach().cpu().numpy().copy() for name in twin.params}
        return twin

    def _weights(self):
        p = self.params
        return p["rnn.weight_ih_l0"], p["rnn.weight_hh_l0"], p["rnn.bias_ih_l0"], p["rnn.bias_hh_l0"]

    def _one_hot(self, X):
        X = np.asarray(X)
        _check_tokens(X, self.vocab_size)
        dtype = self.params["output.weight"].dtype
        return np.eye(self.vocab_size, dtype=dtype)[X.T]  # (T, N, V): time first, as the twins read it

    def _forward(self, X, state):
        from dlcourse import numpy_ops

        onehot = self._one_hot(X)
        if self.cell == "lstm":
            h0, c0 = (None, None) if state is None else state
            Y, new_state, cache = numpy_ops.lstm_forward(onehot, h0, c0, *self._weights())
        elif self.cell == "gru":
            Y, new_state, cache = numpy_ops.gru_forward(onehot, state, *self._weights())
        else:
            Y, new_state, cache = numpy_ops.rnn_forward(onehot, state, *self._weights())
        T, N, H = Y.shape
        flat = Y.reshape(T * N, H)
        logits = numpy_ops.linear(flat, self.params["output.weight"], self.params["output.bias"])
        return logits.reshape(T, N, -1), new_state, (onehot, state, cache, flat)

    def forward(self, X, state=None):
        """Logits ``(N, T, V)`` for token indices ``X (N, T)``, and the final state."""
        logits, new_state, _ = self._forward(X, state)
        return logits.transpose(1, 0, 2), _copy_state(new_state)

    def loss_and_grads(self, X, Y, state=None):
        """Mean next-token cross-entropy on ``(X, Y)`` (both ``(N, T)``), its gradients, and the
        final state: ``(loss, grads, state)``; ``grads`` has the keys of ``params``.

        The gradient stops at ``state`` (it is a constant here): carrying the returned state into
        the next batch is truncated backpropagation through time.
        """
        from dlcourse import numpy_ops

        Y = np.asarray(Y)
        if Y.shape != np.shape(X):
            raise ValueError(f"targets Y must have the shape of X (N, T), got X {np.shape(X)} and Y {Y.shape}")
        logits, new_state, (onehot, state0, cache, flat) = self._forward(X, state)
        T, N, V = logits.shape
        loss, dlogits = numpy_ops.softmax_cross_entropy(logits.reshape(T * N, V), Y.T.reshape(-1))
        dflat, dW_out, db_out = numpy_ops.linear_backward(dlogits, flat, self.params["output.weight"], self.params["output.bias"])
        dY = dflat.reshape(T, N, -1)
        if self.cell == "lstm":
            h0, c0 = (None, None) if state0 is None else state0
            grads = numpy_ops.lstm_backward(dY, onehot, h0, c0, *self._weights(), cache=cache)[3:]
        elif self.cell == "gru":
            grads = numpy_ops.gru_backward(dY, onehot, state0, *self._weights(), cache=cache)[2:]
        else:
            grads = numpy_ops.rnn_backward(dY, onehot, state0, *self._weights(), cache=cache)[2:]
        names = ("rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0")
        out = dict(zip(names, grads))
        out["output.weight"], out["output.bias"] = dW_out, db_out
        return float(loss), out, _copy_state(new_state)


def _copy_state(state):
    # The twins return views into their caches; a carried state must not alias them.
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(np.array(s) for s in state)
    return np.array(state)


def _is_torch(model):
    return isinstance(model, nn.Module)


# --- perplexity and generation -------------------------------------------------------------------

def perplexity(model, corpus, num_steps=64, batch_size=32, device=None):
    """``exp`` of the mean next-token cross-entropy of ``model`` over the whole ``corpus``.

    ``corpus``: token indices ``(L,)``.  It is laid out as ``batch_size`` contiguous rows, walked
    ``num_steps`` at a time with the hidden state carried from chunk to chunk, so every token but
    the first of each row is predicted with all of the row's text before it as context (up to
    ``batch_size`` tokens at the row ends are left out).  Works for :class:`RNNLM` (in eval mode,
    without gradients) and :class:`NumpyRNNLM`.
    """
    corpus = np.asarray(corpus)
    if corpus.ndim != 1:
        raise ValueError(f"corpus must be a 1-D sequence of token indices, got shape {corpus.shape}")
    batch_size = max(1, min(batch_size, (len(corpus) - 1) // 2))
    n = (len(corpus) - 1) // batch_size * batch_size
    if n < batch_size:
        raise ValueError(f"a corpus of {len(corpus)} tokens is too short to score")
    Xs = corpus[:n].reshape(batch_size, -1)
    Ys = corpus[1:n + 1].reshape(batch_size, -1)
    total, count = 0.0, 0
    if _is_torch(model):
        if device is not None:
            model.to(device)
        dev = next(model.parameters()).device
        was_training = model.training
        model.eval()
        state = None
        with torch.no_grad():
            for start in range(0, Xs.shape[1], num_steps):
                X = torch.from_numpy(np.ascontiguousarray(Xs[:, start:start + num_steps])).to(dev)
                Y = torch.from_numpy(np.ascontiguousarray(Ys[:, start:start + num_steps])).to(dev)
                logits, state = model(X, state, return_state=True)
                total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1), reduction="sum").item()
                count += Y.numel()
        model.train(was_training)
    else:
        from dlcourse import numpy_ops

        state = None
        for start in range(0, Xs.shape[1], num_steps):
            X, Y = Xs[:, start:start + num_steps], Ys[:, start:start + num_steps]
            logits, state = model.forward(X, state)
            loss, _ = numpy_ops.softmax_cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1))
            total += float(loss) * Y.size
            count += Y.size
    return math.exp(total / count)


def generate(model, vocab, prompt, num_tokens=100, temperature=0.0, seed=0):
    """Continue ``prompt`` by ``num_tokens`` tokens; return the prompt and its continuation as text.

    The prompt is read token by token to build up the state (a "warm-up"); then each step feeds
    back the token just produced.  ``temperature=0`` is **greedy** decoding: always the most
    likely next token (deterministic, and prone to loops).  ``temperature > 0`` **samples** from
    ``softmax(logits / temperature)``: below 1 sharper (safer), above 1 flatter (more surprising).
    ``seed`` fixes the sampling.  ``vocab``: a :class:`dlcourse.text.Vocab`; the prompt is encoded
    with it (unknown characters become ``<unk>``), and the ``<unk>`` and reserved tokens are never
    generated.  Works for :class:`RNNLM` and :class:`NumpyRNNLM`.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature!r}")
    if len(prompt) == 0:
        raise ValueError("the prompt must hold at least one token")
    ids = [int(i) for i in vocab.encode(prompt)]
    banned = [vocab.unk] + [vocab[t] for t in vocab.reserved_tokens]
    rng = np.random.default_rng(seed)
    if _is_torch(model):
        dev = next(model.parameters()).device
        was_training = model.training
        model.eval()

        def step(tokens, state):
            with torch.no_grad():
                logits, state = model(torch.tensor([tokens], device=dev), state, return_state=True)
            return logits[0, -1].double().cpu().numpy(), state
    else:
        def step(tokens, state):
            logits, state = model.forward(np.array([tokens]), state)
            return logits[0, -1].astype(np.float64), state

    logits, state = step(ids, None)
    out = []
    for _ in range(num_tokens):
        logits[banned] = -np.inf
        if temperature == 0:
            nxt = int(np.argmax(logits))
        else:
            z = logits / temperature
            p = np.exp(z - z.max())
            nxt = int(rng.choice(len(p), p=p / p.sum()))
        out.append(nxt)
        logits, state = step([nxt], state)
    if _is_torch(model):
        model.train(was_training)
    return vocab.decode(ids + out)


# --- training the NumPy model -------------------------------------------------------------------

def fit_numpy(model, train_corpus, val_corpus=None, epochs=10, batch_size=32, num_steps=35, lr=1.0,
              momentum=0.0, clip=1.0, optimizer=None, max_seconds=None, seed=0, progress=True, eval_every=1):
    """Train a :class:`NumpyRNNLM` with truncated BPTT; return its history.

    Each epoch walks :func:`dlcourse.text.seq_data_iter_sequential` batches, carrying the hidden
    state from one batch to the next without backpropagating into the previous batch (truncated
    BPTT), clips the global gradient norm to ``clip`` (:func:`dlcourse.optim.clip_grad_norm`),
    and steps ``optimizer`` (default :class:`dlcourse.optim.SGD` with ``lr`` and ``momentum``; any
    object with ``step(grads)`` over ``model.params`` works).  ``max_seconds`` stops training once
    that much time has passed (checked after every batch; the last epoch may be partial).
    Every ``eval_every`` epochs (and at the end) the validation perplexity is measured with
    :func:`perplexity`.

    Returns a dict of lists: ``epoch`` (possibly fractional at the end), ``train_ppl`` (the
    epoch's running perplexity, from the mean training loss), ``val_ppl``, ``grad_norm`` (the
    epoch's mean norm before clipping) and ``time`` (seconds since the start, validation included).
    """
    from tqdm import tqdm

    from dlcourse.optim import SGD, clip_grad_norm
    from dlcourse.text import seq_data_iter_sequential

    opt = optimizer if optimizer is not None else SGD(model.params, lr=lr, momentum=momentum)
    rng = np.random.default_rng(seed)
    history = {k: [] for k in ("epoch", "train_ppl", "val_ppl", "grad_norm", "time")}
    per_epoch = (len(train_corpus) - 1) // batch_size // num_steps
    start, stop = time.perf_counter(), False
    with tqdm(total=epochs * per_epoch, desc=f"training NumPy {model.cell.upper()}", unit="batch", disable=not progress) as bar:
        for epoch in range(epochs):
            state, losses, norms, done = None, [], [], 0
            for X, Y in seq_data_iter_sequential(train_corpus, batch_size, num_steps, rng):
                loss, grads, state = model.loss_and_grads(X, Y, state)
                norms.append(clip_grad_norm(grads, clip) if clip is not None else float("nan"))
                opt.step(grads)
                losses.append(loss)
                done += 1
                bar.update(1)
                if max_seconds is not None and time.perf_counter() - start > max_seconds:
                    stop = True
                    break
            history["epoch"].append(epoch + done / max(per_epoch, 1))
            history["train_ppl"].append(math.exp(float(np.mean(losses))))
            history["grad_norm"].append(float(np.mean(norms)))
            last = stop or epoch == epochs - 1
            if val_corpus is not None and ((epoch + 1) % eval_every == 0 or last):
                history["val_ppl"].append(perplexity(model, val_corpus, num_steps=num_steps, batch_size=batch_size))
            else:
                history["val_ppl"].append(float("nan"))
            history["time"].append(time.perf_counter() - start)
            bar.set_postfix(train_ppl=f"{history['train_ppl'][-1]:.2f}", val_ppl=f"{history['val_ppl'][-1]:.2f}")
            if stop:
                break
    return history
