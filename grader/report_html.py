"""The HTML feedback report: one self-contained page, rendered with jinja2 from a GradeResult.

Autoescape is on and nothing from the notebook is ever marked safe, so code, outputs and file
names show as text and cannot run script. All grading is already in the result; this module
only lays it out.
"""

from __future__ import annotations

from pathlib import Path

from grader.keras_runtime import is_keras2_version
from grader.messages import text
from grader.results import GradeResult
from grader.safe_write import write_text
from grader.templating import render


def default_report_path(notebook: str | Path) -> Path:
    """my.ipynb -> my.report.html, beside the notebook."""
    path = Path(notebook)
    return path.with_name(f"{path.stem}.report.html")


def render_html(result: GradeResult) -> str:
    return render("report.html.j2", result.lang, result=result, verdict=_verdict(result),
                  keras2=is_keras2_version(result.keras),
                  step_numbers={step.id: number for number, step in enumerate(result.steps, start=1)})


def write_html(result: GradeResult, path: str | Path) -> Path:
    return write_text(path, render_html(result))


def _verdict(result: GradeResult) -> str:
    if result.status == "unreadable":
        return text("report.verdict_unreadable", result.lang, reason=" ".join(result.notes))
    passed = sum(step.passed for step in result.steps)
    if passed == len(result.steps):
        return text("report.verdict_full", result.lang)
    return text("report.verdict_partial", result.lang, passed=passed, total=len(result.steps))
