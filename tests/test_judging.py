"""The judging rules, with a fake runner at the execution seam: no kernel, milliseconds each.

A step is judged on the notebook's run when its earlier steps built what the spec expects; else
its code runs again on the reference model of those steps (through the runner), or, when the clean
replay will do that, it is left to the replay; with no kernel left, it is judged as it stands."""

import asyncio
from dataclasses import replace

from grader.grading import DEFERRED, StepJudge
from grader.messages import text
from grader.runs import CellRun, ErrorInfo
from grader.spec import load_spec
from grader.steps import map_steps
from tests.layers import layer, reference_layers, snapshot
from tests.notebooks import KERAS3, make_notebook

SPEC = load_spec("lstm_network")
NO_SEQUENCES = [KERAS3[0].replace(", return_sequences=True", ""), *KERAS3[1:]]


class FakeRunner:
    """Answers `install_reference` with the reference model and `run` with that model grown by the
    right layer; records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple] = []
        self.model = None

    async def install_reference(self, layers: list[dict]) -> object:
        self.asked.append(("install_reference", [item["type"] for item in layers]))
        self.model = snapshot(reference_layers()[:len(layers)])
        return self.model

    async def run(self, source: str, cell_index: int) -> CellRun:
        self.asked.append(("run", source))
        grown = (*self.model.layers, reference_layers()[len(self.model.layers)])  # the same layers, and one more
        self.model = replace(self.model, model=replace(self.model.model, layers=grown))
        return CellRun(cell_index, source, snapshot=self.model)


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
