"""Execute notebooks with papermill, with failures that say where they happened.

Used by ``scripts/build_book.py`` (which executes the book before Jupyter Book renders it) and by
``tests/test_notebooks.py``.  Importable as a module (``scripts`` is put on ``sys.path`` by the
callers) and runnable as a script::

    python scripts/notebooks.py SRC.ipynb DST.ipynb [-p NAME VALUE ...]
"""
from __future__ import annotations

import argparse
import ast
import os
from pathlib import Path

import nbformat

KERNEL_NAME = "python3"

__all__ = ["NotebookExecutionError", "execute_notebook", "declared_parameters", "hide_parameter_cells",
           "KERNEL_NAME"]


class NotebookExecutionError(RuntimeError):
    """A notebook failed to execute.

    Attributes: ``notebook`` (the source path), ``cell_index`` (index of the failing cell in the
    *source* notebook, counting markdown cells, or None when unknown), ``cell_line`` (the
    cell's first non-blank source line), ``ename`` and ``evalue`` (the error's type and message).
    """

    def __init__(self, notebook, cell_index, cell_line, ename, evalue, output=None):
        self.notebook = str(notebook)
        self.cell_index = cell_index
        self.cell_line = cell_line
        self.ename = ename
        self.evalue = evalue
        self.output = output
        where = "an unknown cell" if cell_index is None else f"cell {cell_index}"
        if cell_line:
            where += f" ({cell_line!r})"
        message = f"{self.notebook}: {where} failed: {ename}: {evalue}"
        if output:
            message += f"\n(the partially executed notebook is at {output})"
        super().__init__(message)

    def __reduce__(self):
        # So that the error keeps its attributes when it crosses from a worker process.
        return (type(self), (self.notebook, self.cell_index, self.cell_line, self.ename, self.evalue,
                             self.output))


def _first_line(source):
    for line in source.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _source_index(src_nb, failing_source):
    """Index of the code cell of ``src_nb`` whose source is ``failing_source`` (None if absent)."""
    for index, cell in enumerate(src_nb.cells):
        if cell.cell_type == "code" and cell.source == failing_source:
            return index
    return None


def declared_parameters(path):
    """Names assigned in the notebook's cell tagged ``parameters`` (empty set when it has none)."""
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            names = set()
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
            return names
    return set()


def hide_parameter_cells(path):
    """Tag the ``parameters`` cell and papermill's ``injected-parameters`` cell ``remove-cell``.

    They are build plumbing (smoke sizes, data paths): the rendered page must not show them.
    Rewrites ``path`` in place and returns how many cells were tagged.
    """
    nb = nbformat.read(str(path), as_version=4)
    tagged = 0
    for cell in nb.cells:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if ("parameters" in tags or "injected-parameters" in tags) and "remove-cell" not in tags:
            tags.append("remove-cell")
            tagged += 1
    if tagged:
        nbformat.write(nb, str(path))
    return tagged


def execute_notebook(src, dst, parameters=None, cwd=None, timeout=600):
    """Execute notebook ``src`` top to bottom with papermill and write the result to ``dst``.

    ``parameters``: dict injected after the cell tagged ``parameters`` (None or {} injects
    nothing).  ``cwd``: the working directory of the kernel (default: the folder holding
    ``src``, so relative paths in the notebook work).  ``timeout``: seconds allowed per cell.
    Runs the ``python3`` kernel.  Returns the executed notebook (``nbformat.NotebookNode``).

    Raises :class:`NotebookExecutionError` naming the notebook, the failing cell (its index in
    ``src`` and its first line) and the error.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    src, dst = Path(src), Path(dst)
    cwd = Path(cwd) if cwd is not None else src.resolve().parent
    dst.parent.mkdir(parents=True, exist_ok=True)
    src_nb = nbformat.read(str(src), as_version=4)
    try:
        return papermill.execute_notebook(
            str(src),
            str(dst),
            parameters=parameters or None,
            kernel_name=KERNEL_NAME,
            cwd=str(cwd),
            execution_timeout=timeout,
            progress_bar=False,
            log_output=False,
            report_mode=False,
        )
    except PapermillExecutionError as err:
        index = _source_index(src_nb, err.source)
        raise NotebookExecutionError(
            src, index, _first_line(err.source), err.ename, err.evalue, output=dst
        ) from None
    except Exception as err:  # a cell timeout, a dead kernel, an unreadable notebook...
        raise NotebookExecutionError(
            src, None, "", type(err).__name__, str(err).strip(), output=dst if dst.exists() else None
        ) from err


def _main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="a parameter; VALUE is a Python literal")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    params = {}
    for name, value in args.parameter:
        try:
            params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[name] = value
    try:
        execute_notebook(args.src, args.dst, params, timeout=args.timeout)
    except NotebookExecutionError as err:
        raise SystemExit(f"error: {err}") from None
    print(f"executed {args.src} -> {args.dst}")


if __name__ == "__main__":
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    _main()
