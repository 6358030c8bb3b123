"""grades.csv: one row per submission, read from the gradebook's results."""

from __future__ import annotations

import csv
from pathlib import Path


def write_grades_csv(rows: list[tuple[str, str, bool, dict]], path: Path) -> None:
    """UTF-8 with a byte-order mark, so Excel opens Chinese names correctly."""
    step_ids = _step_ids(rows)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "file", "score", "max_score", "status", *step_ids, "duplicate"])
        for file, student, duplicate, result in rows:
            points = {step["id"]: step["score"] for step in result["steps"]}
            writer.writerow([student, file, result["score"], result["max_score"], result["status"],
                             *(points.get(step, "") for step in step_ids), "yes" if duplicate else ""])


def _step_ids(rows) -> list[str]:
    ids: list[str] = []
    for _, _, _, result in rows:
        ids += [step["id"] for step in result["steps"] if step["id"] not in ids]
    return ids
