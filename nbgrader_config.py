"""nbgrader configuration for the course (read by every ``nbgrader`` command run from the repo root).

Layout: ``solutions/<assignment>/<assignment>.ipynb`` are the source notebooks (solutions and
hidden tests), ``exercises/<assignment>/`` the student release that ``nbgrader generate_assignment``
writes from them. ``python -m autograder release`` regenerates ``exercises/`` through
``autograder/release.py``, which loads this file and only overrides ``root`` and ``db_url`` so that
it runs in a throwaway copy with a throwaway gradebook.

The gradebook is never committed: it lives at ``$DLCOURSE_DB_URL`` (any SQLAlchemy URL) or, by
default, at ``_build/gradebook.db`` (``_build/`` is gitignored).

Settings that nbgrader has defaults for are spelled out where the release depends on them, so the
generated ``exercises/`` stays byte-for-byte reproducible across machines (a test checks it).
"""
import os

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

_ROOT = os.path.dirname(os.path.abspath(__file__))

# --- course layout ------------------------------------------------------------------------------
c.CourseDirectory.root = _ROOT
c.CourseDirectory.course_id = "dlcourse"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.directory_structure = "{nbgrader_step}/{student_id}/{assignment_id}"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.db", "*.db-journal"]

# --- gradebook (never committed) ----------------------------------------------------------------
_db_url = os.environ.get("DLCOURSE_DB_URL")
if not _db_url:
    os.makedirs(os.path.join(_ROOT, "_build"), exist_ok=True)
    _db_url = "sqlite:///" + os.path.join(_ROOT, "_build", "gradebook.db")
c.CourseDirectory.db_url = _db_url

# --- what generate_assignment writes (pinned: the release must be reproducible) -----------------
c.GenerateAssignment.create_assignment = True
c.IncludeHeaderFooter.header = ""
c.IncludeHeaderFooter.footer = ""
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearSolutions.enforce_metadata = True
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"
c.ClearHiddenTests.enforce_metadata = True
c.LockCells.lock_solution_cells = True
c.LockCells.lock_grade_cells = True
c.LockCells.lock_readonly_cells = True
c.LockCells.lock_all_cells = False
c.ClearOutput.remove_metadata_fields = ["collapsed", "scrolled"]

# --- validate / autograde execution -------------------------------------------------------------
c.Execute.timeout = 120
c.Execute.kernel_name = "python3"
