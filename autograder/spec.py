"""What the grader checks for each task, kept outside every notebook.

A *task* is one function a student writes.  Its spec says which nbgrader grade cell its score
goes to, how many points it is worth, how to generate test inputs from a seed, how closely the
student's output must match the reference (the solution notebook's function on the same inputs),
and which libraries or operators the student may not use.  Specs live in
``autograder/specs/<assignment>.py`` as a module-level ``TASKS`` list; they never enter the
student's sandbox.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["Case", "Task", "load_tasks"]


@dataclass(frozen=True)
class Case:
    """One call of the student's function: positional ``args`` and keyword ``kwargs``.

    Values are NumPy arrays or JSON-able scalars / tuples; ``label`` is what feedback shows
    (input shapes, never expected values).
    """

    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""
    count_lines: bool = False  # count the student's Python lines run by this call
    expected: Any = None  # grader-side data for a judge (e.g. held-back labels); never sent


@dataclass(frozen=True)
class Task:
    """One graded function.

    ``function``: the name the student defines.  ``grade_id``: the nbgrader grade cell that
    receives the score (``test_<function>`` by convention).  ``cases(rng)`` returns the
    :class:`Case` list for one submission.  ``library``: ``"numpy"`` (PyTorch, SciPy and the
    course library are unavailable while it runs) or ``"torch"`` (array arguments arrive as
    tensors).  ``forbidden_ops``: ATen operator names (e.g. ``"convolution"``) a torch task may
    not call.  ``max_python_lines``: for cases marked ``count_lines``, the most lines of the
    student's own Python the call may run (how "no Python loop over the output" is checked).
    ``inputs_must_not_change``: a call that modifies its array arguments fails.  ``judge``:
    instead of comparing with the solution's output, ``judge(output, case)`` returns ``None``
    when the output is good enough (or ``(None, note)``, the note saying how well it did, for
    the feedback) or a message saying why not (e.g. an accuracy threshold on labels the grader
    holds back in ``case.expected``); a ``judge.private_paths()`` list of folders is hidden from
    the sandbox while the task runs.  ``dtype_rule``: see :func:`dtype_problem`.  All cases
    must pass for the points (as an nbgrader test cell is all or nothing).

    ``output_names``: declares that the function returns a tuple (or list) of arrays, one name
    per element, nested one level where an element is itself a tuple: ``("dX", "dW", "db")``, or
    ``("Y", ("h_T", "c_T"))`` for an LSTM's outputs and final states.  Each element travels as
    its own ``.npy``, is compared on its own, and a failure names the element (``element 2 of 3
    (dW): wrong values ...``); the task still scores as one.

    ``returns_tensor``: a torch task whose result (each element of a tuple result) must be a
    ``torch.Tensor``, as its notebook says (a NumPy array, a list or a number fails the call).
    """

    function: str
    points: float
    cases: Callable[[np.random.Generator], list]
    library: str = "numpy"
    rtol: float = 1e-5
    atol: float = 1e-8
    forbidden_ops: tuple = ()
    call_timeout: float | None = None  # seconds per call; None: the grader's default
    max_python_lines: int = 0  # 0: no limit
    inputs_must_not_change: bool = True
    judge: Callable | None = None
    dtype_rule: str = ""  # see dtype_problem: the dtype rule the notebook states, if any
    grade_id: str = ""
    description: str = ""
    output_names: tuple = ()
    returns_tensor: bool = False

    def __post_init__(self):
        if self.library not in ("numpy", "torch"):
            raise ValueError(f"task {self.function}: library must be 'numpy' or 'torch'")
        if self.returns_tensor and self.library != "torch":
            raise ValueError(f"task {self.function}: returns_tensor needs library='torch'")
        if self.dtype_rule not in DTYPE_RULES:
            raise ValueError(f"task {self.function}: dtype_rule must be one of {DTYPE_RULES}")
        if not self.grade_id:
            object.__setattr__(self, "grade_id", f"test_{self.function}")
        for name in self.output_names:
            inner = name if isinstance(name, tuple) else (name,)
            if not inner or not all(isinstance(n, str) for n in inner):
                raise ValueError(f"task {self.function}: output_names holds names (str) or, one "
                                 f"level deep, tuples of names; got {self.output_names!r}")

    @property
    def returns_tuple(self) -> bool:
        """Whether the function returns a tuple of arrays (see ``output_names``)."""
        return bool(self.output_names)


def load_tasks(assignment: str) -> list:
    """The ``TASKS`` of ``autograder/specs/<assignment>.py``; ``KeyError`` if there is none."""
    if not assignment.isidentifier():
        raise KeyError(f"no grading spec for assignment {assignment!r}")
    try:
        module = importlib.import_module(f"autograder.specs.{assignment}")
    except ModuleNotFoundError as err:
        if err.name == f"autograder.specs.{assignment}":
            raise KeyError(f"no grading spec for assignment {assignment!r}") from None
        raise
    return list(module.TASKS)


def shape_label(**arrays: Any) -> str:
    """``'X (3, 4), K (2, 2)'``: how feedback names a case without showing its values."""
    parts = []
    for name, value in arrays.items():
        shape = getattr(value, "shape", None)
        parts.append(f"{name} {tuple(shape)}" if shape is not None else f"{name}={value!r}")
    return ", ".join(parts)


DTYPE_RULES = ("", "kind", "floats", "exact")


def dtype_problem(got, expected, rule: str):
    """``None`` when ``got``'s dtype follows ``rule`` against the reference ``expected``, else
    what is wrong.  Rules (``Task.dtype_rule``), the ones the notebooks' visible tests state:
    ``""`` none beyond a float where the reference is a float (the comparison's own check);
    ``"kind"`` integers where the reference gives integers, floats where it gives floats;
    ``"floats"`` exactly the reference's dtype where that is a float (float64 stays float64);
    ``"exact"`` exactly the reference's dtype (e.g. max pooling keeps ``X``'s dtype)."""
    got_dtype, want = np.asarray(got).dtype, np.asarray(expected).dtype
    if rule == "exact" or (rule == "floats" and np.issubdtype(want, np.floating)):
        if got_dtype != want:
            return f"wrong dtype: got {got_dtype}, expected {want}"
    elif rule == "kind":
        kinds = {"b": "a bool", "i": "an integer", "u": "an integer", "f": "a float"}
        if kinds.get(got_dtype.kind, got_dtype.kind) != kinds.get(want.kind, want.kind):
            return f"wrong type: got {kinds.get(got_dtype.kind, str(got_dtype))}, expected {kinds.get(want.kind, str(want))}"
    return None
