"""Gradescope's autograder: grade /autograder/submission, write /autograder/results/results.json.

The results follow Gradescope's documented schema: one test per step with its score, max_score,
status and the feedback as output, plus the total score and execution_time.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader.grade import grade_notebook, unreadable_result
from grader.messages import text
from grader.notebook import UnreadableNotebook
from grader.options import GradeOptions
from grader.results import GradeResult, StepResult
from grader.safe_write import write_text
from grader.submissions import SKIPPED_DIRS

SUBMISSION_DIR = Path("/autograder/submission")
RESULTS_PATH = Path("/autograder/results/results.json")


def run_gradescope(options: GradeOptions = GradeOptions(), *, submission_dir: Path = SUBMISSION_DIR,
                   results_path: Path = RESULTS_PATH) -> dict:
    notebooks = sorted(path for path in submission_dir.rglob("*.ipynb")
                       if not SKIPPED_DIRS & set(path.relative_to(submission_dir).parts))
    shown = options.shown_lang
    if not notebooks:
        results = {"score": 0, "execution_time": 0, "output": text("gradescope.no_notebook", shown), "tests": []}
    else:
        try:
            result = grade_notebook(notebooks[0], options)
        except UnreadableNotebook as error:
            result = unreadable_result(notebooks[0], error.reason(shown), exercise=options.exercise, lang=shown)
        results = gradescope_results(result)
        if len(notebooks) > 1:
            results["output"] += "\n" + text("gradescope.several", result.lang, file=notebooks[0].name)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    write_text(results_path, json.dumps(results, ensure_ascii=False, indent=2))
    return results


def gradescope_results(result: GradeResult) -> dict:
    passed = sum(step.passed for step in result.steps)
    verdict = text("report.verdict_full" if passed == len(result.steps) else "report.verdict_partial",
                   result.lang, passed=passed, total=len(result.steps))
    return {
        "score": result.score,
        "execution_time": round(result.seconds),
        "output": "\n".join([verdict, *result.notes]),
        "tests": [{"name": f"{number}. {step.title}", "score": step.score, "max_score": step.max_score,
                   "status": "passed" if step.passed else "failed", "output": _feedback(step)}
                  for number, step in enumerate(result.steps, start=1)],
    }


def _feedback(step: StepResult) -> str:
    lines = [step.reason] if step.reason else []
    for check in step.checks:
        if not check.passed:
            lines.append(f"✗ {check.message}")
            if check.explain:
                lines.append(f"  {check.explain}")
    lines += step.notes
    if step.hint:
        lines.append(step.hint)
    return "\n".join(lines)
