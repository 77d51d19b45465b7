"""The graded assignments of chapters 19 and 22: the solutions pass every seed, typical wrong
answers fail on the fixed cases, and chapter 22's judged task hides what it should."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from test_autograder_fairness import judge_in_process

SEEDS = range(4)


@pytest.mark.parametrize("assignment, function", [
    ("ch19_regularization", "dropout_linear_sgd_step"), ("ch19_regularization", "l2_penalty_total"),
    ("ch19_regularization", "early_stop"), ("ch22_transfer_learning", "layerwise_lrs")])
def test_the_solution_passes_every_seed(assignment, function):
    from autograder.spec import load_tasks

    task = next(t for t in load_tasks(assignment) if t.function == function)
    for seed in SEEDS:
        verdict = judge_in_process(assignment, function, f"{function} = {function}\n", seed)
        assert verdict.points == task.points, verdict.message


WRONG = {
    "decay on the bias too": ("ch19_regularization", "dropout_linear_sgd_step", """
        def dropout_linear_sgd_step(X, W, b, dY, mask, lr, weight_decay):
            H = np.asarray(X, float) * mask
            W, b = np.asarray(W, float), np.asarray(b, float)
            return W - lr * (dY.T @ H + weight_decay * W), b - lr * (dY.sum(0) + weight_decay * b)
        """),
    "gradient without the mask": ("ch19_regularization", "dropout_linear_sgd_step", """
        def dropout_linear_sgd_step(X, W, b, dY, mask, lr, weight_decay):
            X, W, b = (np.asarray(a, float) for a in (X, W, b))
            return W - lr * (dY.T @ X + weight_decay * W), b - lr * dY.sum(0)
        """),
    "biases penalized": ("ch19_regularization", "l2_penalty_total", """
        def l2_penalty_total(params, weight_decay):
            return weight_decay / 2 * sum(float(np.sum(np.square(p))) for p in params)
        """),
    "ties count as improvements": ("ch19_regularization", "early_stop", """
        def early_stop(val_acc, patience, min_delta=0.0):
            best, best_epoch, waited = -np.inf, 0, 0
            for epoch, acc in enumerate(val_acc, start=1):
                if acc >= best + min_delta:
                    best, best_epoch, waited = acc, epoch, 0
                else:
                    waited += 1
                    if patience is not None and waited >= patience:
                        return best_epoch, epoch
            return best_epoch, len(val_acc)
        """),
    "one rate per parameter, not per layer": ("ch22_transfer_learning", "layerwise_lrs", """
        def layerwise_lrs(names, head_lr, decay, frozen_below):
            n = len(names)
            return np.array([0.0 if i < frozen_below else head_lr * decay ** (n - 1 - i) for i in range(n)])
        """),
}


@pytest.mark.parametrize("variant", sorted(WRONG))
def test_a_typical_wrong_answer_fails_on_every_seed(variant):
    assignment, function, source = WRONG[variant]
    for seed in SEEDS[:2]:
        verdict = judge_in_process(assignment, function, "import numpy as np\n" + textwrap.dedent(source), seed)
        assert verdict.points == 0, (variant, verdict.message)


def test_extract_features_solution_equals_the_course_network_on_every_case():
    from autograder.spec import load_tasks
    from test_autograder_fairness import _solution_namespace

    extract = _solution_namespace("ch22_transfer_learning")["extract_features"]
    task = next(t for t in load_tasks("ch22_transfer_learning") if t.function == "extract_features")
    from dlcourse.transfer import small_cnn

    for case in task.cases(np.random.default_rng(0)):
        weights, X = case.args
        body = small_cnn().features.double()
        c1, c2, hidden = weights[0].shape[0], weights[2].shape[0], weights[4].shape[0]
        body.conv1, body.conv2 = torch.nn.Conv2d(1, c1, 5, padding=2), torch.nn.Conv2d(c1, c2, 5)
        body.fc = torch.nn.Linear(weights[4].shape[1], hidden)
        body.load_state_dict({k: torch.tensor(w, dtype=torch.float64) for k, w in zip(body.state_dict(), weights)})
        got = extract(tuple(torch.from_numpy(w) for w in weights), torch.from_numpy(X))
        with torch.no_grad():
            expected = body.double()(torch.tensor(X, dtype=torch.float64))
        np.testing.assert_allclose(got.double().numpy(), expected.numpy(), rtol=1e-5, atol=1e-5, err_msg=case.label)


def test_ch22_judged_task_hides_and_relabels_the_held_back_classes(monkeypatch):
    from autograder.specs import ch07_lenet
    from autograder.specs import ch22_transfer_learning as ch22

    labels = np.repeat(np.arange(10), 60)
    images = np.broadcast_to((labels * 20 + 40).astype(np.uint8)[:, None, None], (600, 28, 28)).copy()  # brightness = class
    monkeypatch.setattr(ch22, "held_back_data", lambda: ("MNIST", images, labels))
    monkeypatch.setattr(ch22, "source_weights", lambda source: ("weights",))
    monkeypatch.setitem(ch22.TRAINING, "MNIST", (20, 150, 0.75))
    (case,) = ch22.transfer_cases(np.random.default_rng(1))
    weights, X_train, y_train, X_test = case.args
    assert weights == ("weights",)
    assert X_train.shape == (100, 1, 28, 28) and X_test.shape == (150, 1, 28, 28) and X_train.dtype == np.uint8
    assert np.array_equal(np.bincount(y_train, minlength=5), [20] * 5)
    assert set(case.expected["labels"]) <= set(range(5)) and case.expected["threshold"] == 0.75
    # disguised: no training or held-back image is a copy of a public one
    public = {img.tobytes() for img in images}
    assert not any(x[0].tobytes() in public for x in np.concatenate([X_train, X_test]))
    # the renaming differs between runs (a label is not simply "digit minus 5")
    renamings = set()
    for seed in range(6):
        (c,) = ch22.transfer_cases(np.random.default_rng(seed))
        X, y = c.args[1], c.args[2]
        digit = np.rint((np.median(X.reshape(len(X), -1), axis=1) - 40) / 20).astype(int)
        assert set(digit) == set(range(5, 10))
        renamings.add(tuple(int(y[digit == d][0]) for d in range(5, 10)))
    assert len(renamings) > 1, "the classes get the same names on every run"
    assert ch22.judge_accuracy is ch07_lenet.judge_accuracy and ch22.disguise is ch07_lenet.disguise


def test_pretrained_weights_fit_the_course_network_and_the_given_cell():
    from dlcourse.transfer import pretrained_weights, small_cnn

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(40, 28, 28), dtype=np.uint8)
    labels = np.arange(40) % 10
    weights = pretrained_weights(images, labels, n=16, epochs=1)
    model = small_cnn(5)
    assert [w.shape for w in weights] == [tuple(v.shape) for v in model.state_dict().values()]
    model.load_state_dict({k: torch.from_numpy(w) for k, w in zip(model.state_dict(), weights)})
