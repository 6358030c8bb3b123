"""grades.csv: one row per submission, read from the gradebook's results.

Names are written as text a spreadsheet cannot run: control characters escaped (`\\x1b`; so a tab
or CR, which start formulas too, is `\\t` or `\\r`), and a cell that starts like a formula (`=`,
`+`, `-`, `@`) gets a leading `'`, as OWASP advises.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from grader.messages import escape_controls
from grader.results import ClassRow
from grader.safe_write import write_text

FORMULA_STARTS = ("=", "+", "-", "@")


def write_grades_csv(rows: list[ClassRow], path: Path) -> None:
    """UTF-8 with a byte-order mark, so Excel opens Chinese names correctly."""
    step_ids = _step_ids(rows)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["id", "file", "score", "max_score", "status", *step_ids, "duplicate"])
    for row in rows:
        result = row.result
        points = {step.id: step.score for step in result.steps}
        writer.writerow([csv_text(row.student), csv_text(row.file), result.score, result.max_score, result.status,
                         *(points.get(step, "") for step in step_ids), "yes" if row.duplicate else ""])
    write_text(path, buffer.getvalue(), encoding="utf-8-sig")


def csv_text(value: str) -> str:
    """A name as a cell: control characters escaped, and no formula."""
    shown = escape_controls(value)
    return f"'{shown}" if shown.startswith(FORMULA_STARTS) else shown


def _step_ids(rows: list[ClassRow]) -> list[str]:
    ids: list[str] = []
    for row in rows:
        ids += [step.id for step in row.result.steps if step.id not in ids]
    return ids
