"""Sphinx extension: the book reads offline, from ``file://``, without a console error.

* Thebe (live code through a Binder kernel) cannot work offline: sphinx-thebe, which Jupyter
  Book always loads, still puts an inline script declaring ``const THEBE_JS_URL`` (a CDN
  address) into every page, and declares it twice when the build environment is read twice,
  which is a SyntaxError in the console.  Every script that is Thebe's or comes from the
  network is dropped from each page.
* pydata-sphinx-theme needs a ``default_mode`` (else a console error on a first visit): "auto",
  the reader's system setting.
* Search: Sphinx's search page fetches every hit's HTML to cut a summary from it.  A browser
  refuses ``fetch`` on ``file://`` (a console error per hit), and the text it cuts from holds the
  raw TeX of the equations.  ``html_show_search_summary`` is off in _config.yml; this extension
  writes ``_static/search-texts.js``, the plain text of every page with the math, scripts and
  header links left out, and the search page loads it with ``search-offline.js`` (book/_static),
  which shows a summary around the first search term from it.
"""
from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

TEXTS_FILE = "search-texts.js"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
# Elements that end a run of text: a space keeps words of neighbouring blocks apart.
BLOCKS = {"p", "div", "section", "li", "td", "th", "tr", "br", "pre", "h1", "h2", "h3", "h4",
          "h5", "h6", "dt", "dd", "table", "ul", "ol", "blockquote", "figure", "figcaption"}
MAX_CHARS = 50_000  # per page: enough to find a term in the longest chapter's prose


class _PlainText(HTMLParser):
    """The text of an HTML fragment without math (``class="math"``), scripts, styles and ¶ links."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.skip_depth = 0

    @staticmethod
    def _skipped(tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        return tag in ("script", "style") or "math" in classes or "headerlink" in classes

    def handle_starttag(self, tag, attrs):
        if tag in BLOCKS and not self.skip_depth:
            self.parts.append(" ")
        if tag in VOID:
            return
        if self.skip_depth:
            self.skip_depth += 1
        elif self._skipped(tag, attrs):
            self.skip_depth = 1

    def handle_endtag(self, tag):
        if tag not in VOID and self.skip_depth:
            self.skip_depth -= 1
        elif tag in BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self.skip_depth:
            self.parts.append(data)

    def text(self):
        return " ".join("".join(self.parts).split())


def plain_text(html):
    """Readable text of a page body: no TeX, no scripts, whitespace collapsed."""
    parser = _PlainText()
    parser.feed(html)
    parser.close()
    return parser.text()[:MAX_CHARS]


def _is_thebe_or_remote(script):
    filename = str(getattr(script, "filename", script) or "")
    body = str(getattr(script, "attributes", {}).get("body", "") or "")
    return ("thebe" in filename.lower() or "THEBE" in body
            or filename.startswith(("http:", "https:", "//")))


def _page_context(app, pagename, templatename, context, doctree):
    # In place: the lists are the builder's own, which add_js_file below appends to and which
    # Sphinx restores after each page.
    if "script_files" in context:
        context["script_files"][:] = [s for s in context["script_files"] if not _is_thebe_or_remote(s)]
    if "css_files" in context:
        context["css_files"][:] = [c for c in context["css_files"] if not _is_thebe_or_remote(c)]
    if pagename == "search":
        app.add_js_file(TEXTS_FILE)
        app.add_js_file("search-offline.js")
    elif doctree is not None and "body" in context:
        app.env.book_search_texts = getattr(app.env, "book_search_texts", {})
        app.env.book_search_texts[pagename] = plain_text(context["body"])


def _write_texts(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    texts = getattr(app.env, "book_search_texts", {})
    target = Path(app.outdir) / "_static" / TEXTS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("// Plain text of every page for offline search summaries "
                      "(book/_ext/book_offline.py).\nwindow.BOOK_SEARCH_TEXTS = "
                      + json.dumps(texts, ensure_ascii=False, sort_keys=True) + ";\n",
                      encoding="utf-8")


def _theme_defaults(app, config):
    # pydata-sphinx-theme logs a console error ("Got invalid theme mode") on a first visit
    # when no default mode is configured: follow the reader's system setting (light or dark).
    # The theme's layout reads it from the template context.
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")
    config.html_context = context


def setup(app):
    app.connect("config-inited", _theme_defaults)
    # Priority 900: after sphinx-thebe and the themes have filled the page's script list.
    app.connect("html-page-context", _page_context, priority=900)
    app.connect("build-finished", _write_texts)
    return {"parallel_read_safe": True, "parallel_write_safe": False}
