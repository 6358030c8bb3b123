"""Grade one notebook: read it, run it in a fresh kernel, judge each step, return the results."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from nbformat import NotebookNode

from grader.as_written import judge_as_written
from grader.checks import cell_notes, compare_network, format_shape
from grader.errors import machine_gap
from grader.grading import DEFERRED, StepJudge, model_built
from grader.kernel import KernelOptions, KernelSession, LimitReached, Limits, in_fresh_kernel
from grader.keras_runtime import KERAS2, KerasRuntime, keras2_reason, requested_backend
from grader.messages import detect_language, text
from grader.notebook import notebook_texts, read_notebook, referenced_files
from grader.options import AUTO, GradeOptions
from grader.replay import NEEDS_REVIEW, TAMPERED, Replay, confirm, replay_notebook, settle_unrunnable
from grader.results import ErrorResult, GradeResult, LayerResult, StepResult
from grader.runs import CellRun, printed_text
from grader.slicing import Part, keeps_every_cell, program, replay_parts, unrunnable_steps
from grader.spec import DEFAULT_EXERCISE, ExerciseSpec, load_spec
from grader.steps import CODE_CHARS, IPYTHON_CHARS, TOO_LARGE, TOO_MUCH_IPYTHON, StepMap, code_cells, map_steps
from grader.written import Written, written_notebook

T = TypeVar("T")
# What a grading is doing, for whoever shows it while it runs: (what, said in the grading's
# language; how many done; of how many, 0 when not counted).
OnProgress = Callable[[str, int, int], None]
# A warning about this machine, not about the notebook: (its message key, its text in the run's language).
OnWarning = Callable[[str, str], None]

# A notebook's time (Limits.notebook_seconds, --run-timeout) covers its whole grading, from reading
# it to the clean replay. Its own run, and the run again under Keras 2, end by this share of it:
# the rest is kept for the replay, which confirms what a run stopped by the limit had graded.
RUN_SHARE = 2 / 3


@dataclass
class Outcome:
    """The notebook's run and its judgement under one Keras."""

    keras: str | None
    status: str
    runs: list[CellRun]
    steps: list[StepResult]
    notes: list[str] = field(default_factory=list)
    out_of_time: bool = False  # the notebook's time ran out during this run


@dataclass(frozen=True)
class _Grading:
    """One notebook's grading: what every kernel it needs is made with, and the language said in."""

    nb: NotebookNode
    spec: ExerciseSpec
    step_map: StepMap
    kernel: KernelOptions
    lang: str
    replay: bool
    written: Written  # what the notebook's code holds: answers elsewhere cannot score (grader/written.py)
    progress: OnProgress | None = None
    on_warning: OnWarning | None = None  # None: said once per process on stderr
    run_lang: str = "en"  # the run's language (the one asked for, English for auto): warnings about the machine

    def tell(self, doing: str, done: int = 0, total: int = 0) -> None:
        if self.progress is not None:
            self.progress(text(f"progress.{doing}", self.lang), done, total)

    def warn(self, key: str, **fields: str) -> None:
        (self.on_warning or _say_once)(key, text(key, self.run_lang, **fields))

    def under(self, runtime: KerasRuntime) -> _Grading:
        return replace(self, kernel=replace(self.kernel, runtime=runtime))

    def until(self, deadline: float) -> _Grading:
        return replace(self, kernel=replace(self.kernel, deadline=deadline))

    def time_left(self, needed: float = 0.0) -> bool:
        """Is there time left before the deadline of the kernels this grading makes, `needed` seconds or more?"""
        return self.kernel.deadline is None or time.monotonic() + needed < self.kernel.deadline


def grade_notebook(path: str | Path, options: GradeOptions = GradeOptions(), progress: OnProgress | None = None,
                   on_warning: OnWarning | None = None) -> GradeResult:
    """Grade the notebook at `path`. Raises UnreadableNotebook when it cannot be graded at all.
    `progress` hears what it is doing as it goes; `on_warning`, what it has to say about the machine."""
    started = time.monotonic()
    ends = started + options.limits.notebook_seconds
    spec = load_spec(options.exercise)
    nb = read_notebook(path)
    lang = detect_language(notebook_texts(nb)) if options.lang == AUTO else options.lang
    runtime = KerasRuntime.first_choice(options.keras, nb)
    step_map = map_steps(nb, spec)
    kernel = KernelOptions(runtime=runtime, limits=options.limits, warm=options.warm,
                           model_variable=spec.model_variable, policy=spec.policy,
                           files=tuple(referenced_files(nb, Path(path).parent)),
                           deadline=started + RUN_SHARE * options.limits.notebook_seconds)
    grading = _Grading(nb, spec, step_map, kernel, lang, options.replay,
                       written_notebook(nb), progress, on_warning, options.shown_lang)
    outcome = asyncio.run(_run(grading))
    retry = runtime.retry(options.keras, outcome.runs, _score(outcome) == spec.max_score)
    keras3_runs = outcome.runs if grading.kernel.runtime != KERAS2 else []
    if retry is not None and not outcome.out_of_time and grading.time_left():
        again = asyncio.run(_run(grading.under(retry)))
        if _score(again) > _score(outcome):  # auto keeps the better of the two, never a worse one
            outcome, grading = again, grading.under(retry)
    if retry is not None and not grading.time_left():  # the run again was stopped, or not made, for lack of time
        outcome = _out_of_time(outcome, text("note.limit_run", lang, **_run_share(options.limits)))
    if options.keras == AUTO and grading.kernel.runtime == KERAS2:  # graded with Keras 2: say why
        outcome.notes.append(text(f"note.{keras2_reason(nb, keras3_runs)}", lang))
    if (backend := requested_backend(nb)) is not None:  # Q12: graded with TensorFlow all the same
        outcome.notes.append(text("note.backend", lang, backend=backend))
    units = program(nb, spec, step_map)
    outcome.steps = settle_unrunnable(spec, outcome.steps, unrunnable_steps(units))
    outcome = _as_written(outcome, grading)
    parts = replay_parts(units)
    if options.replay and _needs_replay(outcome, nb, parts, spec):
        outcome = asyncio.run(_replayed(outcome, parts, grading.until(ends)))
    grading.tell("report")
    return _result(path, spec, step_map, outcome, lang, time.monotonic() - started)


def unreadable_result(path: str | Path, reason: str, *, exercise: str | Path = DEFAULT_EXERCISE,
                      lang: str = "en") -> GradeResult:
    spec = load_spec(exercise)
    steps = [StepResult(id=step.id, title=step.title[lang], score=0, max_score=step.points,
                        passed=False, checks=[], judged_on="none", reason=reason) for step in spec.steps]
    return GradeResult(notebook=str(path), exercise=spec.id, exercise_title=spec.title[lang], score=0,
                       max_score=spec.max_score,
                       keras=None, status="unreadable", steps=steps, notes=[reason], lang=lang)


def _as_written(outcome: Outcome, grading: _Grading) -> Outcome:
    """The outcome with the steps run in a cell that ran other code than the notebook holds failed."""
    steps, notes = judge_as_written(grading.spec, grading.step_map, outcome.steps, outcome.runs, grading.lang)
    return replace(outcome, status=TAMPERED, steps=steps, notes=[*outcome.notes, *notes]) if notes else outcome


def _score(outcome: Outcome) -> int:
    return sum(step.score for step in outcome.steps)


def _out_of_time(outcome: Outcome, note: str) -> Outcome:
    """The outcome of a notebook whose time ran out before its grading was done: what was graded
    before counts, as when a limit stops its kernel."""
    return replace(outcome, status="timeout" if outcome.status == "graded" else outcome.status,
                   notes=[*outcome.notes, note])


def _run_share(limits: Limits) -> dict[str, str]:
    return {"limit": f"{limits.notebook_seconds:g} s", "run": f"{round(RUN_SHARE * limits.notebook_seconds, 1):g} s"}


async def _run(grading: _Grading) -> Outcome:
    return await _in_kernel(lambda kernel: _run_in(kernel, grading), grading)


def _needs_replay(outcome: Outcome, nb: NotebookNode, parts: list[Part], spec: ExerciseSpec) -> bool:
    """Does the score need the clean replay? When the notebook's run left steps to it (their
    earlier steps went wrong); and when it could take points away: not from a notebook that scored
    none, nor when the notebook's run already was a clean replay: complete, and nothing the replay
    would leave out (the same code in the same fresh kernel)."""
    if any(step.judged_on == DEFERRED for step in outcome.steps):
        return True
    if _score(outcome) == 0:
        return False
    return outcome.status != "graded" or not keeps_every_cell(nb, parts, spec.given_code)


async def _replayed(outcome: Outcome, parts: list[Part], grading: _Grading) -> Outcome:
    """The outcome with the verdicts the clean replay confirms, in a kernel of its own started
    after the notebook's is gone, with the same options (and what the notebook's run showed of
    its model, which the replay cannot see ahead of its own run)."""
    built = model_built(outcome.runs)
    async def attempt() -> tuple[Replay, float]:
        started = time.monotonic()
        grading.tell("replay")
        replay = await _in_kernel(lambda kernel: replay_notebook(kernel, grading.spec, grading.step_map, parts,
                                                                 grading.lang, grading.written, built), grading)
        return replay, time.monotonic() - started

    replay, took = await attempt()
    # A limit stopped it: a busy machine, or code that hangs only here. Once more, if the notebook's
    # time left allows a replay as long as this one.
    if replay.status != "graded" and grading.time_left(took):
        replay, took = await attempt()
    confirmed = confirm(grading.spec, outcome.steps, outcome.runs, outcome.status, replay, grading.lang)
    status = TAMPERED if confirmed.tampered or outcome.status == TAMPERED else \
        NEEDS_REVIEW if confirmed.review else outcome.status
    confirmed_outcome = Outcome(keras=outcome.keras, status=status,
                                runs=outcome.runs, steps=confirmed.steps, notes=[*outcome.notes, *confirmed.notes])
    if replay.status == "timeout" and not grading.time_left(took):  # no time for another: the notebook's ran out
        limit = f"{grading.kernel.limits.notebook_seconds:g} s"
        return _out_of_time(confirmed_outcome, text("note.limit_notebook", grading.lang, limit=limit))
    return confirmed_outcome


def _in_kernel(work: Callable[[KernelSession], Awaitable[T]], grading: _Grading) -> Awaitable[T]:
    return in_fresh_kernel(work, grading.kernel, on_cold_fallback=lambda why: grading.warn(
        "cli.warm_off", reason=why.reason(grading.run_lang)))


async def _run_in(kernel: KernelSession, grading: _Grading) -> Outcome:
    spec, step_map, lang, limits = grading.spec, grading.step_map, grading.lang, grading.kernel.limits
    runs: list[CellRun] = []
    outcome = Outcome(keras=None, status="graded", runs=runs, steps=[])
    try:
        grading.tell("kernel")
        async with kernel as session:
            outcome.keras = session.keras_version
            if not limits.network and not session.isolation.get("network_isolated"):
                grading.warn("cli.network_open")
            cells = code_cells(grading.nb)
            for index, source in cells:
                grading.tell("cells_keras2" if grading.kernel.runtime == KERAS2 else "cells", len(runs), len(cells))
                runs.append(await session.run(source, index))
            grading.tell("checks")
            outcome.steps = await StepJudge(spec, step_map, runs, session, lang, defer_reruns=grading.replay,
                                            written=grading.written).judge_all()
    except LimitReached as limit:  # the limit ended the notebook; the cell that hit it is kept
        if limit.run is not None:
            runs.append(limit.run)
        outcome.status = limit.status
        outcome.out_of_time = limit.status == "timeout" and limit.detail == "notebook"
        outcome.notes.append(_limit_note(limit, limits, lang))
    if outcome.status != "graded":  # the kernel is gone: judge what its run showed, without re-runs
        outcome.steps = await StepJudge(spec, step_map, runs, None, lang, defer_reruns=grading.replay,
                                        written=grading.written).judge_all()
    return outcome


_said: set[str] = set()


def _say_once(key: str, message: str) -> None:
    """A warning about this machine, said once per process however many notebooks are graded."""
    if key not in _said:
        _said.add(key)
        print(message, file=sys.stderr)


def _limit_note(limit: LimitReached, limits: Limits, lang: str) -> str:
    if limit.status == "kernel_died":
        return text("note.kernel_died", lang, signal=limit.detail or "?")
    if limit.status == "timeout" and limit.detail == "notebook":  # the run's share of the notebook's time
        return text("note.limit_run", lang, **_run_share(limits))
    if limit.status == "timeout":
        return text("note.limit_cell", lang, limit=f"{limits.cell_seconds:g} s")
    if limit.status == "memory_limit" and limit.detail == "start":
        return text("note.limit_start", lang, limit=limits.describe("memory_limit"))
    if limit.status == "output_limit" and limit.detail == "probe":
        return text("note.limit_probe", lang, limit=limits.describe("probe"))
    if limit.status == "disk_limit" and limit.detail == "files":
        return text("note.limit_files", lang, limit=limits.describe("files"))
    return text(f"note.limit_{limit.status}", lang, limit=limits.describe(limit.status))


def _result(path, spec: ExerciseSpec, step_map: StepMap, outcome: Outcome, lang: str,
            seconds: float) -> GradeResult:
    notes = list(dict.fromkeys(outcome.notes + _found_notes(outcome.runs, spec, lang) + _unread_notes(step_map, lang)))
    probe_errors = {run.snapshot.error for run in outcome.runs if run.snapshot and run.snapshot.error}
    notes += [text("note.probe_failed", lang, error=error) for error in sorted(probe_errors)]
    return GradeResult(
        notebook=str(path), exercise=spec.id, exercise_title=spec.title[lang],
        score=sum(step.score for step in outcome.steps),
        max_score=spec.max_score, keras=outcome.keras, status=outcome.status, steps=outcome.steps,
        layers=_layers(outcome, step_map), errors=_errors(outcome.runs, step_map), notes=notes,
        lang=lang, seconds=round(seconds, 2), summary_text=_summary_text(outcome.runs),
        expected_summary=spec.expected_summary, network=_network(spec, outcome))


def _unread_notes(step_map: StepMap, lang: str) -> list[str]:
    """Which cells the analysis took as one block, past one of its bounds (grader/steps.py), and why."""
    limits = {TOO_LARGE: CODE_CHARS, TOO_MUCH_IPYTHON: IPYTHON_CHARS}
    notes = []
    for why, limit in limits.items():
        cells = [str(index + 1) for index, reason in sorted(step_map.unread.items()) if reason == why]
        if cells:
            notes.append(text(f"note.unread_{why}", lang, cells=", ".join(cells), limit=f"{limit:,}"))
    return notes


def _found_notes(runs: list[CellRun], spec: ExerciseSpec, lang: str) -> list[str]:
    """What the grader took on the policies' word (README, "How grading decides"), said once each."""
    notes = []
    final = next((run.snapshot for run in reversed(runs) if run.snapshot and run.snapshot.model), None)
    if final and final.found_as:
        key = "note.found_summary" if final.found_as == "summary()" else "note.found_model"
        notes.append(text(key, lang, name=final.found_as, variable=spec.model_variable))
    if final and final.model.passed_through:
        notes.append(text("note.passed_through", lang, layers=", ".join(sorted(set(final.model.passed_through)))))
    if final:
        notes += cell_notes(final.layers, lang)  # Q8: RNN(LSTMCell(n)) judged as LSTM(n)
    gaps = sorted({gap for run in runs if (gap := machine_gap(run.error))})
    if gaps:
        notes.append(text("note.machine_gap", lang, modules=", ".join(gaps)))
    return notes


def _network(spec: ExerciseSpec, outcome: Outcome):
    final = next((run.snapshot for run in reversed(outcome.runs) if run.snapshot and run.snapshot.model), None)
    input_dim = final.model.input_dim if final else None
    return compare_network(spec, _final_layers(outcome.runs), input_dim, {step.id: step.passed for step in outcome.steps})


def _final_layers(runs: list[CellRun]):
    """The layers of the last model the notebook had."""
    final = next((run.snapshot for run in reversed(runs) if run.snapshot and run.snapshot.model), None)
    return final.layers if final else ()


def _layers(outcome: Outcome, step_map: StepMap) -> list[LayerResult]:
    """The final model, layer by layer, each with the step whose cell added it."""
    added_by: dict[int, str | None] = {}
    step_of = _cell_steps(step_map)
    for run in outcome.runs:
        if run.snapshot and run.snapshot.model:
            for layer in run.snapshot.layers:
                added_by.setdefault(layer.id, step_of.get(run.cell_index))
    return [LayerResult(index=i, name=layer.name, type=layer.keras_type or layer.class_path,
                        units=layer.units, return_sequences=layer.return_sequences,
                        output_shape=format_shape(layer.output_shape), params=layer.weight_params,
                        step=added_by.get(layer.id))
            for i, layer in enumerate(_final_layers(outcome.runs))]


def _errors(runs: list[CellRun], step_map: StepMap) -> list[ErrorResult]:
    step_of = _cell_steps(step_map)
    return [ErrorResult(cell=run.cell_index, step=step_of.get(run.cell_index),
                        ename=run.error.ename, evalue=run.error.evalue, traceback=run.error.traceback)
            for run in runs if run.error]


def _cell_steps(step_map: StepMap) -> dict[int, str | None]:
    """Each mapped cell's step; None for a cell with code of several steps. Made once: a notebook
    may have a great many cells and runs."""
    owners: dict[int, list[str]] = {}
    for step, chunks in step_map.chunks.items():
        for cell in dict.fromkeys(chunk.cell_index for chunk in chunks):
            owners.setdefault(cell, []).append(step)
    return {cell: steps[0] if len(steps) == 1 else None for cell, steps in owners.items()}


def _summary_text(runs: list[CellRun]) -> str:
    """What the notebook printed when model.summary() ran, for the reports to show."""
    for run in runs:
        snapshot = run.snapshot
        if snapshot and snapshot.model and snapshot.model.id in snapshot.summary_calls:
            return printed_text(run.outputs)
    return ""
