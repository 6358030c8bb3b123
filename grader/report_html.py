"""The HTML feedback report: one self-contained page, rendered with jinja2 from a GradeResult.

Autoescape is on and nothing from the notebook is ever marked safe, so code, outputs and file
names show as text and cannot run script. All grading is already in the result; this module
only lays it out.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import ran_nothing
from grader.keras_runtime import is_keras2_version
from grader.messages import text
from grader.results import CheckResult, GradeResult, StepResult
from grader.safe_write import write_text
from grader.templating import render

if TYPE_CHECKING:
    from grader.review import FinalRow


def default_report_path(notebook: str | Path) -> Path:
    """my.ipynb -> my.report.html, beside the notebook."""
    path = Path(notebook)
    return path.with_name(f"{path.stem}.report.html")


def render_html(result: GradeResult, review: FinalRow | None = None) -> str:
    """`review`: an instructor's overrides and comments, shown beside the grader's verdicts."""
    return render("report.html.j2", result.lang, result=result, verdict=_verdict(result),
                  review=review, overridden={override.step: override for override in review.overrides} if review else {},
                  keras2=is_keras2_version(result.keras),
                  shown_checks={step.id: _shown_checks(step, result.lang) for step in result.steps},
                  shown_notes={step.id: [note for note in step.notes if note != step.reason] for step in result.steps},
                  step_numbers={step.id: number for number, step in enumerate(result.steps, start=1)})


def write_html(result: GradeResult, path: str | Path, review: FinalRow | None = None) -> Path:
    return write_text(path, render_html(result, review))


def _verdict(result: GradeResult) -> str:
    if result.status == "unreadable":
        return text("report.verdict_unreadable", result.lang, reason=" ".join(result.notes))
    passed = sum(step.passed for step in result.steps)
    if passed == len(result.steps):
        return text("report.verdict_full", result.lang)
    return text("report.verdict_partial", result.lang, passed=passed, total=len(result.steps))


def _shown_checks(step: StepResult, lang: str) -> list[CheckResult]:
    """The step's checks, less the failed ones that only restate its first sentence: when its code
    ran none of its lines, "no model named model" is that cause again, not another mistake."""
    if step.passed or not ran_nothing(step.error, text("note.placeholder", lang) in step.notes):
        return step.checks
    return [check for check in step.checks if check.passed]
