"""What no result may ever say: a verdict its checks contradict, a note blaming a step that passed,
a network table that disagrees with the steps; and, of an honest notebook, `tampered`. Checked on
every notebook of the test corpora (every one of them honest)."""

from __future__ import annotations

import re

from grader.messages import text
from grader.results import GradeResult

LAYER_CHECKS = {"type", "units", "return_sequences", "input_dim", "params", "output_shape", "layer", "layer_count",
                "built"}


def contradictions(result: GradeResult) -> list[str]:
    """Every way `result` disagrees with itself, as sentences (empty: consistent)."""
    found = []
    lang = result.lang
    passed = {step.id: step.passed for step in result.steps}
    numbers = {step.id: number for number, step in enumerate(result.steps, start=1)}
    if result.status == "tampered":  # every corpus notebook is honest: a false accusation
        found.append("an honest notebook called tampered: " + "; ".join(result.notes)[:300])
    if result.score != sum(step.score for step in result.steps):
        found.append("the total is not the sum of the steps")
    for number, step in enumerate(result.steps, start=1):
        checks_pass = bool(step.checks) and all(check.passed for check in step.checks)
        if step.passed != checks_pass:
            found.append(f"step {number}: verdict {step.passed}, checks say {checks_pass}")
        if step.score != (step.max_score if step.passed else 0):
            found.append(f"step {number}: score {step.score} for a verdict of {step.passed}")
        if bool(step.reason) == step.passed:
            found.append(f"step {number}: reason {step.reason!r} for a verdict of {step.passed}")
        found += _blamed_steps_that_passed(number, step.notes, result, lang)
        names = {check.name: check.passed for check in step.checks}
        unknown_shape = text("check.shape_unknown", lang)
        if names.get("input_dim") and any(check.message == unknown_shape for check in step.checks):
            found.append(f"step {number}: input dimension correct, and the model said to have none")
        if names.get("summary_called") is False and "summary_printed" in names:
            found.append(f"step {number}: summary both not run and run")
    for index, row in enumerate(result.network, start=1):
        if row.actual is not None and row.actual.type == "InputLayer":
            found.append(f"network row {index}: an InputLayer shown as a layer")
        if row.step and passed.get(row.step) and row.differs and row.carried is None:
            found.append(f"network row {index}: step {numbers[row.step]} passed, its layer marked as differing")
        if row.carried and passed.get(next(s.id for s in result.steps if numbers[s.id] == row.carried), True):
            found.append(f"network row {index}: blames step {row.carried}, which passed")
    for number, step in enumerate(result.steps, start=1):
        layer_failures = [check for check in step.checks if not check.passed and check.name in LAYER_CHECKS]
        shown = [row for row in result.network if row.step == step.id and (row.differs or row.actual is None)]
        if layer_failures and not step.error and not shown and step.judged_on != "rerun" \
                and all(row.step is not None for row in result.network):
            found.append(f"step {number} failed on its layers, and the network table shows no difference")
    return found


def _blamed_steps_that_passed(number: int, notes: list[str], result: GradeResult, lang: str) -> list[str]:
    found = []
    for culprit, step in enumerate(result.steps, start=1):
        blame = text("note.carried_error", lang, step=culprit, title=step.title)
        if blame in notes and step.passed:
            found.append(f"step {number}: blames step {culprit}, which passed")
        if blame in notes and culprit >= number:
            found.append(f"step {number}: blames step {culprit}, which is not before it")
    return found


def first_sentence(reason: str) -> str:
    """A reason's first sentence: up to the first '. ' or '。' (a path or a number has no space after its dot)."""
    match = re.search(r"\.\s|。", reason)
    return reason[:match.end()].strip() if match else reason.strip()
