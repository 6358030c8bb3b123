"""One exercise's notebooks graded as a class, in one batch run, as an instructor grades them.

Used by the end-to-end tests of the shipped exercises (tests/test_gru_text.py, tests/test_cnn_image.py),
in the style of tests/test_real_world.py: every case is written into one folder, graded by
`grade FOLDER -o OUT -j 2 --exercise ID`, and each case's result is read back by its name.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from grader.results import GradeResult
from tests.invariants import contradictions
from tests.waiting import grading_bound

ROOT = Path(__file__).resolve().parent.parent
OPTIONS = ["--timeout", "60", "--run-timeout", "240"]


@dataclass(frozen=True)
class Case:
    """A notebook and the per-step scores it must get.

    Either `path` (a shipped notebook, graded as it is) or `sources` (one per answer cell of the
    exercise's template in `lang`, each replacing the cell's code; the markdown stays)."""

    name: str
    scores: tuple[int, ...]
    sources: tuple[str, ...] = ()
    path: Path | None = None
    lang: str = "zh"
    keras: str = ""  # "2" or "3": the Keras the code must be graded under ("" = either)
    wrong: dict[int, str] = field(default_factory=dict)  # step -> an attribute its failed checks name
    error_at: str = ""  # a later step whose correct code raises because of an earlier mistake


FULL = (20, 20, 20, 20, 20)
ZERO = (0, 0, 0, 0, 0)


def without(step: int) -> tuple[int, ...]:
    """Full marks but for step `step` (1-based)."""
    return tuple(0 if number == step else 20 for number in range(1, 6))


def replaced(right: tuple[str, ...], **steps: str) -> tuple[str, ...]:
    """The right answer with some steps replaced: replaced(RIGHT, step2="...")."""
    return tuple(steps.get(f"step{number}", source) for number, source in enumerate(right, start=1))


def shipped_cases(exercise: str) -> list[Case]:
    """The exercise's shipped notebooks: both solutions (full marks) and both untouched templates (0)."""
    solutions, folder = ROOT / "solutions" / exercise, ROOT / "exercises" / exercise
    return [Case("solution_keras3", FULL, path=solutions / "idiomatic_keras3.ipynb", lang="en", keras="3"),
            Case("solution_keras2", FULL, path=solutions / "reference_keras2.ipynb"),
            Case("template_zh", ZERO, path=folder / f"{exercise}.zh.ipynb"),
            Case("template_en", ZERO, path=folder / f"{exercise}.en.ipynb", lang="en")]


def fill(template: Path, sources: tuple[str, ...]) -> nbformat.NotebookNode:
    """The template with its answer cells' code replaced by `sources`, in step order."""
    nb = nbformat.read(template, as_version=4)
    answers = [cell for cell in nb.cells if cell.cell_type == "code" and "lstm_grader" in cell.metadata]
    answers.sort(key=lambda cell: cell.metadata["lstm_grader"]["step"])
    assert len(answers) == len(sources), f"{template}: {len(answers)} answer cells, {len(sources)} sources"
    for cell, source in zip(answers, sources):
        cell.source = source
    return nb


def write_case(case: Case, exercise: str, folder: Path) -> None:
    target = folder / f"{case.name}.ipynb"
    if case.path is not None:
        shutil.copyfile(case.path, target)
    else:
        template = ROOT / "exercises" / exercise / f"{exercise}.{case.lang}.ipynb"
        nbformat.write(fill(template, case.sources), target)


def grade_class(cases: list[Case], exercise: str, base: Path) -> tuple[dict[str, dict], str]:
    """Each case's result by name, and what the batch printed (for a failure's message)."""
    folder, out = base / "class", base / "out"
    folder.mkdir()
    for case in cases:
        write_case(case, exercise, folder)
    args = [str(folder), "-o", str(out), "-j", "2", "--exercise", exercise, *OPTIONS]
    done = subprocess.run([sys.executable, "-m", "grader", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=grading_bound(args))
    results = {}
    for path in (out / "results").glob("*.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        results[Path(result["notebook"]).stem] = result
    return results, f"exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


def result_of(results: dict[str, dict], name: str, log: str) -> dict:
    assert name in results, f"no result for {name}; the batch said:\n{log}"
    return results[name]


def scores(result: dict) -> tuple[int, ...]:
    return tuple(step["score"] for step in result["steps"])


def first_failure(result: dict) -> str:
    """The first failed step and its reason, for an assertion's message."""
    for number, step in enumerate(result["steps"], start=1):
        if not step["passed"]:
            return f"step {number}: {step['reason']}"
    return "no step failed"


def exercise_tests(exercise: str, cases: list[Case]) -> dict:
    """The end-to-end tests every shipped exercise gets, over its `cases`: put them in the test
    module's globals (`globals().update(exercise_tests(EXERCISE, CASES))`), where pytest finds them."""
    EXERCISE, CASES = exercise, cases  # noqa: N806 (the names the tests read)
    SOLUTION_CASES = ["solution_keras3", "solution_keras2"]  # noqa: N806


    @pytest.fixture(scope="module")
    def graded(tmp_path_factory) -> tuple[dict[str, dict], str]:
        return grade_class(CASES, EXERCISE, tmp_path_factory.mktemp(EXERCISE))


    def _result(graded, name: str) -> dict:
        results, log = graded
        return result_of(results, name, log)


    @pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
    def test_step_scores(graded, case):
        result = _result(graded, case.name)
        assert result["status"] == "graded", result["notes"]
        assert scores(result) == case.scores, first_failure(result)


    @pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
    def test_the_result_never_contradicts_itself(graded, case):
        assert contradictions(GradeResult.from_dict(_result(graded, case.name))) == []


    @pytest.mark.parametrize("name", SOLUTION_CASES)
    def test_solutions_score_full_marks_with_no_reason(graded, name):
        result = _result(graded, name)
        assert (result["score"], result["max_score"], result["exercise"]) == (100, 100, EXERCISE)
        assert [step["reason"] for step in result["steps"]] == [""] * 5


    def test_the_keras3_solution_needs_no_note(graded):
        """Idiomatic Keras 3 code is graded under Keras 3, with nothing to say about the Keras it uses."""
        result = _result(graded, "solution_keras3")
        assert result["notes"] == []


    def test_no_note_speaks_of_another_exercise(graded):
        """Notes name this exercise's input, never the LSTM exercise's `(None, 1)`."""
        results, _ = graded
        leaking = {name: note for name, result in sorted(results.items()) for note in result["notes"]
                   if "(None, 1))" in note or "input_shape=(None, 1)" in note}
        assert leaking == {}


    def test_untouched_templates_fail_on_the_placeholder_only(graded):
        for name in ("template_zh", "template_en"):
            result = _result(graded, name)
            assert result["score"] == 0
            assert {error["ename"] for error in result["errors"]} == {"SyntaxError"}


    @pytest.mark.parametrize("case", [case for case in CASES if case.wrong], ids=lambda case: case.name)
    def test_the_wrong_attribute_is_the_failed_check(graded, case):
        result = _result(graded, case.name)
        for step, attribute in case.wrong.items():
            failed = {check["name"] for check in result["steps"][step - 1]["checks"] if not check["passed"]}
            assert attribute in failed, f"step {step}: failed checks {sorted(failed)}"


    @pytest.mark.parametrize("case", [case for case in CASES if case.error_at], ids=lambda case: case.name)
    def test_the_carried_error_is_shown_at_the_step_that_raised(graded, case):
        result = _result(graded, case.name)
        assert any(error["step"] == case.error_at for error in result["errors"]), result["errors"]
        later = next(step for step in result["steps"] if step["id"] == case.error_at)
        assert later["passed"] and later["judged_on"] == "rerun"


    @pytest.mark.parametrize("case", [case for case in CASES if case.keras], ids=lambda case: case.name)
    def test_graded_under_the_keras_the_code_needs(graded, case):
        assert _result(graded, case.name)["keras"].startswith(f"{case.keras}.")

    return {name: value for name, value in locals().items() if name.startswith("test_") or name == "graded"}
