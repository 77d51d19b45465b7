"""Generate the student release ``exercises/`` from the source notebooks in ``solutions/``.

``release()`` runs nbgrader's own ``generate_assignment`` (the stock preprocessors: clear the
solution regions, strip the hidden tests, lock the read-only cells, record checksums) on a
throwaway copy of the course, with a throwaway gradebook, and copies only the generated
``<assignment>/`` folders back. Nothing else in the repository is written, and the gradebook
that instructors grade into is never touched by a release.

The settings come from the repository's ``nbgrader_config.py``; only the course root and the
database URL are redirected to the temporary copy. The output is deterministic, so a test can
regenerate the release and compare it with the committed ``exercises/`` byte for byte.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["REPO_ROOT", "SOURCE_DIR", "RELEASE_DIR", "list_assignments", "release"]

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = REPO_ROOT / "solutions"
RELEASE_DIR = REPO_ROOT / "exercises"
CONFIG_FILE = REPO_ROOT / "nbgrader_config.py"


def list_assignments(source_dir=None):
    """Sorted names of the assignments: the folders of ``solutions/`` holding a notebook."""
    source_dir = Path(source_dir) if source_dir is not None else SOURCE_DIR
    if not source_dir.is_dir():
        return []
    return sorted(
        p.name for p in source_dir.iterdir()
        if p.is_dir() and not p.name.startswith((".", "_")) and any(p.glob("*.ipynb"))
    )


def _load_config(root: Path, db_url: str):
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    if CONFIG_FILE.is_file():
        config.merge(PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config())
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = db_url
    config.CourseDirectory.source_directory = "source"
    config.CourseDirectory.release_directory = "release"
    config.CourseDirectory.notebook_id = "*"
    config.GenerateAssignment.force = True
    return config


@contextlib.contextmanager
def tools_on_path():
    """Put this interpreter's ``bin/`` first on PATH: nbgrader's gradebook shells out to ``alembic``,
    which a virtual environment installs there, and ``.venv/bin/python -m ...`` does not add it."""
    old = os.environ.get("PATH", "")
    bindir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bindir + os.pathsep + old if old else bindir
    try:
        yield
    finally:
        os.environ["PATH"] = old


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def release(assignments=None, out_dir=None, quiet=True):
    """Regenerate the student release of ``assignments`` (default: all) into ``out_dir``.

    ``assignments``: an assignment name, a list of names, or None for every folder of
    ``solutions/``. ``out_dir``: where ``<assignment>/`` folders are written (default the repo's
    ``exercises/``); each target folder is replaced as a whole, so files deleted from the source
    disappear from the release too. Returns the list of written ``<out_dir>/<assignment>`` paths.
    Raises ``ValueError`` for an unknown assignment and ``RuntimeError`` if nbgrader fails.
    """
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    known = list_assignments()
    if assignments is None:
        names = known
    else:
        names = [assignments] if isinstance(assignments, str) else list(assignments)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"unknown assignment(s) {', '.join(unknown)}: solutions/ holds {', '.join(known) or 'none'}"
            )
    out_dir = Path(out_dir) if out_dir is not None else RELEASE_DIR
    written = []
    with tempfile.TemporaryDirectory(prefix="dlcourse-release-") as tmp:
        root = Path(tmp)
        ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", "*.db", "*.db-journal")
        for name in names:
            shutil.copytree(SOURCE_DIR / name, root / "source" / name, ignore=ignore)
        config = _load_config(root, "sqlite:///" + str(root / "gradebook.db"))
        for name in names:
            config.CourseDirectory.assignment_id = name
            coursedir = CourseDirectory(config=config)
            converter = GenerateAssignment(coursedir=coursedir, config=config)
            log, level, errors = converter.log, converter.log.level, _Collect()
            log.addHandler(errors)
            if quiet:
                log.setLevel(logging.WARNING)
            try:
                with tools_on_path():
                    converter.start()
            except Exception as err:  # nbgrader raises NbGraderException or anything a preprocessor raises
                details = "\n".join(errors.messages) or str(err)
                raise RuntimeError(f"nbgrader generate_assignment failed for {name}:\n{details}") from err
            finally:
                log.removeHandler(errors)
                log.setLevel(level)
            generated = root / "release" / name
            if not generated.is_dir():
                raise RuntimeError(f"nbgrader generate_assignment wrote nothing for {name}")
            target = out_dir / name
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(generated, target, copy_function=shutil.copyfile)
            written.append(target)
    return written
