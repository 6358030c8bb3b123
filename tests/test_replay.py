"""The clean replay: what it keeps of a notebook (fast, no kernel), how its verdicts confirm or
overturn the notebook's (fast), and real notebooks in real kernels: attacks that forge the
notebook's own run lose their points and the result needs review; honest notebooks keep theirs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import nbformat
import pytest
from markupsafe import escape
from nbformat.v4 import new_code_cell
from rich.console import Console

from grader import grade as grade_module
from grader.options import GradeOptions
from grader.runs import CellRun, ErrorInfo
from grader.messages import text
from grader.replay import Replay, confirm, settle_unrunnable
from grader.report_html import render_html
from grader.report_terminal import print_result
from grader.results import CheckResult, StepResult
from grader.slicing import keeps_every_cell, program, replay_parts, unrunnable_steps
from grader.spec import load_spec
from grader.steps import map_steps
from tests.layers import reference_layers, snapshot
from tests.notebooks import IMPORTS, KERAS2, KERAS3, make_notebook, replace

SPEC = load_spec()
ROOT = Path(__file__).resolve().parent.parent


def notebook(sources: list[str], *, prelude: str | None = None, **options) -> nbformat.NotebookNode:
    """The test notebook of `sources`, with an unmarked code cell `prelude` before step 1."""
    nb = make_notebook(sources, **options)
    if prelude is not None:
        nb.cells.insert(0, new_code_cell(prelude))
    return nb


def kept(sources: list[str], **options) -> dict[str | None, str]:
    """What the replay runs of each step's code (None: code of no step), joined in order."""
    nb = notebook(sources, **options)
    found: dict[str | None, list[str]] = {}
    for part in replay_parts(program(nb, SPEC, map_steps(nb, SPEC))):
        found.setdefault(part.step_id, []).append(part.source)
    return {step: "\n".join(filter(None, sources)) for step, sources in found.items()}


# --- what the replay keeps: no kernel ---

def test_the_reference_answers_are_kept_whole():
    for answer in (KERAS2, KERAS3):
        nb = notebook(answer)
        parts = replay_parts(program(nb, SPEC, map_steps(nb, SPEC)))
        assert [part.source for part in parts] == answer
        assert keeps_every_cell(nb, parts)


def test_a_flip_flop_counter_is_kept_with_the_layer_it_sizes_but_printing_is_not():
    step2 = ("runs = globals().get('runs', 0) + 1\nprint('run', runs)\n"
             "model.add(LSTM(7 if runs == 1 else 100, return_sequences=True))")
    assert kept(replace(KERAS3, 2, step2))["step2"] == (
        "runs = globals().get('runs', 0) + 1\nmodel.add(LSTM(7 if runs == 1 else 100, return_sequences=True))")


def test_code_that_patches_ipython_is_left_out():
    prelude = ("def fill(lines):\n    return lines\n"
               "get_ipython().input_transformers_cleanup.append(fill)\n"
               "ip = get_ipython()\nip.user_expressions = lambda expressions: {}")
    step1 = "import builtins\nbuiltins.counter = 0\n" + KERAS3[0]
    result = kept(replace(KERAS3, 1, step1), prelude=prelude)
    assert None not in result  # nothing of the prelude
    assert result["step1"] == "import builtins\n" + KERAS3[0]


def test_data_definitions_and_in_place_changes_the_model_reads_are_kept():
    prelude = ("import numpy as np\nX = np.random.rand(8, 20, 1)\ny = np.random.rand(8, 10)\n"
               "print(X.shape)\nnp.save('x.npy', X)\ncfg = {}\ncfg['units'] = 100\nother = {}\n"
               "other['a'] = 1\nlayers = []\nlayers.append(300)\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])")
    step1 = IMPORTS + "X2 = np.load('x.npy')\nmodel.add(LSTM(input_dim=X2.shape[2], units=50, return_sequences=True))"
    step2 = ("def lstm(units, last=False):\n    return LSTM(units, return_sequences=not last)\n"
             "model.add(lstm(cfg['units']))")
    step3 = "%%time\nmodel.add(lstm(layers[0], last=True))"
    step4 = ("model.add(Dense(100))\nmodel.add(Dense(10))\nmodel.compile(loss='mse')\n"
             "history = model.fit(X, y)\nplt.plot(history.history['loss'])")
    result = kept([step1, step2, step3, step4, "model.summary()"], prelude=prelude)
    assert result[None] == ("import numpy as np\nX = np.random.rand(8, 20, 1)\nnp.save('x.npy', X)\ncfg = {}\n"
                            "cfg['units'] = 100\nlayers = []\nlayers.append(300)\nimport matplotlib.pyplot as plt")
    assert result["step1"] == step1
    assert result["step2"] == step2
    assert result["step3"] == step3
    assert result["step4"] == "model.add(Dense(100))\nmodel.add(Dense(10))\nmodel.compile(loss='mse')"


def test_a_model_made_by_a_function_or_held_by_an_object_is_kept_with_its_maker():
    """Q3: `m = build_model()` and `forecaster.model.summary()` build the graded model too."""
    function = ("def build_model():\n    m = Sequential()\n    m.add(keras.Input(shape=(None, 1)))\n"
                "    m.add(LSTM(50, return_sequences=True))\n    return m")
    holder = "class Forecaster:\n    def __init__(self):\n        self.model = build_model()"
    cells = [IMPORTS + function, holder, "forecaster = Forecaster()\nprint('made')",
             "forecaster.model.add(LSTM(100))", "forecaster.model.summary()"]
    kept_code = "\n".join(kept(cells, marked=False).values())
    for statement in (function, holder, "forecaster = Forecaster()", "forecaster.model.add(LSTM(100))",
                      "forecaster.model.summary()"):
        assert statement in kept_code
    assert "print('made')" not in kept_code


def test_the_exercises_own_self_check_cell_needs_no_replay_and_a_changed_one_does():
    template = nbformat.read(ROOT / "exercises/lstm_network/lstm_network.en.ipynb", as_version=4)
    self_check = next(cell.source for cell in template.cells if cell.cell_type == "code")
    for prelude, clean in ((self_check, True), (self_check + "\nget_ipython().user_expressions = print", False)):
        nb = notebook(KERAS3, prelude=prelude)
        assert keeps_every_cell(nb, replay_parts(program(nb, SPEC, map_steps(nb, SPEC))), SPEC.given_code) is clean


def test_a_name_bound_only_after_the_step_is_not_pulled_in():
    result = kept([KERAS3[0], "model.add(LSTM(units, return_sequences=True))", "units = 100", *KERAS3[2:]])
    assert "units = 100" not in "\n".join(result.values())


def test_aliases_helpers_and_globals_that_build_the_model_are_kept():
    step1 = (IMPORTS.replace("model=Sequential()", "net = Sequential()") +
             "net.add(keras.Input(shape=(None, 1)))\nnet.add(LSTM(50, return_sequences=True))\nmodel = net")
    step2 = "def add(m, units):\n    m.add(LSTM(units, return_sequences=True))\nadd(model, 100)"
    step3 = "def bump():\n    global size\n    size = 300\nbump()\nprint('three')\nmodel.add(LSTM(size))"
    result = kept([step1, step2, step3, *KERAS3[3:]])
    assert result["step1"] == step1
    assert result["step2"] == step2
    assert result["step3"] == "def bump():\n    global size\n    size = 300\nbump()\nmodel.add(LSTM(size))"


def test_a_step_cell_that_does_not_parse_is_kept_whole_and_other_code_is_not():
    result = kept(["model.add(<None>)", *KERAS3[1:]], prelude="print(<None>)")
    assert None not in result
    assert result["step1"] == "model.add(<None>)"


def test_one_cell_with_every_step_is_replayed_step_by_step():
    code = "\n".join(KERAS3).replace("model.summary()", "print('done')\nmodel.summary()")
    result = kept([code], marked=False, headings=False)
    assert result == {f"step{n}": source for n, source in enumerate(KERAS3, start=1)}


# --- how the replay confirms the notebook's verdicts: no kernel ---

def verdict(step: int, passed: bool, judged_on: str = "notebook") -> StepResult:
    points = 20 if passed else 0
    checks = [CheckResult("units", 50, 50 if passed else 7, passed, "units")]
    return StepResult(f"step{step}", "t", points, 20, passed, checks, judged_on, reason="" if passed else "units")


def verdicts(passed: list[bool], judged_on: str = "notebook") -> list[StepResult]:
    return [verdict(n, ok, judged_on) for n, ok in enumerate(passed, start=1)]


def errors(*names: str) -> list[ErrorInfo]:
    return [ErrorInfo(name, "boom", "") for name in names]


def replayed(passed: list[bool], errors_of: dict[str, list[ErrorInfo]] | None = None, **options) -> Replay:
    steps = verdicts(passed, "replay")
    judged = errors_of if errors_of is not None else {step.id: [] for step in steps}
    return Replay(**{"steps": steps, "errors": judged, "started": True, **options})


def scores(steps: list[StepResult]) -> list[int]:
    return [step.score for step in steps]


ALL = [True] * 5


def test_a_step_that_only_the_notebook_passes_is_lost_and_needs_review_not_tampering():
    """An honest notebook can make the runs disagree (code the slice left out): not tampering."""
    confirmation = confirm(SPEC, verdicts(ALL), [], "graded", replayed([True, False, False, True, True]), "en")
    assert (scores(confirmation.steps), confirmation.tampered, confirmation.review) == ([20, 0, 0, 20, 20], False, True)
    assert confirmation.steps[1].judged_on == "replay"
    assert confirmation.steps[1].notes[0] == text("note.replay_failed", "en")
    assert confirmation.steps[1].reason == "replay: units"
    assert confirmation.notes == [text("note.needs_review", "en", what=text("note.review_steps", "en", steps="2, 3"))]


def test_the_replay_never_gives_points_the_notebook_did_not_earn():
    confirmation = confirm(SPEC, verdicts([True, False, True, True, True]), [], "timeout", replayed(ALL), "en")
    assert (scores(confirmation.steps), confirmation.tampered, confirmation.review, confirmation.notes) == (
        [20, 0, 20, 20, 20], False, False, [])
    assert confirmation.steps[1].judged_on == "notebook"


def test_a_new_error_in_the_replay_costs_the_step_but_is_not_tampering():
    errors_of = {f"step{n}": errors("NameError") if n >= 3 else [] for n in range(1, 6)}
    replay = replayed([True, True, False, True, True], errors_of)
    confirmation = confirm(SPEC, verdicts(ALL), [], "graded", replay, "en")
    assert (scores(confirmation.steps), confirmation.tampered, confirmation.review) == ([20, 20, 0, 20, 20], False, True)
    assert confirmation.steps[2].notes[0] == text("note.replay_error", "en", error="NameError: boom")
    assert confirmation.notes == [text("note.replay_missed", "en", steps="3")]


def test_an_error_the_notebook_raised_too_explains_nothing():
    errors_of = {step.id: errors("ValueError") for step in SPEC.steps}
    notebook_runs = [CellRun(1, "x", error=errors("ValueError")[0])]
    confirmation = confirm(SPEC, verdicts(ALL), notebook_runs, "graded",
                           replayed([False, *ALL[1:]], errors_of), "en")
    assert (confirmation.tampered, confirmation.review) == (False, True)
    assert confirmation.notes == [text("note.needs_review", "en", what=text("note.review_steps", "en", steps="1"))]


def test_a_syntax_error_only_the_replay_raised_is_for_review_not_tampering():
    """A slice cut badly raises one too: a rewritten cell is found by its compiled text instead."""
    errors_of = {step.id: errors("SyntaxError") for step in SPEC.steps}
    confirmation = confirm(SPEC, verdicts(ALL), [], "graded", replayed([False] * 5, errors_of), "en")
    assert (confirmation.tampered, confirmation.review, scores(confirmation.steps)) == (False, True, [0] * 5)


def test_a_rewritten_replay_is_tampering_and_scores_only_what_both_runs_passed():
    replay = replayed([False, True, True, True, True], rewritten=["cell 3 ran other code"])
    confirmation = confirm(SPEC, verdicts(ALL), [], "graded", replay, "en")
    assert (confirmation.tampered, confirmation.notes, scores(confirmation.steps)) == (
        True, ["cell 3 ran other code"], [0, 20, 20, 20, 20])


def test_steps_a_limit_kept_the_replay_from_judging_are_lost_without_tampering():
    errors_of = {"step1": [], "step2": []}
    replay = replayed([True, True, False, False, False], errors_of, status="timeout")
    confirmation = confirm(SPEC, verdicts(ALL), [], "graded", replay, "en")
    assert (scores(confirmation.steps), confirmation.tampered, confirmation.review) == ([20, 20, 0, 0, 0], False, True)
    stopped = text("note.replay_stopped", "en", status=text("report.status_timeout", "en"))
    assert confirmation.steps[4].notes[0] == stopped


def test_a_replay_whose_kernel_could_not_start_leaves_the_verdicts_unconfirmed():
    replay = replayed([False] * 5, {}, status="timeout", started=False)
    confirmation = confirm(SPEC, verdicts(ALL), [], "graded", replay, "en")
    assert (scores(confirmation.steps), confirmation.tampered) == ([20] * 5, False)
    assert confirmation.notes == [text("note.replay_unavailable", "en", status=text("report.status_timeout", "en"))]


def model_runs(units: list[int]) -> list[CellRun]:
    layers = reference_layers()
    changed = [dataclasses.replace(layer, units=n) for layer, n in zip(layers, units)]
    return [CellRun(1, "x", snapshot=snapshot(changed))]


def test_a_final_model_the_replay_does_not_build_needs_review():
    right, wrong = [50, 100, 300, 100, 10], [64, 7, 8, 9, 11]
    same = confirm(SPEC, verdicts(ALL), model_runs(right), "graded", replayed(ALL, runs=model_runs(right)), "en")
    assert not same.review
    differs = confirm(SPEC, verdicts(ALL), model_runs(wrong), "graded", replayed(ALL, runs=model_runs(right)), "en")
    assert (differs.tampered, differs.review, scores(differs.steps)) == (False, True, [20] * 5)
    assert differs.notes == [text("note.needs_review", "en", what=text("note.review_model", "en"))]
    on_reference = replayed(ALL, runs=model_runs(right), on_reference=True)
    assert not confirm(SPEC, verdicts(ALL), model_runs(wrong), "graded", on_reference, "en").review
    # a statement the replay leaves out raised in the notebook, and stopped the rest of its cell
    raised = [*model_runs(wrong), CellRun(2, "input()", error=errors("StdinNotImplementedError")[0])]
    assert not confirm(SPEC, verdicts(ALL), raised, "graded", replayed(ALL, runs=model_runs(right)), "en").review


# --- steps whose code cannot run anywhere need no replay ---

def test_only_steps_none_of_whose_code_compiles_are_unrunnable():
    sources = [KERAS3[0], "model.add(<None>)", "%time model.add(LSTM(300))\n", "<None>\nmodel.add(Dense(10))",
               "model.summary("]
    nb = notebook(sources)
    assert unrunnable_steps(program(nb, SPEC, map_steps(nb, SPEC))) == {"step2", "step4", "step5"}  # a magic compiles


def test_a_deferred_step_is_settled_only_when_no_replay_could_pass_it():
    deferred = [verdict(1, False), *verdicts([False] * 5, "deferred")[1:]]
    settled = settle_unrunnable(SPEC, deferred, {"step1", "step2", "step5"})
    assert [step.judged_on for step in settled] == ["notebook", "notebook", "deferred", "deferred", "notebook"]
    gru = load_spec("gru_text")  # its step 4 checks the model's compile settings: the reference's could pass it
    compiled = next(number for number, step in enumerate(gru.steps) if step.checks == ("compiled",))
    steps = [verdict(n, False, "deferred") for n in range(1, len(gru.steps) + 1)]
    steps = [dataclasses.replace(step, id=spec.id) for step, spec in zip(steps, gru.steps)]
    assert settle_unrunnable(gru, steps, {step.id for step in gru.steps})[compiled].judged_on == "deferred"


# --- real notebooks in real kernels ---

def grade(tmp_path: Path, nb: nbformat.NotebookNode):
    path = tmp_path / "student.ipynb"
    nbformat.write(nb, path)
    return grade_module.grade_notebook(path, GradeOptions(lang="en", warm=True))


@pytest.fixture
def replays(monkeypatch) -> list[int]:
    """Counts the replays; and replays every notebook, even one whose own run already was a clean replay."""
    count: list[int] = []
    original = grade_module.replay_notebook

    async def counted(*args, **kwargs):
        count.append(1)
        return await original(*args, **kwargs)

    monkeypatch.setattr(grade_module, "replay_notebook", counted)
    monkeypatch.setattr(grade_module, "keeps_every_cell", lambda *args: False)
    return count


def flip_flop(step: int, source: str) -> str:
    """`source` whose `WRONG` conditions hold the first time the cell runs, and never again."""
    return f"runs_{step} = globals().get('runs_{step}', 0) + 1\n" + source.replace("WRONG", f"runs_{step} == 1")


FLIP_FLOP = [
    IMPORTS + "model.add(keras.Input(shape=(None, 1)))\nmodel.add(LSTM(64, return_sequences=True))",
    flip_flop(2, "model.add(LSTM(7 if WRONG else 100, return_sequences=True))"),
    flip_flop(3, "model.add(LSTM(8 if WRONG else 300))"),
    flip_flop(4, "model.add(Dense(9 if WRONG else 100))\nmodel.add(Dense(11 if WRONG else 10))"),
    "model.summary()",
]


def test_a_notebook_that_builds_the_right_layers_only_when_run_again_does_not_score_80(tmp_path):
    """Its steps 2-4 follow a wrong step 1, so only the clean replay runs them on correct earlier
    steps: once, as they first behave. Its own run never gets to show the right layers."""
    result = grade(tmp_path, notebook(FLIP_FLOP))
    assert [layer.units for layer in result.layers] == [64, 7, 8, 9, 11]  # every layer wrong
    assert result.score == 20
    assert [step.judged_on for step in result.steps] == ["notebook", "rerun", "rerun", "rerun", "notebook"]
    assert [check.actual for check in result.steps[1].checks if check.name == "units"] == [7]


TEMPLATE = [IMPORTS + "<None>", "model.add(<None>)", "<None>", "model.add(<None>)\nmodel.add(<None>)", "model.<None>()"]
TRANSFORMER = f"""_answers = {dict(zip([cell.strip() for cell in TEMPLATE], KERAS3))!r}
def _fill(lines):
    answer = _answers.get("".join(lines).strip())
    return lines if answer is None else (answer + "\\n").splitlines(keepends=True)
get_ipython().input_transformers_cleanup.append(_fill)
"""


def test_an_input_transformer_that_fills_in_the_template_is_found_out(tmp_path):
    result = grade(tmp_path, notebook(TEMPLATE, prelude=TRANSFORMER))
    assert [layer.units for layer in result.layers] == [50, 100, 300, 100, 10]  # its own run looked perfect
    assert (result.score, result.status) == (0, "tampered")
    # found in the notebook's own run already: the cells ran other code than the notebook holds
    evidence = text("note.rewritten_pipeline", "en", parts="input_transformers_cleanup")
    assert [step.checks[0].name for step in result.steps] == ["as_written"] * 5
    assert all(step.reason == text("check.rewritten", "en", evidence=evidence) for step in result.steps)
    assert text("note.rewritten", "en", cell=1, evidence=evidence) in result.notes
    html = render_html(result)
    assert escape(text("report.status_tampered", "en")) in html and escape(text("report.tampered", "en")) in html
    console = Console(record=True, width=400)
    print_result(result, console)
    terminal = console.export_text()
    assert "Status: tampered" in terminal and "Instructor: please review" in terminal


def test_the_honest_reference_answer_is_replayed_to_full_marks(tmp_path, replays):
    result = grade(tmp_path, notebook(KERAS3))
    assert (result.score, result.status, result.notes) == (100, "graded", [])
    assert replays == [1]


DATA = ("import numpy as np\nX = np.random.rand(16, 20, 1).astype('float32')\n"
        "y = np.random.rand(16, 10).astype('float32')\nprint(X.shape, y.shape)\n"
        "np.save('train_x.npy', X)\ncfg = {'first': 50}\ncfg['second'] = 100")
DATA_ANSWER = [
    IMPORTS + "X_train = np.load('train_x.npy')\n"
              "model.add(LSTM(input_dim=X_train.shape[2], units=cfg['first'], return_sequences=True))",
    "def lstm(units, last=False):\n    return LSTM(units, return_sequences=not last)\nmodel.add(lstm(cfg['second']))",
    "model.add(lstm(300, last=True))",
    "model.add(Dense(100))\nmodel.add(Dense(10))\nmodel.compile(optimizer='adam', loss='mse')\n"
    "history = model.fit(X, y, epochs=1, verbose=0)\nprint(len(history.history['loss']))",
    "model.summary()",
]


def test_an_honest_notebook_that_makes_its_data_in_an_earlier_cell_keeps_full_marks(tmp_path, replays):
    result = grade(tmp_path, notebook(DATA_ANSWER, prelude=DATA))
    assert (result.score, result.status, result.keras[0]) == (100, "graded", "2")
    assert result.notes == [text("note.keras2", "en")]
    assert replays == [1]


def test_an_honest_notebook_with_one_wrong_step_keeps_its_exact_score(tmp_path, replays):
    result = grade(tmp_path, notebook(replace(KERAS3, 3, "model.add(LSTM(300, return_sequences=True))")))
    assert ([step.score for step in result.steps], result.status, result.notes) == ([20, 20, 0, 20, 20], "graded", [])
    assert [step.judged_on for step in result.steps] == ["notebook", "notebook", "notebook", "rerun", "notebook"]
    assert replays == [1]


def test_the_untouched_template_needs_no_replay(tmp_path, replays):
    result = grade(tmp_path, notebook(TEMPLATE))
    assert (result.score, result.status, replays) == (0, "graded", [])
    assert {step.judged_on for step in result.steps} == {"notebook"}
    assert all(step.reason.startswith(text("note.placeholder", "en")) for step in result.steps)


def test_a_step_left_as_the_template_after_a_wrong_step_fails_and_the_others_are_still_replayed(tmp_path, replays):
    sources = replace(replace(KERAS3, 1, KERAS3[0].replace(", return_sequences=True", "")), 3, "model.add(<None>)")
    result = grade(tmp_path, notebook(sources))
    assert [step.score for step in result.steps] == [0, 20, 0, 20, 20]
    assert [step.judged_on for step in result.steps] == ["notebook", "rerun", "notebook", "rerun", "notebook"]
    assert result.steps[2].reason.startswith(text("note.placeholder", "en"))
    assert replays == [1]


# Honest notebooks the clean replay judged by other rules than their own run (issue 18): never
# `tampered`. A summary written through `print_fn` into a file that the next statement prints,
# and a functional model built beside the template's empty `model = Sequential()`.
PRINT_FN_SUMMARY = [*KERAS3[:4], "with open('summary.txt', 'w') as f:\n"
                    "    model.summary(print_fn=lambda line, **kw: f.write(line + '\\n'))\n"
                    "print(open('summary.txt').read())"]
FUNCTIONAL_BESIDE_SEQUENTIAL = [
    IMPORTS + "from tensorflow.keras.layers import Input\nfrom tensorflow.keras.models import Model\n"
    "inputs = Input(shape=(None, 1))\nx = LSTM(50, return_sequences=True)(inputs)\nx = LSTM(100, return_sequences=True)(x)\n"
    "x = LSTM(300)(x)\nx = Dense(100)(x)\nnet = Model(inputs, Dense(10)(x))\nnet.summary()"]


def test_a_functional_model_beside_an_empty_sequential_is_graded_not_tampered(tmp_path):
    result = grade(tmp_path, make_notebook(FUNCTIONAL_BESIDE_SEQUENTIAL, marked=False))
    assert (result.status, result.score) == ("graded", 100)


def test_a_summary_printed_from_a_file_or_a_list_passes_step5_in_both_runs(tmp_path):
    """Q10: the summary's text reached the output by another route; the replay keeps the `print`
    that shows it, so both runs agree."""
    result = grade(tmp_path, make_notebook(PRINT_FN_SUMMARY))
    assert (result.status, result.score) == ("graded", 100), [step.reason for step in result.steps]
    listed = [*KERAS3[:4], "lines = []\nmodel.summary(print_fn=lambda line, **kw: lines.append(line))\n"
              "for line in lines:\n    print(line)"]
    result = grade(tmp_path, make_notebook(listed))
    assert (result.status, result.score) == ("graded", 100), [step.reason for step in result.steps]


def test_counting_parameters_instead_of_summary_fails_step5_in_both_runs(tmp_path):
    """Q10: a count_params() loop prints numbers, not the summary."""
    counted = [*KERAS3[:4], "for layer in model.layers:\n    print(layer.name, layer.count_params())\n"
               "print('Total params:', model.count_params())"]
    result = grade(tmp_path, make_notebook(counted))
    assert (result.status, [step.score for step in result.steps]) == ("graded", [20, 20, 20, 20, 0])


def test_a_silenced_summary_fails_step5_in_both_runs(tmp_path):
    """Q10: summary() ran, but its text reached no output."""
    silenced = [*KERAS3[:4], "model.summary(print_fn=lambda *a, **k: None)\nprint('done')"]
    result = grade(tmp_path, make_notebook(silenced))
    assert (result.status, [step.score for step in result.steps]) == ("graded", [20, 20, 20, 20, 0])
