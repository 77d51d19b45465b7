"""The notebooks: committed clean, executable top to bottom, and teaching the library's code.

* Every notebook in git carries no outputs and no execution counts.
* Every book chapter and every solution notebook runs top to bottom under papermill
  (``@pytest.mark.slow``).  Book chapters get the smoke-sized parameters below for the names
  they declare in their ``parameters`` cell; solution notebooks get nothing unless they declare
  one of those names.  The chapters run once per session, in the smoke build of the book
  (``smoke_book`` fixture, tests/smoke_book.py, ``scripts/build_book.py --smoke``), whose HTML
  the browser tests read; each chapter's result is asserted here under its own name.
* A failing notebook is reported with its path, the failing cell and the error.
* Book pages display the library's code (``show_source`` / ``inspect.getsource``) and never
  define a function of their own under a name the library exports.
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent

BOOK_NOTEBOOKS = sorted(REPO_ROOT.glob("book/*.ipynb"))
SOLUTION_NOTEBOOKS = sorted(REPO_ROOT.glob("solutions/*/*.ipynb"))

# Smoke-sized values for the parameters the book's notebooks declare; a notebook only receives
# the names its own ``parameters`` cell assigns.
SMOKE_PARAMETERS = {
    "image_step": 8,     # 75 x 64 photograph instead of 300 x 256
    "gd_steps": 5,       # gradient-descent steps in chapter 1
    "n_demo": 16,        # input side in chapter 2's shape examples
    "max_layers": 4,     # depth of chapter 2's shrinking-map plot
    "timing_repeats": 1,     # chapter 5's live timings: one run each
    "mlp_steps": 50,         # chapter 7: toy-MLP gradient-descent steps
    "numpy_train_size": 256, # chapter 7: NumPy LeNet training images
    "numpy_epochs": 1,
    "torch_train_size": 512, # chapter 7: PyTorch LeNet training images
    "torch_epochs": 1,
    "compare_train_size": 256,  # chapter 7: 1998-vs-modern comparison
    "compare_epochs": 1,
    "lm_hidden": 32,         # chapters 14-16: the live character language models
    "lm_seconds": 2,         #   trained for 2 s each
    "numpy_lm_seconds": 2,   # chapter 15: the NumPy LSTM
    "grad_steps": 20,        # chapters 14-15: sequence length of the gradient-norm plots

    "dropout_train_size": 200,  # chapter 8: the dropout experiment's MLP
    "dropout_epochs": 2,
    "aug_train_size": 200,      # chapter 8: LeNet with and without augmentation
    "aug_epochs": 1,
    "alexnet_train_size": 256,  # chapter 8: the CPU-sized AlexNet
    "alexnet_epochs": 1,
    "vgg_train_size": 256,      # chapter 9: the CPU-sized VGG
    "vgg_epochs": 1,
    "nin_train_size": 256,      # chapter 10: the CPU-sized NiN
    "nin_epochs": 1,
    "googlenet_train_size": 128,  # chapter 11: the CPU-sized GoogLeNet
    "googlenet_epochs": 1,
    "grad_blocks": 4,           # chapter 13: gradients of a deep plain / residual stack
    "deep_blocks": 2,           # chapter 13: the deep plain / residual networks trained
    "deep_train_size": 128,
    "deep_epochs": 1,
    "resnet_train_size": 256,   # chapter 13: the CPU-sized ResNet
    "resnet_epochs": 1,
    "hist_images": 300,      # chapter 12: images through the deep MLP of the histograms
    "bn_train_size": 256,    # chapter 12: LeNet with and without batch norm
    "bn_epochs": 1,
    # chapter 17: the deep MLPs whose gradients are compared
    "act_depth": 8,
    "act_grad_images": 64,
    # chapter 18: the deep MLP / CNN measured, and the short training comparison
    "init_depth": 8,
    "init_cnn_depth": 4,
    "init_grad_images": 32,
    "init_train_size": 256,
    "init_epochs": 1,
    # chapter 20: the page's three autoencoders
    "ae_train_size": 300,
    "ae_epochs": 1,
    # chapter 21: the page's two GANs and the classifier that counts their digits
    "gan_steps": 30,
    "gan_pretrain": 10,
    "clf_train_size": 300,
    "clf_epochs": 1,
    # chapter 19 (overfitting and regularization): five small MLP runs
    "reg_train_size": 200,
    "reg_val_size": 300,
    "reg_test_size": 500,
    "reg_epochs": 6,
    # chapter 22 (transfer learning): a short pretraining, two label counts, short transfer runs
    "tl_pretrain_size": 600,
    "tl_pretrain_epochs": 1,
    "tl_labels": [10, 50],
    "tl_steps": 20,
}

# Real data for the notebooks that load it (chapter 7's MNIST): ``../shared/data`` beside the
# checkout, as in CI, unless a data folder is already named.  Without it the loaders follow
# their own policy (cache, download, or the scikit-learn fallback with a warning).


def _load_notebooks_module():
    spec = importlib.util.spec_from_file_location("course_notebooks", REPO_ROOT / "scripts" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


notebooks = _load_notebooks_module()


def _rel(path):
    return str(Path(path).relative_to(REPO_ROOT))


def _code_cells(path):
    nb = nbformat.read(str(path), as_version=4)
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _python_source(cell):
    """A code cell's source with IPython magics and shell escapes blanked out."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in cell.source.splitlines())


# --- (a) committed notebooks are clean -----------------------------------------------------------

def _committed_notebooks():
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        return []
    result = subprocess.run(["git", "ls-files", "-z", "--", "*.ipynb"], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=False)
    return sorted(p for p in result.stdout.split("\0") if p)


COMMITTED = _committed_notebooks()


@pytest.mark.skipif(not COMMITTED, reason="not a git checkout, or no notebook is tracked yet")
@pytest.mark.parametrize("path", COMMITTED)
def test_committed_notebook_has_no_outputs_or_execution_counts(path):
    full = REPO_ROOT / path
    if not full.exists():
        pytest.skip(f"{path} is tracked but deleted in the working tree")
    dirty = []
    for index, cell in enumerate(nbformat.read(str(full), as_version=4).cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            dirty.append(f"cell {index} has {len(cell.outputs)} output(s)")
        if cell.get("execution_count") is not None:
            dirty.append(f"cell {index} has execution_count {cell.execution_count}")
    assert not dirty, (
        f"{path} must be committed without outputs ({'; '.join(dirty)}); "
        f"clear them with `jupyter nbconvert --clear-output --inplace {path}`"
    )


# --- (b) every book and solution notebook executes -------------------------------------------------

def _smoke_parameters(path):
    declared = notebooks.declared_parameters(path)
    return {name: value for name, value in SMOKE_PARAMETERS.items() if name in declared}


@pytest.mark.slow
@pytest.mark.parametrize("path", BOOK_NOTEBOOKS + SOLUTION_NOTEBOOKS, ids=_rel)
def test_notebook_executes_top_to_bottom(path, tmp_path, request):
    if path.parent.name == "book":
        # Book chapters are executed once per session, by the smoke build of the book
        # (tests/smoke_book.py) whose HTML the browser tests read; this asserts its result.
        book = request.getfixturevalue("smoke_book")
        result = book.notebooks.get(_rel(path))
        if result is None:
            pytest.skip(f"{_rel(path)} is not in the smoke build's table of contents ({book.toc})")
        assert result["ok"], result["error"]
        return
    executed = notebooks.execute_notebook(path, tmp_path / path.name, parameters=_smoke_parameters(path),
                                          cwd=path.parent, timeout=300)
    errors = [out for cell in executed.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors


def test_book_chapters_declare_smoke_parameters_in_their_first_code_cell():
    assert BOOK_NOTEBOOKS, "no notebook under book/"
    for path in BOOK_NOTEBOOKS:
        first = _code_cells(path)[0]
        assert "parameters" in first.metadata.get("tags", []), (
            f"{_rel(path)}: the first code cell must be tagged 'parameters' (papermill)"
        )
        assert notebooks.declared_parameters(path), f"{_rel(path)}: the parameters cell assigns nothing"


def test_every_book_notebook_is_in_the_table_of_contents():
    toc = (REPO_ROOT / "_toc.yml").read_text()
    listed = set(re.findall(r"file:\s*(\S+)", toc)) | {yaml.safe_load(toc)["root"]}
    for path in BOOK_NOTEBOOKS:
        entry = _rel(path)[: -len(".ipynb")]
        assert entry in listed, f"{_rel(path)} is not in _toc.yml, so the book would silently drop it"
    for entry in listed:
        assert any((REPO_ROOT / f"{entry}{ext}").exists() for ext in (".ipynb", ".md")), (
            f"_toc.yml lists {entry!r} but no such page exists"
        )


# --- (c) failures say where they happened ------------------------------------------------------

def test_failure_names_the_notebook_the_cell_and_the_error(tmp_path):
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    params = new_code_cell("divisor = 1")
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[
        new_markdown_cell("# A notebook that fails"),
        params,
        new_code_cell("x = 1"),
        new_code_cell("\nresult = x / divisor  # the failing line\nprint(result)"),
        new_code_cell("print('never reached')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src = tmp_path / "broken_example.ipynb"
    nbformat.write(nb, str(src))

    with pytest.raises(notebooks.NotebookExecutionError) as info:
        notebooks.execute_notebook(src, tmp_path / "out" / "broken_example.ipynb",
                                   parameters={"divisor": 0}, timeout=120)
    err = info.value
    message = str(err)
    assert "broken_example.ipynb" in message
    # Index 3 in the source notebook, although papermill inserted a cell for the parameters.
    assert err.cell_index == 3 and "cell 3" in message
    assert "result = x / divisor" in message
    assert "ZeroDivisionError" in message and "division by zero" in message


def test_declared_parameters_reads_the_tagged_cell(tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook

    tagged = new_code_cell("steps = 10\nsize, depth = 4, 2  # a comment\n")
    tagged.metadata["tags"] = ["parameters"]
    path = tmp_path / "p.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("other = 1"), tagged]), str(path))
    assert notebooks.declared_parameters(path) == {"steps", "size", "depth"}
    nbformat.write(new_notebook(cells=[new_code_cell("other = 1")]), str(path))
    assert notebooks.declared_parameters(path) == set()


@pytest.mark.parametrize("path", BOOK_NOTEBOOKS, ids=_rel)
def test_book_page_title_has_no_math(path):
    # A page's title is repeated in every page's navigation, and Sphinx loads MathJax only on
    # pages with math of their own: "$1 \\times 1$" showed as raw TeX in the sidebar of others.
    nb = nbformat.read(str(path), as_version=4)
    titles = [line for cell in nb.cells if cell.cell_type == "markdown"
              for line in cell.source.splitlines() if line.startswith("# ")]
    assert titles, f"{_rel(path)} has no '# ' title"
    assert "$" not in titles[0], f"{_rel(path)}: the title {titles[0]!r} holds math; write it in plain text (1×1)"


# --- (d) the book teaches the library's code ----------------------------------------------------

def _library_names():
    import dlcourse
    from dlcourse import numpy_ops, torch_ops

    return set(numpy_ops.__all__) | set(torch_ops.__all__) | (set(dlcourse.__all__) - {"numpy_ops", "torch_ops"})


@pytest.mark.parametrize("path", BOOK_NOTEBOOKS, ids=_rel)
def test_book_page_does_not_redefine_library_functions(path):
    library = _library_names()
    for index, cell in enumerate(_code_cells(path)):
        tree = ast.parse(_python_source(cell))
        for node in ast.walk(tree):
            defined = None
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined = node.name
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
                defined = next((t.id for t in node.targets if isinstance(t, ast.Name)), None)
            assert defined not in library, (
                f"{_rel(path)}, code cell {index}: defines {defined!r}, which dlcourse exports. "
                "Show the library's version (show_source) and call it instead of a second copy."
            )


SHOWN = re.compile(r"\b(?:show_source|inspect\.getsource)\(\s*([A-Za-z_][\w.]*)\s*\)")


def _imported_from_library(path):
    """The names a page imports from the library (``from dlcourse.text import Vocab``,
    ``from dlcourse import optim``), so that ``show_source(Vocab.__init__)`` counts too."""
    names = {}
    for cell in _code_cells(path):
        for node in ast.walk(ast.parse(_python_source(cell))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "dlcourse":
                module = importlib.import_module(node.module)
                for alias in node.names:
                    try:
                        obj = getattr(module, alias.name)
                    except AttributeError:  # a submodule that the package does not import itself
                        obj = importlib.import_module(f"{node.module}.{alias.name}")
                    names[alias.asname or alias.name] = obj
    return names


@pytest.mark.parametrize("path", BOOK_NOTEBOOKS, ids=_rel)
def test_book_page_shows_library_source_that_exists(path):
    import dlcourse
    import dlcourse.plot
    from dlcourse import numpy_ops, torch_ops

    namespace = {"dlcourse": dlcourse, "numpy_ops": numpy_ops, "torch_ops": torch_ops,
                 "show_source": dlcourse.plot.show_source,
                 "conv_output_shape": dlcourse.conv_output_shape}
    namespace.update(_imported_from_library(path))
    shown = [m.group(1) for cell in _code_cells(path) for m in SHOWN.finditer(cell.source)]
    from_library = [name for name in shown if name.split(".")[0] in namespace]
    assert from_library, (
        f"{_rel(path)} never displays library code with show_source(...) or inspect.getsource(...)"
    )
    for name in from_library:
        obj = namespace[name.split(".")[0]]
        for attr in name.split(".")[1:]:
            assert hasattr(obj, attr), f"{_rel(path)} shows {name}, which does not exist in dlcourse"
            obj = getattr(obj, attr)
        module = getattr(obj, "__module__", "") or ""
        assert module.startswith("dlcourse"), f"{_rel(path)} shows {name}, defined in {module!r}"


# --- (e) a section page that rebuilds an earlier page's state rebuilds the same thing -------------

def _top_level(path):
    """``name -> ast.dump`` of every function a page defines, and ``[ast.dump]`` of its calls to
    ``split_dataset`` and of its assignments to the toy problem's names."""
    functions, statements = {}, []
    for cell in _code_cells(path):
        for node in ast.parse(_python_source(cell)).body:
            if isinstance(node, ast.FunctionDef):
                functions[node.name] = ast.dump(node)
            elif isinstance(node, ast.Assign):
                names = {t.id for t in ast.walk(node) if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)}
                calls = [c for c in ast.walk(node.value) if isinstance(c, ast.Call)]
                if names & {"toy_rng", "X_toy", "mlp_hidden", "params"} or any(
                        getattr(c.func, "id", None) == "split_dataset" for c in calls):
                    statements.append(ast.dump(node))
    return functions, statements


@pytest.mark.parametrize("section, chapter_page, names", [
    ("book/07a_mlp_autograd.ipynb", "book/07_lenet.ipynb", ("spirals", "mlp_init", "mlp_forward", "mlp_backward")),
    ("book/07b_softmax_sgd.ipynb", "book/07_lenet.ipynb", ("spirals", "mlp_init", "mlp_forward", "mlp_backward")),
    ("book/07d_lenet_pytorch.ipynb", "book/07c_lenet_numpy.ipynb", ("standard_error",)),
    ("book/07e_lenet_results.ipynb", "book/07c_lenet_numpy.ipynb", ("standard_error",)),
])
def test_chapter_7_sections_rebuild_what_the_earlier_page_shows(section, chapter_page, names):
    """Chapter 7's sections rebuild the toy MLP of the chapter page, or the MNIST split of
    07c_lenet_numpy, in a hidden cell: the code must stay the code the reader saw there."""
    shown_functions, shown_statements = _top_level(REPO_ROOT / chapter_page)
    rebuilt_functions, rebuilt_statements = _top_level(REPO_ROOT / section)
    for name in names:
        assert rebuilt_functions.get(name) == shown_functions[name], f"{section}: {name} differs from {chapter_page}'s"
    assert rebuilt_statements and all(s in shown_statements for s in rebuilt_statements), (
        f"{section}: the rebuilt toy problem or data split differs from {chapter_page}'s")
