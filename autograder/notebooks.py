"""Reading notebooks the way a grader must: tolerant of whatever a student hands in.

A submission is matched to the released notebook cell by cell through nbgrader's ``grade_id``:
the student's solution cells run as written; locked cells run as *released* (editing or
deleting them changes nothing); test cells never run in the sandbox (the grader checks the
functions itself); cells the student added run as student code.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

MAX_NOTEBOOK_BYTES = 20 * 2**20
# The course's notebooks have 20-60 cells; a notebook with thousands is not one of them, and
# each cell costs the sandbox two messages and a compile.
MAX_CELLS = 2000
EXPECTED_KERNEL = "python3"


class NotebookError(ValueError):
    """The file is not a notebook we can read; the message says why, for the student."""


@dataclass
class CellPlan:
    cells: list = field(default_factory=list)  # [{"label", "source"}] in execution order
    notices: list = field(default_factory=list)  # messages for the student


def _source(cell):
    src = cell.get("source", "")
    if isinstance(src, list):
        src = "".join(s for s in src if isinstance(s, str))
    if not isinstance(src, str):
        raise NotebookError("a cell's source is neither text nor a list of lines")
    return src


def parse_notebook(data: bytes) -> dict:
    """Parse notebook JSON into a dict with a ``cells`` list, or raise :class:`NotebookError`."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"the notebook is {len(data) / 2**20:.0f} MiB; the limit is "
                            f"{MAX_NOTEBOOK_BYTES / 2**20:.0f} MiB (clear the outputs and resubmit)")
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise NotebookError(f"the file is not valid notebook JSON ({str(err)[:200]})") from None
    except RecursionError:  # JSON nested thousands deep: Python's parser gives up, bounded
        raise NotebookError("the file is not valid notebook JSON (nested too deeply to read)") from None
    except MemoryError:
        raise NotebookError("the file is not valid notebook JSON (too large to read)") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError("the file is JSON but not a notebook (no list of cells)")
    if len(nb["cells"]) > MAX_CELLS:
        raise NotebookError(f"the notebook has {len(nb['cells'])} cells; the limit is {MAX_CELLS} "
                            f"(merge or delete cells and resubmit)")
    for cell in nb["cells"]:
        if not isinstance(cell, dict):
            raise NotebookError("a cell is not a JSON object")
        _source(cell)
    return nb


def load_notebook(path) -> dict:
    return parse_notebook(Path(path).read_bytes())


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {})
    meta = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return meta if isinstance(meta, dict) else {}


def cell_role(cell) -> str:
    """``'solution'``, ``'test'``, ``'locked'`` or ``'plain'`` from nbgrader metadata."""
    meta = nbgrader_meta(cell)
    if meta.get("grade") and not meta.get("solution"):
        return "test"
    if meta.get("solution"):
        return "solution"
    if meta.get("locked"):
        return "locked"
    return "plain"


def code_cells(nb):
    return [c for c in nb["cells"] if c.get("cell_type") == "code"]


def grade_cells(nb) -> dict:
    """``{grade_id: points}`` of the graded (test) cells of a released or source notebook."""
    out = {}
    for cell in code_cells(nb):
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            out[meta["grade_id"]] = float(meta.get("points", 0))
    return out


def plan_cells(submission: dict, release: dict) -> CellPlan:
    """The cells to run for ``submission``, in order, with locked cells taken from ``release``."""
    plan = CellPlan()
    released = {}
    for index, cell in enumerate(code_cells(release)):
        gid = nbgrader_meta(cell).get("grade_id")
        if gid:
            released[gid] = (index, cell)

    kernel = submission.get("metadata", {}).get("kernelspec", {}) if isinstance(
        submission.get("metadata"), dict) else {}
    name = kernel.get("name") if isinstance(kernel, dict) else None
    if name and name != EXPECTED_KERNEL:
        plan.notices.append(f"The notebook asks for the kernel '{name}'; it was graded with "
                            f"the course's Python 3 kernel.")

    seen = set()
    body = []
    added = 0
    for cell in code_cells(submission):
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in released:
            if gid in seen:
                plan.notices.append(f"The cell '{gid}' appears more than once; only the first "
                                    f"copy was used.")
                continue
            seen.add(gid)
            _, original = released[gid]
            role = cell_role(original)
            if role == "solution":
                body.append({"label": gid, "source": _source(cell)})
            elif role == "test":
                continue  # graded by the grader itself, outside the student's process
            else:
                if _source(cell) != _source(original):
                    plan.notices.append(f"The read-only cell '{gid}' was edited; the released "
                                        f"version was used.")
                body.append({"label": gid, "source": _source(original)})
        else:
            added += 1
            if gid:
                plan.notices.append(f"The cell '{gid}' is not part of the assignment (renamed "
                                    f"or added); it ran as your own code.")
            body.append({"label": f"added-{added}", "source": _source(cell)})

    # Locked cells the student deleted still run, from the release, before everything else.
    missing_locked = []
    for gid, (index, cell) in sorted(released.items(), key=lambda item: item[1][0]):
        if gid in seen:
            continue
        role = cell_role(cell)
        if role == "locked" or role == "plain":
            missing_locked.append({"label": gid, "source": _source(cell)})
            plan.notices.append(f"The read-only cell '{gid}' was missing; the released version was used.")
        elif role == "solution":
            plan.notices.append(f"The answer cell '{gid}' is missing from the notebook.")
        elif role == "test":
            plan.notices.append(f"The test cell '{gid}' was deleted; the task is graded all the same.")
    plan.cells = missing_locked + body
    return plan
