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
from autograder.sandbox import Limits, run_in_sandbox
from autograder.spec import load_tasks
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


def arguments_as_sent(case, library):
    """``(args, kwargs)`` of ``case`` exactly as the sandboxed worker passes them to the
    student's function: encoded by the sandbox's own encoder, through JSON and the ``.npz``
    payload, and decoded by the worker's own decoder (tuples and lists of arrays at any depth,
    e.g. LeNet's parameters, become tensors in a torch task; NumPy scalars become Python ones).
    The reference answer is computed on these, so both sides see the same values and types."""
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
    return (worker._decode(sent["args"], arrays, to_tensor),
            worker._decode(sent["kwargs"], arrays, to_tensor))


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
    reports = {}
    for mode in ("numpy", "torch"):
        mode_tasks = [(t, cases[t.function]) for t in tasks if t.library == mode]
        if mode_tasks:
            reports[mode] = run_in_sandbox(plan.cells, mode_tasks, mode, limits,
                                           private_paths=job.get("private_paths", ()),
                                           require_isolation=not job.get("allow_weak_sandbox", False))
    result.isolation = next(iter(reports.values())).isolation if reports else ""
    faults = [r.grader_fault for r in reports.values() if r.grader_fault]
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
    for task in tasks:
        report = reports[task.library]
        result.tasks.append(_judge(task, cases[task.function], report, references, cell_errors))
    result.seconds = time.monotonic() - start
    return result.to_dict()


def _judge(task, task_cases, report, references, cell_errors) -> TaskResult:
    def verdict(ok, message):
        return TaskResult(task.grade_id, task.function, float(task.points) if ok else 0.0,
                          float(task.points), message)

    if task.function in report.task_failures:
        return verdict(False, f"`{task.function}` {report.task_failures[task.function]}: 0 points")
    reference = references.get(task.function) if task.judge is None else None
    for index, case in enumerate(task_cases):
        label = f"case {index + 1} of {len(task_cases)} ({case.label})"
        got = report.calls.get((task.function, index))
        if got is None:
            return verdict(False, f"`{task.function}` was not called on {label}: the sandbox stopped early")
        if got.forbidden:
            template = FORBIDDEN_OPS_MESSAGE if task.library == "torch" else FORBIDDEN_MESSAGE
            return verdict(False, f"`{task.function}` " + template.format(what=", ".join(got.forbidden)))
        if got.error == "not defined":
            hint = ""
            if task.function in cell_errors:
                hint = f" (its cell raised: {cell_errors[task.function]})"
            return verdict(False, f"`{task.function}` is not defined{hint}: 0 points")
        if got.error and got.error.startswith("NotImplementedError"):
            return verdict(False, f"`{task.function}` is not answered yet (it still raises "
                                  f"NotImplementedError): 0 points")
        if got.error:
            return verdict(False, f"`{task.function}` raised an error on {label}: {got.error}")
        if task.judge is not None:
            problem = task.judge(got.array, case)
        else:
            expected = _reference_output(reference, case, task.library, task.returns_tuple)
            problem = describe_mismatch(got.array, expected, rtol=task.rtol, atol=task.atol,
                                        reveal=False, names=task.output_names or None)
        if problem:
            return verdict(False, f"`{task.function}` on {label}: {problem}")
    return verdict(True, f"`{task.function}` passed all {len(task_cases)} hidden cases")
