"""The check registry: what a step of a spec may check, by name (`checks = ["layers"]`).

Each kind is a function `(judge, step, evidence) -> [CheckResult]`: `judge` is the StepJudge (the
spec, the language, the model as it settled), `evidence` what the step's code did, or None when
the step has no code. A new kind of check is one function here and its messages.
"""

from __future__ import annotations

from collections.abc import Callable

from grader.checks import format_shape, judge_model_defined, judge_summary, shape_matches
from grader.messages import text
from grader.results import CheckResult
from grader.spec import StepSpec, parse_shape


def _layers(judge, step: StepSpec, evidence) -> list[CheckResult]:
    """The layers the step's code added, in order, against the step's expected layers."""
    if evidence is None:  # no code for this step: each of its layers is missing
        return judge.layer_checks(step, (), 0, None)
    after = judge.settled(evidence.after)
    if after.model is None or not after.model.is_keras_model:
        return [judge_model_defined(False, judge.spec.model_variable, judge.lang), *judge.layer_checks(step, (), 0, None)]
    return judge.layer_checks(step, after.layers, judge.start_of_step(step, evidence), after.model.input_dim,
                              keras_built=_keras_builds(after.layers))


def _keras_builds(layers) -> bool:
    """Does Keras build this model's layers as they are added? When its first layer is built, it
    knows its input: a later layer left unbuilt failed to build."""
    return bool(layers) and layers[0].built


def _summary(judge, step: StepSpec, evidence) -> list[CheckResult]:
    """`model.summary()` really ran on the model during the step's code, and printed the summary."""
    runs = evidence.runs if evidence else []
    called = [run for run in runs if _summarised(run)]
    printed = any(judge.spec.policy.summary_mark in run.output_text for run in called)
    return judge_summary(bool(called), printed, judge.lang)


def _compiled(judge, step: StepSpec, evidence) -> list[CheckResult]:
    """The model is compiled, with the step's `compile.loss` and `compile.optimizer` (either may be left out)."""
    model = judge.settled(evidence.after).model if evidence else None
    compiled = model.compiled if model else None
    lang = judge.lang
    if not compiled:
        return [CheckResult("compiled", text("value.compiled", lang), text("value.not_compiled", lang), False,
                            text("check.not_compiled", lang), text("explain.compiled", lang))]
    checks = []
    for key in ("loss", "optimizer"):
        expected = step.setting(f"compile.{key}")
        if expected is None:
            continue
        actual = compiled.get(key)
        passed = isinstance(actual, str) and actual.lower() == str(expected).lower()
        label = text(f"label.{key}", lang)
        message = text("check.pass" if passed else "check.fail", lang, label=label, expected=expected,
                       actual=actual if actual is not None else text("value.unknown", lang))
        checks.append(CheckResult(key, expected, actual, passed, message, "" if passed else text(f"explain.{key}", lang)))
    return checks


def _output_shape(judge, step: StepSpec, evidence) -> list[CheckResult]:
    """The model's output shape is the step's `model.output_shape`."""
    expected = parse_shape(str(step.setting("model.output_shape")))
    model = judge.settled(evidence.after).model if evidence else None
    actual = model.layers[-1].output_shape if model and model.layers else None
    passed = shape_matches(expected, actual)
    shown = format_shape(actual) if actual is not None else text("value.unknown", judge.lang)
    message = text("check.pass" if passed else "check.fail", judge.lang, label=text("label.model_output", judge.lang),
                   expected=format_shape(expected), actual=shown)
    return [CheckResult("model_output", format_shape(expected), shown, passed, message)]


def _summarised(run) -> bool:
    """Did `model.summary()` really run, on the graded model, during this run?"""
    snapshot = run.snapshot
    return bool(snapshot and snapshot.model and snapshot.model.id in snapshot.summary_calls)


CHECK_KINDS: dict[str, Callable] = {
    "layers": _layers,
    "summary": _summary,
    "compiled": _compiled,
    "output_shape": _output_shape,
}
