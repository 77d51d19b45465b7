"""Per-student feedback: every task, its points and what to do about it.

Feedback is built only from :class:`~autograder.grading.SubmissionResult` messages, which
name input shapes and kinds of error but never a hidden test's code or an expected value.

Much of that text is the student's: error messages their code raised, cell ids, file names,
the student id.  It is escaped for each format, so it shows as the text it is and can neither
run in a browser (HTML feedback, or Markdown rendered to HTML, where raw HTML passes) nor add
links, images or table columns.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

# Outside code spans: HTML's three (as entities), and Markdown's backslash, link, emphasis,
# strikethrough and table characters (backslash-escaped).  "#", "+" and "-" mean something only
# at the start of a line, and every line starts with text of ours.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def md_text(text) -> str:
    """``text`` as literal Markdown: one line, no HTML, no links, no emphasis, no table cell
    breaks.  Code spans (text between single backticks, as our messages quote names) stay code
    spans when the backticks pair up; their content cannot escape them but through a backtick."""
    text = _CONTROL.sub(" ", str(text))
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no code spans at all
        parts = [text]
    out = []
    for index, part in enumerate(parts):
        if index % 2:  # inside a code span: only "|" means something there (a table cell break)
            out.append("`" + (part.replace("|", "\\|") or " ") + "`")
        else:
            part = html.escape(part, quote=False)
            out.append(_MD_SPECIAL.sub(r"\\\1", part))
    return "".join(out)


def markdown(result) -> str:
    lines = [f"# Feedback: {md_text(result.assignment)}", "",
             f"Student: {md_text(result.student)}  ", f"Score: **{result.score:g} / {result.max_score:g}**", "",
             "| task | points | feedback |", "|---|---|---|"]
    for task in result.tasks:
        lines.append(f"| {md_text('`' + task.function + '`')} | {task.points:g} / {task.max_points:g} "
                     f"| {md_text(task.message)} |")
    if result.notices:
        lines += ["", "## Notes", ""] + [f"- {md_text(n)}" for n in result.notices]
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
    # No script may run in this page whatever it holds (a second guard beside the escaping).
    csp = "default-src 'none'; style-src 'unsafe-inline'"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{csp}">
<title>Feedback: {html.escape(result.assignment)}</title>
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
    (folder / f"{result.assignment}.md").write_text(markdown(result), encoding="utf-8",
                                                    errors="backslashreplace")
    (folder / f"{result.assignment}.html").write_text(render_html(result), encoding="utf-8",
                                                      errors="backslashreplace")
