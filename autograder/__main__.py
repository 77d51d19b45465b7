"""Command line: ``python -m autograder {grade,check,release} ...``.

    python -m autograder grade --assignment A --submissions DIR [--workers N] [--db URL]
                               [--out DIR] [--scheduler ADDRESS]
    python -m autograder check NOTEBOOK
    python -m autograder release [A ...]
"""
from __future__ import annotations

import argparse
import sys


def _grade(args):
    from autograder.batch import grade

    limits = {}
    if args.cell_timeout:
        limits["cell_timeout"] = args.cell_timeout
    from autograder.batch import GraderFault
    from autograder.sandbox import SandboxUnavailable

    try:
        results = grade(args.assignment, args.submissions, workers=args.workers, db_url=args.db,
                        out_dir=args.out, scheduler=args.scheduler, limits=limits or None,
                        allow_weak_sandbox=args.allow_weak_sandbox)
    except SandboxUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except GraderFault as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    from autograder.batch import SANDBOX

    if SANDBOX and not args.scheduler:
        print(f"sandbox: {SANDBOX['isolation']}; kernel layers: {SANDBOX['confinement']}", file=sys.stderr)
    if not results:
        print(f"no submissions of {args.assignment} under {args.submissions} "
              f"(expected <student>/{args.assignment}/{args.assignment}.ipynb)", file=sys.stderr)
        return 1
    width = max(len(r.student) for r in results)
    for r in results:
        print(f"{r.student:<{width}}  {r.score:g} / {r.max_score:g}")
    print(f"{len(results)} submissions graded; grades, feedback and records in "
          f"{args.out}/{args.assignment}/")
    return 0


def _check(args):
    from autograder.check import main

    return main(args.notebook, timeout=args.timeout)


def _release(args):
    from autograder.release import list_assignments, release

    names = args.assignments or list_assignments()
    release(names)
    print("released: " + ", ".join(names))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade a folder of submissions")
    g.add_argument("--assignment", required=True)
    g.add_argument("--submissions", required=True, help="folder of <student>/<assignment>/<notebook>.ipynb")
    g.add_argument("--workers", type=int, default=2, help="parallel submissions (default 2)")
    g.add_argument("--db", default=None, help="SQLAlchemy URL of the nbgrader gradebook "
                   "(default sqlite:///<out>/gradebook.db)")
    g.add_argument("--out", default="grading", help="output folder (default ./grading)")
    g.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    g.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell (default 10)")
    g.add_argument("--allow-weak-sandbox", action="store_true",
                   help="grade even where student code cannot be isolated in Linux namespaces")
    g.set_defaults(func=_grade)
    c = sub.add_parser("check", help="run a notebook's visible tests and the grader's own checks, "
                       "and show the points")
    c.add_argument("notebook")
    c.add_argument("--timeout", type=float, default=None,
                   help="seconds per cell (default: the grader's, 10)")
    c.set_defaults(func=_check)
    r = sub.add_parser("release", help="regenerate exercises/ from solutions/")
    r.add_argument("assignments", nargs="*")
    r.set_defaults(func=_release)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
