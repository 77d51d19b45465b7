"""The built book must read offline: nothing it loads may come from the network."""
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests"))


def test_mathjax_is_served_from_the_book_itself(tmp_path):
    import build_book

    config = yaml.safe_load((REPO / "_config.yml").read_text())["sphinx"]["config"]
    assert not config["mathjax_path"].startswith(("http:", "https:", "//"))
    build_book.stage_mathjax(tmp_path / "mathjax")
    assert (tmp_path / config["mathjax_path"]).is_file()


def test_no_page_source_loads_a_script_from_the_network():
    for page in [*REPO.glob("book/*.md"), *REPO.glob("book/*.ipynb"), REPO / "_config.yml"]:
        text = page.read_text()
        assert "<script src=\"http" not in text and "cdn.jsdelivr" not in text, page


# --- the offline extension (book/_ext/book_offline.py) and the build script ---------------------

def _book_offline():
    sys.path.insert(0, str(REPO / "book" / "_ext"))
    import book_offline

    return book_offline


def test_config_loads_the_offline_extension_and_the_layout_css():
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["launch_buttons"]["thebe"] is False
    assert config["sphinx"]["local_extensions"] == {"book_offline": "book/_ext"}
    sphinx = config["sphinx"]["config"]
    assert "book/_static" in sphinx["html_static_path"]
    assert "book.css" in sphinx["html_css_files"]
    assert sphinx["html_show_search_summary"] is False  # summaries come from search-texts.js
    assert "book-math.js" in sphinx["html_js_files"]
    for name in sphinx["html_css_files"] + sphinx["html_js_files"]:
        assert (REPO / "book" / "_static" / name).is_file()
    assert (REPO / "book" / "_static" / "search-offline.js").is_file()


def test_search_text_leaves_out_math_scripts_and_header_links():
    plain_text = _book_offline().plain_text
    html = ('<h2>Pooling<a class="headerlink" href="#p">¶</a></h2>'
            '<p>The output has <span class="math notranslate nohighlight">\\(\\lfloor n/s \\rfloor\\)'
            '</span> rows.<br/>Next.</p><div class="math notranslate nohighlight">\\[ y = '
            '\\frac{1}{2} \\]</div><script>var x = "$$";</script><style>p {}</style><p>End.</p>')
    assert plain_text(html) == "Pooling The output has rows. Next. End."


def test_thebe_and_network_scripts_are_dropped_from_every_page():
    offline = _book_offline()

    class Asset:
        def __init__(self, filename, **attributes):
            self.filename, self.attributes = filename, attributes

    scripts = [Asset(None, body='const THEBE_JS_URL = "https://unpkg.com/thebe@0.8.2/lib/index.js"'),
               Asset("sphinx-thebe.js"), Asset("https://cdn.example/x.js"), Asset("//cdn/x.js"),
               Asset("doctools.js"), Asset("mathjax/tex-mml-chtml.js")]
    css = [Asset("sphinx-thebe.css"), Asset("book.css")]
    context = {"script_files": scripts, "css_files": css}
    original = context["script_files"]
    offline._page_context(None, "book/x", "page.html", context, None)
    assert [s.filename for s in context["script_files"]] == ["doctools.js", "mathjax/tex-mml-chtml.js"]
    assert context["script_files"] is original  # filtered in place: Sphinx restores it per page
    assert [c.filename for c in context["css_files"]] == ["book.css"]


def test_smoke_parameters_are_those_of_the_notebook_tests():
    import build_book
    import test_notebooks

    assert build_book.smoke_parameters() == test_notebooks.SMOKE_PARAMETERS


def test_parameter_cells_are_tagged_remove_cell(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook
    from notebooks import hide_parameter_cells

    params = new_code_cell("steps = 10")
    params.metadata["tags"] = ["parameters"]
    injected = new_code_cell("# Parameters\nsteps = 2")
    injected.metadata["tags"] = ["injected-parameters"]
    path = tmp_path / "p.ipynb"
    nbformat.write(new_notebook(cells=[params, injected, new_code_cell("print(steps)")]), str(path))
    assert hide_parameter_cells(path) == 2
    tags = [cell.metadata.get("tags", []) for cell in nbformat.read(str(path), as_version=4).cells]
    assert tags == [["parameters", "remove-cell"], ["injected-parameters", "remove-cell"], []]
    assert hide_parameter_cells(path) == 0


def test_exercises_are_staged_beside_book(tmp_path):
    import build_book

    build_book.stage_exercises(tmp_path)
    for notebook in REPO.glob("exercises/*/*.ipynb"):
        assert (tmp_path / notebook.relative_to(REPO)).is_file()


def _tiny_book(root, link):
    """A one-page book with this project's _config.yml whose page links ``link`` by {download}."""
    import shutil

    import build_book

    shutil.copy2(REPO / "_config.yml", root / "_config.yml")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    shutil.copytree(REPO / "book" / "_ext", root / "book" / "_ext")
    shutil.copytree(REPO / "book" / "_static", root / "book" / "_static")
    shutil.copy2(REPO / "book" / "references.bib", root / "book" / "references.bib")
    build_book.stage_mathjax(root / "_mathjax" / "mathjax")
    (root / "book" / "intro.md").write_text(f"# Tiny\n\nThe assignment: {{download}}`a <{link}>`.\n")


@pytest.mark.slow
def test_book_build_fails_when_a_downloaded_notebook_is_missing(tmp_path):
    import subprocess

    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    _tiny_book(tmp_path, "../exercises/ch99_x/ch99_x.ipynb")

    def build():
        return subprocess.run([str(jupyter_book), "build", str(tmp_path), "-W", "-n", "--keep-going"],
                              capture_output=True, text=True, cwd=tmp_path)

    missing = build()
    assert missing.returncode != 0 and "ch99_x.ipynb" in missing.stdout + missing.stderr
    (tmp_path / "exercises" / "ch99_x").mkdir(parents=True)
    (tmp_path / "exercises" / "ch99_x" / "ch99_x.ipynb").write_text('{"cells": [], "nbformat": 4}')
    present = build()
    assert present.returncode == 0, present.stdout[-3000:] + present.stderr[-3000:]
    assert list((tmp_path / "_build" / "html" / "_downloads").rglob("ch99_x.ipynb"))


def _notebook(path, *sources):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.mark.slow
def test_notebooks_executed_at_once_each_run_in_their_own_folder(tmp_path):
    # papermill chdirs the whole calling process: two notebooks started from one process at once
    # could run in each other's folder (CI once ran chapter 7 in the checkout's root that way).
    import os

    import build_book
    from notebooks import NotebookExecutionError

    check = ("import os, time\ntime.sleep(3)\n"
             "assert os.path.basename(os.getcwd()) == {name!r}, os.getcwd()")
    work = [(name, _notebook(tmp_path / name / "page.ipynb", check.format(name=name)),
             tmp_path / "out" / name / "page.ipynb", {}) for name in ("first", "second", "third")]
    work.append(("broken", _notebook(tmp_path / "broken" / "page.ipynb", "x = 1", "1 / 0"),
                 tmp_path / "out" / "broken" / "page.ipynb", {}))
    here = os.getcwd()
    results = build_book.execute_notebooks(work, jobs=3, timeout=60, keep_going=True)
    assert os.getcwd() == here
    assert [name for name, result in results.items() if result["ok"]] == ["first", "second", "third"]
    assert "cell 1 ('1 / 0') failed: ZeroDivisionError" in results["broken"]["error"]
    with pytest.raises(NotebookExecutionError) as raised:
        build_book.execute_notebooks(work[-1:], timeout=60)
    assert (raised.value.cell_index, raised.value.ename) == (1, "ZeroDivisionError")
