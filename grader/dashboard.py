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
from grader.messages import text
from grader.safe_write import write_text

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
    for result in results:
        for step in result["steps"]:
            view = views.setdefault(step["id"], StepView(step["id"], step["title"], 0, 0))
            view.total += 1
            view.passed += step["passed"]
            if not step["passed"]:
                # One student counts once per mistake, whatever number of layers showed it.
                seen = {check["message"] for check in step["checks"] if not check["passed"]}
                fallback = step.get("reason") or text(f"report.status_{result['status']}", lang)
                mistakes.setdefault(step["id"], Counter()).update(seen or {fallback})
    for step_id, view in views.items():
        view.mistakes = mistakes.get(step_id, Counter()).most_common(MISTAKES_SHOWN)
    return list(views.values())


def render_dashboard(rows: list[tuple[str, str, bool, dict]], names: dict[str, str], lang: str) -> str:
    if lang == "auto":
        langs = Counter(result.get("lang", "en") for _, _, _, result in rows)
        lang = langs.most_common(1)[0][0] if langs else "en"
    titles = {result.get("exercise_title") for _, _, _, result in rows}

    def t(key: str, **fields) -> str:
        return text(key, lang, **fields)

    return _ENV.get_template("dashboard.html.j2").render(
        view=class_view(rows, names, lang), t=t, lang=lang, version=__version__,
        exercise_title=" / ".join(sorted(title for title in titles if title)))


def write_dashboard(rows: list[tuple[str, str, bool, dict]], path: Path, names: dict[str, str], lang: str) -> None:
    write_text(path, render_dashboard(rows, names, lang))
