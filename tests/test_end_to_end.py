"""End to end: real notebooks, executed in real kernels, graded step by step."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader import grade as grade_module
from grader.options import GradeOptions
from tests.notebooks import IMPORTS, KERAS2, KERAS3, replace, write_notebook
from tests.waiting import grading_bound

ROOT = Path(__file__).resolve().parent.parent
FULL = [20, 20, 20, 20, 20]


def grade_notebook(path, **options):
    """Grade with English feedback: the test notebooks carry the course's Chinese headings."""
    return grade_module.grade_notebook(path, GradeOptions(**{"lang": "en", "warm": True, **options}))


def step_scores(result) -> list[int]:
    return [step.score for step in result.steps]


def failed_checks(result, step: int) -> dict[str, tuple]:
    return {check.name: (check.expected, check.actual)
            for check in result.steps[step - 1].checks if not check.passed}


def grade_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=grading_bound(args))


# --- the shipped notebooks, through the command a student runs ---

def test_reference_keras2_solution_scores_full_marks_under_tf_keras():
    done = grade_cli("solutions/lstm_network/reference_keras2.ipynb", "--json", "-")
    result = json.loads(done.stdout)
    assert done.returncode == 0
    assert (result["score"], result["max_score"], result["status"]) == (100, 100, "graded")
    assert result["keras"].startswith("2.")
    assert [layer["params"] for layer in result["layers"]] == [10400, 60400, 481200, 30100, 1010]
    assert [layer["output_shape"] for layer in result["layers"]] == [
        "(None, None, 50)", "(None, None, 100)", "(None, 300)", "(None, 100)", "(None, 10)"]
    assert any("Keras 2" in note for note in result["notes"])


def test_idiomatic_keras3_solution_scores_full_marks_under_keras3():
    done = grade_cli("solutions/lstm_network/idiomatic_keras3.ipynb", "--json", "-")
    result = json.loads(done.stdout)
    assert done.returncode == 0
    assert (result["score"], result["status"]) == (100, "graded")
    assert result["keras"].startswith("3.")
    assert result["notes"] == []
    assert "Traceback" not in done.stderr


def test_untouched_student_notebook_scores_zero_and_exits_1():
    done = grade_cli("exercises/lstm_network/lstm_network.zh.ipynb", "--json", "-")
    result = json.loads(done.stdout)
    assert done.returncode == 1
    assert (result["score"], result["status"], result["lang"]) == (0, "graded", "zh")
    assert [error["ename"] for error in result["errors"]] == ["SyntaxError"] * 5
    assert "Traceback" not in done.stderr


# --- each step wrong on its own costs that step only ---

@pytest.mark.parametrize("step, source, failing", [
    (1, IMPORTS + "model.add(keras.Input(shape=(None, 1)))\nmodel.add(LSTM(64, return_sequences=True))",
     {"units": (50, 64), "params": (10400, 16896), "output_shape": ("(None, None, 50)", "(None, None, 64)")}),
    (2, "model.add(LSTM(120, return_sequences=True))",
     {"units": (100, 120), "params": (60400, 82080), "output_shape": ("(None, None, 100)", "(None, None, 120)")}),
    (3, "model.add(LSTM(200))",
     {"units": (300, 200), "params": (481200, 240800), "output_shape": ("(None, 300)", "(None, 200)")}),
    (4, "model.add(Dense(100))\nmodel.add(Dense(20))",
     {"units": (10, 20), "params": (1010, 2020), "output_shape": ("(None, 10)", "(None, 20)")}),
])
def test_one_wrong_layer_step_costs_only_that_step(tmp_path, step, source, failing):
    result = grade_notebook(write_notebook(tmp_path, replace(KERAS3, step, source)))
    assert step_scores(result) == replace(FULL, step, 0)
    assert failed_checks(result, step) == failing
    assert result.status == "graded"


def test_step2_judged_against_its_real_input_when_step1_has_other_units(tmp_path):
    sources = replace(KERAS3, 1, KERAS3[0].replace("LSTM(50", "LSTM(64"))
    result = grade_notebook(write_notebook(tmp_path, sources))
    assert step_scores(result) == [0, 20, 20, 20, 20]


def test_summary_never_called_fails_step5_only(tmp_path):
    result = grade_notebook(write_notebook(tmp_path, replace(KERAS3, 5, "model")))
    assert step_scores(result) == [20, 20, 20, 20, 0]
    assert failed_checks(result, 5) == {"summary_called": ("ran", "did not run")}


def test_faked_summary_text_does_not_pass_step5(tmp_path):
    fake = ('print("""Model: \\"sequential\\"\n lstm (LSTM)  (None, None, 50)  10400\n'
            'Total params: 583,110\nTrainable params: 583,110\n""")')
    result = grade_notebook(write_notebook(tmp_path, replace(KERAS3, 5, fake)))
    assert step_scores(result) == [20, 20, 20, 20, 0]


def test_summary_that_prints_nothing_fails_step5(tmp_path):
    silent = "model.summary(print_fn=lambda *args, **kwargs: None)"
    result = grade_notebook(write_notebook(tmp_path, replace(KERAS3, 5, silent)))
    assert step_scores(result) == [20, 20, 20, 20, 0]
    assert failed_checks(result, 5) == {"summary_printed": ("printed", "nothing printed")}


def test_patched_count_params_does_not_turn_a_wrong_layer_into_a_pass(tmp_path):
    cheat = (IMPORTS + "LSTM.count_params = lambda self: 10400\n"
             "model.add(keras.Input(shape=(None, 1)))\nmodel.add(LSTM(64, return_sequences=True))")
    result = grade_notebook(write_notebook(tmp_path, replace(KERAS3, 1, cheat)))
    assert result.steps[0].score == 0
    assert failed_checks(result, 1)["params"] == (10400, 16896)


# --- an error carried forward costs only the step that made it ---

def test_step1_without_return_sequences_costs_step1_only(tmp_path):
    sources = replace(KERAS3, 1, KERAS3[0].replace(", return_sequences=True", ""))
    result = grade_notebook(write_notebook(tmp_path, sources))
    assert step_scores(result) == [0, 20, 20, 20, 20]
    assert result.keras.startswith("3.")  # Keras 3 code with a mistake stays under Keras 3
    assert failed_checks(result, 1)["return_sequences"] == (True, False)
    step2 = result.steps[1]
    assert step2.judged_on == "rerun"
    assert any("step 1" in note for note in step2.notes)
    assert any(error.ename == "ValueError" and error.step == "step2" for error in result.errors)


def test_step3_returning_sequences_costs_step3_only(tmp_path):
    result = grade_notebook(write_notebook(tmp_path, replace(KERAS3, 3, "model.add(LSTM(300, return_sequences=True))")))
    assert step_scores(result) == [0 if i == 2 else 20 for i in range(5)]
    assert failed_checks(result, 3) == {"return_sequences": (False, True),
                                        "output_shape": ("(None, 300)", "(None, None, 300)")}
    assert result.steps[3].judged_on == "rerun"
    assert any("step 3" in note for note in result.steps[3].notes)


def test_step2_returning_only_the_last_output_costs_step2_only(tmp_path):
    result = grade_notebook(write_notebook(tmp_path, replace(KERAS3, 2, "model.add(LSTM(100))")))
    assert step_scores(result) == [20, 0, 20, 20, 20]
    assert result.steps[1].judged_on == "notebook"
    assert [step.judged_on for step in result.steps[2:4]] == ["rerun", "rerun"]
    assert any(error.ename == "ValueError" and error.step == "step3" for error in result.errors)


# --- Keras 2 and Keras 3 answers ---

def test_keras3_input_shape_argument_is_accepted(tmp_path):
    first = IMPORTS + "model.add(LSTM(50, input_shape=(None, 1), return_sequences=True))"
    result = grade_notebook(write_notebook(tmp_path, replace(KERAS3, 1, first)))
    assert (result.score, result.keras[0]) == (100, "3")


def test_keras2_batch_input_shape_with_fixed_time_steps_is_accepted(tmp_path):
    first = IMPORTS + "model.add(LSTM(50, batch_input_shape=(None, 20, 1), return_sequences=True))"
    result = grade_notebook(write_notebook(tmp_path, replace(KERAS2, 1, first)))
    assert (result.score, result.keras[0]) == (100, "2")
    assert result.layers[0].output_shape == "(None, 20, 50)"


def test_keras3_model_without_input_dimension_loses_step1_only(tmp_path):
    first = IMPORTS + "model.add(LSTM(50, return_sequences=True))"
    result = grade_notebook(write_notebook(tmp_path, replace(KERAS3, 1, first)))
    assert result.keras.startswith("3.")
    assert step_scores(result) == [0, 20, 20, 20, 20]
    assert failed_checks(result, 1) == {"input_dim": (1, "not declared"), "params": (10400, "unknown"),
                                        "output_shape": ("(None, None, 50)", "unknown")}


# Step 1 declares no input; step 2 is written the course's way (input_dim=50 on a later layer).
NO_INPUT_THEN_COURSE_STYLE = replace(replace(KERAS3, 1, IMPORTS + "model.add(LSTM(50, return_sequences=True))"),
                                     2, "model.add(LSTM(input_dim=50, units=100, return_sequences=True))")


@pytest.mark.parametrize("keras", ["auto", "2", "3"])
def test_a_model_never_built_costs_step1_only_under_every_keras(tmp_path, keras):
    """Under Keras 2, summary() raises "This model has not yet been built" because step 1 declared
    no input: step 5 is judged on correct earlier steps, and passes. `auto` never keeps a worse
    result than either Keras, and says nothing untrue about the code."""
    result = grade_notebook(write_notebook(tmp_path, NO_INPUT_THEN_COURSE_STYLE), keras=keras)
    assert step_scores(result) == [0, 20, 20, 20, 20], [step.reason for step in result.steps]
    assert result.steps[4].judged_on in (("notebook",) if result.keras.startswith("3.") else ("rerun", "replay"))
    if result.keras.startswith("2."):
        assert "because of step 1" in " ".join(result.steps[4].notes)
    if keras == "auto":
        assert not any("Keras 2" in note for note in result.notes) or result.keras.startswith("2.")


def test_forcing_keras3_on_the_keras2_answer_grades_under_keras3(tmp_path):
    result = grade_notebook(ROOT / "solutions/lstm_network/reference_keras2.ipynb", keras="3")
    assert result.keras.startswith("3.")
    assert result.steps[0].score == 0
    assert any("expected ndim=3, found ndim=2" in error.evalue for error in result.errors)


def test_dynamic_keras2_fallback_when_the_keyword_is_hidden(tmp_path):
    first = IMPORTS + "options = {'input' + '_dim': 1}\nmodel.add(LSTM(units=50, return_sequences=True, **options))"
    result = grade_notebook(write_notebook(tmp_path, replace(KERAS3, 1, first)))
    assert (result.score, result.keras[0]) == (100, "2")


# The course's step 2 states the input dimension it receives; copied to step 3, it is wrong there (Q7).
COURSE_STEP2 = replace(KERAS3, 2, "model.add(LSTM(input_dim=50, units=100, return_sequences=True))")


@pytest.mark.parametrize("keras", ["2", "3"])
def test_a_later_layer_stating_another_input_dimension_fails_its_own_step(tmp_path, keras):
    right = grade_notebook(write_notebook(tmp_path, COURSE_STEP2, "right.ipynb"), keras=keras)
    wrong = grade_notebook(write_notebook(tmp_path, replace(COURSE_STEP2, 3, "model.add(LSTM(300, input_dim=50))"),
                                          "wrong.ipynb"), keras=keras)
    assert (right.keras[0], step_scores(right)) == (keras, FULL), [step.reason for step in right.steps]
    assert (wrong.keras[0], step_scores(wrong)) == (keras, [20, 20, 0, 20, 20])
    assert failed_checks(wrong, 3) == {"input_dim": (100, 50)}
    explains = {check.name: check.explain for check in wrong.steps[2].checks}
    assert "here 100 features" in explains["input_dim"]  # what a later layer receives, not the first layer's text


def test_tensorflow1_style_shapes_are_read(tmp_path):
    """Under `tf.compat.v1.disable_v2_behavior()` every shape holds TensorFlow 1 `Dimension` objects."""
    tf1 = "import tensorflow.compat.v1 as tf1\ntf1.disable_v2_behavior()\n"
    result = grade_notebook(write_notebook(tmp_path, replace(KERAS2, 1, tf1 + KERAS2[0])))
    assert (result.score, result.keras[0]) == (100, "2"), [step.reason for step in result.steps]
    assert [layer.params for layer in result.layers] == [10400, 60400, 481200, 30100, 1010]
    assert [layer.output_shape for layer in result.layers] == [
        "(None, None, 50)", "(None, None, 100)", "(None, 300)", "(None, 100)", "(None, 10)"]


SUBCLASSED = """class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.l1, self.l2 = LSTM(50, return_sequences=True), LSTM(100, return_sequences=True)
        self.l3, self.d1, self.d2 = LSTM(300), Dense(100), Dense(10)
    def call(self, x):
        return self.d2(self.d1(self.l3(self.l2(self.l1(x)))))
model = Net()
"""


@pytest.mark.parametrize("keras", ["2", "3"])
def test_a_subclassed_model_called_on_a_batch_is_built_on_that_input(tmp_path, keras):
    """Q4b: Keras keeps no tensor of a call on data, only the shapes the layers were built on."""
    source = IMPORTS + SUBCLASSED + "model(np.zeros((2, 5, 1)))\nmodel.summary()"
    result = grade_notebook(write_notebook(tmp_path, [source], marked=False), keras=keras)
    assert (result.keras[0], result.score) == (keras, 100), [step.reason for step in result.steps]
    assert [layer.output_shape for layer in result.layers] == [
        "(2, 5, 50)", "(2, 5, 100)", "(2, 300)", "(2, 100)", "(2, 10)"]
    assert [layer.params for layer in result.layers] == [10400, 60400, 481200, 30100, 1010]


def test_a_subclassed_model_never_built_has_no_input_dimension(tmp_path):
    result = grade_notebook(write_notebook(tmp_path, [IMPORTS + SUBCLASSED + "model.summary()"], marked=False))
    assert (result.keras[0], step_scores(result)) == ("3", [0, 20, 20, 20, 20])
    assert failed_checks(result, 1) == {"input_dim": (1, "not declared"), "params": (10400, "unknown"),
                                        "output_shape": ("(None, None, 50)", "unknown")}


# --- broken code ---

def test_syntax_error_in_step2_costs_step2_only(tmp_path):
    result = grade_notebook(write_notebook(tmp_path, replace(KERAS3, 2, "model.add(LSTM(100, return_sequences=True)")))
    assert step_scores(result) == [20, 0, 20, 20, 20]
    assert result.errors[0].ename == "SyntaxError"


def test_cell_that_raises_after_half_its_work(tmp_path):
    result = grade_notebook(write_notebook(tmp_path, replace(KERAS3, 4, "model.add(Dense(100))\n1/0\nmodel.add(Dense(10))")))
    assert step_scores(result) == [20, 20, 20, 0, 20]
    assert "layer" in failed_checks(result, 4)
    assert [error.ename for error in result.errors] == ["ZeroDivisionError"]


def test_notebook_that_never_defines_model(tmp_path):
    result = grade_notebook(write_notebook(tmp_path, ["import numpy as np", "x = 1"]))
    assert (result.score, result.status) == (0, "graded")
    assert result.layers == []


def test_model_under_another_name_is_graded_and_the_step_that_uses_model_fails_on_its_error(tmp_path):
    """Q2: step 1 builds `net`, the only Keras model: graded, at no cost. Step 2 writes `model.add`,
    which raises NameError: that is step 2's first sentence. Steps 3-5 are judged on their code."""
    first = IMPORTS.replace("model=Sequential()", "net = Sequential()") + \
        "net.add(keras.Input(shape=(None, 1)))\nnet.add(LSTM(50, return_sequences=True))"
    result = grade_notebook(write_notebook(tmp_path, replace(KERAS3, 1, first)), lang="en")
    assert step_scores(result) == [20, 0, 20, 20, 20]
    assert result.steps[1].reason.startswith(
        "Your code raised NameError at `model.add(LSTM(100, return_sequences=True))`: name 'model' is not defined.")
    assert "There was no usable model named model, so the model net was graded (at no cost)." in result.notes


# --- finding the steps without our metadata ---

def test_course_notebook_without_metadata_is_mapped_by_content(tmp_path):
    result = grade_notebook(write_notebook(tmp_path, KERAS2, marked=False))
    assert result.score == 100
    assert all(step.judged_on == "notebook" for step in result.steps)


def test_everything_in_one_cell_is_split_into_steps(tmp_path):
    result = grade_notebook(write_notebook(tmp_path, ["\n".join(KERAS3)], marked=False, headings=False))
    assert result.score == 100


def test_one_cell_with_step1_wrong_is_still_judged_step_by_step(tmp_path):
    code = "\n".join(KERAS3).replace("LSTM(50, return_sequences=True)", "LSTM(50)")
    result = grade_notebook(write_notebook(tmp_path, [code], marked=False, headings=False))
    assert step_scores(result) == [0, 20, 20, 20, 20]
    assert {step.judged_on for step in result.steps} == {"rerun"}


@pytest.mark.parametrize("answers, scores", [
    (KERAS2, FULL),
    (replace(KERAS2, 1, KERAS2[0].replace(",return_sequences=True", "")), [0, 20, 20, 20, 20]),
])
def test_answers_in_cells_added_below_the_given_ones(tmp_path, answers, scores):
    nb = nbformat.read(ROOT / "exercises/lstm_network/lstm_network.en.ipynb", as_version=4)
    answers = iter(answers)
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type == "code" and "load_ext" not in cell.source:  # the given cell keeps its <None>; the answer below
            cells.append(nbformat.v4.new_code_cell(next(answers)))
    nb.cells = cells
    path = tmp_path / "added.ipynb"
    nbformat.write(nb, path)
    assert step_scores(grade_notebook(path)) == scores


def test_layers_built_in_a_loop_are_judged_as_a_whole_model(tmp_path):
    code = (IMPORTS + "model.add(keras.Input(shape=(None, 1)))\n"
            "for units in (50, 100):\n    model.add(LSTM(units, return_sequences=True))\n"
            "model.add(LSTM(300))\nfor units in (100, 20):\n    model.add(Dense(units))\nmodel.summary()")
    result = grade_notebook(write_notebook(tmp_path, [code], marked=False, headings=False))
    assert step_scores(result) == [20, 20, 20, 0, 20]
    assert {step.judged_on for step in result.steps} == {"final_model"}


# --- old formats ---

def test_nbformat_v3_notebook_is_upgraded_and_graded(tmp_path):
    from tests.notebooks import make_notebook

    path = tmp_path / "old.ipynb"
    path.write_text(nbformat.writes(nbformat.convert(make_notebook(KERAS3), 3), version=3))
    assert json.loads(path.read_text())["nbformat"] == 3
    assert grade_notebook(path).score == 100


def test_the_self_check_cells_of_a_shipped_notebook_are_no_error_when_graded(tmp_path):
    """The shipped notebooks load the grader's extension and invite `%grade` cells: while graded,
    both do nothing, and say nothing."""
    nb = nbformat.read(ROOT / "exercises" / "lstm_network" / "lstm_network.en.ipynb", as_version=4)
    answers = iter(KERAS3)
    for cell in nb.cells:
        if cell.cell_type == "code" and "<None>" in cell.source:
            cell.source = next(answers)
    for index in (len(nb.cells), 6):
        nb.cells.insert(index, nbformat.v4.new_code_cell("%grade" if index == 6 else "%grade 3"))
    nbformat.write(nb, tmp_path / "lab.ipynb")
    result = grade_notebook(tmp_path / "lab.ipynb")
    assert (result.status, result.score, result.errors, result.notes) == ("graded", 100, [], [])
