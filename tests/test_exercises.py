"""The exercise notebooks: source format, the generated release, and nbgrader's verdicts.

* ``solutions/<A>/<A>.ipynb`` follow the contract the autograder relies on (grade ids, points,
  locked cells, markers) -- checked statically, fast;
* ``exercises/`` is exactly what ``autograder.release.release()`` (nbgrader generate_assignment)
  writes today -- regenerated into a temp dir and compared byte for byte;
* ``nbgrader validate`` gives every solution notebook full marks, and ``nbgrader validate
  --invert`` confirms that every released notebook fails all its tests.
"""
from __future__ import annotations

import ast
import difflib
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"

# The contract with the autograder: assignment -> {function: points}.
EXPECTED_TASKS = {
    "ch01_cross_correlation": {"convolve2d_loops": 3, "corr2d_batch": 3, "input_gradient": 4},
    "ch02_padding_stride": {"conv_output_size": 2, "pad2d": 3, "corr2d_strided": 5},
    "ch03_channels": {"corr2d_depthwise": 3, "corr2d_multi_in_out_batch": 3, "conv1x1_batch": 2, "conv2d_torch": 2},
    "ch04_pooling": {"max_pool2d_forward": 3, "avg_pool2d_forward": 2, "max_pool2d_backward": 3,
                     "avg_pool2d_backward": 2},
    "ch05_conv_as_matmul": {"im2col": 3, "conv2d_gemm": 4, "col2im": 3},
    "ch06_backprop": {"conv2d_backward_input": 3, "conv2d_backward_weight": 3, "conv2d_backward_bias": 1,
                      "numerical_gradient_of_conv": 3},
    "ch07_lenet": {"softmax_cross_entropy_loss": 2, "softmax_cross_entropy_grad": 2, "lenet_forward_backward": 3,
                   "train_and_predict": 3},
    "ch08_alexnet_vgg": {"dropout_forward": 3, "dropout_backward": 2, "vgg_complexity": 5},
    "ch10_nin_googlenet": {"nin_block_forward": 3, "inception_forward": 4, "inception_complexity": 3},
    "ch12_batchnorm_resnet": {"batch_norm_forward": 2, "batch_norm_backward": 3, "residual_block_forward": 2,
                              "train_bn_and_predict": 3},
    "ch14_rnn": {"rnn_layer_forward": 3, "rnn_layer_backward": 4, "perplexity": 3},
    "ch15_lstm": {"lstm_cell_forward": 3, "lstm_cell_backward": 4, "lstm_layer_forward": 3},
    "ch16_gru": {"gru_cell_forward": 3, "gru_layer_forward": 2, "clip_by_global_norm": 2, "train_lm_and_score": 3},
    "ch17_activations": {"prelu_forward_backward": 4, "silu_forward_backward": 3, "count_saturated": 3},
    "ch18_initialization": {"fan_in_fan_out": 3, "kaiming_uniform_bound": 3, "mlp_gradient_norms": 4},
    "ch20_autoencoders": {"reconstruction_loss": 3, "mse_sigmoid_loss": 3, "decoder_output_sizes": 2,
                          "salt_and_pepper": 2},
    "ch21_gans": {"discriminator_loss": 3, "generator_image_gradient": 4, "inception_score": 3},
    "ch19_regularization": {"dropout_linear_sgd_step": 4, "l2_penalty_total": 2, "early_stop": 4},
    "ch22_transfer_learning": {"layerwise_lrs": 3, "extract_features": 3, "fine_tune_and_predict": 4},
}
TORCH_ASSIGNMENTS = {"ch03_channels", "ch07_lenet", "ch12_batchnorm_resnet", "ch16_gru"}  # the only ones whose setup may import torch
TORCH_ASSIGNMENTS |= {"ch22_transfer_learning"}  # chapter 22: tasks 2 and 3 are PyTorch

# Real data for the test cells that load it (ch07's MNIST): ``../shared/data`` beside the
# checkout, as in CI, unless a data folder is already named.  Without it the loaders follow
# their own policy (cache, download, or the scikit-learn fallback with a warning).

ASSIGNMENTS = sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def _nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _source_nb(a):
    return _load(SOLUTIONS / a / f"{a}.ipynb")


def _release_nb(a):
    return _load(EXERCISES / a / f"{a}.ipynb")


# ---------------------------------------------------------------------------------------------
# Structure of the source notebooks (fast)
# ---------------------------------------------------------------------------------------------

def test_assignments_are_the_expected_ones_and_released():
    assert ASSIGNMENTS == sorted(EXPECTED_TASKS)
    released = sorted(p.name for p in EXERCISES.iterdir() if p.is_dir())
    assert released == ASSIGNMENTS, "exercises/ must hold exactly one folder per solutions/ assignment"
    for a in ASSIGNMENTS:
        assert sorted(p.name for p in (SOLUTIONS / a).iterdir()) == [f"{a}.ipynb"]
        assert sorted(p.name for p in (EXERCISES / a).iterdir()) == [f"{a}.ipynb"]


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_every_cell_has_schema_3_metadata_and_unique_grade_ids(a):
    nb = _source_nb(a)
    ids = []
    for cell in nb["cells"]:
        meta = _nbg(cell)
        assert meta.get("schema_version") == 3, f"{a}: cell {cell.get('id')} lacks nbgrader schema-3 metadata"
        assert {"grade", "solution", "locked", "grade_id"} <= set(meta), f"{a}: cell {cell.get('id')}: {meta}"
        ids.append(meta["grade_id"])
        if meta["grade"]:
            assert meta["locked"] and not meta["solution"] and meta["points"] > 0, f"{a}: {meta}"
        elif meta["solution"]:
            assert not meta["locked"] and cell["cell_type"] == "code", f"{a}: {meta}"
        else:
            assert meta["locked"], f"{a}: every cell but the solution cells must be locked: {meta}"
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"{a}: duplicate grade_ids {duplicates}"
    cell_ids = [c.get("id") for c in nb["cells"]]
    assert None not in cell_ids and len(set(cell_ids)) == len(cell_ids), f"{a}: cell ids must be set and unique"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_tasks_points_and_test_cells_match_the_contract(a):
    nb = _source_nb(a)
    solutions = [c for c in nb["cells"] if _nbg(c)["solution"]]
    graded = {_nbg(c)["grade_id"]: c for c in nb["cells"] if _nbg(c)["grade"]}
    points = {_nbg(c)["grade_id"]: _nbg(c)["points"] for c in graded.values()}

    names = [_nbg(c)["grade_id"] for c in solutions]
    assert names == list(EXPECTED_TASKS[a]), f"{a}: solution cells {names}"
    assert len(names) >= 3 and sum(points.values()) >= 10
    assert sum(points.values()) == 10
    assert sorted(graded) == sorted(f"test_{n}" for n in names), f"{a}: graded cells {sorted(graded)}"
    for name, pts in EXPECTED_TASKS[a].items():
        assert points[f"test_{name}"] == pts, f"{a}: test_{name} is worth {points[f'test_{name}']}, expected {pts}"

    order = [_nbg(c)["grade_id"] for c in nb["cells"]]
    for cell in solutions:
        name = _nbg(cell)["grade_id"]
        src = _source(cell)
        tree = ast.parse(src)
        defs = [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.Import, ast.ImportFrom))]
        assert defs == [name], f"{a}: solution cell {name} must define exactly the function {name}, found {defs}"
        assert len(tree.body) == 1, f"{a}: solution cell {name} must hold only the function definition"
        assert src.count("### BEGIN SOLUTION") == 1 and src.count("### END SOLUTION") == 1, name
        assert order.index(f"test_{name}") > order.index(name), f"{a}: test_{name} must come after {name}"

    for gid, cell in graded.items():
        src = _source(cell)
        assert src.count("### BEGIN HIDDEN TESTS") == 1 and src.count("### END HIDDEN TESTS") == 1, f"{a}: {gid}"
        visible = src.split("### BEGIN HIDDEN TESTS")[0]
        assert "assert_close(" in visible and "case=" in visible, f"{a}: {gid} needs visible assert_close(..., case=...)"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_parameters_setup_and_instructions(a):
    nb = _source_nb(a)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", []), f"{a}: the first code cell must be tagged 'parameters'"
    assert re.search(r"^SEED = \d+$", _source(code[0]), re.M), f"{a}: the parameters cell sets SEED"

    allowed = {"numpy", "torch"} if a in TORCH_ASSIGNMENTS else {"numpy"}
    for cell in code:
        meta = _nbg(cell)
        if meta["solution"] or meta["grade"]:
            continue
        for node in ast.walk(ast.parse(_source(cell))):
            if isinstance(node, ast.Import):
                modules = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [(node.module or "").split(".")[0]]
            else:
                continue
            assert set(modules) <= allowed, f"{a}: locked cell {meta['grade_id']} imports {modules}; allowed {allowed}"

    intro = _source(nb["cells"][0])
    assert nb["cells"][0]["cell_type"] == "markdown"
    for phrase in ("python -m autograder check", "hidden tests", "NumPy only", "YOUR CODE HERE"):
        assert phrase in intro, f"{a}: the instructions must mention {phrase!r}"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_notebooks_are_committed_without_outputs(a):
    for nb in (_source_nb(a), _release_nb(a)):
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, f"{a}: {cell.get('id')} has outputs"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_release_hides_solutions_and_hidden_tests(a):
    source, release = _source_nb(a), _release_nb(a)
    text = json.dumps(release)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
        assert marker not in text, f"exercises/{a}: the release contains {marker!r}"

    assert [c.get("id") for c in release["cells"]] == [c.get("id") for c in source["cells"]]
    assert [_nbg(c)["grade_id"] for c in release["cells"]] == [_nbg(c)["grade_id"] for c in source["cells"]]
    public = ""  # everything a student may see in the source: locked cells minus hidden tests
    solution_lines = set()
    for cell in source["cells"]:
        src = _source(cell)
        if _nbg(cell)["solution"]:
            body = src.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
            solution_lines |= {line.strip() for line in body.splitlines() if len(line.strip()) >= 12}
        else:
            public += re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", src, flags=re.S)
    released_text = "\n".join(_source(c) for c in release["cells"])
    leaked = sorted(line for line in solution_lines if line in released_text and line not in public)
    assert not leaked, f"exercises/{a}: solution code leaked into the release: {leaked}"
    for cell in release["cells"]:
        if _nbg(cell)["solution"]:
            assert "raise NotImplementedError()" in _source(cell), f"exercises/{a}: {_nbg(cell)['grade_id']}"
            assert _nbg(cell).get("checksum"), "release cells carry nbgrader checksums"


def test_release_rejects_an_unknown_assignment(tmp_path):
    from autograder.release import list_assignments, release

    assert list_assignments() == ASSIGNMENTS
    with pytest.raises(ValueError, match="no_such_assignment"):
        release("no_such_assignment", out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# The release is reproducible (runs nbgrader generate_assignment, a few seconds)
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_regenerating_the_release_reproduces_exercises_byte_for_byte(tmp_path):
    from autograder.release import release

    written = release(out_dir=tmp_path)
    assert sorted(p.name for p in written) == ASSIGNMENTS
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(EXERCISES) for p in EXERCISES.rglob("*") if p.is_file())
    assert fresh == committed, f"files differ: generated {fresh}, committed {committed}"
    for rel in fresh:
        new, old = (tmp_path / rel).read_bytes(), (EXERCISES / rel).read_bytes()
        if new != old:
            diff = "".join(difflib.unified_diff(
                old.decode().splitlines(True), new.decode().splitlines(True),
                fromfile=f"exercises/{rel} (committed)", tofile=f"exercises/{rel} (regenerated)", n=2,
            ))
            pytest.fail(
                f"exercises/{rel} is stale: run `python -m autograder release` and commit it.\n{diff[:6000]}"
            )


# ---------------------------------------------------------------------------------------------
# nbgrader validate (executes notebooks in kernels; ~30 s for all of them, run in parallel)
# ---------------------------------------------------------------------------------------------

def _validate(path: Path, invert: bool):
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["DLCOURSE_DB_URL"] = "sqlite://"  # in-memory: validation never touches a gradebook on disk
    cmd = [sys.executable, "-m", "nbgrader", "validate", *(["--invert"] if invert else []), str(path)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def validations():
    jobs = [(a, False, SOLUTIONS / a / f"{a}.ipynb") for a in ASSIGNMENTS]
    jobs += [(a, True, EXERCISES / a / f"{a}.ipynb") for a in ASSIGNMENTS]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda job: _validate(job[2], job[1]), jobs))
    return {(a, invert): result for (a, invert, _), result in zip(jobs, results)}


@pytest.mark.slow
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_nbgrader_validate_gives_the_solutions_full_marks(a, validations):
    rc, output = validations[(a, False)]
    assert rc == 0 and "Success! Your notebook passes all the tests." in output, (
        f"nbgrader validate solutions/{a}: the solution notebook must pass every test\n{output[-4000:]}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_nbgrader_validate_invert_fails_every_test_of_the_release(a, validations):
    rc, output = validations[(a, True)]
    assert rc == 0 and "Success! The notebook does not pass any tests." in output, (
        f"nbgrader validate --invert exercises/{a}: some test passes without a solution\n{output[-4000:]}"
    )
