"""The modern CNNs of chapters 8-13 (dlcourse.models): the papers' and the lecture's sizes,
reproduced by counting with complexity(); the CPU-sized variants; shapes and errors.

The ImageNet-sized networks are built on PyTorch's ``meta`` device: parameters and activations
have shapes but no memory, so counting VGG-16 costs nothing on the 2-core CI machine.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from dlcourse.models import (INCEPTION_CONFIGS, INCEPTION_TABLE, SMALL_MODELS, VGG, VGG_CONFIGS, AlexNet, BNLeNet,
                             ComplexityTable, GoogLeNet, Inception, LeNet, NiN, Residual, ResNet, complexity,
                             count_params, layer_table, nin_block, resnet18, resnet34, vgg11, vgg16, vgg19, vgg_block)

IMAGENET = (1, 3, 224, 224)
MNIST = (1, 1, 28, 28)


def on_meta(factory, *args, **kwargs):
    with torch.device("meta"):
        return factory(*args, **kwargs)


def weights(module):
    """Weights without biases (what the inception table's params column counts)."""
    return sum(p.numel() for name, p in module.named_parameters() if name.endswith("weight"))


@pytest.fixture(scope="module")
def googlenet_blocks():
    return complexity(on_meta(GoogLeNet), IMAGENET).group()


# --- the papers' parameter counts -------------------------------------------------------------

@pytest.mark.parametrize("factory, expected", [
    (resnet18, 11_689_512), (resnet34, 21_797_672),  # torchvision's counts: bias-free convs + batch norm
    (vgg11, 132_863_336), (vgg16, 138_357_544), (vgg19, 143_667_240),
])
def test_imagenet_networks_have_the_published_parameter_counts(factory, expected):
    assert count_params(on_meta(factory)) == expected


def test_vgg_configurations_a_to_e_have_the_papers_depths_and_sizes():
    # Table 1 of the paper: weight layers; table 2: parameters in millions (rounded).
    depth = {"A": 11, "A-LRN": 11, "B": 13, "C": 16, "D": 16, "E": 19}
    millions = {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}
    for arch in VGG_CONFIGS:
        model = on_meta(VGG, arch)
        layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        assert len(layers) == depth[arch], arch
        assert round(count_params(model) / 1e6) == millions[arch], arch
    lrn = on_meta(VGG, "A-LRN")
    assert any(isinstance(m, nn.LocalResponseNorm) for m in lrn.modules())
    one_by_one = [m.kernel_size for m in on_meta(VGG, "C").modules() if isinstance(m, nn.Conv2d)]
    assert one_by_one.count((1, 1)) == 3


def test_vgg16_first_dense_layer_is_the_lectures_curse_of_the_last_layer():
    table = complexity(on_meta(vgg16), IMAGENET)
    assert table.row("classifier.fc1")["params"] == 512 * 7 * 7 * 4096 + 4096  # 102.8 M weights
    assert table.row("features.30")["output_shape"] == (1, 512, 7, 7)


# --- AlexNet and LeNet: the lecture's complexity table --------------------------------------------

def test_alexnet_counts_reproduce_the_lectures_complexity_table():
    t = complexity(on_meta(AlexNet), IMAGENET)
    p = {r["name"].split(".")[1]: r["params"] for r in t}
    m = {r["name"].split(".")[1]: r["macs"] for r in t}
    # lecture: conv1 35K / 101M, conv2 614K / 415M, conv3-5 3M / 445M, dense 26M + 16M, totals 46M / 1G
    assert (p["conv1"], m["conv1"]) == (96 * 3 * 11 * 11 + 96, 54 * 54 * 96 * 3 * 11 * 11)
    assert round(p["conv1"], -3) == 35_000 and m["conv1"] // 10**6 == 101
    assert p["conv2"] // 1000 == 614 and m["conv2"] // 10**6 == 415
    conv345 = [p["conv3"] + p["conv4"] + p["conv5"], m["conv3"] + m["conv4"] + m["conv5"]]
    assert round(conv345[0] / 1e6) == 3 and conv345[1] // 10**6 == 445
    assert round(p["fc6"] / 1e6) == 26 and round(m["fc6"] / 1e6) == 26
    assert round(p["fc7"] / 1e6) == 17 and m["fc7"] // 10**6 == 16  # 16.8 M: the lecture truncates
    # The lecture's totals leave out the last dense layer (fc8, 4.1 M): 46 M parameters, 1 G MACs.
    assert (t.total_params - p["fc8"]) // 10**6 == 46  # 46.7 M, truncated as the table does
    assert round(t.total_macs / 1e9, 1) == 1.0
    assert t.row("features.pool5")["output_shape"] == (1, 256, 5, 5)


def test_lenet_counts_and_the_lectures_lenet_column_which_is_ten_times_too_large():
    t = complexity(LeNet(), MNIST)
    assert t.total_params == 61_706
    assert t.row("conv1")["macs"] == 28 * 28 * 6 * 25 == 117_600   # the lecture: 1.2M (10x)
    assert t.row("conv2")["macs"] == 10 * 10 * 16 * 6 * 25 == 240_000  # the lecture: 2.4M (10x)
    assert t.row("fc1")["params"] - 120 == 48_000                   # the lecture: 0.48M (10x)
    assert t.total_macs == 416_520


# --- GoogLeNet: the inception table and the lecture's comparison ------------------------------------

def test_inception_rows_3a_to_5b_match_the_tables_ops_and_explain_its_params(googlenet_blocks):
    rows = {r["name"]: r for r in googlenet_blocks}
    model = on_meta(GoogLeNet)
    for name, (pub_params, pub_ops) in INCEPTION_TABLE.items():
        row, block = rows[f"inception{name}"], getattr(model, f"inception{name}")
        c1, (_, c2), (_, c3), c4 = INCEPTION_CONFIGS[name]
        assert row["output_shape"][1] == c1 + c2 + c3 + c4
        w = weights(block)
        assert row["macs"] == w * row["output_shape"][2] * row["output_shape"][3]  # every weight once per position
        if name != "5a":  # 5a's published row (1072K, 54M) was computed from other widths; see googlenet.py
            assert abs(row["macs"] / pub_ops - 1) < 0.01, name
        if name not in ("4c", "5a"):  # the params column: weights in units of 1,024, loosely
            assert abs(w / 1024 / (pub_params / 1000) - 1) < 0.02, name
    # The example: 3a has 163,328 weights (159.5 x 1024) where the table prints 159K.
    assert weights(model.inception3a) == 163_328 and rows["inception3a"]["macs"] == 163_328 * 28 * 28
    assert rows["inception3a"]["macs"] // 10**6 == 128
    # 4c: the ops column (100M) matches the real widths, the params column (463K) does not.
    assert weights(model.inception4c) == 509_440 and round(rows["inception4c"]["macs"] / 1e6) == 100
    # 5a: published figures agree with each other, not with the listed widths.
    assert weights(model.inception5a) == 1_042_432 and abs(1072 * 1024 * 49 / 54e6 - 1) < 0.01


def test_googlenet_block_output_shapes_follow_the_table(googlenet_blocks):
    shapes = {r["name"]: r["output_shape"][1:] for r in googlenet_blocks}
    assert shapes["conv1"] == (64, 112, 112) and shapes["conv2"] == (192, 56, 56)
    assert shapes["inception3a"] == (256, 28, 28) and shapes["inception3b"] == (480, 28, 28)
    assert shapes["inception4e"] == (832, 14, 14) and shapes["inception5b"] == (1024, 7, 7)
    assert shapes["fc"] == (1000,)
    # The second stem conv (1x1 reduce + 3x3): the table's 112K (= 114,688 / 1024) and 360M.
    stem = sum(r["macs"] for r in googlenet_blocks if r["name"] in ("conv2_reduce", "conv2"))
    assert round(stem / 1e6) == 360
    # The first conv: the table's 2.7K / 34M cannot be a 7x7 conv from 3 channels (9,408 weights, 118 M).
    assert googlenet_blocks.row("conv1")["macs"] == 9_408 * 112 * 112


def test_inception_has_fewer_parameters_and_macs_than_one_3x3_or_5x5_conv():
    # The lecture: Inception 0.16 M / 128 M, 3x3 conv 0.44 M / 346 M, 5x5 conv 1.22 M / 963 M
    # (192 channels in, 256 out, 28x28).
    shape = (1, 192, 28, 28)
    cases = {
        "inception": (Inception(192, 64, (96, 128), (16, 32), 32), 0.16, 128),
        "3x3": (nn.Conv2d(192, 256, 3, padding=1), 0.44, 346),
        "5x5": (nn.Conv2d(192, 256, 5, padding=2), 1.22, 963),
    }
    for name, (module, m_params, m_macs) in cases.items():
        module = module.to("meta")
        t = complexity(module, shape, device="meta")
        assert t[-1]["output_shape"][1:] == (256, 28, 28) or name == "inception"
        assert int(weights(module) / 1e4) / 100 == m_params, name  # 0.44 M: truncated to 2 decimals
        assert t.total_macs // 10**6 == m_macs, name


# --- ResNet ------------------------------------------------------------------------------------

def test_resnet18_and_34_multiply_adds_are_the_papers_1_8_and_3_6_giga():
    for factory, exact, giga in ((resnet18, 1_814_073_344, 1.8), (resnet34, 3_663_761_408, 3.6)):
        t = complexity(on_meta(factory), IMAGENET)
        assert t.macs_of("Conv2d", "Linear") == exact
        assert int(t.macs_of("Conv2d", "Linear") / 1e8) / 10 == giga  # 3.66 G: the paper truncates
        assert 0 < t.total_macs - exact < 0.002 * exact  # batch norms and the average pool: ~0.1 %


def test_resnet18_convolutions_have_no_bias_and_are_followed_by_batch_norm():
    model = resnet18()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 20 and all(c.bias is None for c in convs)  # 17 3x3/7x7 + 3 projection shortcuts
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 20


def test_residual_block_keeps_or_changes_the_shape_with_the_right_shortcut():
    x = torch.randn(2, 8, 10, 10)
    same = Residual(8)
    assert same.shortcut is None and same(x).shape == (2, 8, 10, 10)
    down = Residual(8, 16, stride=2)
    assert isinstance(down.shortcut[0], nn.Conv2d) and down(x).shape == (2, 16, 5, 5)
    with pytest.raises(ValueError, match=r"identity shortcut.*in_channels=8.*out_channels=16"):
        Residual(8, 16, use_1x1conv=False)
    with pytest.raises(ValueError, match=r"\(N, 8, H, W\).*\(2, 3, 10, 10\)"):
        same(torch.randn(2, 3, 10, 10))


def test_residual_block_adds_the_input_the_output_is_relu_of_f_plus_x():
    block = Residual(4).eval()
    x = torch.randn(3, 4, 6, 6)
    f = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))
    torch.testing.assert_close(block(x), torch.relu(f + x))


# --- every model: arguments, shapes, CPU-sized variants ------------------------------------------

FULL = {
    "alexnet": AlexNet, "vgg11": vgg11, "nin": NiN, "googlenet": GoogLeNet, "resnet18": resnet18, "lenet": None,
}


@pytest.mark.parametrize("name", [n for n in FULL if FULL[n]])
def test_imagenet_networks_map_224_images_to_num_classes_logits(name):
    model = on_meta(FULL[name], num_classes=1000, in_channels=3)
    assert model(torch.zeros(IMAGENET, device="meta")).shape == (1, 1000)


@pytest.mark.parametrize("name", list(SMALL_MODELS))
def test_small_variant_is_the_same_class_built_with_other_arguments(name):
    small = SMALL_MODELS[name]()
    full_class = {"lenet": LeNet, "bn-lenet": LeNet, "alexnet": AlexNet, "vgg": VGG, "nin": NiN,
                  "googlenet": GoogLeNet, "resnet": ResNet}[name]
    assert type(small) is full_class
    t = complexity(small, MNIST)
    assert t[-1]["output_shape"] == (1, 10)
    # Each trains to its target within 120 s on 2 cores (benchmarks/results/modern_cnns.json: the
    # largest, GoogLeNet.small at 379 K parameters and 6.7 M MACs, in 99 s).
    assert t.total_params < 500_000 and t.total_macs < 10_000_000


@pytest.mark.parametrize("name", list(SMALL_MODELS))
def test_every_constructor_takes_num_classes_and_in_channels(name):
    torch.manual_seed(0)
    model = SMALL_MODELS[name](num_classes=7, in_channels=2)
    x = torch.randn(4, 2, 28, 28)
    y = model(x)  # training mode: batch norm and dropout active
    assert y.shape == (4, 7)
    y.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    with pytest.raises(ValueError, match=r"\(4, 3, 28, 28\)"):
        model(torch.randn(4, 3, 28, 28))


def test_networks_with_dense_layers_refuse_other_image_sizes_naming_them():
    with pytest.raises(ValueError, match=r"28x28.*\(2, 1, 32, 32\)"):
        AlexNet.small()(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"unknown VGG configuration 'F'"):
        VGG("F")
    with pytest.raises(ValueError, match="32x32 input is too small.*vanishes"):
        AlexNet(input_size=32)


def test_batch_norm_lenet_adds_four_batch_norms_and_keeps_the_plain_lenet_unchanged():
    plain, bn = LeNet(), BNLeNet()
    assert [r["name"] for r in layer_table(plain, MNIST)][:3] == ["conv1", "act1", "pool1"]
    names = [r["name"] for r in layer_table(bn, MNIST)]
    assert names[:4] == ["conv1", "bn1", "act1", "pool1"] and "bn4" in names
    assert count_params(bn) == 61_706 + 2 * (6 + 16 + 120 + 84)
    assert set(plain.state_dict()) < set(bn.state_dict())  # same names for the shared layers
    assert LeNet(batch_norm=True).batch_norm


def test_building_blocks_have_the_documented_shapes():
    x = torch.randn(2, 3, 16, 16)
    assert vgg_block(2, 3, 8)(x).shape == (2, 8, 8, 8)
    assert nin_block(3, 8, 5, 1, 2)(x).shape == (2, 8, 16, 16)
    block = Inception(3, 2, (3, 4), (1, 2), 5)
    assert block(x).shape == (2, 2 + 4 + 2 + 5, 16, 16) and block.out_channels == 13


def test_inception_concatenates_branches_in_order_1x1_3x3_5x5_pool():
    block = Inception(3, 2, (3, 4), (1, 2), 5).eval()
    x = torch.randn(1, 3, 9, 9)
    y = block(x)
    torch.testing.assert_close(y[:, :2], block.b1(x))
    torch.testing.assert_close(y[:, 2:6], block.b2(x))
    torch.testing.assert_close(y[:, 6:8], block.b3(x))
    torch.testing.assert_close(y[:, 8:], block.b4(x))


# --- complexity(): the counting conventions -------------------------------------------------------

def test_complexity_counts_each_layer_type_by_its_documented_rule():
    model = nn.Sequential(
        nn.Conv2d(4, 6, 3, padding=1, groups=2),  # 6 x 8 x 8 outputs, each 2 x 3 x 3 MACs
        nn.BatchNorm2d(6),                        # one MAC per element
        nn.ReLU(),                                # none
        nn.MaxPool2d(2),                          # none (comparisons)
        nn.AvgPool2d(2),                          # 2 x 2 per output element
        nn.AdaptiveAvgPool2d(1),                  # the 2 x 2 window of each mean
        nn.Flatten(),
        nn.Linear(6, 5),                          # 5 x 6
    )
    t = complexity(model, (2, 4, 8, 8))
    assert isinstance(t, ComplexityTable) and [r["name"] for r in t] == [str(i) for i in range(8)]
    assert [r["macs"] for r in t] == [2 * 6 * 64 * 18, 2 * 6 * 64, 0, 0, 2 * 6 * 4 * 4, 2 * 6 * 4, 0, 2 * 30]
    assert [r["params"] for r in t] == [6 * 2 * 9 + 6, 12, 0, 0, 0, 0, 0, 35]
    assert t.row("0")["output_shape"] == (2, 6, 8, 8) and t.row("5")["output_shape"] == (2, 6, 1, 1)
    assert t.total_params == count_params(model) and t.macs_of("Linear") == 60
    text = str(t)
    assert "MACs" in text and f"{t.total_macs:,}" in text
    assert "| **total** |" in t.to_markdown() and "K" in t.to_markdown()
    with pytest.raises(KeyError, match="no layer named 'fc'"):
        t.row("fc")
    with pytest.raises(ValueError, match="batch dimension"):
        complexity(model, (4,))


def test_complexity_agrees_with_layer_table_and_counts_a_reused_module_once():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(torch.relu(self.fc(x)))

    t = complexity(Twice(), (3, 4))
    assert [r["params"] for r in t] == [20, 0] and [r["macs"] for r in t] == [48, 48]
    for model in (LeNet(), AlexNet.small(), ResNet.small()):
        lt, ct = layer_table(model, MNIST), complexity(model, MNIST)
        assert [(r["name"], r["params"], r["output_shape"]) for r in lt] == \
               [(r["name"], r["params"], r["output_shape"]) for r in ct]
        assert ct.total_params == count_params(model)


def test_complexity_leaves_the_models_mode_and_weights_alone():
    model = ResNet.small().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    complexity(model, (2, 1, 28, 28))
    assert model.training
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])  # no running-statistics update either


@pytest.mark.parametrize("factory", [NiN.small, GoogLeNet.small, lambda **kw: VGG.small(**kw)])
def test_batch_norm_option_puts_a_batch_norm_after_every_convolution(factory):
    plain, bn = factory(batch_norm=False), factory(batch_norm=True)
    convs = [m for m in bn.modules() if isinstance(m, nn.Conv2d)]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in bn.modules()) == len(convs)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert all(c.bias is not None for c in plain.modules() if isinstance(c, nn.Conv2d))
    assert bn(torch.randn(2, 1, 28, 28)).shape == (2, 10)
