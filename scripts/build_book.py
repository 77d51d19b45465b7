"""Execute the book's notebooks with papermill, then build the HTML with Jupyter Book.

    python scripts/build_book.py [--smoke] [--output DIR] [--toc FILE] [--keep-going]
                                 [--execute-only] [--only NOTEBOOK ...] [-p NAME VALUE ...]

1. Every page listed in the table of contents (``_toc.yml``, or ``--toc FILE``) is staged in
   ``DIR/executed/`` (``DIR`` is ``_build`` by default, ``_build/smoke`` with ``--smoke``):
   notebooks are executed there by papermill (kernel ``python3``, working directory = the
   notebook's own folder in the checkout, so relative paths work), other files under ``book/``
   are copied, together with ``_config.yml``, the table of contents and ``exercises/`` (so the
   chapters' ``{download}`` links to ``../exercises/<a>/<a>.ipynb`` resolve, and a link to a
   missing file is a build warning, hence an error).  The ``parameters`` cell and papermill's
   ``injected-parameters`` cell are tagged ``remove-cell``: no page shows them.
2. ``jupyter-book build DIR/executed -W -n --keep-going --all`` renders those executed copies
   into ``DIR/html``.  Jupyter Book never executes anything itself
   (``execute_notebooks: "off"``), and any Sphinx warning makes the build fail.

``--smoke`` injects the small sizes of ``SMOKE_PARAMETERS`` in ``tests/test_notebooks.py`` (the
same values the notebook tests use; ``-p`` overrides them).  ``--keep-going`` executes every
notebook even after one failed and still builds the HTML from the partly executed copies, then
exits 1; ``DIR/execution.json`` records each notebook's result (``ok``, ``seconds``, ``error``),
which the test suite reads (tests/conftest.py runs the smoke build once per session).

Data: when ``../shared/data`` exists beside the checkout (real MNIST, as in CI) and neither
``DLCOURSE_DATA`` nor ``DLCOURSE_MNIST`` is set, ``DLCOURSE_DATA`` is pointed there for the
notebooks, so the book is built from real digits, offline and deterministically.  Otherwise
the environment is left alone and the loaders follow their own policy (cache, download, or the
documented fallback with a warning on the page).

Exit status: 0 on success; 1 when a notebook fails (the message names the notebook and the
cell) or when the book build reports a warning or an error.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import time
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import yaml
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from notebooks import (  # noqa: E402
    NotebookExecutionError, declared_parameters, execute_notebook, hide_parameter_cells,
)

BUILD = ROOT / "_build"
SMOKE_BUILD = BUILD / "smoke"
STAGING = BUILD / "executed"
SHARED_DATA = ROOT.parent / "shared" / "data"
SMOKE_SOURCE = ROOT / "tests" / "test_notebooks.py"
RESULTS_NAME = "execution.json"


def use_shared_data():
    """Set ``DLCOURSE_DATA`` to ``../shared/data`` if that folder exists and no data folder is named."""
    if SHARED_DATA.is_dir() and not (os.environ.get("DLCOURSE_DATA") or os.environ.get("DLCOURSE_MNIST")):
        os.environ["DLCOURSE_DATA"] = str(SHARED_DATA)


def smoke_parameters(source=SMOKE_SOURCE):
    """The ``SMOKE_PARAMETERS`` dict of tests/test_notebooks.py, read without importing pytest.

    That dict stays in the test module, where chapter authors add their keys; it must remain a
    plain literal."""
    tree = ast.parse(Path(source).read_text())
    for node in tree.body:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        if any(isinstance(t, ast.Name) and t.id == "SMOKE_PARAMETERS" for t in targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"no SMOKE_PARAMETERS = {{...}} literal in {source}")


def toc_entries(toc_path):
    """Every ``file`` named in a Jupyter Book ``_toc.yml`` (root first), without extension."""
    toc = yaml.safe_load(Path(toc_path).read_text())
    found = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                found.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return found


def resolve(entry):
    """The file in the checkout for a toc entry (``book/intro`` -> ``book/intro.md``)."""
    path = ROOT / entry
    if path.suffix and path.exists():
        return path
    for suffix in (".ipynb", ".md", ".rst"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"_toc.yml lists {entry!r} but no {entry}.ipynb/.md/.rst exists")


def stage_mathjax(target):
    """Copy MathJax (from the pinned django-static-mathjax wheel) next to the pages, so the
    equations render in a browser without the network; _config.yml points mathjax_path here."""
    import mathjax  # the package django-static-mathjax installs; it only ships the static files

    source = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (source / "tex-mml-chtml.js").is_file():
        raise FileNotFoundError(f"MathJax not found at {source}: reinstall requirements.txt")
    shutil.copytree(source, target)


def stage_exercises(staging):
    """Copy the student release next to ``book/``: chapters link ``../exercises/<a>/<a>.ipynb``
    with ``{download}``, and Sphinx copies each linked file into the HTML's ``_downloads``."""
    source = ROOT / "exercises"
    if source.is_dir():
        shutil.copytree(source, staging / "exercises",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc"))


def _execute(src, dst, parameters, cwd, timeout):
    """Execute one notebook (in a process of its own: see :func:`stage`); returns nothing, so
    that only an error, never the whole notebook, travels back to the parent."""
    execute_notebook(src, dst, parameters=parameters, cwd=cwd, timeout=timeout)


def stage(parameters=None, timeout=600, output=BUILD, toc=None, keep_going=False, only=None, jobs=1):
    """Fill ``output/executed`` with the config, copied pages, exercises and executed notebooks.

    ``only``: notebook paths relative to the checkout (``book/01_cross_correlation.ipynb``) to
    execute; the others in the toc are not staged (for a quick partial run).  ``jobs``: notebooks
    executed at once (1 for the real book, whose pages time things; the smoke build uses the
    cores).  Returns
    ``{relative path: {"ok": bool, "seconds": float, "error": str or None}}``; without
    ``keep_going`` the first failure raises :class:`NotebookExecutionError`.
    """
    staging = Path(output) / "executed"
    toc = Path(toc) if toc else ROOT / "_toc.yml"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    shutil.copy2(ROOT / "_config.yml", staging / "_config.yml")
    shutil.copy2(toc, staging / "_toc.yml")
    stage_mathjax(staging / "_mathjax" / "mathjax")
    stage_exercises(staging)
    pages = [resolve(entry) for entry in toc_entries(toc)]
    notebooks = [p for p in pages if p.suffix == ".ipynb"]
    if only is not None:
        wanted = {str(Path(o)) for o in only}
        notebooks = [p for p in notebooks if str(p.relative_to(ROOT)) in wanted]

    # Everything else the pages may refer to (markdown, images, bibliography, _static, _ext).
    for path in sorted((ROOT / "book").rglob("*")):
        if (path.is_file() and path.suffix != ".ipynb" and ".ipynb_checkpoints" not in path.parts
                and "__pycache__" not in path.parts):
            target = staging / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    for page in pages:
        if page.suffix != ".ipynb" and not (staging / page.relative_to(ROOT)).exists():
            target = staging / page.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(page, target)

    work = []
    for nb in notebooks:
        declared = declared_parameters(nb)
        ours = {k: v for k, v in (parameters or {}).items() if k in declared}
        work.append((str(nb.relative_to(ROOT)), nb, staging / nb.relative_to(ROOT), ours))
    results = execute_notebooks(work, jobs=jobs, timeout=timeout, keep_going=keep_going)
    for name, _, dst, _ in work:
        if dst.exists():
            hide_parameter_cells(dst)
    return results


def execute_notebooks(work, jobs=1, timeout=600, keep_going=False):
    """Execute ``work``, a list of ``(name, src, dst, parameters)``, ``jobs`` notebooks at once.

    Every kernel's working directory is its notebook's own folder (``src.parent``).  Returns
    ``{name: {"ok", "seconds", "error"}}`` in the order of ``work``; without ``keep_going`` the
    first failure raises :class:`NotebookExecutionError`.
    """
    def run(item):
        name, src, dst, params = item
        start = time.perf_counter()
        error = None
        try:
            kernels.submit(_execute, src, dst, params, Path(src).parent, timeout).result()
        except NotebookExecutionError as err:
            if not keep_going:
                raise
            error = str(err)
            print(f"error: {err}", file=sys.stderr)
        return name, {"ok": error is None, "seconds": round(time.perf_counter() - start, 1), "error": error}

    results = {}
    # papermill sets a kernel's working directory by chdir-ing the whole calling process, so two
    # notebooks executed from one process at once can start a kernel in the other's folder (or
    # in the checkout's root). Each notebook is therefore executed from a process of its own;
    # the threads only wait for those processes and keep the progress bar.
    kernels = ProcessPoolExecutor(max_workers=max(1, jobs), max_tasks_per_child=1,
                                  mp_context=multiprocessing.get_context("spawn"))
    with tqdm(total=len(work), desc="executing notebooks", unit="nb", file=sys.stderr) as bar, \
            kernels, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for name, result in pool.map(run, work):
            results[name] = result
            bar.set_postfix_str(name)
            bar.update()
    return results


def html_dir(output=BUILD):
    """Where :func:`build_html` leaves the HTML for a build folder."""
    return Path(output) / "html"


def build_html(output=BUILD):
    """Run Jupyter Book on ``output/executed``; the HTML lands in ``output/html``.

    Returns Jupyter Book's exit status (the HTML is written even when it is non-zero)."""
    output = Path(output)
    staging = output / "executed"
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book)] if jupyter_book.exists() else [sys.executable, "-m", "jupyter_book"]
    # Jupyter Book writes PATH_OUTPUT/_build/html: for output=_build that is _build/html itself.
    path_output = output.parent if output.name == "_build" else output / "jupyter-book"
    command += ["build", str(staging), "--path-output", str(path_output), "--builder", "html",
                "-W", "-n", "--keep-going", "--all"]
    print("+", " ".join(command), flush=True)
    status = subprocess.call(command, cwd=ROOT)
    produced = path_output / "_build" / "html"
    if produced != html_dir(output) and produced.is_dir():
        if html_dir(output).exists():
            shutil.rmtree(html_dir(output))
        shutil.move(str(produced), str(html_dir(output)))
    return status


def main(argv=None):
    parser = argparse.ArgumentParser(description="Execute the book's notebooks and build the HTML.")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"),
                        help="inject a parameter into every notebook that declares it "
                             "(VALUE is a Python literal)")
    parser.add_argument("--smoke", action="store_true",
                        help="small sizes (SMOKE_PARAMETERS of tests/test_notebooks.py); "
                             "output defaults to _build/smoke")
    parser.add_argument("--output", type=Path, default=None,
                        help="build folder: DIR/executed and DIR/html (default _build)")
    parser.add_argument("--toc", type=Path, default=None,
                        help="another table of contents (e.g. a few chapters while writing)")
    parser.add_argument("--only", nargs="+", default=None, metavar="NOTEBOOK",
                        help="execute only these notebooks (paths as in the toc, with .ipynb)")
    parser.add_argument("--keep-going", action="store_true",
                        help="execute every notebook even after a failure, build the HTML anyway, "
                             "exit 1 at the end")
    parser.add_argument("--execute-only", action="store_true",
                        help="stage and execute the notebooks, skip the HTML build")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    parser.add_argument("--jobs", type=int, default=None,
                        help="notebooks executed at once (default 1, as the pages time code; "
                             "with --smoke, the number of CPUs, at most 2)")
    args = parser.parse_args(argv)

    parameters = smoke_parameters() if args.smoke else {}
    for name, value in args.parameter:
        try:
            parameters[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parameters[name] = value
    output = args.output or (SMOKE_BUILD if args.smoke else BUILD)
    output = output if output.is_absolute() else Path.cwd() / output

    use_shared_data()
    start = time.perf_counter()
    try:
        results = stage(parameters, timeout=args.timeout, output=output, toc=args.toc,
                        keep_going=args.keep_going, only=args.only,
                        jobs=args.jobs or (min(2, os.cpu_count() or 1) if args.smoke else 1))
    except (NotebookExecutionError, FileNotFoundError, LookupError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    record = {"notebooks": results, "html_status": None, "smoke": args.smoke}
    for name, result in results.items():
        print(f"  {'executed' if result['ok'] else 'FAILED'} {name} in {result['seconds']:.1f} s")
    failed = [name for name, result in results.items() if not result["ok"]]
    status = 0
    if not args.execute_only:
        status = build_html(output)
        record["html_status"] = status
    (output / RESULTS_NAME).write_text(json.dumps(record, indent=1))
    elapsed = time.perf_counter() - start
    if failed:
        print(f"error: {len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
    if status != 0:
        print(f"error: jupyter-book build failed (exit status {status}); "
              "warnings count as errors", file=sys.stderr)
    if failed or status != 0:
        return 1
    if not args.execute_only:
        print(f"book built in {elapsed:.1f} s: {html_dir(output) / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
