"""Chapter 22: the transfer-learning helpers (freezing, parameter groups, the scenarios, few labels)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dlcourse.transfer import (SCENARIOS, balanced_subset, count_parameters, fine_tune, freeze, param_groups, predict,
                               prepare_transfer, small_cnn)


def test_small_cnn_shapes_and_parameter_names():
    net = small_cnn(5, seed=0)
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 5)
    assert [n for n, _ in net.named_parameters()] == [
        "features.conv1.weight", "features.conv1.bias", "features.conv2.weight", "features.conv2.bias",
        "features.fc.weight", "features.fc.bias", "head.weight", "head.bias"]


def test_freeze_keeps_only_the_named_prefixes_trainable():
    net = small_cnn(5, seed=0)
    names = freeze(net, ("head.",))
    assert names == ["head.weight", "head.bias"]
    assert count_parameters(net) == 128 * 5 + 5
    assert count_parameters(net, trainable_only=False) > 100_000


@pytest.mark.parametrize("scenario, trainable", [
    ("scratch", None), ("feature_extractor", ["head.weight", "head.bias"]),
    ("fine_tune_top", ["features.fc.weight", "features.fc.bias", "head.weight", "head.bias"]), ("fine_tune", None)])
def test_prepare_transfer_sets_up_each_scenario(scenario, trainable):
    pretrained = small_cnn(5, seed=1)
    before = {k: v.clone() for k, v in pretrained.state_dict().items()}
    model = prepare_transfer(pretrained, scenario, num_classes=3, seed=0)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names == (trainable or [n for n, _ in model.named_parameters()])
    assert model.head.out_features == 3
    copied = torch.equal(model.features.conv1.weight, pretrained.features.conv1.weight)
    assert copied == (scenario != "scratch")
    for k, v in pretrained.state_dict().items():  # the pretrained network itself is untouched
        assert torch.equal(v, before[k]), k
    assert all(p.requires_grad for p in pretrained.parameters())


def test_prepare_transfer_rejects_an_unknown_scenario():
    with pytest.raises(ValueError, match="scenario"):
        prepare_transfer(small_cnn(), "fine-tune")


def test_param_groups_use_the_longest_matching_prefix_and_skip_frozen():
    net = small_cnn(5, seed=0)
    freeze(net, ("features.fc.", "head."))
    groups = param_groups(net, {"": 0.01, "head.": 0.1})
    assert [(g["lr"], g["names"]) for g in groups] == [
        (0.01, ["features.fc.weight", "features.fc.bias"]), (0.1, ["head.weight", "head.bias"])]
    with pytest.raises(ValueError, match="features.fc.weight"):
        param_groups(net, {"head.": 0.1})


def test_balanced_subset_draws_equal_counts_per_class():
    y = np.repeat(np.arange(5), 20)
    X = np.arange(100)
    Xs, ys = balanced_subset(X, y, 12, seed=0)
    counts = np.bincount(ys, minlength=5)
    assert len(ys) == 12 and counts.min() == 2 and counts.max() == 3
    np.testing.assert_array_equal(y[Xs], ys)
    with pytest.raises(ValueError, match="only 20"):
        balanced_subset(X, y, 200)


def test_frozen_layers_do_not_change_during_fine_tuning_and_the_head_learns():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(20, 28, 28)).astype(np.uint8)
    y = np.arange(20) % 2
    X[y == 1, :14] = 255  # an easy difference: a bright top half
    pretrained = small_cnn(5, seed=0)
    model = prepare_transfer(pretrained, "feature_extractor", num_classes=2)
    head_before = model.head.weight.detach().clone()
    fine_tune(model, (X, y), steps=30, lr=0.05)
    for name, p in model.features.named_parameters():
        assert torch.equal(p, pretrained.features.get_parameter(name)), name
    assert not torch.equal(model.head.weight, head_before)
    assert np.mean(predict(model, X) == y) == 1.0
