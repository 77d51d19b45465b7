"""Grading spec for chapter 21: the discriminator's loss with one-sided label smoothing and its
gradients in the logits, the generator's loss and its gradient with respect to the generated
images through a linear discriminator (minimax and non-saturating), and the inception score of a
classifier's predictions (what a collapsed generator scores).

Fixed edge cases sit before the random ones, so no grade depends on the seed: logits of +-1e4
(losses formed from sigmoid(z) take log(0)), smoothing 1 (none) and 0.9, real and fake batches of
different sizes, a single sample; for the inception score, one class only (score 1), every class
equally often with certain predictions (score K), uniform rows (score 1), exact zeros
(0 log 0 = 0), float32 input.
"""
from __future__ import annotations

import numpy as np

from autograder.spec import Case, Task, shape_label


def _disc_cases(rng):
    cases = []
    for _ in range(5):
        n, m = (int(v) for v in rng.integers(1, 12, size=2))
        scale, smooth = float(rng.choice([0.5, 3.0, 10.0])), float(rng.choice([1.0, 0.9, 0.8]))
        real, fake = rng.standard_normal(n) * scale, rng.standard_normal(m) * scale
        cases.append(Case((real, fake), {"smooth": smooth}, label=f"{shape_label(real_logits=real, fake_logits=fake)}, smooth={smooth}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    real, fake = np.array([-1e4, 1e4, 30.0]), np.array([1e4, -1e4])
    cases.append(Case((real, fake), label="logits of +-1e4, default smooth (1.0)"))
    cases.append(Case((real, fake), {"smooth": 0.9}, label="logits of +-1e4, smooth=0.9"))
    real, fake = rng.standard_normal(7) * 2, rng.standard_normal(3) * 2
    cases.append(Case((real, fake), {"smooth": 0.9}, label="7 real and 3 fake logits (each term its own mean), smooth=0.9"))
    cases.append(Case((np.array([0.0]), np.array([0.0])), label="one sample each, logits 0 (D = 1/2)"))
    real_i, fake_i = rng.integers(-3, 4, size=4), rng.integers(-3, 4, size=5)
    cases.append(Case((real_i, fake_i), label="integer logits (4,) and (5,)"))
    real32, fake32 = (rng.standard_normal(6) * 3).astype(np.float32), (rng.standard_normal(6) * 3).astype(np.float32)
    cases.append(Case((real32, fake32), {"smooth": 0.8}, label="float32 logits (6,), smooth=0.8"))
    return cases + random_cases


def _gen_cases(rng):
    cases = []
    for _ in range(6):
        m, p = int(rng.integers(1, 9)), int(rng.integers(1, 20))
        kind = str(rng.choice(["minimax", "nonsaturating"]))
        images, w = rng.uniform(-1, 1, (m, p)), rng.standard_normal(p) * float(rng.choice([0.3, 1.0, 3.0]))
        b = float(rng.standard_normal() * 2)
        cases.append(Case((images, w, b, kind), label=f"{shape_label(fake_images=images, w=w)}, kind={kind!r}"))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    for kind in ("minimax", "nonsaturating"):
        images, w = rng.uniform(-1, 1, (4, 5)), rng.standard_normal(5)
        cases.append(Case((images, w, -12.0, kind), label=f"a discriminator that rejects the fakes (bias -12), kind={kind!r}"))
        cases.append(Case((images, w * 1e4, 0.0, kind), label=f"logits near +-1e4, kind={kind!r}"))
    images = rng.uniform(-1, 1, (1, 3))
    cases.append(Case((images, rng.standard_normal(3), 0.5, "nonsaturating"), label="a single image (1, 3), nonsaturating"))
    images_i, w_i = rng.integers(-1, 2, size=(3, 4)), rng.integers(-2, 3, size=4)
    cases.append(Case((images_i, w_i, 1, "minimax"), label="integer images, w and b, minimax"))
    images32 = rng.uniform(-1, 1, (5, 6)).astype(np.float32)
    cases.append(Case((images32, rng.standard_normal(6).astype(np.float32), 0.25, "minimax"), label="float32 images (5, 6), minimax"))
    return cases + random_cases


def _is_cases(rng):
    cases = []
    for _ in range(5):
        m, k = int(rng.integers(1, 40)), int(rng.integers(2, 12))
        probs = rng.dirichlet(np.full(k, float(rng.choice([0.1, 1.0, 10.0]))), size=m)
        cases.append(Case((probs,), label=shape_label(probs=probs)))
    random_cases, cases = cases, []  # the fixed cases come first: every seed meets them
    one = np.zeros((6, 10))
    one[:, 3] = 1.0
    cases.append(Case((one,), label="every sample certainly class 3 (complete mode collapse), probs (6, 10)"))
    spread = np.eye(10)[np.repeat(np.arange(10), 2)]
    cases.append(Case((spread,), label="certain predictions, every class twice, probs (20, 10)"))
    cases.append(Case((np.full((5, 4), 0.25),),  label="uniform rows (an unsure classifier), probs (5, 4)"))
    mixed = rng.dirichlet(np.ones(5), size=8)
    mixed[:3] = np.eye(5)[[0, 2, 2]]
    cases.append(Case((mixed,), label="rows with exact zeros (0 log 0 = 0), probs (8, 5)"))
    cases.append(Case((rng.dirichlet(np.ones(3), size=1),), label="a single sample, probs (1, 3)"))
    cases.append(Case((rng.dirichlet(np.ones(6), size=9).astype(np.float32),), label="float32 probs (9, 6)"))
    return cases + random_cases


TASKS = [
    Task("discriminator_loss", 3, _disc_cases, rtol=1e-7, atol=1e-10, output_names=("loss", "d_real", "d_fake"),
         description="the discriminator's loss with one-sided label smoothing, and its gradients in the logits"),
    Task("generator_image_gradient", 4, _gen_cases, rtol=1e-7, atol=1e-12, output_names=("loss", "d_images"),
         description="the generator's loss (minimax or non-saturating) and its gradient w.r.t. the images"),
    Task("inception_score", 3, _is_cases, rtol=1e-6, atol=1e-12,
         description="the inception score of a classifier's predictions"),
]
