"""The real-world corpus (tests/real_world.py), graded end to end as an instructor grades a class.

All notebooks go into one class folder and are graded in one batch run (`grade CLASS -o OUT -j 2`,
warm kernels, `--lang auto`, so each report speaks its notebook's language). A handful of failing
cases are graded again in the other language, so every `first` substring is checked in Chinese
and in English: by this process, while the batch runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.grade import grade_notebook
from grader.results import GradeResult
from grader.options import GradeOptions
from tests.invariants import contradictions
from tests.real_world import BY_NAME, CASES, OTHER_LANGUAGE, Case, first_sentence, write_case
from tests.waiting import grading_bound

ROOT = Path(__file__).resolve().parent.parent
OPTIONS = ["--timeout", "60", "--run-timeout", "240"]
OTHER = {"zh": "en", "en": "zh"}


def _start(folder: Path, out: Path, jobs: int, lang: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grader", str(folder), "-o", str(out), "-j", str(jobs),
                             "--lang", lang, *OPTIONS], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(run: subprocess.Popen, out: Path) -> tuple[dict[str, dict], str]:
    """Each result by case name, and what the run printed (for a failure's message). The exit code
    is not asserted here: a submission the grader failed on shows in its own case's tests."""
    stdout, stderr = run.communicate(timeout=grading_bound(OPTIONS, len(CASES)))
    results = {}
    for path in (out / "results").glob("*.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        results[Path(result["notebook"]).stem] = result
    return results, f"exit {run.returncode}\n{stdout[-2000:]}\n{stderr[-2000:]}"


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[dict[str, dict], dict[str, dict], str]:
    """(results of the whole corpus in its own language, results of OTHER_LANGUAGE in the other one,
    each by case name; the run's output). The class is graded by one batch run; while it runs, this
    process grades the other-language cases with its own warm kernels."""
    base = tmp_path_factory.mktemp("real_world")
    (base / "class").mkdir()
    for case in CASES:
        write_case(case, base / "class")
    run = _start(base / "class", base / "out", 2, "auto")
    other = {name: grade_notebook(base / "class" / f"{name}.ipynb",
                                  GradeOptions(lang=OTHER[BY_NAME[name].lang], warm=True)).to_dict() for name in OTHER_LANGUAGE}
    main, log = _finish(run, base / "out")
    return main, other, log


def _result(results: dict[str, dict], name: str, log: str) -> dict:
    assert name in results, f"no result for {name}; the batch said:\n{log}"
    return results[name]


def _verdicts(result: dict) -> tuple[bool, ...]:
    return tuple(step["passed"] for step in result["steps"])


def _check(case: Case, result: dict) -> None:
    steps = result["steps"]
    shown = {step["id"]: (step["passed"], first_sentence(step["reason"])) for step in steps}
    assert _verdicts(result) == case.expected, f"{result['lang']}: {shown}"
    for number, wanted in case.first.items():
        sentence = first_sentence(steps[number - 1]["reason"])
        assert wanted in sentence, f"step {number} ({result['lang']}): {wanted!r} not in {sentence!r}"
    for number, spelling in case.modern.items():
        reason = steps[number - 1]["reason"]
        assert spelling in reason, f"step {number} ({result['lang']}): modern spelling {spelling!r} not in {reason!r}"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_verdicts_and_first_sentences(graded, case):
    main, _, log = graded
    _check(case, _result(main, case.name, log))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_status_is_graded(graded, case):
    main, _, log = graded
    result = _result(main, case.name, log)
    assert result["status"] == "graded", result["notes"]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_result_never_contradicts_itself(graded, case):
    """Step verdicts, checks, notes and the network table come from one judgement (tests/invariants.py)."""
    main, other, log = graded
    for results in (main, other):
        if case.name in results:
            assert contradictions(GradeResult.from_dict(results[case.name])) == []


@pytest.mark.parametrize("case", [case for case in CASES if case.note], ids=[case.name for case in CASES if case.note])
def test_what_a_policy_took_is_said_in_a_note(graded, case):
    """Q8 (an RNN of one cell judged as its layer), Q9 (Masking passed through), Q12 (another backend)."""
    main, _, log = graded
    notes = _result(main, case.name, log)["notes"]
    assert any(case.note in note for note in notes), notes


@pytest.mark.parametrize("name", OTHER_LANGUAGE)
def test_the_other_language(graded, name):
    case = BY_NAME[name]
    _, other, log = graded
    result = _result(other, name, log)
    assert result["lang"] == OTHER[case.lang]
    _check(case, result)


def test_corpus_size_and_languages():
    assert len(CASES) >= 45
    assert {case.lang for case in CASES} == {"zh", "en"}
    assert {BY_NAME[name].lang for name in OTHER_LANGUAGE} == {"zh", "en"}
    assert all(not all(BY_NAME[name].expected) for name in OTHER_LANGUAGE)  # each has a reason to check
