"""Fair grades: the same code gets the same score whoever submits it.

The grader draws each student's random cases from a per-student seed, so a bug that only some
random draws reveal (``round`` instead of the floor, a swapped ``(height, width)`` pair, a shape
taken from ``dY``) would score differently for different names.  Every spec therefore starts
with fixed edge cases, the same for everyone.  Here:

* ``test_buggy_variant_scores_the_same_for_every_seed`` judges known-buggy answers in this
  process (the student's function called directly, then the grader's own ``_judge``) on 40
  seeds each: one score per variant, always 0, with a case label in the message.  Remove a
  spec's fixed cases and these fail (most random draws miss the bug);
* ``test_buggy_variant_gets_one_score_under_many_names`` runs three of them through the real
  grader (sandbox and all) under 8 student names each, the way a class would submit them;
* chapter 7's disguised held-back images: shifted and noised per run, never equal to a public
  image, and the same seed gives the same images.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from submissions import REPO, make_submission, write_submission

SEEDS = range(40)

# (assignment, function, buggy source): each wrong on a fixed case, right on many random ones.
VARIANTS = {
    "ch01 convolution that forgot the flip": ("ch01_cross_correlation", "convolve2d_loops", """
        def convolve2d_loops(X, K):
            X, K = np.asarray(X), np.asarray(K)
            kh, kw = K.shape
            Y = np.zeros((X.shape[0] - kh + 1, X.shape[1] - kw + 1), dtype=np.result_type(X, K))
            for i in range(Y.shape[0]):
                for j in range(Y.shape[1]):
                    Y[i, j] = (X[i : i + kh, j : j + kw] * K).sum()
            return Y
        """),
    "ch01 convolution flipped along one axis": ("ch01_cross_correlation", "convolve2d_loops", """
        def convolve2d_loops(X, K):
            X, K = np.asarray(X), np.asarray(K)
            kh, kw = K.shape
            flipped = K[::-1]  # the rows only
            Y = np.zeros((X.shape[0] - kh + 1, X.shape[1] - kw + 1), dtype=np.result_type(X, K))
            for i in range(Y.shape[0]):
                for j in range(Y.shape[1]):
                    Y[i, j] = (X[i : i + kh, j : j + kw] * flipped).sum()
            return Y
        """),
    "ch01 batch axis mixed up with the rows": ("ch01_cross_correlation", "corr2d_batch", """
        def corr2d_batch(X, K):
            X, K = np.asarray(X), np.asarray(K)
            # slides along the batch axis and the columns, then swaps the first two axes back
            windows = np.lib.stride_tricks.sliding_window_view(X, K.shape, axis=(0, 2))
            return np.tensordot(windows, K, axes=([3, 4], [0, 1])).swapaxes(0, 1)
        """),
    "ch01 input gradient without the factor 2": ("ch01_cross_correlation", "input_gradient", """
        def input_gradient(X, K, Y):
            X, K, Y = np.asarray(X), np.asarray(K), np.asarray(Y)
            kh, kw = K.shape
            ho, wo = X.shape[0] - kh + 1, X.shape[1] - kw + 1
            residual = np.tensordot(np.lib.stride_tricks.sliding_window_view(X, K.shape), K,
                                    axes=([2, 3], [0, 1])) - Y
            dX = np.zeros(X.shape, dtype=np.result_type(X, K, Y))
            for a in range(kh):
                for b in range(kw):
                    dX[a : a + ho, b : b + wo] += K[a, b] * residual
            return dX
        """),
    "ch01 gradient with respect to K instead of X": ("ch01_cross_correlation", "input_gradient", """
        def input_gradient(X, K, Y):
            X, K, Y = np.asarray(X), np.asarray(K), np.asarray(Y)
            windows = np.lib.stride_tricks.sliding_window_view(X, K.shape)
            residual = np.tensordot(windows, K, axes=([2, 3], [0, 1])) - Y
            return 2 * np.tensordot(residual, windows, axes=([0, 1], [0, 1]))
        """),
    "ch02 round instead of floor (output size)": ("ch02_padding_stride", "conv_output_size", """
        def conv_output_size(n, k, padding, stride):
            return round((n - k + 2 * padding + stride) / stride)
        """),
    "ch02 round instead of floor (strided correlation)": ("ch02_padding_stride", "corr2d_strided", """
        def corr2d_strided(X, K, padding=0, stride=1):
            X, K = np.asarray(X), np.asarray(K)
            ph, pw = (padding, padding) if np.isscalar(padding) else padding
            sh, sw = (stride, stride) if np.isscalar(stride) else stride
            Xp = np.pad(X, ((ph, ph), (pw, pw)))
            kh, kw = K.shape
            ho, wo = round((Xp.shape[0] - kh) / sh) + 1, round((Xp.shape[1] - kw) / sw) + 1
            Xp = np.pad(Xp, ((0, sh), (0, sw)))  # room for the windows round() adds
            Y = np.zeros((ho, wo))
            for i in range(ho):
                for j in range(wo):
                    Y[i, j] = (Xp[i * sh : i * sh + kh, j * sw : j * sw + kw] * K).sum()
            return Y
        """),
    "ch02 padding pair swapped": ("ch02_padding_stride", "pad2d", """
        def pad2d(X, padding):
            X = np.asarray(X)
            pw, ph = (padding, padding) if np.isscalar(padding) else padding
            return np.pad(X, ((ph, ph), (pw, pw)))
        """),
    "ch04 stride pair swapped": ("ch04_pooling", "max_pool2d_forward", """
        def max_pool2d_forward(X, kernel_size, stride=None):
            X = np.asarray(X)
            kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
            sw, sh = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
            windows = np.lib.stride_tricks.sliding_window_view(X, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
            return windows.max(axis=(4, 5))
        """),
    "ch04 ties go to the last maximum": ("ch04_pooling", "max_pool2d_backward", """
        def max_pool2d_backward(dY, X, kernel_size, stride=None):
            dY, X = np.asarray(dY), np.asarray(X)
            kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
            sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
            dX = np.zeros(X.shape, dtype=dY.dtype)
            for p in range(dY.shape[2]):
                for q in range(dY.shape[3]):
                    win = X[:, :, p * sh : p * sh + kh, q * sw : q * sw + kw].reshape(X.shape[0], X.shape[1], -1)
                    last = kh * kw - 1 - win[:, :, ::-1].argmax(axis=-1)
                    for n in range(X.shape[0]):
                        for c in range(X.shape[1]):
                            i, j = divmod(int(last[n, c]), kw)
                            dX[n, c, p * sh + i, q * sw + j] += dY[n, c, p, q]
            return dX
        """),
    "ch04 float64 gradient for float32 dY": ("ch04_pooling", "avg_pool2d_backward", """
        def avg_pool2d_backward(dY, X, kernel_size, stride=None):
            dY, X = np.asarray(dY, dtype=np.float64), np.asarray(X)
            kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
            sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
            ho, wo = dY.shape[2:]
            dX = np.zeros(X.shape)
            for i in range(kh):
                for j in range(kw):
                    dX[:, :, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw] += dY / (kh * kw)
            return dX
        """),
    "ch05 round instead of floor (im2col)": ("ch05_conv_as_matmul", "im2col", """
        def im2col(X, kh, kw, stride=1):
            X = np.asarray(X)
            n, c, h, w = X.shape
            ho, wo = round((h - kh) / stride) + 1, round((w - kw) / stride) + 1
            Xp = np.pad(X, ((0, 0), (0, 0), (0, stride), (0, stride)))
            cols = np.empty((c * kh * kw, n * ho * wo), dtype=X.dtype)
            for i in range(kh):
                for j in range(kw):
                    patch = Xp[:, :, i : i + ho * stride : stride, j : j + wo * stride : stride]
                    cols[(np.arange(c) * kh + i) * kw + j] = patch.transpose(1, 0, 2, 3).reshape(c, -1)
            return cols
        """),
    "ch06 output shape taken from dY": ("ch06_backprop", "conv2d_backward_input", """
        def conv2d_backward_input(dY, W, x_shape, stride=1, padding=0):
            dY, W = np.asarray(dY), np.asarray(W)
            n, c = x_shape[:2]
            o, _, kh, kw = W.shape
            ho, wo = dY.shape[2:]
            h, w = (ho - 1) * stride + kh - 2 * padding, (wo - 1) * stride + kw - 2 * padding
            dXp = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=np.result_type(dY, W))
            for i in range(kh):
                for j in range(kw):
                    dXp[:, :, i : i + (ho - 1) * stride + 1 : stride, j : j + (wo - 1) * stride + 1 : stride] += (
                        np.einsum("nohw,oc->nchw", dY, W[:, :, i, j]))
            return dXp[:, :, padding : padding + h, padding : padding + w]
        """),
    "ch07 softmax without the max shift": ("ch07_lenet", "softmax_cross_entropy_loss", """
        def softmax_cross_entropy_loss(logits, labels, smoothing=0.0):
            z = np.asarray(logits, dtype=np.float64)
            n, k = z.shape
            p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
            target = np.full((n, k), smoothing / k)
            target[np.arange(n), labels] += 1.0 - smoothing
            return -np.mean((target * np.log(p)).sum(axis=1))
        """),
    "ch08 pooling rounds up in the VGG count": ("ch08_alexnet_vgg", "vgg_complexity", """
        def vgg_complexity(arch, in_channels, image_size, num_classes, fc_width):
            rows, c, size = [], in_channels, image_size
            for num_convs, out_channels in arch:
                for _ in range(num_convs):
                    rows.append((out_channels * c * 9 + out_channels, out_channels * c * 9 * size * size))
                    c = out_channels
                size = (size + 1) // 2
            n = c * size * size
            for m in (fc_width, fc_width, num_classes):
                rows.append((m * n + m, m * n))
                n = m
            return np.array(rows, dtype=np.int64)
        """),
    "ch12 biased running variance": ("ch12_batchnorm_resnet", "batch_norm_forward", """
        def batch_norm_forward(X, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
            X = np.asarray(X, dtype=np.float64)
            axes = (0,) + tuple(range(2, X.ndim))
            shape = (1, -1) + (1,) * (X.ndim - 2)
            mean, var = (X.mean(axis=axes), X.var(axis=axes)) if training else (running_mean, running_var)
            Y = np.asarray(gamma).reshape(shape) * (X - np.reshape(mean, shape)) / np.sqrt(np.reshape(var, shape) + eps)
            Y = Y + np.asarray(beta).reshape(shape)
            if not training:
                return Y, np.array(running_mean, dtype=float), np.array(running_var, dtype=float)
            return (Y, (1 - momentum) * np.asarray(running_mean) + momentum * mean,
                    (1 - momentum) * np.asarray(running_var) + momentum * var)
        """),
    "ch14 W_hh transposed in BPTT": ("ch14_rnn", "rnn_layer_backward", """
        def rnn_layer_backward(dY, X, h0, W_ih, W_hh, b_ih, b_hh, dh_T):
            dY, X, h0, W_ih, W_hh, b_ih, dh = (np.asarray(a, dtype=np.float64) for a in (dY, X, h0, W_ih, W_hh, b_ih, dh_T))
            Y, h = [], h0
            for t in range(len(X)):
                h = np.tanh(X[t] @ W_ih.T + b_ih + h @ W_hh.T + np.asarray(b_hh, dtype=np.float64))
                Y.append(h)
            dX, dW_ih, dW_hh, db = np.zeros_like(X), np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros_like(b_ih)
            for t in reversed(range(len(X))):
                da = (dY[t] + dh) * (1 - Y[t] ** 2)
                dW_ih += da.T @ X[t]
                dW_hh += da.T @ (Y[t - 1] if t else h0)
                db += da.sum(axis=0)
                dX[t] = da @ W_ih
                dh = da @ W_hh.T
            return dX, dh, dW_ih, dW_hh, db, db.copy()
        """),
    "ch16 the textbook's reset gate": ("ch16_gru", "gru_cell_forward", """
        def gru_cell_forward(x, h, W_ih, W_hh, b_ih, b_hh):
            x, h, W_ih, W_hh, b_ih, b_hh = (np.asarray(a, dtype=np.float64) for a in (x, h, W_ih, W_hh, b_ih, b_hh))
            H = h.shape[1]
            i_r, i_z, i_n = np.split(x @ W_ih.T + b_ih, 3, axis=1)
            h_r, h_z, _ = np.split(h @ W_hh.T + b_hh, 3, axis=1)
            r, z = 1 / (1 + np.exp(-(i_r + h_r))), 1 / (1 + np.exp(-(i_z + h_z)))
            n = np.tanh(i_n + (r * h) @ W_hh[2 * H:].T + b_hh[2 * H:])
            return (1 - z) * n + z * h
        """),
    # chapters 17-18 (p3-a): each caught by a fixed case of the spec
    "ch17 PReLU: the identity's slope at the kink X == 0": ("ch17_activations", "prelu_forward_backward", """
        def prelu_forward_backward(X, alpha, dY):
            X, dY = np.asarray(X, dtype=np.float64), np.asarray(dY, dtype=np.float64)
            a = np.asarray(alpha, dtype=np.float64).reshape((1, -1) + (1,) * (X.ndim - 2))
            keep = X >= 0
            axes = (0,) + tuple(range(2, X.ndim))
            return np.where(keep, X, a * X), np.where(keep, dY, a * dY), np.where(keep, 0.0, dY * X).sum(axis=axes)
        """),
    "ch17 saturation without the sigmoid's 1/4": ("ch17_activations", "count_saturated", """
        def count_saturated(Z, activation, tol=0.01):
            Z = np.asarray(Z, dtype=np.float64)
            if activation == "sigmoid":
                e = np.exp(-np.abs(Z))
                s = np.where(Z >= 0, 1 / (1 + e), e / (1 + e))
                return (s * (1 - s) < tol).sum(axis=0)
            return (1 - np.tanh(Z) ** 2 < tol).sum(axis=0)
        """),
    "ch18 fans swapped": ("ch18_initialization", "fan_in_fan_out", """
        def fan_in_fan_out(shape):
            r = int(np.prod(shape[2:]))
            return shape[0] * r, shape[1] * r
        """),
    "ch18 He bound without the uniform's sqrt(3)": ("ch18_initialization", "kaiming_uniform_bound", """
        def kaiming_uniform_bound(shape, a=0.0, mode="fan_in"):
            fan_in, fan_out = fan_in_fan_out(shape)
            return float(np.sqrt(2 / (1 + a * a)) / np.sqrt(fan_in if mode == "fan_in" else fan_out))
        """),
    "ch20 log of a computed sigmoid": ("ch20_autoencoders", "reconstruction_loss", """
        def reconstruction_loss(Z, X):
            Z, X = np.asarray(Z, dtype=np.float64), np.asarray(X, dtype=np.float64)
            s = 1 / (1 + np.exp(-Z))
            loss = -(X * np.log(s) + (1 - X) * np.log(1 - s)).sum() / Z.shape[0]
            return np.float64(loss), (s - X) / Z.shape[0]
        """),
    "ch20 salt where pepper goes": ("ch20_autoencoders", "salt_and_pepper", """
        def salt_and_pepper(X, u, p):
            X, u = np.asarray(X, dtype=np.float64), np.asarray(u, dtype=np.float64)
            return np.where(u <= p / 2, 0.0, np.where(u <= p, 1.0, X))
        """),
    "ch21 smoothing applied to the fake label too": ("ch21_gans", "discriminator_loss", """
        def discriminator_loss(real_logits, fake_logits, smooth=1.0):
            r, f = np.asarray(real_logits, dtype=np.float64), np.asarray(fake_logits, dtype=np.float64)
            sp = lambda z: np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
            sig = lambda z: 0.5 * (1 + np.tanh(z / 2))
            t = 1 - smooth
            loss = np.mean(sp(r) - smooth * r) + np.mean(sp(f) - t * f)
            return np.float64(loss), (sig(r) - smooth) / r.size, (sig(f) - t) / f.size
        """),
}


def _solution_namespace(assignment):
    from autograder.grading import _reference_namespace, solution_code
    from autograder.notebooks import load_notebook

    return _reference_namespace(solution_code(load_notebook(REPO / "solutions" / assignment / f"{assignment}.ipynb")))


def judge_in_process(assignment, function, source, seed):
    """The grader's verdict on ``source`` for one seed, without the sandbox: the function is
    called here and ``grading._judge`` compares it with the solution as the grader does."""
    from autograder.grading import _judge, _plain, input_digests
    from autograder.sandbox import CallResult, RunReport
    from autograder.spec import load_tasks

    references = _solution_namespace(assignment)
    student = dict(references)  # the notebook's given helpers stay available
    exec(compile(textwrap.dedent(source), "<student>", "exec"), student)
    task = next(t for t in load_tasks(assignment) if t.function == function)
    cases = task.cases(np.random.default_rng(seed))
    report = RunReport()
    for index, case in enumerate(cases):
        args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
        try:
            out = student[function](*args, **kwargs)
            # The inputs' digests after the call, as the worker reports them.
            after = [digest for _, digest in input_digests(dataclasses.replace(case, args=args, kwargs=kwargs))]
            report.calls[(function, index)] = CallResult(array=_plain(out) if task.returns_tuple else np.asarray(out),
                                                         inputs=after)
        except Exception as err:  # noqa: BLE001 - the student's error is the verdict
            report.calls[(function, index)] = CallResult(error=f"{type(err).__name__}: {err}")
    with np.errstate(all="ignore"):
        return _judge(task, cases, report, references, {}, set())


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_buggy_variant_scores_the_same_for_every_seed(variant):
    assignment, function, source = VARIANTS[variant]
    verdicts = [judge_in_process(assignment, function, source, seed) for seed in SEEDS]
    scores = {v.points for v in verdicts}
    assert scores == {0.0}, (variant, [(s, v.points) for s, v in zip(SEEDS, verdicts) if v.points])
    assert all(" on case " in v.message for v in verdicts), verdicts[0].message
    # The fixed cases catch it, so the failing case is one of them: the same for every seed.
    assert len({v.message.split(" on case ")[1].split(":")[0] for v in verdicts}) == 1


@pytest.mark.parametrize("assignment", ["ch01_cross_correlation", "ch02_padding_stride", "ch04_pooling", "ch06_backprop", "ch08_alexnet_vgg",
                                        "ch10_nin_googlenet", "ch12_batchnorm_resnet", "ch14_rnn", "ch15_lstm", "ch16_gru",
                                        "ch20_autoencoders", "ch21_gans"])
def test_the_solution_passes_every_seed(assignment):
    from autograder.spec import load_tasks

    references = _solution_namespace(assignment)
    for task in load_tasks(assignment):
        if task.judge is not None:  # a trained model: its threshold is measured over 40+ draws (see the spec)
            continue
        source = f"{task.function} = {task.function}\n"  # the solution itself, as a student
        for seed in range(5):
            verdict = judge_in_process(assignment, task.function, source, seed)
            assert verdict.points == task.points, verdict.message
    assert references


def test_ch01_reference_gives_the_lecture_example_computed_by_hand():
    """The spec's first convolution case, worked out by hand in its comment: the solution (the
    grader's reference) agrees, and each flip bug gives another answer on it."""
    from autograder.specs.ch01_cross_correlation import LECTURE_CONVOLVED, LECTURE_K, LECTURE_X

    convolve = _solution_namespace("ch01_cross_correlation")["convolve2d_loops"]
    assert np.array_equal(convolve(LECTURE_X, LECTURE_K), LECTURE_CONVOLVED)
    for wrong in (LECTURE_K[::-1, ::-1], LECTURE_K[::-1], LECTURE_K[:, ::-1]):  # no flip, rows only, columns only
        assert not np.array_equal(convolve(LECTURE_X, wrong), LECTURE_CONVOLVED)


# Through the real grader: each variant under 8 names in one batch per assignment.
NAMES = ["ada", "bo", "chen", "dagny", "eve", "farid", "gu", "hana"]
E2E = {
    "ch01_cross_correlation": ["ch01 convolution flipped along one axis", "ch01 batch axis mixed up with the rows",
                               "ch01 gradient with respect to K instead of X"],
    "ch02_padding_stride": ["ch02 round instead of floor (strided correlation)", "ch02 round instead of floor (output size)"],
    "ch04_pooling": ["ch04 stride pair swapped"],
    "ch06_backprop": ["ch06 output shape taken from dY"],
    "ch12_batchnorm_resnet": ["ch12 biased running variance"],
}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(E2E))
def test_buggy_variant_gets_one_score_under_many_names(assignment, tmp_path):
    from autograder.spec import load_tasks

    root, out = tmp_path / "submissions", tmp_path / "out"
    expected = {}
    total = sum(t.points for t in load_tasks(assignment))
    for k, variant in enumerate(E2E[assignment]):
        _, function, source = VARIANTS[variant]
        lost = next(t.points for t in load_tasks(assignment) if t.function == function)
        for name in NAMES:
            student = f"{name}-{k}"
            write_submission(root, student, assignment,
                             make_submission(assignment, {function: textwrap.dedent(source)}))
            expected[student] = total - lost
    cmd = [sys.executable, "-m", "autograder", "grade", "--assignment", assignment, "--submissions", str(root),
           "--out", str(out), "--db", f"sqlite:///{tmp_path / 'gb.db'}", "--workers", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    got = {s: json.loads((out / assignment / "results" / f"{s}.json").read_text()) for s in expected}
    scores = {s: r["score"] for s, r in got.items()}
    assert scores == expected, {s: [t["message"] for t in r["tasks"] if not t["points"]] for s, r in got.items()}


def test_held_back_images_are_disguised_per_seed():
    from autograder.specs.ch07_lenet import NOISE, SHIFT, disguise

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(50, 28, 28)).astype(np.uint8)
    images[:, :SHIFT + 2], images[:, -SHIFT - 2:], images[:, :, :SHIFT + 2], images[:, :, -SHIFT - 2:] = 0, 0, 0, 0
    a, b = disguise(images, np.random.default_rng(1)), disguise(images, np.random.default_rng(1))
    assert a.dtype == np.uint8 and a.shape == images.shape and np.array_equal(a, b)
    assert not np.array_equal(a, disguise(images, np.random.default_rng(2)))
    # No disguised image equals its original, nor any public image moved by a whole shift.
    for n in range(len(images)):
        for dy in range(-SHIFT, SHIFT + 1):
            for dx in range(-SHIFT, SHIFT + 1):
                assert not np.array_equal(a[n], np.roll(images[n], (dy, dx), axis=(0, 1)))
    # ... yet it is that image moved by at most SHIFT pixels, plus noise of about NOISE levels.
    best = [min(np.abs(a[n].astype(float) - np.roll(images[n], (dy, dx), axis=(0, 1))).mean()
                for dy in range(-SHIFT, SHIFT + 1) for dx in range(-SHIFT, SHIFT + 1)) for n in range(len(images))]
    assert max(best) < NOISE  # the mean absolute noise of N(0, NOISE) is about 0.8 NOISE


def test_dtype_rules_are_the_ones_the_visible_tests_state():
    from autograder.spec import dtype_problem

    f64, f32, i64 = np.zeros(2), np.zeros(2, np.float32), np.zeros(2, np.int64)
    assert dtype_problem(f32, f32, "exact") is None and "float64" in dtype_problem(f64, f32, "exact")
    assert dtype_problem(f64, i64, "exact") is not None  # max pooling keeps an integer X's dtype
    assert dtype_problem(f32, f64, "floats") is not None and dtype_problem(f64, i64, "floats") is None
    assert dtype_problem(np.int32(3), np.int64(3), "kind") is None  # "an int", any width
    assert "integer" in dtype_problem(np.float64(3), np.int64(3), "kind")
    assert dtype_problem(np.bool_(True), np.int64(1), "kind") is not None
    assert dtype_problem(f32, f64, "") is None  # no rule: the value comparison alone


def test_not_answered_yet_means_the_unchanged_stub_only():
    from autograder.grading import unchanged_stubs

    a = "ch01_cross_correlation"
    release = make_submission(a, fill="release")
    assert unchanged_stubs(release, release) == {"convolve2d_loops", "corr2d_batch", "input_gradient"}
    assert unchanged_stubs(make_submission(a), release) == set()
    edited = make_submission(a, {"convolve2d_loops": "def convolve2d_loops(X, K):\n    raise NotImplementedError()\n"},
                             fill="release")
    assert unchanged_stubs(edited, release) == {"corr2d_batch", "input_gradient"}


def test_check_runs_the_released_test_cells_after_their_answers():
    from autograder.check import visible_test_cells

    a = "ch01_cross_correlation"
    release = make_submission(a, fill="release")

    def tamper(nb):
        for cell in nb["cells"]:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid == "test_convolve2d_loops":
                cell["source"] = "pass\n"
            if gid == "test_input_gradient":
                cell["metadata"]["nbgrader"]["grade_id"] = "renamed"
        nb["cells"].insert(8, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                               "source": "def helper():\n    return 1\n"})

    cells = visible_test_cells(make_submission(a, edit=tamper), release)
    labels = [c["label"] for c in cells]
    released = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in release["cells"]
                if c["metadata"].get("nbgrader", {}).get("grade")}
    for gid in ("test_convolve2d_loops", "test_corr2d_batch", "test_input_gradient"):
        assert labels.count(gid) == 1
        assert next(c for c in cells if c["label"] == gid)["source"] == released[gid]
        answer = gid[len("test_"):]
        assert labels.index(answer) < labels.index(gid)


LOOKS_UP_THE_PUBLIC_IMAGES = '''
def train_and_predict(X_train, y_train, X_test):
    import glob
    import gzip
    import os

    import numpy as np

    places = [os.environ.get("DLCOURSE_DATA", ""), os.environ.get("DLCOURSE_MNIST", ""), {shared!r}]
    files = [f for p in places if p for f in glob.glob(os.path.join(p, "**", "t10k-*"), recursive=True)]
    if files:
        raise RuntimeError("FOUND the public images: " + ", ".join(files))
    return np.zeros(len(X_test), dtype=np.int64)
'''


@pytest.mark.slow
def test_the_judged_task_cannot_read_the_public_data(tmp_path):
    """Chapter 7's held-back images come from the MNIST test set: the folder that holds it must
    not be readable from the sandbox while the judged task runs (its images are disguised too)."""
    import os
    from pathlib import Path

    from conftest import SHARED_DATA

    data = Path(os.environ.get("DLCOURSE_DATA") or SHARED_DATA)
    if not (data / "mnist").is_dir():
        pytest.skip(f"needs the MNIST test set in {data}/mnist ($DLCOURSE_DATA or ../shared/data)")
    a = "ch07_lenet"
    root, out = tmp_path / "submissions", tmp_path / "out"
    source = LOOKS_UP_THE_PUBLIC_IMAGES.format(shared=str(data.resolve()))
    write_submission(root, "lookup", a, make_submission(a, {"train_and_predict": source}))
    cmd = [sys.executable, "-m", "autograder", "grade", "--assignment", a, "--submissions", str(root),
           "--out", str(out), "--db", f"sqlite:///{tmp_path / 'gb.db'}", "--workers", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=900,
                          env={**os.environ, "DLCOURSE_DATA": str(data)})
    assert done.returncode == 0, done.stderr[-3000:]
    tasks = {t["function"]: t for t in json.loads((out / a / "results" / "lookup.json").read_text())["tasks"]}
    message = tasks["train_and_predict"]["message"]
    assert "FOUND" not in message, message
    assert tasks["train_and_predict"]["points"] == 0 and "accuracy" in message and "94%" in message, message
    assert sum(t["points"] for t in tasks.values()) == 7.0


# --- the judged tasks of chapters 12 and 16 ----------------------------------------------------------

def test_ch12_judged_task_reuses_chapter_7s_data_disguise_and_judge_on_a_smaller_budget():
    """One source of truth for the held-back images; batch norm's point is a smaller budget."""
    from autograder.spec import load_tasks
    from autograder.specs import ch07_lenet, ch12_batchnorm_resnet as ch12

    assert ch12.disguised_train_cases is ch07_lenet.disguised_train_cases
    ch07_task = next(t for t in load_tasks("ch07_lenet") if t.judge is not None)
    task = next(t for t in load_tasks("ch12_batchnorm_resnet") if t.judge is not None)
    assert task.function == "train_bn_and_predict" and task.library == "torch" and task.points == 3
    assert task.judge is ch07_lenet.judge_accuracy and task.judge.private_paths is ch07_lenet.data_folders
    assert task.call_timeout < ch07_task.call_timeout
    for source, (n_train, _, _) in ch12.TRAINING.items():
        assert n_train <= ch07_lenet.TRAINING[source][0]
    assert sum(t.points for t in load_tasks("ch12_batchnorm_resnet")) == 10


@pytest.fixture(scope="module")
def lm_cases():
    from autograder.specs.ch16_gru import _lm_cases

    return [_lm_cases(np.random.default_rng(seed))[0] for seed in (0, 1)]


def test_ch16_held_back_text_is_relabelled_per_seed_and_windows_never_hold_a_target(lm_cases):
    from autograder.specs.ch16_gru import held_back_text

    source, corpus, V = held_back_text()
    a, b = lm_cases
    assert a.args[1] == b.args[1] == V
    n_train = len(a.args[0])
    # The training part is the book relabelled by a permutation (one per seed), never the public tokens.
    for case in (a, b):
        tokens, _, contexts = case.args
        perm = np.full(V, -1)
        perm[corpus[:n_train]] = tokens
        assert np.array_equal(perm[corpus[:n_train]], tokens), "the relabelling must be a function of the token"
        seen = perm[perm >= 0]
        assert len(set(seen.tolist())) == len(seen), "the relabelling must be one-to-one"
        assert contexts.shape[0] == len(case.expected["targets"]) and contexts.dtype == np.int64
    assert not np.array_equal(a.args[0], b.args[0]) and not np.array_equal(a.args[0], corpus[:n_train])
    # Undo the relabelling: every window and its target lie consecutively in the held-back end,
    # K + 1 tokens apart from the next window, so no window holds another's target.
    held = corpus[n_train:]
    tokens, _, contexts = a.args
    inverse = np.full(V, -1)
    inverse[tokens] = corpus[:n_train]
    windows = np.concatenate([contexts, a.expected["targets"][:, None]], axis=1)
    decoded = inverse[windows]
    M, K = contexts.shape
    first = [s for s in range(len(held) - K) if np.array_equal(held[s : s + K + 1], decoded[0])]
    assert first, "the first context and its target are not consecutive tokens of the held-back part"
    assert any(np.array_equal(held[s + (K + 1) * np.arange(M)[:, None] + np.arange(K + 1)], decoded)
               for s in first if s + (K + 1) * M <= len(held))


def _count_model_logits(case, order):
    """Log-probabilities of a unigram (order 1) or bigram (order 2) count model, add-one smoothed."""
    tokens, V, contexts = case.args
    if order == 1:
        counts = np.bincount(tokens, minlength=V) + 1.0
        return np.tile(np.log(counts / counts.sum()), (len(contexts), 1))
    pairs = np.ones((V, V))
    np.add.at(pairs, (tokens[:-1], tokens[1:]), 1)
    return np.log(pairs / pairs.sum(axis=1, keepdims=True))[contexts[:, -1]]


def test_ch16_count_models_do_not_pass_the_perplexity_threshold(lm_cases):
    from autograder.specs.ch16_gru import judge_perplexity

    for case in lm_cases:
        for order in (1, 2):
            verdict = judge_perplexity(_count_model_logits(case, order), case)
            assert isinstance(verdict, str) and "perplexity" in verdict and "at most" in verdict, (order, verdict)


def test_ch16_judge_names_what_is_wrong_and_reports_the_perplexity_on_a_pass(lm_cases):
    from autograder.specs.ch16_gru import judge_perplexity

    case = lm_cases[0]
    M, V = len(case.expected["targets"]), case.args[1]
    assert "returned None" in judge_perplexity(None, case)
    assert "LAST token" in judge_perplexity(np.zeros((M, case.args[2].shape[1], V)), case)
    assert "not a predicted token" in judge_perplexity(np.zeros(M), case)
    assert f"({M}, {V})" in judge_perplexity(np.zeros((M, V + 1)), case)
    bad = np.zeros((M, V))
    bad[3, 1] = np.nan
    assert "not finite" in judge_perplexity(bad, case)
    uniform = judge_perplexity(np.zeros((M, V)), case)
    assert isinstance(uniform, str) and f"perplexity {V:.2f}" in uniform  # knowing nothing: V choices
    # Logits need not be normalized: the grader applies log_softmax; a near-certain model passes.
    sure = np.full((M, V), -5.0) + 1000.0
    sure[np.arange(M), case.expected["targets"]] += 20.0
    problem, note = judge_perplexity(sure, case)
    assert problem is None and note.startswith("perplexity 1.00") and "needed" in note


LOOKS_UP_THE_PUBLIC_BOOK = '''
def train_lm_and_score(train_tokens, vocab_size, contexts):
    import glob
    import os

    import numpy as np

    places = [os.environ.get("DLCOURSE_DATA", ""), os.environ.get("DLCOURSE_TIMEMACHINE", ""), {shared!r}]
    files = [f for p in places if p for f in glob.glob(os.path.join(p, "**", "timemachine*"), recursive=True)]
    if files:
        raise RuntimeError("FOUND the public book: " + ", ".join(files))
    return np.zeros((len(contexts), int(vocab_size)))
'''


@pytest.mark.slow
def test_the_ch16_judged_task_cannot_read_the_public_book(tmp_path):
    """Chapter 16's held-back text is the end of The Time Machine: the folder that holds it must
    not be readable from the sandbox while the judged task runs (its tokens are relabelled too)."""
    import os
    from pathlib import Path

    from conftest import SHARED_DATA

    data = Path(os.environ.get("DLCOURSE_DATA") or SHARED_DATA)
    if not (data / "timemachine").is_dir():
        pytest.skip(f"needs The Time Machine in {data}/timemachine ($DLCOURSE_DATA or ../shared/data)")
    a = "ch16_gru"
    root, out = tmp_path / "submissions", tmp_path / "out"
    source = LOOKS_UP_THE_PUBLIC_BOOK.format(shared=str(data.resolve()))
    write_submission(root, "lookup", a, make_submission(a, {"train_lm_and_score": source}))
    cmd = [sys.executable, "-m", "autograder", "grade", "--assignment", a, "--submissions", str(root),
           "--out", str(out), "--db", f"sqlite:///{tmp_path / 'gb.db'}", "--workers", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=900,
                          env={**os.environ, "DLCOURSE_DATA": str(data)})
    assert done.returncode == 0, done.stderr[-3000:]
    tasks = {t["function"]: t for t in json.loads((out / a / "results" / "lookup.json").read_text())["tasks"]}
    message = tasks["train_lm_and_score"]["message"]
    assert "FOUND" not in message, message
    # Uniform logits: perplexity = the vocabulary's size, far above the threshold.
    assert tasks["train_lm_and_score"]["points"] == 0 and "perplexity 28.00" in message, message
    assert sum(t["points"] for t in tasks.values()) == 7.0
