"""conv_output_shape: the lecture's formula, torch's actual output size, and clear errors."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from dlcourse.shapes import check_conv2d_shapes, conv_output_shape, pair


def lecture_formula(n, k, p_total, s, d=1):
    """floor((n - k + p + s) / s) with p the total padding and k the dilated kernel span."""
    span = d * (k - 1) + 1
    return (n - span + p_total + s) // s


@st.composite
def valid_1d(draw):
    """(n, k, padding, stride, dilation) for which the dilated kernel fits the padded input."""
    k = draw(st.integers(1, 7))
    dilation = draw(st.integers(1, 3))
    padding = draw(st.integers(0, 4))
    stride = draw(st.integers(1, 5))
    span = dilation * (k - 1) + 1
    n = draw(st.integers(max(1, span - 2 * padding), 40))
    return n, k, padding, stride, dilation


def torch_output_size(hw, khw, padding, stride, dilation):
    x = torch.zeros(1, 1, *hw)
    w = torch.zeros(1, 1, *khw)
    return tuple(F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation).shape[2:])


# --- the formula -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "n, k, padding, stride, expected",
    [
        (3, 2, 0, 1, 2),  # the lecture's worked example: 3x3 input, 2x2 kernel -> 2x2
        (8, 3, 1, 1, 8),  # "same" padding for an odd kernel
        (8, 3, 1, 2, 4),
        (8, 5, 0, 3, 2),
        (28, 5, 2, 1, 28),  # LeNet's first layer
        (224, 11, 2, 4, 55),  # AlexNet's first layer
    ],
)
def test_conv_output_shape_matches_known_layer_sizes(n, k, padding, stride, expected):
    assert conv_output_shape(n, k, padding, stride) == expected


@given(valid_1d())
def test_conv_output_shape_is_the_lecture_formula_with_total_padding(case):
    n, k, padding, stride, dilation = case
    assert conv_output_shape(n, k, padding, stride, dilation) == lecture_formula(
        n, k, 2 * padding, stride, dilation
    )


@given(valid_1d(), valid_1d())
def test_conv_output_shape_equals_torch_output_size_for_pairs(case_h, case_w):
    (h, kh, ph, sh, dh), (w, kw, pw, sw, dw) = case_h, case_w
    ours = conv_output_shape((h, w), (kh, kw), (ph, pw), (sh, sw), (dh, dw))
    assert ours == torch_output_size((h, w), (kh, kw), (ph, pw), (sh, sw), (dh, dw))


@given(valid_1d())
def test_conv_output_shape_equals_torch_output_size_for_ints(case):
    n, k, padding, stride, dilation = case
    ours = conv_output_shape(n, k, padding, stride, dilation)
    assert (ours, ours) == torch_output_size((n, n), (k, k), padding, stride, dilation)


def test_conv_output_shape_returns_int_for_ints_and_pair_when_any_argument_is_a_pair():
    assert conv_output_shape(5, 3) == 3
    assert isinstance(conv_output_shape(5, 3), int)
    assert conv_output_shape((5, 7), 3) == (3, 5)
    assert conv_output_shape(5, 3, padding=(0, 1)) == (3, 5)
    assert conv_output_shape(5, 3, stride=[1, 2]) == (3, 2)
    assert conv_output_shape(7, 3, dilation=(1, 2)) == (5, 3)


def test_conv_output_shape_accepts_numpy_integers():
    import numpy as np

    assert conv_output_shape(np.int64(5), np.int32(3), stride=np.int64(2)) == 2


def test_conv_output_shape_kernel_exactly_fills_padded_input():
    assert conv_output_shape(3, 5, padding=1) == 1
    assert conv_output_shape(5, 3, dilation=2) == 1


def test_pair_turns_an_int_into_a_square_pair_and_keeps_pairs():
    assert pair(3, "x") == (3, 3)
    assert pair((2, 5), "x") == (2, 5)
    assert pair([2, 5], "x") == (2, 5)


# --- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(n=5, k=3, stride=0), r"stride must be >= 1, got 0"),
        (dict(n=5, k=3, stride=-2), r"stride must be >= 1, got -2"),
        (dict(n=5, k=3, stride=(1, 0)), r"stride must be >= 1, got 0"),
        (dict(n=5, k=3, padding=-1), r"padding must be >= 0, got -1"),
        (dict(n=5, k=3, padding=(0, -3)), r"padding must be >= 0, got -3"),
        (dict(n=5, k=3, dilation=0), r"dilation must be >= 1, got 0"),
        (dict(n=0, k=3), r"input size 0"),
        (dict(n=5, k=0), r"kernel size 0"),
    ],
)
def test_conv_output_shape_rejects_out_of_range_arguments_naming_the_value(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        conv_output_shape(**kwargs)


@pytest.mark.parametrize(
    "kwargs, numbers",
    [
        (dict(n=3, k=4), ["4", "3"]),
        (dict(n=3, k=6, padding=1), ["6", "5", "1"]),  # padded size 5 < 6
        (dict(n=5, k=3, dilation=3), ["3", "7", "5"]),  # dilated footprint 7 > 5
        (dict(n=(8, 3), k=(3, 4)), ["4", "3"]),
    ],
)
def test_conv_output_shape_rejects_kernel_larger_than_padded_input(kwargs, numbers):
    with pytest.raises(ValueError, match="larger than the padded input") as info:
        conv_output_shape(**kwargs)
    message = str(info.value)
    for number in numbers:
        assert re.search(rf"\b{number}\b", message), f"{number} missing from: {message}"


@pytest.mark.parametrize("name", ["n", "k", "padding", "stride", "dilation"])
@pytest.mark.parametrize("bad", [True, False, 2.0, 1.5, "3", None, (1, 2, 3), (1,), (1.0, 2)])
def test_conv_output_shape_rejects_non_int_arguments_with_type_error(name, bad):
    kwargs = dict(n=9, k=3, padding=1, stride=1, dilation=1)
    kwargs[name] = bad
    with pytest.raises(TypeError, match=rf"{name} must be an int or a pair of ints, got {re.escape(repr(bad))}"):
        conv_output_shape(**kwargs)


@pytest.mark.parametrize(
    "x_shape, w_shape, b_shape, groups, error, fragments",
    [
        ((1, 3, 8), (2, 3, 3, 3), None, 1, ValueError, ["X must be 4-D", "(1, 3, 8)"]),
        ((1, 3, 8, 8), (2, 3, 3), None, 1, ValueError, ["W must be 4-D", "(2, 3, 3)"]),
        ((1, 3, 8, 8), (2, 4, 3, 3), None, 1, ValueError, ["channel mismatch", "(1, 3, 8, 8)", "(2, 4, 3, 3)"]),
        ((1, 4, 8, 8), (3, 2, 3, 3), None, 2, ValueError, ["groups=2", "(3, 2, 3, 3)"]),
        ((1, 4, 8, 8), (2, 4, 3, 3), (3,), 1, ValueError, ["(2,)", "(3,)"]),
        ((1, 4, 8, 8), (2, 4, 3, 3), (2, 1), 1, ValueError, ["(2,)", "(2, 1)"]),
        ((1, 4, 2, 8), (2, 4, 3, 3), None, 1, ValueError, ["(1, 4, 2, 8)", "(2, 4, 3, 3)", "larger"]),
        ((1, 4, 8, 8), (2, 4, 3, 3), None, 0, ValueError, ["groups", "0"]),
        ((1, 4, 8, 8), (2, 2, 3, 3), None, 2.0, TypeError, ["groups", "2.0"]),
        ((1, 4, 8, 8), (2, 4, 3, 3), None, True, TypeError, ["groups", "True"]),
    ],
)
def test_check_conv2d_shapes_names_the_offending_shapes(x_shape, w_shape, b_shape, groups, error, fragments):
    with pytest.raises(error) as info:
        check_conv2d_shapes(x_shape, w_shape, b_shape, 1, 0, 1, groups)
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} missing from: {info.value}"


def test_check_conv2d_shapes_returns_pairs_and_output_size():
    assert check_conv2d_shapes((2, 4, 9, 10), (6, 2, 3, 3), (6,), 2, (1, 0), 1, 2) == (
        (2, 2), (1, 0), (1, 1), (5, 4)
    )
