"""Grade one submission: sandboxed student run, references and comparisons in this process.

:func:`grade_submission` is a pure function of a picklable job dict, so the same code runs in a
local process pool or on a Dask cluster.  The hidden part of grading (the spec's cases, the
reference answers, the tolerance) lives only here; the sandbox sees inputs, never answers.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from autograder.notebooks import NotebookError, code_cells, cell_role, parse_notebook, plan_cells
from autograder.sandbox import Limits, exposed_private_paths, run_in_sandbox
from autograder.spec import dtype_problem, load_tasks
from dlcourse.checks import describe_mismatch

FORBIDDEN_MESSAGE = ("uses {what}, which this task does not allow (a NumPy task must be solved "
                     "with NumPy alone, without the course library): 0 points for this task")
# A PyTorch task is refused operators, not libraries: say so rather than talk about NumPy.
FORBIDDEN_OPS_MESSAGE = ("uses {what}, which this task does not allow (build it from other tensor "
                         "operations): 0 points for this task")


@dataclass
class TaskResult:
    grade_id: str
    function: str
    points: float
    max_points: float
    message: str


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    tasks: list = field(default_factory=list)
    notices: list = field(default_factory=list)
    submission_sha256: str = ""
    isolation: str = ""
    seconds: float = 0.0

    @property
    def score(self):
        return sum(t.points for t in self.tasks)

    @property
    def max_score(self):
        return sum(t.max_points for t in self.tasks)

    def to_dict(self):
        data = asdict(self)
        data["score"], data["max_score"] = self.score, self.max_score
        return data

    @classmethod
    def from_dict(cls, data):
        tasks = [TaskResult(**t) for t in data["tasks"]]
        fields = {k: data[k] for k in ("student", "assignment", "notices", "submission_sha256",
                                       "isolation", "seconds")}
        return cls(tasks=tasks, **fields)


def seed_for(secret: str, student: str, assignment: str) -> int:
    """Per-student inputs from a per-run secret: nobody can precompute or share answers."""
    digest = hashlib.sha256(f"{secret}\0{student}\0{assignment}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


_REFERENCE_CACHE: dict = {}


def _reference_namespace(solution_cells):
    """Run the solution notebook's code (minus its tests) once per process: the references."""
    key = hashlib.sha256("\0".join(solution_cells).encode()).hexdigest()
    if key not in _REFERENCE_CACHE:
        namespace = {"__name__": "__solution__"}
        for source in solution_cells:
            lines = source.split("\n")
            source = "\n".join("pass" if ln.lstrip().startswith(("%", "!")) else ln for ln in lines)
            exec(compile(source, "<solution>", "exec"), namespace)
        _REFERENCE_CACHE[key] = namespace
    return _REFERENCE_CACHE[key]


def solution_code(solution_nb: dict) -> list:
    """Sources of the solution notebook's non-test code cells, in order."""
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in code_cells(solution_nb) if cell_role(c) != "test"]


def arguments_as_sent(case, library, record=None):
    """``(args, kwargs)`` of ``case`` exactly as the sandboxed worker passes them to the
    student's function: encoded by the sandbox's own encoder, through JSON and the ``.npz``
    payload, and decoded by the worker's own decoder (tuples and lists of arrays at any depth,
    e.g. LeNet's parameters, become tensors in a torch task; NumPy scalars become Python ones).
    The reference answer is computed on these, so both sides see the same values and types.
    ``record`` (a list) receives ``(path, array)`` for each input array, as the worker's does."""
    import io
    import json

    from autograder import worker
    from autograder.sandbox import _encode_cases
    from autograder.spec import Task

    probe = Task("reference", 0, cases=lambda rng: [case])
    encoded, payload = _encode_cases([(probe, [case])], 1)
    sent = json.loads(json.dumps(encoded[0]["cases"][0]))
    with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    to_tensor = None
    if library == "torch":
        import torch

        to_tensor = torch.from_numpy
    return (worker._decode(sent["args"], arrays, to_tensor, record),
            worker._decode(sent["kwargs"], arrays, to_tensor, record))


def input_digests(case):
    """``[(label, digest)]`` of the input arrays of ``case`` before any call, in the order the
    worker reports them after its call (the same encoder, decoder and digest function)."""
    import hashlib

    from autograder import worker

    record = []
    arguments_as_sent(case, "numpy", record)
    return [(worker.argument_label(path), worker.input_digest(array, hashlib.sha256, np.ndarray.tobytes))
            for path, array in record]


def _plain(value, depth=0):
    """A tensor or array-like as a NumPy array; a tuple or list (one level deep) as a tuple."""
    if isinstance(value, (tuple, list)) and depth < 2:
        return tuple(_plain(v, depth + 1) for v in value)
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _reference_output(function, case, library, returns_tuple=False):
    args, kwargs = arguments_as_sent(case, library)
    out = function(*args, **kwargs)
    if isinstance(out, (tuple, list)) and returns_tuple:
        return _plain(out)
    if isinstance(out, tuple) and not returns_tuple:
        raise ValueError(f"the reference {getattr(function, '__name__', function)} returns a tuple: "
                         f"its task spec must declare output_names")
    return _plain(out, depth=2)


def grade_submission(job: dict) -> dict:
    """Grade one notebook.  ``job`` keys: ``student``, ``assignment``, ``notebook`` (bytes),
    ``release`` (released notebook dict), ``solution_cells`` (list of sources), ``seed``,
    ``limits`` (dict for :class:`Limits`), ``private_paths``, ``notices`` (from discovery).

    Returns :meth:`SubmissionResult.to_dict`.  Never raises because of the submission.
    """
    start = time.monotonic()
    tasks = load_tasks(job["assignment"])
    result = SubmissionResult(student=job["student"], assignment=job["assignment"],
                              notices=list(job.get("notices", ())))
    raw = job.get("notebook")
    result.submission_sha256 = hashlib.sha256(raw or b"").hexdigest()

    def zero_all(message):
        result.tasks = [TaskResult(t.grade_id, t.function, 0.0, float(t.points), message) for t in tasks]
        result.seconds = time.monotonic() - start
        return result.to_dict()

    if raw is None:
        return zero_all("no notebook was submitted")
    try:
        submission = parse_notebook(raw)
    except NotebookError as err:
        return zero_all(f"could not grade: {err}")
    plan = plan_cells(submission, job["release"])
    result.notices.extend(plan.notices)

    rng = np.random.default_rng(job["seed"])
    cases = {t.function: t.cases(rng) for t in tasks}
    limits = Limits(**job.get("limits", {}))
    # A judged task's data folders (the public images its held-back ones come from) are hidden
    # from the sandbox too, where the isolation level hides paths (bubblewrap shows none at all).
    judged_data = [p for t in tasks if t.judge is not None for p in getattr(t.judge, "private_paths", list)()]
    private = [*job.get("private_paths", ()), *judged_data]
    reports = {}
    for mode in ("numpy", "torch"):
        mode_tasks = [(t, cases[t.function]) for t in tasks if t.library == mode]
        if mode_tasks:
            reports[mode] = run_in_sandbox(plan.cells, mode_tasks, mode, limits,
                                           private_paths=private,
                                           require_isolation=not job.get("allow_weak_sandbox", False))
    result.isolation = next(iter(reports.values())).isolation if reports else ""
    faults = [r.grader_fault for r in reports.values() if r.grader_fault]
    faults += [problem for mode, report in reports.items()
               if any(t.judge is not None and t.library == mode for t in tasks)
               for problem in [exposed_private_paths(report, judged_data)] if problem]
    if faults:
        # Not the student's doing: report it, record nothing (a re-run grades it again).
        return {"student": job["student"], "grader_error": faults[0]}

    cell_errors = {}
    for report in reports.values():
        for index, message in report.cell_errors.items():
            cell_errors.setdefault(plan.cells[index]["label"], message)
    for label, message in cell_errors.items():
        result.notices.append(f"Cell '{label}' raised an error: {message}")

    references = _reference_namespace(job["solution_cells"])
    stubs = unchanged_stubs(submission, job["release"])
    for task in tasks:
        report = reports[task.library]
        result.tasks.append(_judge(task, cases[task.function], report, references, cell_errors, stubs))
    result.seconds = time.monotonic() - start
    return result.to_dict()


def _changed_input(case, reported):
    """What is wrong with the inputs after the call, from the digests the worker reported and
    the grader's own copy of the inputs; ``None`` when they are unchanged.  The decision is taken
    here, where student code cannot reach: a worker whose bookkeeping was tampered with can at
    worst report a digest that does not match."""
    expected = input_digests(case)
    if not isinstance(reported, list) or len(reported) != len(expected):
        return ("the sandbox's report of this call does not say whether its inputs are unchanged "
                "(was the report tampered with?)")
    for (label, want), got in zip(expected, reported):
        if got != want:
            return (f"it modified its input argument {label}; the inputs must not be changed "
                    f"(work on a copy)")
    return None


def unchanged_stubs(submission: dict, release: dict) -> set:
    """Names of the functions whose released answer cell (the stub that raises
    ``NotImplementedError``) is in ``submission`` unchanged, matched by grade id."""
    import re

    from autograder.notebooks import NotebookError, _source, nbgrader_meta

    try:
        released = {nbgrader_meta(c).get("grade_id"): _source(c) for c in code_cells(release)
                    if cell_role(c) == "solution"}
        names = set()
        for cell in code_cells(submission):
            gid = nbgrader_meta(cell).get("grade_id")
            if gid and gid in released and _source(cell).strip() == released.pop(gid).strip():
                names.update(re.findall(r"^def (\w+)\(", _source(cell), re.M))
        return names
    except (NotebookError, AttributeError, TypeError):
        return set()


def _dtype_problem_of(got, expected, task):
    """The task's dtype rule applied to the result, or to each element of a tuple result (the
    failure naming the element, as a value mismatch would)."""
    if not task.returns_tuple:
        return dtype_problem(got, expected, task.dtype_rule)
    names = [n for name in task.output_names for n in (name if isinstance(name, tuple) else (name,))]

    def flat(value):
        for item in value:
            yield from (flat(item) if isinstance(item, (tuple, list)) else (item,))

    for i, (name, g, e) in enumerate(zip(names, flat(got), flat(expected))):
        problem = dtype_problem(g, e, task.dtype_rule)
        if problem:
            return f"element {name} ({i + 1} of {len(names)}): {problem}"
    return None


def _judge(task, task_cases, report, references, cell_errors, stubs=None) -> TaskResult:
    def verdict(ok, message):
        return TaskResult(task.grade_id, task.function, float(task.points) if ok else 0.0,
                          float(task.points), message)

    def case_label(index):
        return f"case {index + 1} of {len(task_cases)} ({task_cases[index].label})"

    if task.function in report.task_failures:
        # Name the case it was on: the first one that sent nothing back.
        index = next((i for i in range(len(task_cases)) if (task.function, i) not in report.calls), None)
        where = f" on {case_label(index)}" if index is not None else ""
        return verdict(False, f"`{task.function}` {report.task_failures[task.function]}{where}: 0 points")
    reference = references.get(task.function) if task.judge is None else None
    for index, case in enumerate(task_cases):
        label = f"case {index + 1} of {len(task_cases)} ({case.label})"
        got = report.calls.get((task.function, index))
        if got is None:
            return verdict(False, f"`{task.function}` was not called on {label}: the sandbox stopped early")
        if got.forbidden:
            template = FORBIDDEN_OPS_MESSAGE if task.library == "torch" else FORBIDDEN_MESSAGE
            return verdict(False, f"`{task.function}` on {label} "
                           + template.format(what=", ".join(got.forbidden)))
        if got.error == "not defined":
            hint = ""
            if task.function in cell_errors:
                hint = f" (its cell raised: {cell_errors[task.function]})"
            return verdict(False, f"`{task.function}` is not defined{hint}: 0 points")
        if got.error and got.error.startswith("NotImplementedError") and (
                stubs is None or task.function in stubs):
            # Only the released stub itself (its cell unchanged) is "not answered yet"; a
            # NotImplementedError from the student's own code is an error like any other.
            return verdict(False, f"`{task.function}` is not answered yet (it still raises "
                                  f"NotImplementedError): 0 points")
        if got.error:
            return verdict(False, f"`{task.function}` raised an error on {label}: {got.error}")
        if task.inputs_must_not_change:
            changed = _changed_input(case, got.inputs)
            if changed:
                return verdict(False, f"`{task.function}` on {label}: {changed}")
        if task.judge is not None:
            problem = task.judge(got.array, case)
            if isinstance(problem, tuple):  # (None, what was achieved): a pass that says how well
                problem, achieved = problem
                if problem is None:
                    return verdict(True, f"`{task.function}` passed: {achieved}")
        else:
            expected = _reference_output(reference, case, task.library, task.returns_tuple)
            problem = describe_mismatch(got.array, expected, rtol=task.rtol, atol=task.atol,
                                        reveal=False, names=task.output_names or None)
            if not problem and task.dtype_rule:
                problem = _dtype_problem_of(got.array, expected, task)
        if problem:
            return verdict(False, f"`{task.function}` on {label}: {problem}")
    return verdict(True, f"`{task.function}` passed all {len(task_cases)} hidden cases")
