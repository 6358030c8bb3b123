"""The clean replay: the score comes from each step's code run again where nothing else ran.

After the notebook's own run (and after its kernel is gone), the statements that build the model,
with the definitions they read and the imports (grader/slicing.py), run again in a fresh kernel
with the notebook's options: in notebook order, each statement once. Before a step's code runs,
the replay looks at the model it has so far: when every earlier step built what the spec expects,
the step runs on that model; else on the reference model of the earlier steps, installed first.
Nothing ever runs twice, so code that behaves differently the second time gains nothing. Each
step is judged with the notebook's own checks (StepJudge).

How the two verdicts make the score (`confirm`):

- A step the notebook's run could not judge, because an earlier step went wrong there, is left to
  the replay (`deferred`): the replay's verdict on it, run on correct earlier steps, is the verdict.
- A step scores only when the notebook's run and the replay both pass it. The replay can take
  points away, never give them.
- A step that passed in the notebook's run and failed in the replay is reported as the replay
  judged it, and the result `needs_review`: the two runs disagree, and an honest notebook can make
  them disagree (code the slice left out: a `print` of what `summary` wrote to a file, a name made
  with exec), so the grader cannot tell a defect of the slice from a forgery. The note gives both
  verdicts and what the replay met (a new error, a limit), for an instructor. The same when the
  notebook's final model is not the one the replay built, though the replay ran every step on the
  student's own model and both raised the same errors. Falling back to the notebook's verdict
  would let a notebook forge its run and break its replay on purpose.
- The result is `tampered` only on evidence no honest notebook produces: a cell that ran other
  code than the notebook holds (grader/as_written.py), in the notebook's run or in the replay.
- A replay that a limit stopped is tried once more by the caller, when the notebook's time leaves
  room for it (a busy machine is the honest cause; code that hangs only in the replay hangs again). One whose kernel could not start even
  then (a limit before any of the notebook's code ran) is no evidence either way: the notebook's
  verdicts stand and a note says they are unconfirmed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from grader.as_written import judge_as_written
from grader.grading import DEFERRED, Evidence, StepJudge
from grader.kernel import KernelSession, LimitReached
from grader.messages import text
from grader.results import StepResult
from grader.runs import CellRun, ErrorInfo, Runner
from grader.slicing import Part
from grader.snapshot import EMPTY, Snapshot
from grader.spec import ExerciseSpec, StepSpec
from grader.steps import StepMap
from grader.written import Written

TAMPERED = "tampered"
NEEDS_REVIEW = "needs_review"


@dataclass
class Replay:
    steps: list[StepResult] = field(default_factory=list)
    status: str = "graded"  # or the limit that stopped the replay
    on_reference: bool = False  # some step ran on the reference model of the steps before it
    runs: list[CellRun] = field(default_factory=list)
    errors: dict[str, list[ErrorInfo]] = field(default_factory=dict)  # per judged step: the errors up to it
    rewritten: list[str] = field(default_factory=list)  # the note, when a replayed cell ran other code
    started: bool = False  # the kernel started and the replay ran (or tried to run) code


@dataclass
class Confirmation:
    steps: list[StepResult]
    tampered: bool  # evidence no honest notebook produces: a cell ran other code than the notebook holds
    notes: list[str]
    review: bool = False  # the two runs disagree and the grader cannot tell why: for an instructor


async def replay_notebook(kernel: KernelSession, spec: ExerciseSpec, step_map: StepMap, parts: list[Part],
                          lang: str, written: Written | None = None, built_eventually: bool = True) -> Replay:
    """Run `parts` in `kernel`, a fresh session, and judge each step on what they did (and, with
    `written`, on whether the notebook's code holds the settings of its layers; with
    `built_eventually`, on whether the notebook's own run ever gave its model an input)."""
    replayer = _Replayer(spec, step_map, lang, written, built_eventually)
    try:
        async with kernel as session:
            replayer.replay.started = True
            await replayer.run(session, parts)
    except LimitReached as limit:
        replayer.replay.status = limit.status
    return await replayer.result()


class _Replayer:
    def __init__(self, spec: ExerciseSpec, step_map: StepMap, lang: str, written: Written | None,
                 built_eventually: bool) -> None:
        self.spec, self.step_map, self.lang, self.written = spec, step_map, lang, written
        self.judge = StepJudge(spec, step_map, [], None, lang, written=written, built_eventually=built_eventually)
        self.replay = Replay()
        self.results: dict[str, Evidence] = {}
        self.current: Snapshot = EMPTY

    async def run(self, session: Runner, parts: list[Part]) -> None:
        steps = {step.id: step for step in self.spec.steps} if self.step_map.confident else {}
        last = {part.step_id: index for index, part in enumerate(parts)}
        opened: dict[str, Evidence] = {}
        for index, part in enumerate(parts):
            step = steps.get(part.step_id)
            if step and step.id not in opened:
                opened[step.id] = Evidence(await self._before(session, step), EMPTY, [], "replay")
            if part.source:
                run = await session.run(part.source, part.cell_index)
                self.replay.runs.append(run)
                self.current = run.snapshot or self.current
                if step:
                    opened[step.id].runs.append(run)
            if step and last[step.id] == index:
                self._judge(step, opened[step.id])

    async def _before(self, session: Runner, step: StepSpec) -> Snapshot:
        """The model the step's code starts from: the replay's own, or the reference when an
        earlier step went wrong."""
        if not self.judge.prefix_ok(step, self.current):
            layers = [layer.as_probe_data() for layer in self.spec.layers_before(step)]
            self.current = await session.install_reference(layers)
            self.replay.on_reference = True
        return self.current

    def _judge(self, step: StepSpec, evidence: Evidence) -> None:
        """Close the step's evidence; it is judged at the end, when a model built only later (by
        `model.build(...)`) shows its layers as built."""
        evidence.after = (evidence.runs[-1].snapshot or EMPTY) if evidence.runs else evidence.before
        self.results[step.id] = evidence
        self.replay.errors[step.id] = [run.error for run in self.replay.runs if run.error]

    async def result(self) -> Replay:
        if self.step_map.confident:
            self.judge.runs = list(self.replay.runs)
            self.replay.steps = [self.judge.judge_replayed(step, self.results.get(step.id)) for step in self.spec.steps]
        else:
            judge = StepJudge(self.spec, self.step_map, self.replay.runs, None, self.lang, written=self.written)
            self.replay.steps = await judge.judge_all()
            if self.replay.status == "graded":
                errors = [run.error for run in self.replay.runs if run.error]
                self.replay.errors = {step.id: errors for step in self.spec.steps}
        self.replay.steps, self.replay.rewritten = judge_as_written(self.spec, self.step_map, self.replay.steps,
                                                                    self.replay.runs, self.lang)
        return self.replay


def confirm(spec: ExerciseSpec, notebook: list[StepResult], runs: list[CellRun], status: str, replay: Replay,
            lang: str) -> Confirmation:
    """The notebook's verdicts, confirmed or overturned by the replay's (see the module's doc)."""
    if not replay.started:
        limit = text(f"report.status_{replay.status}", lang)
        return Confirmation(notebook, False, [text("note.replay_unavailable", lang, status=limit)])
    if replay.rewritten:  # evidence no honest notebook produces: a replayed cell ran other code
        return Confirmation([_confirmed(mine, again) for mine, again in zip(notebook, replay.steps)], True,
                            list(replay.rewritten))
    seen = {run.error.ename for run in runs if run.error}
    steps, unexplained, missed = [], [], []
    for step, mine, again in zip(spec.steps, notebook, replay.steps):
        if mine.judged_on == DEFERRED:
            steps.append(_deferred(step, again, replay, steps, spec, lang))
            continue
        if not mine.passed or again.passed:
            steps.append(mine)
            continue
        cause = _new_error(step, replay, seen, lang)
        (unexplained if cause is None else missed).append(str(step.number))
        steps.append(_overturned(again, cause or text("note.replay_failed", lang), lang))
    model_differs = not unexplained and not missed and _final_model_differs(runs, status, replay)
    notes = []
    if unexplained or model_differs:
        what = text("note.review_steps", lang, steps=", ".join(unexplained)) if unexplained else \
            text("note.review_model", lang)
        notes.append(text("note.needs_review", lang, what=what))
    if missed:
        notes.append(text("note.replay_missed", lang, steps=", ".join(missed)))
    return Confirmation(steps, False, notes, review=bool(unexplained or missed or model_differs))


def _confirmed(mine: StepResult, again: StepResult) -> StepResult:
    """A step after a rewritten replay: it scores only when both runs passed it."""
    return mine if not mine.passed or again.passed else again


CODE_NEEDED = ("layers", "summary")  # check kinds that no step passes unless its own code runs


def settle_unrunnable(spec: ExerciseSpec, steps: list[StepResult], unrunnable: set[str]) -> list[StepResult]:
    """The steps, with those left to the replay whose code cannot run anywhere settled now: each
    of their checks passes only when the step's code runs, so they fail in any replay as they did
    in the notebook's run. Such a step then needs no replay (the untouched template needs none)."""
    return [replace(result, judged_on="notebook")
            if result.judged_on == DEFERRED and step.id in unrunnable and _needs_code(step) else result
            for step, result in zip(spec.steps, steps)]


def _needs_code(step: StepSpec) -> bool:
    return all(kind in CODE_NEEDED for kind in step.checks) and ("layers" not in step.checks or bool(step.layers))


def _deferred(step: StepSpec, again: StepResult, replay: Replay, earlier: list[StepResult], spec: ExerciseSpec,
              lang: str) -> StepResult:
    """The replay's verdict on a step the notebook's run left to it because its earlier steps went
    wrong there: in the replay, it ran on correct earlier steps (the reference's, or the student's
    own once they were right)."""
    if step.id not in replay.errors and replay.status != "graded":
        stopped = text("note.replay_stopped", lang, status=text(f"report.status_{replay.status}", lang))
        return _overturned(again, stopped, lang)
    culprit = next((s for s, result in zip(spec.steps, earlier) if not result.passed), None)
    notes = StepJudge(spec, None, [], None, lang).rerun_notes(again.passed, culprit)
    return replace(again, judged_on="rerun", notes=[*notes, *again.notes])


def _new_error(step: StepSpec, replay: Replay, seen: set[str], lang: str) -> str | None:
    """What the replay met that the notebook's run did not (a limit, an error it raised), as the
    step's note; None when nothing explains the disagreement."""
    if step.id not in replay.errors:
        return text("note.replay_stopped", lang, status=text(f"report.status_{replay.status}", lang)) \
            if replay.status != "graded" else None
    new = [error for error in replay.errors[step.id] if error.ename not in seen]
    if not new:
        return None
    first = f"{new[0].ename}: {new[0].evalue}".splitlines()[0][:160]
    return text("note.replay_error", lang, error=first)


def _overturned(result: StepResult, note: str, lang: str) -> StepResult:
    return replace(result, notes=[note, *result.notes], reason=text("note.replay_reason", lang, reason=result.reason))


def _final_model_differs(runs: list[CellRun], status: str, replay: Replay) -> bool:
    """Is the notebook's final model not the replay's, where the replay should have built the same:
    both complete, the replay on the student's own model, and the same errors raised (an error in a
    statement the replay leaves out stops the rest of its cell in the notebook only)?"""
    if status != "graded" or replay.status != "graded" or replay.on_reference:
        return False
    if _error_names(runs) != _error_names(replay.runs):
        return False
    return _signature(runs) != _signature(replay.runs)


def _error_names(runs: list[CellRun]) -> list[str]:
    return [run.error.ename for run in runs if run.error]


def _signature(runs: list[CellRun]) -> list[tuple]:
    final = next((run.snapshot for run in reversed(runs) if run.snapshot and run.snapshot.model), None)
    return [(layer.keras_type or layer.class_path, layer.units, layer.return_sequences)
            for layer in (final.layers if final else ())]
