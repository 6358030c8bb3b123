"""grades.csv: one row per submission, read from the gradebook's results.

`score` and each step's points are the final ones, an instructor's overrides included;
`grader_score` is what the grader gave. A class read with --lms has two more columns: `name`, the
name the LMS wrote beside its id, and `late`, "yes" where the LMS marked the submission late.

Names are written as text a spreadsheet cannot run: control characters escaped (`\\x1b`; so a tab
or CR, which start formulas too, is `\\t` or `\\r`), and a cell that starts like a formula (`=`,
`+`, `-`, `@`) gets a leading `'`, as OWASP advises.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from grader.messages import escape_controls
from grader.results import ClassRow
from grader.safe_write import write_text

if TYPE_CHECKING:
    from grader.lms.store import LmsEntry
    from grader.review import FinalRow

FORMULA_STARTS = ("=", "+", "-", "@")


def write_grades_csv(rows: list[ClassRow], path: Path, finals: dict[str, FinalRow] | None = None,
                     identities: dict[str, LmsEntry] | None = None) -> None:
    """UTF-8 with a byte-order mark, so Excel opens Chinese names correctly. `finals`: the final
    scores by file (a row without one scores as the grader said); `identities`: what the LMS said
    of each file."""
    step_ids = _step_ids(rows)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    lms = identities or {}
    writer.writerow(["id", "file", "score", "max_score", "status", *step_ids, "duplicate", "grader_score",
                     *(["name", "late"] if lms else [])])
    for row in rows:
        result = row.result
        final = (finals or {}).get(row.file)
        points = final.step_points if final else {step.id: step.score for step in result.steps}
        writer.writerow([csv_text(row.student), csv_text(row.file), final.final_score if final else result.score,
                         result.max_score, result.status, *(points.get(step, "") for step in step_ids),
                         "yes" if row.duplicate else "", result.score, *(_lms_cells(lms.get(row.file)) if lms else [])])
    write_text(path, buffer.getvalue(), encoding="utf-8-sig")


def _lms_cells(entry: LmsEntry | None) -> list[str]:
    return [csv_text(entry.identity.name), "yes" if entry.identity.late else ""] if entry else ["", ""]


def csv_text(value: str) -> str:
    """A name as a cell: control characters escaped, and no formula."""
    shown = escape_controls(value)
    return f"'{shown}" if shown.startswith(FORMULA_STARTS) else shown


def _step_ids(rows: list[ClassRow]) -> list[str]:
    ids: list[str] = []
    for row in rows:
        ids += [step.id for step in row.result.steps if step.id not in ids]
    return ids
