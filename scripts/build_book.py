"""Execute the book's notebooks with papermill, then build the HTML with Jupyter Book.

    python scripts/build_book.py [--execute-only] [-p NAME VALUE ...]

1. Every page listed in ``_toc.yml`` is staged in ``_build/executed/``: notebooks are executed
   there by papermill (kernel ``python3``, working directory = the notebook's own folder in the
   checkout, so relative paths work), other files under ``book/`` are copied, together with
   ``_config.yml`` and ``_toc.yml``.
2. ``jupyter-book build _build/executed --path-output . -W -n --keep-going --all`` renders
   those executed copies into ``_build/html``.  Jupyter Book never executes anything itself
   (``execute_notebooks: "off"``), and any Sphinx warning makes the build fail.

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
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from notebooks import NotebookExecutionError, declared_parameters, execute_notebook  # noqa: E402

STAGING = ROOT / "_build" / "executed"
SHARED_DATA = ROOT.parent / "shared" / "data"


def use_shared_data():
    """Set ``DLCOURSE_DATA`` to ``../shared/data`` if that folder exists and no data folder is named."""
    if SHARED_DATA.is_dir() and not (os.environ.get("DLCOURSE_DATA") or os.environ.get("DLCOURSE_MNIST")):
        os.environ["DLCOURSE_DATA"] = str(SHARED_DATA)


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


def stage(parameters=None, timeout=600):
    """Fill ``_build/executed`` with the config, copied pages and executed notebooks."""
    if STAGING.exists():
        shutil.rmtree(STAGING)
    STAGING.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, STAGING / name)
    stage_mathjax(STAGING / "_mathjax" / "mathjax")
    pages = [resolve(entry) for entry in toc_entries(ROOT / "_toc.yml")]
    notebooks = [p for p in pages if p.suffix == ".ipynb"]

    # Everything else the pages may refer to (markdown, images, bibliography) under book/.
    for path in sorted((ROOT / "book").rglob("*")):
        if path.is_file() and path.suffix != ".ipynb" and ".ipynb_checkpoints" not in path.parts:
            target = STAGING / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    for page in pages:
        if page.suffix != ".ipynb" and not (STAGING / page.relative_to(ROOT)).exists():
            target = STAGING / page.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(page, target)

    timings = {}
    with tqdm(notebooks, desc="executing notebooks", unit="nb", file=sys.stderr) as bar:
        for nb in bar:
            rel = nb.relative_to(ROOT)
            bar.set_postfix_str(str(rel))
            start = time.perf_counter()
            declared = declared_parameters(nb)
            ours = {k: v for k, v in (parameters or {}).items() if k in declared}
            execute_notebook(nb, STAGING / rel, parameters=ours, cwd=nb.parent,
                             timeout=timeout)
            timings[str(rel)] = time.perf_counter() - start
    return timings


def build_html():
    """Run Jupyter Book on the staged copy; return its exit status."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book)] if jupyter_book.exists() else [sys.executable, "-m", "jupyter_book"]
    command += ["build", str(STAGING), "--path-output", str(ROOT), "--builder", "html",
                "-W", "-n", "--keep-going", "--all"]
    print("+", " ".join(command), flush=True)
    return subprocess.call(command, cwd=ROOT)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Execute the book's notebooks and build the HTML.")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"),
                        help="inject a parameter into every notebook that declares it "
                             "(VALUE is a Python literal)")
    parser.add_argument("--execute-only", action="store_true",
                        help="stage and execute the notebooks, skip the HTML build")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    args = parser.parse_args(argv)

    parameters = {}
    for name, value in args.parameter:
        try:
            parameters[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parameters[name] = value

    use_shared_data()
    start = time.perf_counter()
    try:
        timings = stage(parameters, timeout=args.timeout)
    except (NotebookExecutionError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for name, seconds in timings.items():
        print(f"  executed {name} in {seconds:.1f} s")
    if args.execute_only:
        return 0
    status = build_html()
    elapsed = time.perf_counter() - start
    if status != 0:
        print(f"error: jupyter-book build failed (exit status {status}); "
              "warnings count as errors", file=sys.stderr)
        return 1
    print(f"book built in {elapsed:.1f} s: {ROOT / '_build' / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
