"""The smoke build of the book, run once per test session (the ``smoke_book`` fixture).

``scripts/build_book.py --smoke --keep-going`` executes every chapter with the small
``SMOKE_PARAMETERS`` of tests/test_notebooks.py into ``_build/smoke/executed`` and renders
``_build/smoke/html``.  tests/test_notebooks.py asserts each chapter's execution result from it
(one test per chapter, so a failing chapter is reported by name) and tests/test_book_browser.py
drives Chromium over its HTML: the chapters are executed once, not twice.

What runs depends on the tests selected: with a browser test (or the build test) selected,
every chapter of the table of contents and the HTML; otherwise only the chapters whose
execution test is selected, without the HTML (``pytest tests/test_notebooks.py -k 09_vgg``
executes chapter 9 alone).

Environment, for writing chapters and tests:
  ``DLCOURSE_BOOK_TOC=FILE``    a smaller table of contents (a few chapters) instead of _toc.yml
  ``DLCOURSE_SMOKE_REUSE=1``    reuse ``_build/smoke`` when it holds what is needed, without
                                executing or building anything
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = REPO_ROOT / "_build" / "smoke"
CHAPTER_TEST = "test_notebook_executes_top_to_bottom"   # tests/test_notebooks.py
HTML_TEST_MODULES = ("test_book_browser.py",)


def toc_path():
    """The table of contents of the smoke build (``DLCOURSE_BOOK_TOC`` or ``_toc.yml``)."""
    chosen = os.environ.get("DLCOURSE_BOOK_TOC")
    return Path(chosen).resolve() if chosen else REPO_ROOT / "_toc.yml"


def toc_entries(toc=None):
    """Every ``file`` of the table of contents (root first), without extension: the build
    script's own reading of it."""
    if str(REPO_ROOT / "scripts") not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / "scripts"))
    from build_book import toc_entries as entries

    return entries(toc or toc_path())


@dataclass
class SmokeBook:
    """What the smoke build produced."""
    output: Path
    toc: Path
    notebooks: dict = field(default_factory=dict)  # "book/NN_x.ipynb" -> {"ok", "seconds", "error"}
    html_status: int | None = None                  # Jupyter Book's exit status; None: not built
    log: Path | None = None

    @property
    def html(self) -> Path:
        return self.output / "html"

    def warnings(self, limit=40):
        """The build log's WARNING and ERROR lines (colour codes removed)."""
        import re

        if not self.log or not self.log.exists():
            return []
        text = re.sub(r"\x1b\[[0-9;]*m", "", self.log.read_text(errors="replace"))
        return [line for line in text.splitlines() if "WARNING" in line or "ERROR" in line
                if "Kernel is running over TCP" not in line][:limit]


def _needs(items):
    """(whether the HTML is needed, the chapter notebooks whose execution test is selected)."""
    html = False
    chapters = set()
    for item in items:
        if Path(str(getattr(item, "path", None) or item.fspath)).name in HTML_TEST_MODULES:
            html = True
        elif getattr(item, "originalname", None) == CHAPTER_TEST:
            path = getattr(getattr(item, "callspec", None), "params", {}).get("path")
            if path is not None and Path(path).parent.name == "book":
                chapters.add(str(Path(path).relative_to(REPO_ROOT)))
    return html, chapters


def _load(output, toc, log):
    record = json.loads((output / "execution.json").read_text())
    return SmokeBook(output=output, toc=toc, notebooks=record.get("notebooks", {}),
                     html_status=record.get("html_status"), log=log)


def build(items=(), output=OUTPUT):
    """Run the smoke build that the selected test ``items`` need; return a :class:`SmokeBook`."""
    html, chapters = _needs(items)
    toc = toc_path()
    log = output / "build.log"
    if os.environ.get("DLCOURSE_SMOKE_REUSE") and (output / "execution.json").exists():
        book = _load(output, toc, log)
        if (not html or book.html_status is not None) and chapters <= set(book.notebooks):
            return book
    in_toc = {f"{entry}.ipynb" for entry in toc_entries(toc)}
    command = [sys.executable, str(REPO_ROOT / "scripts" / "build_book.py"), "--smoke",
               "--keep-going", "--output", str(output), "--toc", str(toc), "--timeout", "300"]
    if not html:
        wanted = sorted(chapters & in_toc)
        if not wanted:
            return SmokeBook(output=output, toc=toc)
        command += ["--execute-only", "--only", *wanted]
    output.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as sink:
        subprocess.run(command, cwd=REPO_ROOT, stdout=sink, stderr=subprocess.STDOUT, check=False)
    if not (output / "execution.json").exists():
        raise RuntimeError(f"the smoke build stopped before executing the book; see {log}:\n"
                           + "\n".join(log.read_text(errors="replace").splitlines()[-20:]))
    return _load(output, toc, log)
