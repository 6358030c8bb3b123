"""The grader's own work on a notebook is bounded: reading its code (steps, slicing, IPython's
syntax), mapping it to steps, and the notebook's whole time, which covers its run, the run again
under Keras 2 and the clean replay (`--run-timeout`).

Fast tests give the bounded functions the inputs that made them run for hours, and compare their
cost with a measurement of the same run (the same input written the easy way, or one pass over it);
real ones grade the attacks in warm kernels, beside an honest notebook graded in the same test."""

from __future__ import annotations

import ast
import csv
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbformat.v4 import new_code_cell

from grader import grade as grade_module
from grader.kernel.sandbox import Limits
from grader.kernel.warm import warm_parent
from grader.keras_runtime import KERAS3 as KERAS3_RUNTIME, uses_keras2_api
from grader.messages import text
from grader.options import GradeOptions
from grader.runs import CellRun, ErrorInfo
from grader.slicing import Code, program, replay_parts
from grader.spec import load_spec
from grader.steps import (CELL_CHARS, CODE_CHARS, IPYTHON_CHARS, TOO_LARGE, TOO_MUCH_IPYTHON, Chunk, Reading,
                          StepMap, map_steps)
from tests.leftovers import assert_no_jail_left, warm_jails
from tests.notebooks import KERAS3, make_notebook
from tests.waiting import grading_bound

SPEC = load_spec()
MiB = 2**20
ROOT = Path(__file__).resolve().parent.parent


def fastest(work: Callable[[], object], times: int = 3) -> float:
    """The least wall time of `work` over a few runs: what it costs when the machine lets it run."""
    best = float("inf")
    for _ in range(times):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def with_prelude(code: str, sources: list[str] = KERAS3) -> nbformat.NotebookNode:
    """The marked answer `sources` with an unmarked code cell `code` before step 1 (of no step)."""
    nb = make_notebook(sources)
    nb.cells.insert(0, new_code_cell(code))
    return nb


def analysed(nb: nbformat.NotebookNode):
    step_map = map_steps(nb, SPEC)
    return step_map, program(nb, SPEC, step_map)


# --- the analysis, no kernel ---

def alias_chain(count: int, *, backwards: bool) -> str:
    """`count` names bound one to the other and the last to the model: written backwards
    (`a0 = a1` first), each name is known to be a model only once the one after it is."""
    lines = [f"a{i} = a{i + 1}" for i in range(count - 1)] + [f"a{count - 1} = model"]
    return "\n".join(lines if backwards else lines[::-1])


def test_an_alias_chain_written_backwards_costs_what_one_written_forwards_does():
    count = 3000
    backwards, forwards = (with_prelude(alias_chain(count, backwards=order)) for order in (True, False))
    for nb in (backwards, forwards):
        prelude = analysed(nb)[1][0]
        assert len(prelude.statements) == count and all(statement.builds for statement in prelude.statements)
    # Each name resolved in one walk, whatever the order: written backwards took a pass over the
    # whole chain per name (3000 passes here), forwards one.
    assert fastest(lambda: analysed(backwards)) < 3 * fastest(lambda: analysed(forwards))


def test_statements_beside_a_line_of_some_mib_are_cut_out_without_reading_it_again():
    statements = "\n".join(f"b{i} = {i}" for i in range(300))
    code = "#" + "x" * (3 * MiB) + "\n" + statements + "\n@decorator\ndef f():\n    pass\n"
    body = ast.parse(code).body

    def cut() -> list[str]:
        cells = Code(code)
        return [cells.segment(stmt) for stmt in body]

    assert cut() == [*statements.split("\n"), "@decorator\ndef f():\n    pass"]
    # ast.get_source_segment went through the whole code, a character at a time, for each statement.
    assert fastest(cut) < fastest(lambda: sum(1 for _ in code), times=1)


def test_ipython_syntax_is_turned_as_ipython_does_within_its_bound(monkeypatch):
    for source in ["%matplotlib inline\nimport numpy as np\n!pip install x\nfiles = !ls\nnp.sum?\n",
                   "%%time\nmodel.add(Dense(10))", "  x = 1\n  y = 2", ">>> x = 1", "model.add(<None>)", "x = 1"]:
        parsed = Reading().parse(source)
        turned = TransformerManager().transform_cell(source)
        assert (parsed.code if parsed else None) == (turned if source != "model.add(<None>)" else None)

    tokenized = []
    original = TransformerManager.do_one_token_transform

    def counted(self, lines):
        tokenized.append(sum(map(len, lines)))
        return original(self, lines)

    monkeypatch.setattr(TransformerManager, "do_one_token_transform", counted)
    # IPython turns one magic per pass over the whole cell, and gives up (RuntimeError) after 500.
    shell_lines = "".join(f"!echo {i}\n" for i in range(600))
    nb = make_notebook(KERAS3 + ["!echo done"] + [shell_lines] * 5)
    step_map, units = analysed(nb)
    shell_cells = [index for index, cell in enumerate(nb.cells) if cell.source == shell_lines]
    assert step_map.unread == dict.fromkeys(shell_cells, TOO_MUCH_IPYTHON)
    assert sum(tokenized) <= 2 * IPYTHON_CHARS  # map_steps, then program: each within the bound
    assert units[5].parsed and units[5].statements[0].source == "get_ipython().system('echo done')"


def test_code_nested_too_deep_to_compile_is_a_cell_that_does_not_parse():
    deep = "x = " + " + ".join(f"a{i}" for i in range(5000))
    nb = make_notebook(KERAS3 + [deep], marked=False)
    step_map, units = analysed(nb)
    assert step_map.method == "content" and not step_map.unread
    assert [unit.parsed for unit in units] == [True] * 5 + [False]
    assert not uses_keras2_api(nb)


def test_a_long_expression_is_read_without_recursion():
    long = "x = " + " + ".join(f"a{i}" for i in range(400))
    units = analysed(with_prelude(long))[1]
    assert units[0].statements[0].reads == {f"a{i}" for i in range(400)}


def test_a_cell_past_the_code_bound_is_one_block_and_the_cells_after_it_are_read():
    big = "# data\n" + "x = 1\n" * (CODE_CHARS // 6)
    nb = with_prelude(big, KERAS3[:4] + [KERAS3[4] + "\n#" + "y" * CODE_CHARS])
    step_map, units = analysed(nb)
    assert step_map.method == "metadata" and step_map.unread == {0: TOO_LARGE, 10: TOO_LARGE}
    parts = replay_parts(units)
    # Code of no step is left out of the replay, as a cell that does not parse; a step's is replayed whole.
    assert [(part.cell_index, part.source) for part in parts] == [
        (index, cell.source) for index, cell in enumerate(nb.cells) if cell.cell_type == "code" and index > 0]
    assert all(unit.parsed for unit in units[1:5]) and not units[5].parsed

    cells = ["x = 1"] * (CODE_CHARS // (CELL_CHARS + 5) + 10)
    many = make_notebook(KERAS3 + cells, marked=False)
    assert set(map_steps(many, SPEC).unread.values()) == {TOO_LARGE}  # a cell costs more than its characters
    assert map_steps(many, SPEC).chunks == map_steps(make_notebook(KERAS3, marked=False), SPEC).chunks


def test_a_call_of_a_function_that_sets_a_global_is_kept_and_costs_once():
    sets = "def f():\n    global units\n    units = 100\nf()"
    step2 = "model.add(LSTM(units, return_sequences=True))"
    parts = replay_parts(analysed(with_prelude(sets + "\nprint(units)", [KERAS3[0], step2, *KERAS3[2:]]))[1])
    assert (parts[0].cell_index, parts[0].source) == (0, sets)

    function = "def f():\n    global " + ", ".join(f"g{i}" for i in range(10_000)) + "\n"
    # Each of the 1,000 calls may set the function's 10,000 globals: each held all of them (10
    # million names in all). Now what the function sets is looked up once, and calling it costs
    # what calling a function that sets no global does.
    with_calls, without = (with_prelude(function + f"tuple({name})\n" * 1000 + "print(g5)") for name in ("f", "h"))
    assert not map_steps(with_calls, SPEC).unread
    assert fastest(lambda: replay_parts(analysed(with_calls)[1])) < 3 * fastest(
        lambda: replay_parts(analysed(without)[1]))


def test_errors_and_layers_find_their_steps_in_one_pass():
    def errors_of(count: int) -> Callable[[], object]:
        step_map = StepMap("metadata", {"step5": tuple(Chunk("step5", index, "x", True) for index in range(count))})
        runs = [CellRun(index, "x", error=ErrorInfo("NameError", "x", "")) for index in range(count)]
        return lambda: grade_module._errors(runs, step_map)

    assert [error.step for error in errors_of(3)()] == ["step5"] * 3
    # Each run looked through every chunk for its cell: a notebook of many erring cells took hours.
    assert fastest(errors_of(20_000)) < 30 * fastest(errors_of(2_000))


# --- real grading, warm kernels ---

FAST = replace(Limits(), cell_seconds=60, notebook_seconds=120)
FACTOR = 5  # how much longer an attack may take than an honest notebook graded in the same test


@pytest.fixture(autouse=True)
def nothing_left_behind(request):
    yield
    if "tmp_path" in request.fixturenames:
        assert_no_jail_left({os.getpid()}, timeout=0, keep=warm_jails())


def graded(tmp_path: Path, nb: nbformat.NotebookNode, name: str, limits: Limits = FAST):
    """The result of grading `nb` in a warm kernel, and its seconds from when the warm parent is ready."""
    warm_parent(KERAS3_RUNTIME, limits)
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    started = time.monotonic()
    result = grade_module.grade_notebook(path, GradeOptions(lang="en", warm=True, limits=limits))
    return result, time.monotonic() - started


def unread_note(reason: str, cells: str) -> str:
    limit = {TOO_LARGE: CODE_CHARS, TOO_MUCH_IPYTHON: IPYTHON_CHARS}[reason]
    return text(f"note.unread_{reason}", "en", cells=cells, limit=f"{limit:,}")


ATTACKS = {
    # 6,000 aliases written backwards, in a cell of no step before the answer (its NameError costs nothing).
    "aliases": (with_prelude(alias_chain(6000, backwards=True)), []),
    # 300 statements beside a comment line of 3 MiB, in a cell of no step: left out of the replay.
    "long_line": (with_prelude("#" + "x" * (3 * MiB) + "\n" + "\n".join(f"b{i} = {i}" for i in range(300))),
                  [unread_note(TOO_LARGE, "1")]),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_an_attack_on_the_analysis_is_graded_about_as_fast_as_an_honest_notebook(tmp_path, attack):
    nb, notes = ATTACKS[attack]
    honest, honest_seconds = graded(tmp_path, with_prelude("print('hello')"), "honest")  # replayed too
    result, seconds = graded(tmp_path, nb, attack)
    assert (honest.status, honest.score) == ("graded", 100)
    assert (result.status, [step.score for step in result.steps], result.notes) == ("graded", [20] * 5, notes)
    assert seconds < FACTOR * honest_seconds


def test_a_comment_of_15_mib_is_graded_within_the_notebook_time(tmp_path):
    """Under the notebook's 16 MiB, in step 5's cell: the cell is replayed whole. The kernel's own
    work on 15 MiB takes seconds; the grader's analysis took hours, before any limit applied."""
    nb = make_notebook(KERAS3[:4] + [KERAS3[4] + "\n#" + "x" * (15 * MiB)])
    result, seconds = graded(tmp_path, nb, "comment")
    assert (result.status, [step.score for step in result.steps], result.notes) == (
        "graded", [20] * 5, [unread_note(TOO_LARGE, "10")])
    assert seconds < FAST.notebook_seconds + FAST.cell_seconds


def sleeping() -> nbformat.NotebookNode:
    """Keras 3 stops its run (a model-building statement that sleeps) in code written for Keras 2,
    which asks for the run again under Keras 2; the replay keeps that statement and sleeps too."""
    step1 = KERAS3[0] + "\nimport tensorflow as tf  # written for tf.compat.v1"
    step4 = "import time\nmodel.add(Dense(100 + 0 * time.sleep(10**6)))\nmodel.add(Dense(10))"
    return make_notebook([step1, KERAS3[1], KERAS3[2], step4, KERAS3[4]])


SLEEPING = replace(Limits(), notebook_seconds=30, cell_seconds=30)  # the next limit up: a cell's time


def test_the_notebook_time_covers_its_run_the_run_again_under_keras2_and_the_replay(tmp_path):
    """Each kernel had the notebook's time, four of them (the run, the run again, the replay twice):
    now they share it."""
    limits = SLEEPING
    result, seconds = graded(tmp_path, sleeping(), "sleeps", limits)
    share = {"limit": "30 s", "run": "20 s"}
    assert (result.status, [step.score for step in result.steps]) == ("timeout", [20, 20, 20, 0, 0])
    assert result.keras.startswith("3.")  # no time was left for the run again under Keras 2
    assert result.notes == [text("note.limit_run", "en", **share), text("note.limit_notebook", "en", limit="30 s")]
    assert seconds < limits.notebook_seconds + limits.cell_seconds


def test_a_class_with_these_notebooks_is_graded_to_its_end(tmp_path):
    """The batch goes on: each notebook ends within its time, with its own status."""
    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    notebooks = {"alice": make_notebook(KERAS3), "eve": ATTACKS["aliases"][0], "mallory": sleeping(),
                 "trudy": make_notebook(KERAS3[:4] + [KERAS3[4] + "\n#" + "x" * (15 * MiB)])}
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / f"{name}.ipynb")
    args = [str(folder), "-o", str(out), "-j", "1", "--lang", "en",
            "--run-timeout", f"{SLEEPING.notebook_seconds:g}", "--timeout", f"{SLEEPING.cell_seconds:g}"]
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=grading_bound(args))
    seconds = time.monotonic() - started
    assert "Traceback" not in done.stderr, done.stderr
    rows = csv.DictReader((out / "grades.csv").read_text(encoding="utf-8-sig").splitlines())
    assert {row["id"]: (row["status"], row["score"]) for row in rows} == {
        "alice": ("graded", "100"), "eve": ("graded", "100"), "mallory": ("timeout", "60"), "trudy": ("graded", "100")}
    # Each notebook within its time, and a cell's (the batch's warm parent starts within that too).
    assert seconds < len(notebooks) * (SLEEPING.notebook_seconds + SLEEPING.cell_seconds)


def test_the_grader_transforms_a_notebooks_cells_within_one_budget():
    """Comparing what each cell compiled with its text means IPython's transformation of it: 499
    magics in a cell take seconds, so a notebook of many such cells is compared within one bound."""
    from grader.as_written import _within_budget
    from grader.runs import CellRun
    from grader.steps import IPYTHON_CHARS
    heavy = "\n".join(["%time x = 1"] * 499) + "\n# " + "c" * (IPYTHON_CHARS // 4)
    compared = [compare for _, compare in _within_budget([CellRun(i, heavy) for i in range(30)])]
    assert compared == [True] * 3 + [False] * 27
