"""index.html, the class dashboard: scores, pass rates, common mistakes and every student's report.

It summarises the results the gradebook holds (counts, rates, a histogram); it never grades.
One self-contained page: inline CSS, an inline SVG chart and a few lines of inline script to sort
and filter the table. Autoescape is on; student data never enters the script.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from grader.messages import LANGUAGES, text
from grader.options import AUTO, shown_language
from grader.results import ClassRow, GradeResult, StepResult
from grader.safe_write import write_text
from grader.spec import load_spec
from grader.templating import render

MISTAKES_SHOWN = 5


@dataclass
class Bar:
    label: str
    count: int


@dataclass
class StepView:
    id: str
    title: str
    passed: int
    total: int
    mistakes: list[tuple[str, int]] = field(default_factory=list)  # (what went wrong, students)

    @property
    def rate(self) -> int:
        return round(100 * self.passed / self.total) if self.total else 0


@dataclass
class Row:
    student: str
    file: str
    score: int
    max_score: int
    status: str
    steps: list[bool]
    report: str
    duplicate: bool


def class_view(rows: list[ClassRow], names: dict[str, str], lang: str) -> dict:
    results = [row.result for row in rows]
    scores = [result.score for result in results]
    max_score = max((result.max_score for result in results), default=0)
    return {
        "count": len(results),
        "mean": round(statistics.fmean(scores), 1) if scores else 0,
        "median": statistics.median(scores) if scores else 0,
        "max_score": max_score,
        "full_marks": sum(result.full_marks for result in results),
        "statuses": Counter(result.status for result in results).most_common(),
        "histogram": _histogram(scores, max_score),
        "steps": _steps(results, lang),
        "rows": [Row(row.student, row.file, row.result.score, row.result.max_score, row.result.status,
                     [step.passed for step in row.result.steps], f"reports/{names.get(row.file, row.student)}.html",
                     row.duplicate)
                 for row in rows],
    }


def _histogram(scores: list[int], max_score: int) -> list[Bar]:
    """Ten bins of a tenth of the maximum each, the maximum itself in the last."""
    if not max_score:
        return []
    width = max_score / 10
    bars = [Bar(f"{round(i * width)}–{round((i + 1) * width) - 1}", 0) for i in range(10)]
    bars[-1].label = f"{round(9 * width)}–{max_score}"
    for score in scores:
        bars[min(int(score / width), 9)].count += 1
    return bars


def _steps(results: list[GradeResult], lang: str) -> list[StepView]:
    views: dict[str, StepView] = {}
    mistakes: dict[str, Counter] = {}
    titles = _step_titles(results, lang)
    for result in results:
        for step in result.steps:
            view = views.setdefault(step.id, StepView(step.id, titles.get(step.id, step.title), 0, 0))
            view.total += 1
            view.passed += step.passed
            if not step.passed:
                # One student counts once per mistake, whatever number of layers showed it.
                mistakes.setdefault(step.id, Counter()).update(_mistakes(step, result.status))
    for step_id, view in views.items():
        view.mistakes = [(_mistake_text(key, lang), count)
                         for key, count in mistakes.get(step_id, Counter()).most_common(MISTAKES_SHOWN)]
    return list(views.values())


def _mistakes(step: StepResult, status: str) -> list[tuple]:
    """What went wrong in a step, by what it is and not by its wording (which is in the student's
    language): each failed check's (name, expected, actual) once, the error raised, or the status."""
    checks = list(dict.fromkeys(("check", check.name, _canonical(check.expected), _canonical(check.actual))
                                for check in step.checks if not check.passed))
    if checks:
        return checks
    if step.error:
        return [("error", step.error.split(":", 1)[0])]
    return [("status", status)]


def _canonical(value: object) -> object:
    """A value as a key: the words the checks use for 'missing', 'unknown', ... in any language."""
    for lang in LANGUAGES:
        for name in ("missing", "unknown", "not_declared", "ran", "not_run", "printed", "not_printed"):
            if value == text(f"value.{name}", lang):
                return ("value", name)
    return value


def _mistake_text(key: tuple, lang: str) -> str:
    if key[0] == "check":
        _, name, expected, actual = key
        shown = [text(f"value.{value[1]}", lang) if isinstance(value, tuple) else value for value in (expected, actual)]
        return text("check.fail", lang, label=text(f"label.{name}", lang), expected=_number(shown[0]),
                    actual=_number(shown[1]))
    if key[0] == "error":
        return text("dashboard.raised", lang, ename=key[1])
    return text(f"report.status_{key[1]}", lang)


def _number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _exercise_title(result: GradeResult, lang: str) -> str | None:
    try:
        return load_spec(result.exercise).title.get(lang) or result.exercise_title
    except (OSError, ValueError, KeyError, TypeError):
        return result.exercise_title


def _step_titles(results: list[GradeResult], lang: str) -> dict[str, str]:
    """Each step's title in the dashboard's language, from the exercise's spec."""
    titles: dict[str, str] = {}
    for exercise in {result.exercise for result in results}:
        try:
            spec = load_spec(exercise)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        titles.update({step.id: step.title.get(lang, step.id) for step in spec.steps})
    return titles


def render_dashboard(rows: list[ClassRow], names: dict[str, str], lang: str) -> str:
    if lang == AUTO:  # the language most of the class wrote in
        langs = Counter(row.result.lang for row in rows)
        lang = langs.most_common(1)[0][0] if langs else shown_language(AUTO)
    titles = {_exercise_title(row.result, lang) for row in rows}
    return render("dashboard.html.j2", lang, view=class_view(rows, names, lang),
                  exercise_title=" / ".join(sorted(title for title in titles if title)))


def write_dashboard(rows: list[ClassRow], path: Path, names: dict[str, str], lang: str) -> None:
    write_text(path, render_dashboard(rows, names, lang))
