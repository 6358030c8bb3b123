"""The results model is plain data: it survives JSON."""

import json

from grader.checks import compare_network
from grader.results import CheckResult, GradeResult, StepResult
from grader.spec import load_spec
from tests.layers import reference_layers


def test_results_survive_a_round_trip_through_json():
    spec = load_spec()
    result = GradeResult(notebook="a.ipynb", exercise="lstm_network", exercise_title="t", score=20, max_score=100,
                         keras="3.15.1", status="graded",
                         steps=[StepResult("step1", "s", 20, 20, True, [CheckResult("units", 50, 50, True, "ok")],
                                           "notebook")],
                         network=compare_network(spec, reference_layers()[:4]))
    assert GradeResult.from_dict(json.loads(result.to_json())) == result


def test_every_status_has_its_words_in_both_languages():
    from grader.messages import LANGUAGES, text
    from grader.results import STATUSES

    for status in STATUSES:
        for lang in LANGUAGES:
            assert text(f"report.status_{status}", lang)
