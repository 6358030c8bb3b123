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

from jinja2 import Environment, PackageLoader, StrictUndefined

from grader import __version__
from grader.messages import LANGUAGES, text
from grader.safe_write import write_text
from grader.spec import load_spec

_ENV = Environment(loader=PackageLoader("grader", "templates"), autoescape=True,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
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


def class_view(rows: list[tuple[str, str, bool, dict]], names: dict[str, str], lang: str) -> dict:
    results = [result for _, _, _, result in rows]
    scores = [result["score"] for result in results]
    max_score = max((result["max_score"] for result in results), default=0)
    return {
        "count": len(results),
        "mean": round(statistics.fmean(scores), 1) if scores else 0,
        "median": statistics.median(scores) if scores else 0,
        "max_score": max_score,
        "full_marks": sum(result["score"] == result["max_score"] for result in results),
        "statuses": Counter(result["status"] for result in results).most_common(),
        "histogram": _histogram(scores, max_score),
        "steps": _steps(results, lang),
        "rows": [Row(student, file, result["score"], result["max_score"], result["status"],
                     [step["passed"] for step in result["steps"]], f"reports/{names.get(file, student)}.html",
                     duplicate)
                 for file, student, duplicate, result in rows],
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


def _steps(results: list[dict], lang: str) -> list[StepView]:
    views: dict[str, StepView] = {}
    mistakes: dict[str, Counter] = {}
    titles = _step_titles(results, lang)
    for result in results:
        for step in result["steps"]:
            view = views.setdefault(step["id"], StepView(step["id"], titles.get(step["id"], step["title"]), 0, 0))
            view.total += 1
            view.passed += step["passed"]
            if not step["passed"]:
                # One student counts once per mistake, whatever number of layers showed it.
                mistakes.setdefault(step["id"], Counter()).update(_mistakes(step, result["status"]))
    for step_id, view in views.items():
        view.mistakes = [(_mistake_text(key, lang), count)
                         for key, count in mistakes.get(step_id, Counter()).most_common(MISTAKES_SHOWN)]
    return list(views.values())


def _mistakes(step: dict, status: str) -> list[tuple]:
    """What went wrong in a step, by what it is and not by its wording (which is in the student's
    language): each failed check's (name, expected, actual) once, the error raised, or the status."""
    checks = list(dict.fromkeys(("check", check["name"], _canonical(check["expected"]), _canonical(check["actual"]))
                                for check in step["checks"] if not check["passed"]))
    if checks:
        return checks
    if step.get("error"):
        return [("error", step["error"].split(":", 1)[0])]
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


def _exercise_title(result: dict, lang: str) -> str | None:
    try:
        return load_spec(result.get("exercise")).title.get(lang) or result.get("exercise_title")
    except (OSError, ValueError, KeyError, TypeError):
        return result.get("exercise_title")


def _step_titles(results: list[dict], lang: str) -> dict[str, str]:
    """Each step's title in the dashboard's language, from the exercise's spec."""
    titles: dict[str, str] = {}
    for exercise in {result.get("exercise") for result in results}:
        try:
            spec = load_spec(exercise)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        titles.update({step.id: step.title.get(lang, step.id) for step in spec.steps})
    return titles


def render_dashboard(rows: list[tuple[str, str, bool, dict]], names: dict[str, str], lang: str) -> str:
    if lang == "auto":
        langs = Counter(result.get("lang", "en") for _, _, _, result in rows)
        lang = langs.most_common(1)[0][0] if langs else "en"
    titles = {_exercise_title(result, lang) for _, _, _, result in rows}

    def t(key: str, **fields) -> str:
        return text(key, lang, **fields)

    return _ENV.get_template("dashboard.html.j2").render(
        view=class_view(rows, names, lang), t=t, lang=lang, version=__version__,
        exercise_title=" / ".join(sorted(title for title in titles if title)))


def write_dashboard(rows: list[tuple[str, str, bool, dict]], path: Path, names: dict[str, str], lang: str) -> None:
    write_text(path, render_dashboard(rows, names, lang))
