"""index.html, the class dashboard: who needs help with what, then scores, pass rates and every report.

It summarises the results the gradebook holds; it never grades. A failed step is read for its root
causes (a wrong setting or type of a layer, with what follows from it on that layer, its parameters
and output shape, folded in; see `causes`) and the class's students are grouped by cause, what was
expected, every cause shown, with what each student's code gave beside her name where they differ.
Unreadable and error rows were never graded: they are listed apart, with why, and left out of
every statistic. The page is in the class's language; the same page in each other language is
written beside it (index.zh.html) and the two link to each other, so the switch needs no script.
One self-contained page: inline CSS, an inline SVG chart, <details> for a mistake's students and a
few lines of inline script to sort and filter the table. Autoescape is on; student data never
enters the script.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from grader.checks import shown_values
from grader.messages import LANGUAGES, text
from grader.options import AUTO, shown_language
from grader.results import ClassRow, GradeResult, StepResult
from grader.safe_write import write_text
from grader.spec import load_spec
from grader.templating import render

APART = ("unreadable", "error")  # batch.FAILED_STATUSES: results of no grading, counted in no statistic
LAYER_FIRST = ("type", "layer")  # judge_layers opens each expected layer with one of these checks
# Checks of the step as a whole: each failed one is a cause of its own, never a layer's consequence.
STEP_CHECKS = frozenset({"layer_count", "model", "summary_called", "summary_printed", "compiled", "loss",
                         "optimizer", "model_output", "written", "as_written"})
DERIVED = frozenset({"params", "output_shape", "built"})  # what a layer's settings and input decide
MISSING = frozenset({"model", "layer"})  # what a step that raised never got to make
WORDS = ("missing", "unknown", "not_declared", "ran", "not_run", "printed", "not_printed", "built", "not_built",
         "compiled", "not_compiled", "not_written", "as_written", "rewritten")
ERROR_SHOWN = 200  # characters of a student's error shown beside her name


@dataclass(frozen=True)
class Word:
    """A value the checks write in the student's language ("missing", "缺失"): `value.<name>`."""

    name: str


@dataclass(frozen=True)
class Cause:
    """One root cause of a student's failed step. `key` says what it is in no language: ("check",
    layer, check name, expected), layer being (number, type) in a step of several layers, else None;
    ("error", ename); or ("status", status). `had` is what the student's code gave or raised."""

    key: tuple
    had: object = None


@dataclass
class Bar:
    label: str
    count: int


@dataclass
class Affected:
    """A student a mistake is about, with what her code gave when her group's students differ in it."""

    student: str
    file: str
    report: str
    duplicate: bool
    had: str = ""


@dataclass
class Mistake:
    text: str
    students: list[Affected]

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass
class StepView:
    id: str
    title: str
    passed: int
    total: int
    mistakes: list[Mistake] = field(default_factory=list)  # every cause, the most common first

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
    grader_score: int | None = None  # the grader's own score, when a person's final score differs


@dataclass
class ApartRow:
    """A submission that was not graded (unreadable, an error of the grader), and why."""

    student: str
    file: str
    status: str
    why: str
    report: str


def class_view(rows: list[ClassRow], names: dict[str, str], lang: str, final: dict[str, int] | None = None,
               queue_count: int | None = None) -> dict:
    """Everything the dashboard shows. `final` (file -> final score, a person's overrides applied)
    replaces the grader's scores in the statistics and the table; `queue_count` is shown on top."""
    counted = [row for row in rows if row.result.status not in APART]
    scores = [_score(row, final) for row in counted]
    max_score = max((row.result.max_score for row in rows), default=0)
    return {
        "count": len(rows),
        "counted": len(counted),
        "apart": [ApartRow(row.student, row.file, row.result.status, _why(row.result), _report(row, names))
                  for row in rows if row.result.status in APART],
        "mean": round(statistics.fmean(scores), 1) if scores else None,
        "median": statistics.median(scores) if scores else None,
        "max_score": max_score,
        "full_marks": sum(score == row.result.max_score for score, row in zip(scores, counted)),
        "statuses": Counter(row.result.status for row in rows).most_common(),
        "histogram": _histogram(scores, max_score),
        "steps": _steps(rows, names, lang),
        "queue_count": queue_count,
        "rows": [_row(row, names, final) for row in rows],
    }


def _score(row: ClassRow, final: dict[str, int] | None) -> int:
    return final.get(row.file, row.result.score) if final is not None else row.result.score


def _row(row: ClassRow, names: dict[str, str], final: dict[str, int] | None) -> Row:
    score = _score(row, final)
    return Row(row.student, row.file, score, row.result.max_score, row.result.status,
               [step.passed for step in row.result.steps], _report(row, names), row.duplicate,
               row.result.score if score != row.result.score else None)


def _report(row: ClassRow, names: dict[str, str]) -> str:
    return f"reports/{names.get(row.file, row.student)}.html"


def _why(result: GradeResult) -> str:
    return result.notes[0] if result.notes else next((step.reason for step in result.steps if step.reason), "")


def _histogram(scores: list[int], max_score: int) -> list[Bar]:
    """Ten bins of a tenth of the maximum each, the maximum itself in the last."""
    if not max_score:
        return []
    width = max_score / 10
    bars = [Bar(f"{round(i * width)}–{round((i + 1) * width) - 1}", 0) for i in range(10)]
    bars[-1].label = f"{round(9 * width)}–{max_score}"
    for score in scores:
        bars[max(0, min(int(score / width), 9))].count += 1
    return bars


def _steps(rows: list[ClassRow], names: dict[str, str], lang: str) -> list[StepView]:
    """Each step (of every row, so that the table's columns match) with the graded rows' pass rate and mistakes."""
    views: dict[str, StepView] = {}
    groups: dict[str, dict[tuple, list[tuple[ClassRow, Cause]]]] = {}
    titles = _step_titles([row.result for row in rows], lang)
    for row in rows:
        for step in row.result.steps:
            view = views.setdefault(step.id, StepView(step.id, titles.get(step.id, step.title), 0, 0))
            if row.result.status in APART:
                continue
            view.total += 1
            view.passed += step.passed
            if not step.passed:
                for cause in causes(step, row.result.status):
                    groups.setdefault(step.id, {}).setdefault(cause.key, []).append((row, cause))
    for step_id, view in views.items():
        mistakes = [_mistake(key, found, names, lang) for key, found in groups.get(step_id, {}).items()]
        view.mistakes = sorted(mistakes, key=lambda mistake: (-mistake.count, mistake.text))
    return list(views.values())


def causes(step: StepResult, status: str) -> list[Cause]:
    """The root causes of a failed step, by what they are and not by their wording (which is in the
    student's language). On a layer: a wrong type, everything else on that layer following from it;
    else each wrong setting, the parameters, output shape and building it leads to on that layer
    folded in. Each failed check of the step as a whole (a missing model folds the layers it lacks).
    The error the step raised when all that failed is what the step never made; else the status."""
    layers = sum(check.name in LAYER_FIRST for check in step.checks)
    found: list[Cause] = []
    layer: tuple[int, str] | None = None
    number, layer_failed, wrong_type, model_missing = 0, False, False, False
    for check in step.checks:
        if check.name in LAYER_FIRST:
            number, layer_failed, wrong_type = number + 1, False, False
            layer = (number, str(check.expected).split("(", 1)[0]) if layers > 1 else None
        if check.passed:
            continue
        on_layer = number > 0 and check.name not in STEP_CHECKS
        if on_layer and (model_missing or wrong_type or (layer_failed and check.name in DERIVED)):
            continue  # a consequence on the same layer, or of the model the step lacks
        layer_failed = layer_failed or on_layer
        wrong_type = on_layer and check.name == "type"
        model_missing = model_missing or check.name == "model"
        found.append(Cause(("check", layer if on_layer else None, check.name, _key(check.expected)), check.actual))
    if step.error and all(cause.key[2] in MISSING for cause in found):
        ename, _, evalue = step.error.partition(":")
        return [Cause(("error", ename), evalue.strip())]
    return found or [Cause(("status", status))]


def _key(value: object) -> object:
    """A value as a key in no language: a word the checks use, in any language, as its Word; a list
    (a tuple read back from JSON) as a tuple."""
    if isinstance(value, list):
        return tuple(_key(item) for item in value)
    if isinstance(value, str):
        for lang in LANGUAGES:
            for name in WORDS:
                if value == text(f"value.{name}", lang):
                    return Word(name)
    return value


def _in(value: object, lang: str) -> object:
    return text(f"value.{value.name}", lang) if isinstance(value, Word) else value


def _mistake(key: tuple, found: list[tuple[ClassRow, Cause]], names: dict[str, str], lang: str) -> Mistake:
    shown = [_shown(key, cause, lang) for _, cause in found]
    had = [got for _, got in shown]
    differ = len(set(had)) > 1
    students = sorted((Affected(row.student, row.file, _report(row, names), row.duplicate, got if differ else "")
                       for (row, _), got in zip(found, had)), key=lambda who: (who.student, who.file))
    want = Counter(want for want, _ in shown).most_common(1)[0][0]
    return Mistake(_cause_text(key, want, [got for got, _ in Counter(had).most_common()], lang), students)


def _shown(key: tuple, cause: Cause, lang: str) -> tuple[str, str]:
    """What was expected and what one student's code gave, told apart as her report tells them
    (expected True, got 'True' (a string)); or the error it raised."""
    if key[0] == "check":
        return shown_values(_in(key[3], lang), _in(_key(cause.had), lang), lang)
    if key[0] == "error":
        raised = str(cause.had)
        return "", raised if len(raised) <= ERROR_SHOWN else f"{raised[:ERROR_SHOWN]}…"
    return "", ""


def _cause_text(key: tuple, want: str, had: list[str], lang: str) -> str:
    """The cause in the dashboard's language; `had`: what its students gave, the most common first."""
    if key[0] == "check":
        _, layer, name, _ = key
        message = text("check.fail", lang, label=_label(name, lang), expected=want, actual=" / ".join(had))
        return text("dashboard.on_layer", lang, number=layer[0], type=layer[1], message=message) if layer else message
    if key[0] == "error":
        return text("dashboard.raised", lang, ename=key[1])
    return text(f"report.status_{key[1]}", lang)


def _label(name: str, lang: str) -> str:
    for key in (f"label.{name}", f"dashboard.check_{name}"):
        try:
            return text(key, lang)
        except KeyError:
            continue
    return name


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


def class_language(rows: list[ClassRow], lang: str) -> str:
    """`lang`, or for auto the language most of the graded class wrote in."""
    if lang != AUTO:
        return lang
    graded = [row for row in rows if row.result.status not in APART] or rows
    langs = Counter(row.result.lang for row in graded)
    return langs.most_common(1)[0][0] if langs else shown_language(AUTO)


def render_dashboard(rows: list[ClassRow], names: dict[str, str], lang: str, *, final: dict[str, int] | None = None,
                     queue_count: int | None = None, switch: dict[str, str] | None = None) -> str:
    """The dashboard in `lang` (auto: the class's language); `switch`: each other language's page, by language."""
    lang = class_language(rows, lang)
    titles = {_exercise_title(row.result, lang) for row in rows}
    links = [(other, text("dashboard.language_name", other), href) for other, href in (switch or {}).items()]
    return render("dashboard.html.j2", lang, view=class_view(rows, names, lang, final, queue_count),
                  exercise_title=" / ".join(sorted(title for title in titles if title)), switch=links)


def language_path(path: Path, lang: str) -> Path:
    """The dashboard in another language, beside `path`: index.html's Chinese page is index.zh.html."""
    return path.with_name(f"{path.stem}.{lang}{path.suffix}")


def write_dashboard(rows: list[ClassRow], path: Path, names: dict[str, str], lang: str, *,
                    final: dict[str, int] | None = None, queue_count: int | None = None) -> None:
    """`path` in the class's language, and beside it the same page in each other language, linked both ways."""
    lang = class_language(rows, lang)
    others = [other for other in LANGUAGES if other != lang]
    pages = {lang: path, **{other: language_path(path, other) for other in others}}
    for shown, page in pages.items():
        switch = {other: pages[other].name for other in pages if other != shown}
        write_text(page, render_dashboard(rows, names, shown, final=final, queue_count=queue_count, switch=switch))
