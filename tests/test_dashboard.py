"""The class dashboard counts a mistake by what it is, in the dashboard's language."""

from grader.checks import judge_layers
from grader.dashboard import class_view
from grader.results import ClassRow, GradeResult, StepResult
from grader.spec import load_spec
from tests.layers import layer

SPEC = load_spec("lstm_network")


def result(lang: str, sequences: bool) -> GradeResult:
    step1 = SPEC.steps[0]
    checks = judge_layers(step1.layers, [layer("LSTM", 50, 1, return_sequences=sequences, declared=(None, None, 1))],
                          0, 1, lang)
    steps = [StepResult(step.id, step.title[lang], step.points, step.points, step is not step1 or sequences,
                        checks if step is step1 else [], "notebook")
             for step in SPEC.steps]
    return GradeResult(notebook="x.ipynb", exercise=SPEC.id, exercise_title="", score=100 if sequences else 80,
                       max_score=100, keras=None, status="graded", steps=steps, lang=lang)


def test_the_same_mistake_in_two_languages_counts_once_in_the_dashboards_language():
    rows = [ClassRow("a.ipynb", "a", False, result("zh", False)), ClassRow("b.ipynb", "b", False, result("en", False)),
            ClassRow("c.ipynb", "c", False, result("en", True))]
    step1 = class_view(rows, {}, "en")["steps"][0]
    assert (step1.title, step1.passed, step1.total) == ("First LSTM layer", 1, 3)
    assert step1.mistakes[:2] == [("return_sequences: expected True, got False", 2),
                                  ("output shape: expected (None, None, 50), got (None, 50)", 2)]
    zh = class_view(rows, {}, "zh")["steps"][0]
    assert zh.title == "第一个LSTM层" and zh.mistakes[0][1] == 2
