"""Fair grading: judge each step on its own code.

A step is judged on the notebook's own run when its code sits in cells of its own and every
earlier step built what the spec expects. Otherwise its code is run again on top of the
reference model of the steps before it, so that a mistake costs only the step that made it: by
the clean replay in a kernel of its own (grader/replay.py; the step is "deferred" here), or, when
there is no replay, in the same kernel. When the code cannot be mapped to steps, the final model is judged as a whole.
The same checks judge the clean replay of each step's code in a fresh kernel (grader/replay.py).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from grader.check_kinds import CHECK_KINDS
from grader.checks import judge_layers, judge_model_defined, judge_stretch, main_value, stretches
from grader.errors import error_sentence, has_placeholder, ran_nothing, undefined_name
from grader.runs import CellRun, ErrorInfo, Runner
from grader.messages import text, with_more_failed
from grader.results import CheckResult, StepResult
from grader.snapshot import EMPTY, Snapshot
from grader.spec import ExerciseSpec, LayerSpec, StepSpec
from grader.layer_kinds import vocabulary
from grader.steps import StepMap, callee_name
from grader.written import Written, unwritten

DEFERRED = "deferred"  # judged_on of a step whose verdict the clean replay gives


@dataclass
class Evidence:
    """What one step's code did: the model before and after it, and the runs of its code."""

    before: Snapshot
    after: Snapshot
    runs: list[CellRun]
    judged_on: str


def creates_layers(code: str) -> bool:
    """Does this code call a layer class the grader knows (grader/layers.toml) outside `.add(...)`?"""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    known = vocabulary()
    added = {id(argument) for node in ast.walk(tree) if isinstance(node, ast.Call) and callee_name(node) == "add"
             for argument in node.args}
    return any(isinstance(node, ast.Call) and callee_name(node) in known and id(node) not in added
               for node in ast.walk(tree))


def model_built(runs: Sequence[CellRun]) -> bool:
    """Did a model of these runs get its input (declared, or built on data)?"""
    return any(run.snapshot and run.snapshot.model and run.snapshot.model.input_known for run in runs)


class StepJudge:
    def __init__(self, spec: ExerciseSpec, step_map: StepMap, runs: Sequence[CellRun],
                 session: Runner | None, lang: str, *, defer_reruns: bool = False,
                 written: Written | None = None, built_eventually: bool | None = None) -> None:
        self.spec = spec
        # Does the notebook's model get its input at some point (grader/replay.py passes what the
        # notebook's own run showed, as the replay cannot see ahead)? None: as `runs` show.
        self.built_eventually = model_built(runs) if built_eventually is None else built_eventually
        # What the notebook's code holds (grader/written.py): a step's layers score only when their
        # settings are written there. None: not judged (the self-check in the student's own kernel).
        self.written = written
        self.step_map = step_map
        self.runs = list(runs)
        self.session = session  # None once the kernel is gone: then no step is re-run
        self.lang = lang
        # Leave the re-runs to the clean replay (grader/replay.py), which runs each such step on
        # the reference model in its own kernel anyway: such a step is judged "deferred" here.
        self.defer_reruns = defer_reruns

    async def judge_all(self) -> list[StepResult]:
        if not self.step_map.confident:
            return self._judge_final_model()
        results: list[StepResult] = []
        for step in self.spec.steps:
            culprit = next((s for s, r in zip(self.spec.steps, results) if not r.passed), None)
            results.append(await self._judge_step(step, culprit))
        return results

    async def _judge_step(self, step: StepSpec, culprit: StepSpec | None) -> StepResult:
        source = self.step_map.source(step.id)
        if not source:
            return self._result(step, self._checks(step, None), None, [text("note.no_code", self.lang)])
        evidence = self._notebook_evidence(step)
        checks = self._checks(step, evidence) if evidence else None
        if checks is not None and (all(c.passed for c in checks) or self._prefix_ok(step, evidence)):
            return self._result(step, checks, evidence, [])
        if self.session is None or self.defer_reruns:  # no kernel (a limit ended the notebook): no re-run
            result = self._result(step, checks or self._checks(step, None), evidence, [])
            return replace(result, judged_on=DEFERRED) if self.session is not None else result
        rerun = await self._rerun(step)
        rerun_checks = self._checks(step, rerun)
        return self._result(step, rerun_checks, rerun,
                            self.rerun_notes(all(c.passed for c in rerun_checks), culprit))

    def rerun_notes(self, passed: bool, culprit: StepSpec | None, how: str = "note.rerun_judged") -> list[str]:
        """The notes of a step judged on the reference model of the steps before it (`how`: re-run
        on it, or its final layers judged as they would be on it)."""
        notes = [text(how, self.lang)]
        if passed and culprit is not None:
            notes.append(text("note.carried_error", self.lang, step=culprit.number,
                              title=culprit.title[self.lang]))
        return notes

    def _notebook_evidence(self, step: StepSpec) -> Evidence | None:
        """The model before and after the step's own cells, when those cells hold only this step."""
        cells = self.step_map.cells(step.id)
        if not self.step_map.isolated(step.id):
            return None
        step_runs = [run for run in self.runs if run.cell_index in cells]
        if len(step_runs) != len(cells) or step_runs[-1].snapshot is None:
            return None  # the notebook's run stopped before this step's code ran
        earlier = [run for run in self.runs if run.cell_index < cells[0] and run.snapshot]
        before = earlier[-1].snapshot if earlier else EMPTY
        return Evidence(before, step_runs[-1].snapshot, step_runs, "notebook")

    async def _rerun(self, step: StepSpec) -> Evidence:
        reference = [layer.as_probe_data() for layer in self.spec.layers_before(step)]
        before = await self.session.install_reference(reference)
        runs = [await self.session.run(chunk.source, chunk.cell_index)  # one by one, like cells
                for chunk in self.step_map.chunks[step.id]]
        return Evidence(before, runs[-1].snapshot or EMPTY, runs, "rerun")

    def _prefix_ok(self, step: StepSpec, evidence: Evidence) -> bool:
        return self.prefix_ok(step, evidence.before)

    def prefix_ok(self, step: StepSpec, before: Snapshot) -> bool:
        """Did every step before this one build exactly what the spec expects, as `before` shows?
        A model not built yet (its input declared later, by `model.build(...)`) is judged on what
        it shows: each layer's type, units and return_sequences. A model never built has no input
        dimension, which every exercise's first step asks for: not what the spec expects."""
        if step.creates_model:
            return True
        reference = self.spec.layers_before(step)
        before = self.settled(before)
        layers = before.layers
        if len(layers) != len(reference) or before.model is None:
            return False
        if not before.model.input_known:
            return self.built_eventually and all((layer.keras_type, main_value(layer)) == (want.type, want.units)
                       and (want.return_sequences is None or layer.return_sequences == want.return_sequences)
                       for layer, want in zip(layers, reference))
        checks = judge_layers(reference, layers, 0, before.model.input_dim, self.lang)
        return all(check.passed for check in checks)

    def settled(self, snapshot: Snapshot) -> Snapshot:
        """`snapshot`, with its model's layers as they were once the model got built, when its input
        was declared only later (`model.build((None, None, 1))` after the layers, a subclassed model)."""
        model = snapshot.model
        if model is None or model.input_known:
            return snapshot
        later = next((run.snapshot.model for run in reversed(self.runs) if run.snapshot and run.snapshot.model
                      and run.snapshot.model.id == model.id and run.snapshot.model.input_known), None)
        if later is None:
            return snapshot
        built = {layer.id: layer for layer in later.layers}
        layers = tuple(built.get(layer.id, layer) for layer in model.layers)
        return replace(snapshot, model=replace(model, input_shape=later.input_shape, built=later.built, layers=layers))

    def judge_replayed(self, step: StepSpec, evidence: Evidence | None) -> StepResult:
        """Judge what the clean replay of the step's code did (grader/replay.py); None: it did nothing."""
        return self._result(step, self._checks(step, evidence), evidence, [])

    def _checks(self, step: StepSpec, evidence: Evidence | None) -> list[CheckResult]:
        """The step's checks, each kind as the check registry (grader/check_kinds.py) judges it; a
        step whose layers are added only later, on the final model."""
        final = self._adding_later(step, evidence)
        if final is None:
            return [check for name in step.checks for check in CHECK_KINDS[name](self, step, evidence)]
        return [*self._final_layer_checks(step, final),
                *(check for name in step.checks if name != "layers" for check in CHECK_KINDS[name](self, step, evidence))]

    def _adding_later(self, step: StepSpec, evidence: Evidence | None) -> Snapshot | None:
        """The final model, when the step's code creates layers but adds none, and a later model
        holds them (created in steps 1-4 and collected in a list, `Sequential(layers)` in step 5):
        a step's layers are the ones its code creates, wherever they are added."""
        if evidence is None or "layers" not in step.checks or not creates_layers(self.step_map.source(step.id)):
            return None
        after = evidence.after
        if after.model is not None and self.start_of_step(step, evidence) < len(after.layers):
            return None  # it added layers of its own
        final = next((run.snapshot for run in reversed(self.runs) if run.snapshot and run.snapshot.model), None)
        if final is None or final.model is None or not final.layers:
            return None
        return final if {layer.id for layer in final.layers} - {layer.id for layer in after.layers} else None

    @staticmethod
    def start_of_step(step: StepSpec, evidence: Evidence) -> int:
        """Where the step's layers begin: after the layers the model had before it, when it kept them."""
        before, after = evidence.before, evidence.after
        if step.creates_model or before.model is None or before.model.id != after.model.id:
            return 0
        kept = [layer.id for layer in before.layers] == [layer.id for layer in after.layers[:len(before.layers)]]
        return len(before.layers) if kept else 0

    def layer_checks(self, step: StepSpec, layers, start: int, input_dim: int | None,
                     whole_model: bool = False, keras_built: bool = False) -> list[CheckResult]:
        return judge_layers(step.layers, layers, start, input_dim, self.lang, whole_model=whole_model,
                            keras_built=keras_built)

    def _result(self, step: StepSpec, checks: list[CheckResult], evidence: Evidence | None,
                notes: list[str]) -> StepResult:
        if checks and all(check.passed for check in checks):  # a wrong value written is its own check's failure
            checks = [*checks, *self._written_checks(step)]
        passed = bool(checks) and all(check.passed for check in checks)
        code = self.step_map.source(step.id)
        raised = next((run.error for run in evidence.runs if run.error), None) if evidence else None
        placeholder = has_placeholder(code, self.spec.policy.placeholder)
        if self._adding_later(step, evidence) is not None:
            notes = [text("note.added_later", self.lang), *notes]
        if not passed and placeholder:
            notes = [text("note.placeholder", self.lang), *notes]
        return StepResult(id=step.id, title=step.title[self.lang], score=step.points if passed else 0,
                          max_score=step.points, passed=passed, checks=checks,
                          judged_on=evidence.judged_on if evidence else "none", notes=notes,
                          hint="" if passed else step.hint[self.lang], code=code,
                          error=f"{raised.ename}: {raised.evalue}" if raised else None,
                          reason="" if passed else self._reason(code, raised, placeholder, checks, notes))

    def _written_checks(self, step: StepSpec) -> list[CheckResult]:
        """A failed check when the notebook's code does not hold the settings the step's layers need."""
        missing = unwritten(step, self.written) if self.written is not None and "layers" in step.checks else []
        if not missing:
            return []
        values = ", ".join(missing)
        return [CheckResult("written", values, text("value.not_written", self.lang), False,
                            text("check.not_written", self.lang, values=values), text("explain.written", self.lang))]

    def _reason(self, code: str, raised: ErrorInfo | None, placeholder: bool, checks: list[CheckResult],
                notes: list[str]) -> str:
        """The step's first sentence, its real cause: a placeholder left in the code, else the error
        the step's code raised (with the student's line and what to do), else the first failed check."""
        failed = [check.message for check in checks if not check.passed]
        if placeholder:
            first = text("note.placeholder", self.lang)
        elif raised:
            cause = self._failed_import(raised)
            first = error_sentence(cause.error, cause.source, self.lang) if cause else \
                error_sentence(raised, code, self.lang)
        else:
            first = failed.pop(0) if failed else (notes[0] if notes else "")
        more = 0 if ran_nothing(raised.ename if raised else None, placeholder) else len(failed)
        return with_more_failed(first, more, self.lang)

    def _final_layer_checks(self, step: StepSpec, final: Snapshot,
                            reference: Sequence[LayerSpec] | None = None) -> list[CheckResult]:
        """The step's stretch of the final model, its layers aligned to the exercise's (grader/checks.py,
        `stretches`); `reference`: judged on top of the exercise's layers of the earlier steps."""
        if final.model is None or not final.model.is_keras_model:
            return [judge_model_defined(False, self.spec.model_variable, self.lang),
                    *self.layer_checks(step, (), 0, None, whole_model=True)]
        return judge_stretch(step, final.layers, stretches(self.spec, final.layers)[step.id], final.model.input_dim,
                             self.lang, keras_built=bool(final.layers) and final.layers[0].built, reference=reference)

    def _failed_import(self, raised: ErrorInfo) -> CellRun | None:
        """The run whose failed import left undefined the name `raised` (a NameError) complains of."""
        name = undefined_name(raised)
        if name is None:
            return None
        return next((run for run in self.runs if run.error and run.error.ename in ("ImportError", "ModuleNotFoundError")
                     and re.search(rf"\bimport\b[^\n]*\b{re.escape(name)}\b", run.source)), None)

    def _judge_final_model(self) -> list[StepResult]:
        """Judge the last model the notebook built, its layers aligned to the steps they belong to.
        With no code to run again, a step after one that failed is judged on its layers as they
        would be on top of correct earlier steps, as a re-run would judge it."""
        final = next((run.snapshot for run in reversed(self.runs) if run.snapshot), EMPTY)
        results = []
        for step in self.spec.steps:
            evidence = Evidence(final, final, self.runs, "final_model")
            checks = [check for name in step.checks if name != "layers"
                      for check in CHECK_KINDS[name](self, step, evidence)]
            notes = [text("note.whole_model", self.lang)]
            if "layers" in step.checks:
                culprit = next((s for s, r in zip(self.spec.steps, results) if not r.passed), None)
                layers = self._final_layer_checks(step, final)
                on_reference = self._final_layer_checks(step, final, self.spec.layers_before(step)) \
                    if culprit is not None and final.layers and not all(check.passed for check in layers) else layers
                if on_reference != layers:  # the earlier steps' mistakes made a difference here
                    layers = on_reference
                    notes += self.rerun_notes(all(check.passed for check in [*layers, *checks]), culprit,
                                              "note.final_judged")
                checks = layers + checks
            results.append(self._result(step, checks, evidence, notes))
        return results
