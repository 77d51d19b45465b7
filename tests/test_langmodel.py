"""dlcourse.langmodel: the PyTorch language model and its NumPy twin agree (outputs, losses,
gradients), the state carries across chunks, perplexity means what it says, generation is
greedy or sampled as asked, and both training loops learn a text they can learn.  Tiny shapes:
a few seconds on 2 cores."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.gradcheck import gradcheck
from dlcourse.langmodel import RNNLM, NumpyRNNLM, fit_numpy, generate, perplexity
from dlcourse.text import SeqDataLoader, Vocab
from dlcourse.train import train

CELLS = ["rnn", "lstm", "gru"]
VOCAB = Vocab(list("abcdefg "), reserved_tokens=["<pad>"])  # 10 tokens: <unk>, <pad>, 8 characters


def tokens(shape, seed=0, low=2):
    return torch.from_numpy(np.random.default_rng(seed).integers(low, len(VOCAB), shape))


def model(cell, hidden=6, seed=0, dtype=torch.float64, **kwargs):
    torch.manual_seed(seed)
    return RNNLM(len(VOCAB), hidden, cell, **kwargs).to(dtype)


# --- the PyTorch model ------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("embed_dim", [None, 5])
def test_rnnlm_gives_next_token_logits_at_every_position(cell, embed_dim):
    m = model(cell, embed_dim=embed_dim)
    X = tokens((3, 7))
    logits, state = m(X, return_state=True)
    assert logits.shape == (3, 7, len(VOCAB))
    h = state[0] if cell == "lstm" else state
    assert h.shape == (1, 3, 6)
    assert torch.equal(m(X), logits)  # return_state only adds the state


@pytest.mark.parametrize("cell", CELLS)
def test_carrying_the_state_across_chunks_equals_one_long_pass(cell):
    m = model(cell)
    X = tokens((2, 12), seed=1)
    whole = m(X)
    first, state = m(X[:, :5], return_state=True)
    second = m(X[:, 5:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, rtol=1e-12, atol=1e-12)
    begin = m.begin_state(2)
    torch.testing.assert_close(m(X, tuple(s.double() for s in begin) if cell == "lstm" else begin.double()), whole)


def test_rnnlm_rejects_bad_tokens_and_cells():
    m = model("lstm")
    with pytest.raises(TypeError, match="integer token indices, got dtype torch.float32"):
        m(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"must lie in \[0, 10\), got values from 0 to 10"):
        m(torch.tensor([[0, 10]]))
    with pytest.raises(ValueError, match=r"shape \(N, T\), got shape \(5,\)"):
        m(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="cell must be one of"):
        RNNLM(10, 4, "transformer")


# --- the NumPy twin ---------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_numpy_twin_matches_torch_outputs_loss_and_every_gradient(cell):
    m = model(cell)
    twin = NumpyRNNLM.from_torch(m)
    assert set(twin.params) == set(dict(m.named_parameters()))
    X, Y = tokens((3, 6), seed=2), tokens((3, 6), seed=3)
    h0 = torch.randn(1, 3, 6, dtype=torch.float64)
    state = (h0, torch.randn(1, 3, 6, dtype=torch.float64)) if cell == "lstm" else h0
    np_state = tuple(s[0].numpy() for s in state) if cell == "lstm" else h0[0].numpy()

    logits = m(X, state)
    loss = F.cross_entropy(logits.reshape(-1, len(VOCAB)), Y.reshape(-1))
    loss.backward()
    np_logits, _ = twin.forward(X.numpy(), np_state)
    np_loss, grads, _ = twin.loss_and_grads(X.numpy(), Y.numpy(), np_state)
    np.testing.assert_allclose(np_logits, logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert np_loss == pytest.approx(loss.item(), rel=1e-12)
    for name, p in m.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("cell", CELLS)
def test_numpy_gradients_match_central_differences(cell):
    twin = NumpyRNNLM(len(VOCAB), 4, cell, seed=1, dtype=np.float64)
    X, Y = tokens((2, 5), seed=4).numpy(), tokens((2, 5), seed=5).numpy()
    names = list(twin.params)
    _, grads, _ = twin.loss_and_grads(X, Y)

    def loss(*arrays):
        probe = NumpyRNNLM(len(VOCAB), 4, cell, dtype=np.float64)
        probe.params = dict(zip(names, arrays))
        return probe.loss_and_grads(X, Y)[0]

    # eps=1e-5: these gradients are small (|dW_hh| ~ 4e-3 against a loss of ~2.3), so with the
    # default 1e-6 the rounding error of the differences (~1e-16 |L| / eps) alone is ~1e-7 relative
    err = gradcheck(loss, [twin.params[n] for n in names], [grads[n] for n in names], eps=1e-5)
    assert err < 1e-7


def test_truncated_bptt_treats_the_carried_state_as_a_constant():
    """The gradient of a batch that starts from a carried state equals autograd's with that
    state detached: nothing flows back into the previous batch."""
    m = model("lstm")
    twin = NumpyRNNLM.from_torch(m)
    X = tokens((2, 10), seed=6)
    _, _, state = twin.loss_and_grads(X[:, :5].numpy(), X[:, 1:6].numpy())
    _, grads, _ = twin.loss_and_grads(X[:, 5:9].numpy(), X[:, 6:10].numpy(), state)

    _, tstate = m(X[:, :5], return_state=True)
    tstate = tuple(s.detach() for s in tstate)
    F.cross_entropy(m(X[:, 5:9], tstate).reshape(-1, len(VOCAB)), X[:, 6:10].reshape(-1)).backward()
    for name, p in m.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
    assert not np.shares_memory(state[0], twin.loss_and_grads(X[:, :5].numpy(), X[:, 1:6].numpy(), state)[2][0])


# --- perplexity -------------------------------------------------------------------------------------

def test_a_model_that_knows_nothing_has_perplexity_equal_to_the_vocabulary_size():
    m = model("gru")
    with torch.no_grad():
        m.output.weight.zero_()
        m.output.bias.zero_()
    corpus = tokens((200,), seed=7).numpy()
    assert perplexity(m, corpus, num_steps=7, batch_size=4) == pytest.approx(len(VOCAB), rel=1e-12)
    twin = NumpyRNNLM.from_torch(m)
    assert perplexity(twin, corpus, num_steps=7, batch_size=4) == pytest.approx(len(VOCAB), rel=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_perplexity_is_exp_of_the_mean_cross_entropy_whatever_the_chunk_length(cell):
    m = model(cell)
    corpus = tokens((121,), seed=8).numpy()
    logits = m(torch.from_numpy(corpus[None, :-1]))  # one row, the whole text in one pass
    expected = math.exp(F.cross_entropy(logits[0], torch.from_numpy(corpus[1:])).item())
    for num_steps in (3, 50, 200):  # the state is carried, so chunking changes nothing
        assert perplexity(m, corpus, num_steps=num_steps, batch_size=1) == pytest.approx(expected, rel=1e-10)
    assert perplexity(NumpyRNNLM.from_torch(m), corpus, num_steps=9, batch_size=1) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="1-D"):
        perplexity(m, corpus.reshape(11, 11))


# --- generation -------------------------------------------------------------------------------------

def rigged(favourite, also_unk=False):
    """A model whose next token is always ``favourite`` (unless sampling says otherwise)."""
    m = model("lstm")
    with torch.no_grad():
        m.output.weight.zero_()
        m.output.bias.zero_()
        m.output.bias[VOCAB[favourite]] = 3.0
        if also_unk:
            m.output.bias[VOCAB.unk] = 50.0
            m.output.bias[VOCAB["<pad>"]] = 50.0
    return m


def test_greedy_generation_continues_the_prompt_with_the_most_likely_token():
    assert generate(rigged("c"), VOCAB, "ab", 5) == "abccccc"
    # unknown and reserved tokens are never produced, however likely
    assert generate(rigged("d", also_unk=True), VOCAB, "a", 3) == "addd"
    twin = NumpyRNNLM.from_torch(rigged("e"))
    assert generate(twin, VOCAB, "ab", 4) == "abeeee"


def test_sampling_follows_the_temperature_and_the_seed():
    m = rigged("c")
    hot = generate(m, VOCAB, "a", 300, temperature=5.0, seed=1)
    cold = generate(m, VOCAB, "a", 300, temperature=0.05, seed=1)
    assert cold == "a" + "c" * 300  # a low temperature is nearly greedy
    assert hot.count("c") < 200 and len(set(hot)) > 4  # a high one spreads the choices
    assert "<" not in hot  # never <unk> or <pad>
    assert generate(m, VOCAB, "a", 50, temperature=1.0, seed=3) == generate(m, VOCAB, "a", 50, temperature=1.0, seed=3)
    assert generate(m, VOCAB, "a", 50, temperature=1.0, seed=3) != generate(m, VOCAB, "a", 50, temperature=1.0, seed=4)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        generate(m, VOCAB, "a", 5, temperature=-1)


# --- training ---------------------------------------------------------------------------------------

PERIODIC = VOCAB.encode("abcdefg " * 120)  # fully predictable after one character


@pytest.mark.parametrize("cell", CELLS)
def test_the_training_loop_learns_a_periodic_text(cell):
    m = model(cell, hidden=16, dtype=torch.float32)
    loader = SeqDataLoader(PERIODIC, batch_size=8, num_steps=10, seed=0)
    hist = train(m, loader, None, epochs=6, lr=0.05, optimizer="adam", weight_decay=0.0, clip_grad_norm=1.0,
                 device="cpu", progress=False)
    assert len(hist["train_loss"]) == 6 and hist["train_loss"][-1] < hist["train_loss"][0]
    assert perplexity(m, PERIODIC, num_steps=10, batch_size=4) < 1.2
    assert generate(m, VOCAB, "abc", 12) == "abcdefg abcdefg"


def test_clipping_limits_each_step_and_the_time_budget_stops_training():
    m = model("rnn", dtype=torch.float32)
    before = [p.detach().clone() for p in m.parameters()]
    loader = SeqDataLoader(PERIODIC, batch_size=8, num_steps=10, seed=0)
    hist = train(m, loader, None, epochs=3, lr=1.0, momentum=0.0, weight_decay=0.0, clip_grad_norm=1e-3,
                 device="cpu", progress=False, max_seconds=0.0)
    assert len(hist["train_loss"]) == 1  # stopped after the first batch
    moved = math.sqrt(sum(((p.detach() - b) ** 2).sum().item() for p, b in zip(m.parameters(), before)))
    assert moved <= 1e-3 * (1 + 1e-4)  # one SGD step of a gradient clipped to norm 1e-3, lr 1
    with pytest.raises(ValueError, match="optimizer must be 'sgd' or 'adam'"):
        train(m, loader, None, optimizer="rmsprop", progress=False)


def test_the_training_loop_scores_token_tensors_per_position():
    m = model("gru", dtype=torch.float32)
    X = torch.from_numpy(PERIODIC[:80].reshape(8, 10))
    Y = torch.from_numpy(PERIODIC[1:81].reshape(8, 10))
    hist = train(m, (X, Y), (X, Y), epochs=1, device="cpu", progress=False)
    expected = F.cross_entropy(m(X).reshape(-1, len(VOCAB)), Y.reshape(-1)).item()
    assert hist["val_loss"][0] == pytest.approx(expected, rel=1e-5)
    assert 0 <= hist["val_acc"][0] <= 1


def test_numpy_training_learns_a_periodic_text_with_truncated_bptt():
    twin = NumpyRNNLM(len(VOCAB), 16, "lstm", seed=0)
    hist = fit_numpy(twin, PERIODIC, PERIODIC[:200], epochs=15, batch_size=4, num_steps=10, lr=0.5,
                     momentum=0.9, clip=1.0, progress=False)
    assert set(hist) == {"epoch", "train_ppl", "val_ppl", "grad_norm", "time"}
    assert hist["val_ppl"][-1] < 1.5 < hist["train_ppl"][0]
    assert generate(twin, VOCAB, "cd", 7) == "cdefg abc"
    short = fit_numpy(NumpyRNNLM(len(VOCAB), 4, "gru"), PERIODIC, None, epochs=5, batch_size=4, num_steps=10,
                      max_seconds=0.0, progress=False)
    assert len(short["epoch"]) == 1 and short["epoch"][0] < 1  # one batch, then out of time


@pytest.mark.gpu
@pytest.mark.parametrize("cell", CELLS)
def test_the_language_model_trains_scores_and_writes_on_cuda(cell):
    m = model(cell, hidden=16, dtype=torch.float32)
    loader = SeqDataLoader(PERIODIC, batch_size=8, num_steps=10, seed=0)
    train(m, loader, None, epochs=2, lr=0.05, optimizer="adam", weight_decay=0.0, clip_grad_norm=1.0,
          device="cuda", progress=False)
    assert next(m.parameters()).is_cuda
    on_gpu = perplexity(m, PERIODIC, num_steps=10, batch_size=4)
    on_cpu = perplexity(NumpyRNNLM.from_torch(m), PERIODIC, num_steps=10, batch_size=4)
    assert on_gpu == pytest.approx(on_cpu, rel=1e-4)  # cuDNN and the NumPy twin agree on the same weights
    assert generate(m, VOCAB, "ab", 5).startswith("ab") and len(generate(m, VOCAB, "ab", 5)) == 7
