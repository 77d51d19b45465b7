"""Grading spec for chapter 2: padding and stride."""
from autograder.spec import Case, Task, shape_label


def _maybe_pair(rng, low, high):
    if rng.random() < 0.5:
        return int(rng.integers(low, high))
    return tuple(int(v) for v in rng.integers(low, high, size=2))


def _output_size_cases(rng):
    cases = []
    for _ in range(12):
        n = int(rng.integers(1, 40))
        padding = int(rng.integers(0, 4))
        k = int(rng.integers(1, n + 2 * padding + 1))
        stride = int(rng.integers(1, 5))
        cases.append(Case((n, k, padding, stride), label=f"n={n}, k={k}, padding={padding}, stride={stride}"))
    return cases


def _pad_cases(rng):
    cases = []
    for _ in range(6):
        X = rng.standard_normal(tuple(int(v) for v in rng.integers(1, 8, size=2)))
        padding = _maybe_pair(rng, 0, 4)
        cases.append(Case((X, padding), label=f"{shape_label(X=X)}, padding={padding!r}"))
    return cases


def _strided_cases(rng):
    cases = []
    for _ in range(8):
        X = rng.standard_normal(tuple(int(v) for v in rng.integers(3, 12, size=2)))
        K = rng.standard_normal(tuple(int(v) for v in rng.integers(1, 4, size=2)))
        padding, stride = _maybe_pair(rng, 0, 3), _maybe_pair(rng, 1, 4)
        cases.append(
            Case((X, K), {"padding": padding, "stride": stride},
                 label=f"{shape_label(X=X, K=K)}, padding={padding!r}, stride={stride!r}")
        )
    return cases


TASKS = [
    Task("conv_output_size", 2, _output_size_cases, description="output-size formula"),
    Task("pad2d", 3, _pad_cases, description="zero padding"),
    Task("corr2d_strided", 5, _strided_cases, description="padded, strided cross-correlation"),
]
