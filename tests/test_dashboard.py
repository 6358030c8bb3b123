"""The class dashboard: who needs help with what. A mistake is counted once, by its root cause,
in the dashboard's language; unreadable and error rows stand apart and count in no statistic."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.checks import judge_layers, judge_model_defined
from grader.dashboard import causes, class_view, language_path, render_dashboard, write_dashboard
from grader.grade import unreadable_result
from grader.results import ClassRow, GradeResult, StepResult
from grader.spec import load_spec
from tests.browser import chromium
from tests.layers import layer

SPEC = load_spec("lstm_network")
STEP1, STEP4 = SPEC.steps[0], SPEC.steps[3]
LONG = "zhang_san_" + "x" * 90 + "_assignsubmission_file_"  # an LMS folder name, as long as they come


def first_lstm(units: int = 50, sequences: object = True, kind: str = "LSTM"):
    return [layer(kind, units, 1, return_sequences=sequences, declared=(None, None, 1))]


def result(lang: str, step1=None, step4=None, error: str | None = None) -> GradeResult:
    """A graded notebook whose first and fourth steps are judged on these layers (None: right)."""
    judged = {STEP1.id: judge_layers(STEP1.layers, step1 or first_lstm(), 0, 1, lang),
              STEP4.id: judge_layers(STEP4.layers, [layer("Dense", 100, 300), layer("Dense", 10, 100)]
                                     if step4 is None else step4, 0, 300, lang)}
    steps = []
    for step in SPEC.steps:
        checks = judged.get(step.id, [])
        passed = all(check.passed for check in checks) and not (error and step is STEP4)
        steps.append(StepResult(step.id, step.title[lang], step.points if passed else 0, step.points, passed, checks,
                                "notebook", error=error if step is STEP4 else None))
    return GradeResult(notebook="x.ipynb", exercise=SPEC.id, exercise_title="", score=sum(s.score for s in steps),
                       max_score=100, keras="3.15.1", status="graded", steps=steps, lang=lang)


def grader_error(file: str) -> GradeResult:
    failed = unreadable_result(file, "Internal error: RuntimeError: the worker died", lang="en")
    failed.status = "error"
    return failed


def the_class() -> list[ClassRow]:
    """Nine graded notebooks (all but one in Chinese), one unreadable, one the grader failed on."""
    graded = {
        "a": result("zh", first_lstm(sequences=False)),
        "b": result("en", first_lstm(sequences=False)),
        "c": result("zh", first_lstm(64)),
        "d": result("zh", first_lstm(32, sequences=False)),
        "e": result("zh", first_lstm(kind="GRU")),
        "f": result("zh", first_lstm(sequences="True")),  # the string, which Keras does not read as True
        "g": result("zh"),
        "h": result("zh", step4=[layer("Dense", 100, 300), layer("Dense", 1, 100)]),
        LONG: result("zh", step4=[], error="NameError: name 'Dense' is not defined"),
    }
    rows = [ClassRow(f"{name}.ipynb", name, False, graded_result) for name, graded_result in graded.items()]
    unreadable = unreadable_result("u.ipynb", "u.ipynb: the file is empty", lang="zh")
    failed = ClassRow("x.ipynb", "x", False, grader_error("x.ipynb"))
    return [*rows, ClassRow("u.ipynb", "u", False, unreadable), failed]


def groups(view: dict, number: int) -> list[tuple[str, list[str], list[str]]]:
    """Step `number`'s mistakes: (what, its students, what each had where they differ)."""
    return [(mistake.text, [who.student for who in mistake.students], [who.had for who in mistake.students])
            for mistake in view["steps"][number - 1].mistakes]


def test_causes_fold_what_follows_on_the_same_layer_and_nothing_else():
    def names(step_result: StepResult) -> list[tuple]:
        return [cause.key for cause in causes(step_result, "graded")]

    def step(checks, error=None) -> StepResult:
        return StepResult("step1", "", 0, 20, False, checks, "notebook", error=error)

    def on(layers):
        return step(judge_layers(STEP1.layers, layers, 0, 1, "en"))

    # units, parameters and output shape fail together: one cause
    assert names(on(first_lstm(64))) == [("check", None, "units", 50)]
    # two wrong settings of one layer are two causes; what they lead to is folded
    assert names(on(first_lstm(32, sequences=False))) == [("check", None, "units", 50),
                                                         ("check", None, "return_sequences", True)]
    # a wrong type: everything else on the layer follows from it
    assert names(on(first_lstm(kind="GRU"))) == [("check", None, "type", "LSTM")]
    # parameters wrong on their own (weights unlike the settings) are a cause
    assert names(on([layer("LSTM", 50, 1, return_sequences=True, declared=(None, None, 1), weight_params=7)])) == \
        [("check", None, "params", 10400)]
    # a step of two layers: each layer's own causes, the layer named
    two = judge_layers(STEP4.layers, [layer("Dense", 7, 300), layer("Dense", 1, 100)], 0, 300, "zh")
    assert names(step(two)) == [("check", (1, "Dense"), "units", 100), ("check", (2, "Dense"), "units", 10)]
    # no model: the layers it lacks are its consequence
    no_model = [judge_model_defined(False, "model", "zh"), *judge_layers(STEP4.layers, [], 0, None, "zh")]
    assert len(no_model) == 3 and names(step(no_model)) == [("check", None, "model", "model")]
    # what a step that raised never made is the error's doing; a wrong value it made is not
    assert names(step(no_model, "NameError: name 'Sequential' is not defined")) == [("error", "NameError")]
    assert names(step(judge_layers(STEP1.layers, first_lstm(64), 0, 1, "en"), "ValueError: x")) == \
        [("check", None, "units", 50)]
    # nothing failed but the notebook was stopped
    assert causes(step([]), "timeout")[0].key == ("status", "timeout")


def test_every_mistake_of_the_class_once_by_cause_in_either_language():
    rows = the_class()
    view = class_view(rows, {}, "en")
    step1 = view["steps"][0]
    assert (step1.title, step1.passed, step1.total) == ("First LSTM layer", 3, 9)
    assert groups(view, 1) == [
        ("return_sequences: expected True, got False / 'True' (a string)", ["a", "b", "d", "f"],
         ["False", "False", "False", "'True' (a string)"]),
        ("units: expected 50, got 64 / 32", ["c", "d"], ["64", "32"]),
        ("layer type: expected LSTM, got GRU", ["e"], [""]),
    ]
    assert groups(view, 4) == [("layer 2 (Dense): units: expected 10, got 1", ["h"], [""]),
                               ("the code raised NameError", [LONG], [""])]
    assert [groups(view, number) for number in (2, 3, 5)] == [[], [], []]
    zh = class_view(rows, {}, "zh")
    assert zh["steps"][0].title == "第一个LSTM层"
    assert groups(zh, 1)[0] == ("return_sequences：应为 True，实际为 False / 'True'（字符串）",
                                ["a", "b", "d", "f"], ["False", "False", "False", "'True'（字符串）"])
    assert [what for what, _, _ in groups(zh, 4)] == ["代码出错（NameError）",
                                                     "第 2 层（Dense）：单元数：应为 10，实际为 1"]


def test_unreadable_and_error_rows_stand_apart_and_count_in_no_statistic():
    view = class_view(the_class(), {"u.ipynb": "u-1"}, "en")
    # eight notebooks at 80 and one at 100; the two rows at 0 that were never graded are not in it
    assert (view["count"], view["counted"], view["mean"], view["median"], view["full_marks"]) == (11, 9, 82.2, 80, 1)
    assert sum(bar.count for bar in view["histogram"]) == 9
    assert [(row.student, row.status, row.why, row.report) for row in view["apart"]] == [
        ("u", "unreadable", "u.ipynb: the file is empty", "reports/u-1.html"),
        ("x", "error", "Internal error: RuntimeError: the worker died", "reports/x.html")]
    assert len(view["rows"]) == 11  # the table is the whole class
    nothing_graded = class_view(the_class()[-2:], {}, "en")  # still a column for each step in the table
    assert (nothing_graded["mean"], [step.total for step in nothing_graded["steps"]]) == (None, [0] * 5)
    assert '<strong id="mean">—</strong>' in render_dashboard(the_class()[-2:], {}, "en")


def test_final_scores_replace_the_graders_in_the_statistics_and_the_queue_is_on_top():
    rows = the_class()
    view = class_view(rows, {}, "en", final={"a.ipynb": 100, "u.ipynb": 90}, queue_count=3)
    assert (view["mean"], view["median"], view["full_marks"]) == (84.4, 80, 2)
    assert [(row.score, row.grader_score) for row in view["rows"][:2]] == [(100, 80), (80, None)]
    page = render_dashboard(rows, {}, "en", final={"a.ipynb": 100}, queue_count=3)
    assert '<p class="notice" id="queue">3 items to review</p>' in page
    assert "100/100 <span class=\"muted\">(grader: 80)</span>" in page
    assert 'id="queue"' not in render_dashboard(rows, {}, "en")


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("class")
    rows = the_class()
    names = {row.file: row.student[:20] for row in rows}
    (out / "reports").mkdir()
    for name in names.values():
        (out / "reports" / f"{name}.html").write_text(f"<!DOCTYPE html><title>report of {name}</title>")
    write_dashboard(rows, out / "index.html", names, "auto")
    return out / "index.html"


def test_the_dashboard_is_in_the_classs_language_with_the_other_beside_it(dashboard):
    zh, en = dashboard.read_text(), language_path(dashboard, "en").read_text()
    assert language_path(dashboard, "en").name == "index.en.html" and not language_path(dashboard, "zh").exists()
    assert '<html lang="zh-CN">' in zh and "全班评分概览" in zh and 'href="index.en.html"' in zh
    assert '<html lang="en">' in en and "Class dashboard" in en and 'href="index.html"' in en
    assert "return_sequences: expected True, got False / &#39;True&#39; (a string) — 4 students" in en


def overflow(tab) -> int:
    return tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("width", [1280, 390])
def test_in_a_browser_who_needs_help_with_what(dashboard, width):
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": width, "height": 900})
        problems = []
        tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        tab.on("pageerror", lambda error: problems.append(str(error)))
        tab.goto(dashboard.as_uri())
        assert overflow(tab) <= 0
        # the mean leaves the unreadable and the error rows out, and says so
        assert (tab.locator("#count").inner_text(), tab.locator("#mean").inner_text(),
                tab.locator("#median").inner_text()) == ("11", "82.2", "80")
        assert tab.locator("#left-out").inner_text() == \
            "平均分、中位数、满分人数和通过率只统计已评分的 9 份；2 份未能评分，不计在内。 未能评分的提交"
        assert tab.locator("#apart ~ ul li").all_inner_texts() == [
            "u (u.ipynb) — 无法读取：u.ipynb: the file is empty",
            "x (x.ipynb) — 评分出错：Internal error: RuntimeError: the worker died"]
        # a mistake opens on its students, each a link to her report
        mistake = tab.locator("details", has_text="return_sequences")
        students = mistake.locator(".who li")
        assert not students.first.is_visible()
        mistake.locator("summary").click()
        assert students.all_inner_texts() == ["a — False", "b — False", "d — False", "f — 'True'（字符串）"]
        long = tab.locator("details", has_text="NameError")
        long.locator("summary").click()
        assert long.locator(".who a").is_visible()
        assert overflow(tab) <= 0  # opened, the long name wraps in its box
        students.nth(3).locator("a").click()
        assert tab.url.endswith("/reports/f.html") and tab.title() == "report of f"
        tab.go_back()
        # the switch: the same page in English, and back
        tab.get_by_role("link", name="English").click()
        assert tab.url.endswith("/index.en.html") and tab.locator("h1").inner_text() == "Class dashboard"
        assert tab.locator("#mean").inner_text() == "82.2" and overflow(tab) <= 0
        tab.get_by_role("link", name="中文").click()
        assert tab.url.endswith("/index.html") and tab.locator("h1").inner_text() == "全班评分概览"
        assert problems == []
