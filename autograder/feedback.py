"""Per-student feedback: every task, its points and what to do about it.

Feedback is built only from :class:`~autograder.grading.SubmissionResult` messages, which
name input shapes and kinds of error but never a hidden test's code or an expected value.
"""
from __future__ import annotations

import html
from pathlib import Path


def markdown(result) -> str:
    lines = [f"# Feedback: {result.assignment}", "",
             f"Student: `{result.student}`  ", f"Score: **{result.score:g} / {result.max_score:g}**", "",
             "| task | points | feedback |", "|---|---|---|"]
    for task in result.tasks:
        message = task.message.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{task.function}` | {task.points:g} / {task.max_points:g} | {message} |")
    if result.notices:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result.notices]
    lines += ["", "Check your work before submitting with `python -m autograder check <notebook>`."]
    return "\n".join(lines) + "\n"


def render_html(result) -> str:
    rows = "\n".join(
        f"<tr class='{'pass' if t.points == t.max_points else 'fail'}'><td><code>{html.escape(t.function)}</code></td>"
        f"<td>{t.points:g} / {t.max_points:g}</td><td>{html.escape(t.message)}</td></tr>"
        for t in result.tasks
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notices)
    notes_html = f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Feedback: {html.escape(result.assignment)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.4em .6em;text-align:left}}tr.pass td:nth-child(2){{color:#17702b}}
tr.fail td:nth-child(2){{color:#b00020}}</style></head><body>
<h1>Feedback: {html.escape(result.assignment)}</h1>
<p>Student: <code>{html.escape(result.student)}</code><br>Score: <strong>{result.score:g} / {result.max_score:g}</strong></p>
<table><tr><th>task</th><th>points</th><th>feedback</th></tr>
{rows}
</table>{notes_html}
<p>Check your work before submitting with <code>python -m autograder check &lt;notebook&gt;</code>.</p>
</body></html>
"""


def write(folder: Path, result):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{result.assignment}.md").write_text(markdown(result), encoding="utf-8")
    (folder / f"{result.assignment}.html").write_text(render_html(result), encoding="utf-8")
