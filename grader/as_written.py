"""Did the kernel run each cell as the notebook holds it?

A notebook's code runs in the kernel it could change: an input transformer, a replaced
`run_cell` or an AST transformer makes later cells run other code than their text (the untouched
template's blanks filled in with the answers). The probe records a digest of every source the
kernel compiles under a cell's name, with an audit hook no cell can remove, and which parts of
IPython's cell pipeline the notebook's own code changed (grader/kernel/probe.py). Here the grader
compares with the text it sent, transformed as a fresh IPython transforms it. A cell that ran other
code is evidence no honest notebook produces: the steps whose code ran there score 0 and the
result is `tampered`, in the notebook's run and in the clean replay alike.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import replace

from IPython.core.inputtransformer2 import TransformerManager

from grader.messages import text
from grader.results import CheckResult, StepResult
from grader.runs import CellRun
from grader.snapshot import Snapshot
from grader.spec import ExerciseSpec
from grader.steps import IPYTHON_CHARS, StepMap

OTHER_TEXT = "text"  # the evidence: the kernel compiled other code than the cell's text
PIPELINE = "pipeline: "  # ... or the notebook changed how IPython turns text into code
_MAGIC_LINE = re.compile(r"\s*([A-Za-z_]\w*)(\s.*)?$")
# Code that runs other cells on purpose: IPython's own `run_cell`, `%run` of a notebook
_RUNS_CELLS = re.compile(r"run_cell|%run\b|run_line_magic\(\s*['\"]run['\"]")


def rewrite_evidence(source: str, snapshot: Snapshot | None, compare_text: bool = True) -> str:
    """'' when the kernel ran `source` as written, as far as its snapshot shows; else the evidence.
    Without `compare_text` (past the notebook's budget for IPython's transformation), only the
    pipeline is looked at."""
    if snapshot is None or snapshot.error:
        return ""
    if snapshot.pipeline_changed:
        return PIPELINE + ", ".join(snapshot.pipeline_changed)
    compiled = set(snapshot.compiled)
    if not compiled or not compare_text:
        return ""  # nothing compiled as a cell (IPython refused the text), or past what the grader transforms
    try:
        expected = _digests(source)
    except Exception:  # IPython's own transformation gives up (500 magics and more): no evidence either way
        return ""
    if not compiled & expected:
        return OTHER_TEXT
    extra = compiled - expected
    return OTHER_TEXT if extra and not _RUNS_CELLS.search(source) else ""


@functools.lru_cache(maxsize=64)  # the same cell in the notebook's run, its run under Keras 2 and the replay
def _digests(source: str) -> frozenset[str]:
    """What IPython compiles for this cell's text: the text as transformed (for a single line, the
    line magic automagic makes of it too), and for a cell magic, its body run as a cell."""
    candidates = [TransformerManager().transform_cell(source)]
    lines = source.strip().splitlines()
    if len(lines) == 1 and _MAGIC_LINE.match(lines[0]):
        candidates.append(TransformerManager().transform_cell("%" + lines[0].strip()))
    if source.lstrip().startswith("%%"):
        body = source.lstrip().partition("\n")[2]
        if body.strip():
            candidates.append(TransformerManager().transform_cell(body))
    return frozenset(hashlib.sha256(candidate.encode("utf-8", "surrogatepass")).hexdigest() for candidate in candidates)


def judge_as_written(spec: ExerciseSpec, step_map: StepMap | None, steps: list[StepResult], runs: list[CellRun],
                     lang: str) -> tuple[list[StepResult], list[str]]:
    """`steps` with every step whose code ran in a rewritten cell failed, and the note that says
    what was found; (steps, []) when every cell ran as written."""
    flagged = [(run, found) for run, compare in _within_budget(runs)
               if (found := rewrite_evidence(run.source, run.snapshot, compare))]
    if not flagged:
        return steps, []
    cells = {run.cell_index for run, _ in flagged}
    first, found = flagged[0]
    evidence = _evidence(found, lang)
    check = CheckResult("as_written", text("value.as_written", lang), text("value.rewritten", lang), False,
                        text("check.rewritten", lang, evidence=evidence))
    judged = []
    for step, result in zip(spec.steps, steps):
        hit = step_map is None or not step_map.confident or bool(cells & set(step_map.cells(step.id)))
        judged.append(replace(result, score=0, passed=False, checks=[check, *result.checks], reason=check.message)
                      if hit else result)
    return judged, [text("note.rewritten", lang, cell=first.cell_index + 1, evidence=evidence)]


def _within_budget(runs: list[CellRun]):
    """Each run, and whether its text is compared: IPython's transformation of a notebook's cells
    is bounded in all (IPYTHON_CHARS, the analysis's own bound), like every step of the grader's."""
    left = IPYTHON_CHARS
    for run in runs:
        compare = len(run.source) <= left
        left -= len(run.source) if compare else 0
        yield run, compare


def _evidence(code: str, lang: str) -> str:
    if code.startswith(PIPELINE):
        return text("note.rewritten_pipeline", lang, parts=code[len(PIPELINE):])
    return text("note.rewritten_text", lang)
