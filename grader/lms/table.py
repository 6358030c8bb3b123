"""The CSV files LMSs export and import, read and written back with every cell as it was: the same
separator, line ending and byte-order mark, only the cells filled changed."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from grader.lms import Grade

SEPARATORS = (",", ";", "\t")  # spreadsheets re-save a comma file with the separator of their locale
MOST_BYTES = 64 * 1024 * 1024  # an LMS file larger than this is no worksheet of a class


@dataclass
class Table:
    rows: list[list[str]]
    separator: str
    ending: str
    bom: bool


def read_table(text: str) -> Table:
    """Rows of `text`, with the separator that splits its first line into the most columns."""
    body = text.removeprefix("\ufeff")
    first = body.splitlines()[0] if body.strip() else ""
    separator = max(SEPARATORS, key=lambda candidate: len(next(csv.reader([first], delimiter=candidate), [])))
    rows = [row for row in csv.reader(io.StringIO(body, newline=""), delimiter=separator) if row]
    ending = "\r\n" if "\r\n" in body[:65536] else "\n"
    return Table(rows, separator, ending, text.startswith("\ufeff"))


def write_table(table: Table) -> str:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=table.separator, lineterminator=table.ending).writerows(table.rows)
    return ("\ufeff" if table.bom else "") + buffer.getvalue()


def number(value: str) -> float | None:
    """A number as an LMS writes it ("10", "10.00", "10,00"), or None."""
    try:
        return float(value.strip().replace(",", "."))
    except ValueError:
        return None


def scaled(grade: Grade, maximum: float | None) -> float:
    """The grade's points on the LMS's maximum, when it gives one that differs from the exercise's."""
    if maximum is None or maximum <= 0 or maximum == grade.max_points or grade.max_points <= 0:
        return float(grade.points)
    return grade.points * maximum / grade.max_points
