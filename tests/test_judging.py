"""The judging rules, with a fake runner at the execution seam: no kernel, milliseconds each.

A step is judged on the notebook's run when its earlier steps built what the spec expects; else
its code runs again on the reference model of those steps (through the runner), or, when the clean
replay will do that, it is left to the replay; with no kernel left, it is judged as it stands."""

import asyncio
from dataclasses import replace

import pytest

from grader.checks import Stretch, stretches
from grader.grading import DEFERRED, StepJudge
from grader.keras_runtime import requested_backend
from grader.messages import text
from grader.runs import CellRun, ErrorInfo
from grader.snapshot import Snapshot, parse_snapshot
from grader.spec import load_spec
from grader.steps import map_steps
from tests.layers import layer, reference_layers, snapshot
from tests.notebooks import KERAS3, make_notebook

SPEC = load_spec("lstm_network")
NO_SEQUENCES = [KERAS3[0].replace(", return_sequences=True", ""), *KERAS3[1:]]


class FakeRunner:
    """Answers `install_reference` with the reference model and `run` with that model grown by the
    right layer for each `add(` of the code (and its summary printed, for `summary()`); records
    what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple] = []
        self.model = None

    async def install_reference(self, layers: list[dict]) -> object:
        self.asked.append(("install_reference", [item["type"] for item in layers]))
        self.model = snapshot(reference_layers()[:len(layers)])
        return self.model

    async def run(self, source: str, cell_index: int) -> CellRun:
        self.asked.append(("run", source))
        count = len(self.model.layers)
        grown = (*self.model.layers, *reference_layers()[count:count + source.count(".add(")])  # the same, and more
        self.model = replace(self.model, model=replace(self.model.model, layers=grown))
        if "summary()" not in source:
            return CellRun(cell_index, source, snapshot=self.model)
        return CellRun(cell_index, source, snapshot=replace(self.model, summary_calls=(self.model.model.id,)),
                       outputs=[{"output_type": "stream", "name": "stdout", "text": "Total params: 1"}])


def notebook_runs(sequences: bool) -> list[CellRun]:
    """The notebook's own run. With a first layer that returns no sequences, the LSTM(100) of step 2
    raises (it needs 3-D input) and adds nothing; steps 3 and 4 add their layers on that model."""
    first = layer("LSTM", 50, 1, return_sequences=sequences, declared=(None, None, 1))
    second = [layer("LSTM", 100, 50, return_sequences=True)] if sequences else []
    later = [layer("LSTM", 300, 100 if sequences else 50), layer("Dense", 100, 300), layer("Dense", 10, 100)]
    grown = [[first], [first, *second], [first, *second, later[0]], [first, *second, *later]]
    model = snapshot([first])
    runs = []
    for index, layers in enumerate(grown):
        model = replace(model, model=replace(model.model, layers=tuple(layers)))
        error = None if sequences or index != 1 else ErrorInfo("ValueError", "expected ndim=3, found ndim=2", "")
        runs.append(CellRun(1 + 2 * index, "", snapshot=model, error=error))
    runs.append(CellRun(9, "model.summary()", snapshot=replace(model, summary_calls=(model.model.id,)),
                        outputs=[{"output_type": "stream", "name": "stdout", "text": "Total params: 1"}]))
    return runs


def judge(runs, runner, **options):
    nb = make_notebook(NO_SEQUENCES)
    return asyncio.run(StepJudge(SPEC, map_steps(nb, SPEC), runs, runner, "en", **options).judge_all())


def test_a_right_notebook_is_judged_on_its_own_run_and_nothing_runs_again():
    runner = FakeRunner()
    results = judge(notebook_runs(True), runner)
    assert [(step.passed, step.judged_on) for step in results] == [(True, "notebook")] * 5
    assert runner.asked == []


def test_after_a_wrong_step_the_next_runs_again_on_the_reference_and_names_the_culprit():
    runner = FakeRunner()
    results = judge(notebook_runs(False), runner)
    assert [step.passed for step in results] == [False, True, True, True, True]
    assert runner.asked[:2] == [("install_reference", ["LSTM"]), ("run", NO_SEQUENCES[1])]
    assert results[1].judged_on == "rerun"
    assert results[1].notes == [text("note.rerun_judged", "en"),
                                text("note.carried_error", "en", step=1, title=SPEC.steps[0].title["en"])]


def test_with_a_replay_to_come_such_steps_are_left_to_it():
    runner = FakeRunner()
    results = judge(notebook_runs(False), runner, defer_reruns=True)
    # Step 2 raised because of step 1; steps 3 and 4 built right layers on what they got.
    assert [step.judged_on for step in results] == ["notebook", DEFERRED, "notebook", "notebook", "notebook"]
    assert [step.passed for step in results] == [False, False, True, True, True]
    assert runner.asked == []


def test_with_the_kernel_gone_a_step_is_judged_as_it_stands():
    results = judge(notebook_runs(False), None, defer_reruns=True)
    assert results[1].judged_on == "notebook" and not results[1].passed


def judged(sources: list[str], runs: list[CellRun], runner) -> list:
    nb = make_notebook(sources)
    return asyncio.run(StepJudge(SPEC, map_steps(nb, SPEC), runs, runner, "en").judge_all())


def summary_run(model) -> CellRun:
    return CellRun(9, "model.summary()", snapshot=replace(model, summary_calls=(model.model.id,)),
                   outputs=[{"output_type": "stream", "name": "stdout", "text": "Total params: 1"}])


def test_a_layer_that_returns_its_states_fails_its_own_step_and_the_next_are_judged_on_the_reference():
    """Keras 3 keeps LSTM(50, return_sequences=True, return_state=True) in a Sequential model: its
    output is three tensors, so every later `add` raises. Step 1 says why first; steps 2-4 run
    again on the reference and pass, naming step 1 as the real error."""
    states = replace(reference_layers()[0], output_shape=None, outputs=3)
    model = snapshot([states])
    raised = ErrorInfo("ValueError", 'Layer "lstm_1" expects 1 input(s), but it received 3 input tensors.', "")
    runs = [CellRun(1, "", snapshot=model), *[CellRun(3 + 2 * index, "", snapshot=model, error=raised)
                                              for index in range(3)], summary_run(model)]
    sources = [KERAS3[0].replace("return_sequences=True)", "return_sequences=True, return_state=True)"), *KERAS3[1:]]
    results = judged(sources, runs, FakeRunner())
    assert [step.passed for step in results] == [False, True, True, True, True]
    assert results[0].reason.startswith("the layer returns 3 tensors, not one: return_state=True")
    assert text("note.carried_error", "en", step=1, title=SPEC.steps[0].title["en"]) in results[1].notes


def test_a_class_bound_without_parentheses_is_the_line_the_first_sentence_names():
    """`model = keras.Sequential` raises nothing; the `model.add(...)` after it does. The first
    sentence names the line that made the mistake and what to write."""
    sources = [KERAS3[0].replace("model=Sequential()", "model = keras.Sequential"), *KERAS3[1:]]
    unbound = ErrorInfo("TypeError", "Sequential.add() missing 1 required positional argument: 'layer'",
                        "Cell In[2], line 7\n    model.add(keras.Input(shape=(None, 1)))\n")
    nothing = Snapshot(defined=True, model=None)
    runs = [CellRun(1 + 2 * index, "", snapshot=nothing, error=unbound) for index in range(4)]
    runs.append(CellRun(9, "model.summary()", snapshot=nothing, error=unbound))
    results = judged(sources, runs, FakeRunner())
    assert not results[0].passed
    assert results[0].reason.startswith("`model = keras.Sequential` binds model to the class Sequential itself and "
                                        "creates no model: write `model = keras.Sequential()`. Your code raised "
                                        "TypeError at `model.add(keras.Input(shape=(None, 1)))`")


def probed(keras_type: str, units: int | None, output_shape: list, weight_shapes: list, **more) -> dict:
    """A layer as the probe reports it."""
    return {"id": id(object()), "name": keras_type.lower(), "class": f"keras.layers.{keras_type}",
            "keras_type": keras_type, "units": units, "built": True, "weight_shapes": weight_shapes,
            "output_shape": output_shape, **more}


def test_a_masking_layer_in_front_is_passed_through():
    """Q9: Masking is on Q1's list. The notebook's run is judged as it stands, every step passes
    and nothing runs again."""
    layers = [probed("Masking", None, [None, None, 1], [], declared_input_shape=[None, None, 1]),
              probed("LSTM", 50, [None, None, 50], [[1, 200], [50, 200], [200]], return_sequences=True),
              probed("LSTM", 100, [None, None, 100], [[50, 400], [100, 400], [400]], return_sequences=True),
              probed("LSTM", 300, [None, 300], [[100, 1200], [300, 1200], [1200]], return_sequences=False),
              probed("Dense", 100, [None, 100], [[300, 100], [100]]), probed("Dense", 10, [None, 10], [[100, 10], [10]])]
    grown = [layers[:2], layers[:3], layers[:4], layers]
    runs = []
    for index, some in enumerate(grown):
        model = {"id": 7, "keras_model": True, "built": True, "input_shape": [None, None, 1], "layers": some}
        runs.append(CellRun(1 + 2 * index, "", snapshot=parse_snapshot({"defined": True, "model": model},
                                                                       SPEC.policy.pass_through)))
    runs.append(summary_run(runs[-1].snapshot))
    runner = FakeRunner()
    results = judged(KERAS3, runs, runner)
    assert [(step.passed, step.judged_on) for step in results] == [(True, "notebook")] * 5
    assert runs[-1].snapshot.model.passed_through == ("Masking",) and runner.asked == []


@pytest.mark.parametrize("code, backend", [
    ('import os\nos.environ["KERAS_BACKEND"] = "jax"\nimport keras', "jax"),
    ("%env KERAS_BACKEND=torch\nimport keras", "torch"),
    ("%env KERAS_BACKEND jax", "jax"),
    ("os.environ.setdefault('KERAS_BACKEND', 'JAX')", "jax"),
    ("import keras\nkeras.config.set_backend('jax')", "jax"),
    ('os.environ["KERAS_BACKEND"] = "jax"\nos.environ["KERAS_BACKEND"] = "tensorflow"', None),  # the last one counts
    ('# os.environ["KERAS_BACKEND"] = "jax"\nimport keras', None),  # a comment asks for nothing
    ('print(os.environ.get("KERAS_BACKEND"))\nimport keras', None),
    ('if os.environ["KERAS_BACKEND"] == "jax":\n    pass', None),
])
def test_the_backend_a_notebook_asks_for(code, backend):
    """Q12: grading runs Keras with TensorFlow whatever the notebook asks; the note names what it asked for."""
    assert requested_backend(make_notebook([code, *KERAS3])) == backend


LOOP = """from tensorflow import keras
from tensorflow.keras.layers import LSTM, Dense
model = keras.Sequential()
model.add(keras.Input(shape=(None, 1)))
for units, seq in [(50, True), (100, True), (300, True)]:
    model.add(LSTM(units, return_sequences=seq))
model.add(Dense(100))
model.add(Dense(10))
model.summary()"""


def judged_as_a_whole(layers, source: str = LOOP, runner=None) -> list:
    """One cell the steps cannot be split from; its run leaves `layers` in the model, summarised."""
    nb = make_notebook([source], marked=False, headings=False)
    step_map = map_steps(nb, SPEC)
    assert not step_map.confident
    runs = [summary_run(snapshot(layers))]
    return asyncio.run(StepJudge(SPEC, step_map, runs, runner, "en").judge_all())


def sequences_slip(dense_units: int = 100) -> list:
    """The reference model with LSTM(300, return_sequences=True): the Dense layers after it get 3-D input."""
    first, second = reference_layers()[:2]
    return [first, second, layer("LSTM", 300, 100, return_sequences=True),
            layer("Dense", dense_units, 300, output_shape=(None, None, dense_units)),
            layer("Dense", 10, dense_units, output_shape=(None, None, 10))]


def test_judged_as_a_whole_a_later_step_is_judged_on_correct_earlier_steps():
    """A loop adds the LSTM layers, so the final model is judged as a whole; one return_sequences
    slip in step 3 costs step 3 only: step 4's Dense layers are judged as they would be on the
    course's LSTM(300), and nothing runs again."""
    runner = FakeRunner()
    results = judged_as_a_whole(sequences_slip(), runner=runner)
    assert [(step.passed, step.judged_on) for step in results] == \
        [(True, "final_model")] * 2 + [(False, "final_model")] + [(True, "final_model")] * 2
    assert results[2].reason.startswith("return_sequences: expected False, got True")
    assert results[3].notes == [text("note.whole_model", "en"), text("note.final_judged", "en"),
                                text("note.carried_error", "en", step=3, title=SPEC.steps[2].title["en"])]
    assert results[1].notes == results[4].notes == [text("note.whole_model", "en")]
    assert runner.asked == []


def test_judged_as_a_whole_a_later_steps_own_mistake_still_costs_it():
    """On correct earlier steps, step 4's own settings are checked as written: Dense(20) fails."""
    results = judged_as_a_whole(sequences_slip(dense_units=20))
    assert [step.passed for step in results] == [True, True, False, False, True]
    assert results[3].reason.startswith("units: expected 100, got 20")
    assert results[3].notes == [text("note.whole_model", "en"), text("note.final_judged", "en")]


def test_judged_as_a_whole_an_extra_layer_costs_the_step_whose_stretch_it_sits_in():
    """An LSTM(200) between step 2's LSTM(100) and step 3's LSTM(300) is on the way to step 3's
    layer: it costs step 3. A Dense(1) after the last Dense(10) costs step 4. Each first sentence
    names the extra layer and where it sits; the other steps pass."""
    first, second = reference_layers()[:2]
    layers = [first, second, layer("LSTM", 200, 100, return_sequences=True), layer("LSTM", 300, 200),
              layer("Dense", 100, 300), layer("Dense", 10, 100), layer("Dense", 1, 10)]
    results = judged_as_a_whole(layers)
    assert [step.passed for step in results] == [True, True, False, False, True]
    assert results[2].reason == text("check.extra_layer_before", "en", layer="LSTM(200, return_sequences=True)",
                                     neighbour="LSTM(300)")
    assert results[3].reason == text("check.extra_layer_after", "en", layer="Dense(1)", neighbour="Dense(10)")
    # Step 3's extra layer changes nothing step 4 gets: judged as it stands, without a note of step 3.
    assert results[3].notes == [text("note.whole_model", "en")]


def test_judged_as_a_whole_pass_through_layers_are_no_extra_layers():
    """Q1: Dropout after each layer of a model judged as a whole is not an extra layer."""
    shapes = [("LSTM", 50, [None, None, 50], [[1, 200], [50, 200], [200]], True),
              ("LSTM", 100, [None, None, 100], [[50, 400], [100, 400], [400]], True),
              ("LSTM", 300, [None, 300], [[100, 1200], [300, 1200], [1200]], False),
              ("Dense", 100, [None, 100], [[300, 100], [100]], None), ("Dense", 10, [None, 10], [[100, 10], [10]], None)]
    layers = []
    for keras_type, units, output, weights, sequences in shapes:
        more = {"return_sequences": sequences} if sequences is not None else {}
        layers += [probed(keras_type, units, output, weights, **more), probed("Dropout", None, output, [])]
    layers[0]["declared_input_shape"] = [None, None, 1]
    model = {"id": 8, "keras_model": True, "built": True, "input_shape": [None, None, 1], "layers": layers}
    final = parse_snapshot({"defined": True, "model": model}, SPEC.policy.pass_through)
    nb = make_notebook([LOOP], marked=False, headings=False)
    results = asyncio.run(StepJudge(SPEC, map_steps(nb, SPEC), [summary_run(final)], None, "en").judge_all())
    assert [(step.passed, step.judged_on) for step in results] == [(True, "final_model")] * 5
    assert final.model.passed_through == ("Dropout",) * 5


def test_each_extra_layer_is_charged_to_the_step_of_the_next_aligned_layer():
    """grader/checks.py `stretches`: an extra layer in front costs step 1; one between a step's two
    layers costs that step; one after the last aligned layer costs that layer's step."""
    first, second, third, dense, last = reference_layers()
    extra = layer("Dense", 8, 1)
    layers = [extra, first, second, third, dense, layer("Dense", 7, 100), last, layer("LSTM", 20, 10)]
    parts = stretches(SPEC, layers)
    assert parts["step1"] == Stretch((1,), (0,))
    assert parts["step2"] == Stretch((2,)) and parts["step3"] == Stretch((3,))
    assert parts["step4"] == Stretch((4, 6), (5, 7))
    assert parts["step5"] == Stretch(())
