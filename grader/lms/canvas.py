"""Canvas, as its source writes and reads its files (instructure/canvas-lms).

Download submissions (lib/content_zipper.rb, add_submission, get_filename and add_upload_submission):
each uploaded file at the top of the zip as `<name>_[LATE_]<user id>_<file id>_<file's name>`. The
name is the student's sortable name ("Zhang, San"), lower-cased, with every character that is no
letter, digit or `_` removed ("zhangsan", "张三") and no `_<digits>_` left in it; LATE_ marks a late
submission; with anonymous grading the name and the user id are `anon_<anonymous id>`. The file id
is the uploaded file's (attachment's) id, which grows with every upload. A file uploaded again under
a name the student already used is renamed `<stem>-1.<ext>`, `-2`... (app/models/attachment.rb,
make_unique_filename): of a student's copies of one file, the one with the highest file id is the
latest, and only it is graded.

Gradebook export (lib/gradebook_exporter.rb): a header row "Student", "ID", ["SIS User ID"],
"SIS Login ID", ["Integration ID"], ["Root Account"], "Section", custom columns, each assignment as
"<title> (<assignment id>)", then totals; a row "Manual Posting" under assignments whose grades
are posted by hand (only when some are), a row "    Points Possible", then one row per student, ID
being the user id. The import reads the same file back, so it is filled in place.
"""

from __future__ import annotations

import re

from grader.lms import Filled, Grade, Identity, LmsError, LmsFormat
from grader.lms.table import number, read_table, scaled, write_table

_ANONYMOUS = re.compile(r"(?P<late>LATE_)?(?P<id>anon_[A-Za-z0-9]+)_(?P<file>\d+)_(?P<original>.+)", re.S)
_NAMED = re.compile(r"(?P<name>[^/]*?)_(?P<late>LATE_)?(?P<id>\d+)_(?P<file>\d+)_(?P<original>.+)", re.S)
# make_unique_filename: `<stem>-<n><ext>`, the extension as Canvas reads it
_COPY = re.compile(r"(?P<stem>.+?)-(?P<copy>\d+)(?P<ext>(?:\.[A-Za-z][A-Za-z0-9]*)*\.[A-Za-z0-9]*)")
STUDENT, ID = "Student", "ID"
POINTS_POSSIBLE = "Points Possible"
HIDDEN = ("Manual Posting", "Muted")  # the row under assignments whose grades are hidden; older exports said Muted
_ASSIGNMENT = re.compile(r"(?P<title>.*) \((?P<id>\d+)\)")
_TOTALS = ("Current Score", "Unposted Current Score", "Final Score", "Unposted Final Score", "Current Points",
           "Final Points", "Current Grade", "Unposted Current Grade", "Final Grade", "Unposted Final Grade",
           "Override Score", "Override Grade")


def identify(name: str) -> Identity | None:
    match = _ANONYMOUS.fullmatch(name) or _NAMED.fullmatch(name)
    if match is None:
        return None
    original = match["original"]
    copy = _COPY.fullmatch(original)
    series = f"{copy['stem']}{copy['ext']}" if copy else original
    return Identity(student=match["id"], name=match.groupdict().get("name") or "", late=bool(match["late"]),
                    series=series, version=(int(match["file"]), int(copy["copy"]) if copy else 0))


def fill(gradebook: str, grades: list[Grade], assignment: str | None = None) -> Filled:
    """The export with the assignment's column filled for each matched student; header rows, every
    other column and student as they were (a student with no grade here keeps the cell's value)."""
    table = read_table(gradebook)
    rows = table.rows
    if not rows:
        raise LmsError("gradebook", "empty")
    header = rows[0]
    named = STUDENT in header or {"LastName", "FirstName"} <= set(header)  # the export's option of two name columns
    missing = [name for name in (STUDENT, ID, "SIS Login ID", "Section") if name not in header and (name != STUDENT or not named)]
    if missing:
        raise LmsError("gradebook", "not_gradebook", missing=", ".join(missing), lms="Canvas")
    target = _column(header, assignment)
    id_column = header.index(ID)
    maximum = next((number(row[target]) for row in rows[1:] if _is_points_row(row) and target < len(row)), None)
    by_id = {grade.student: grade for grade in grades}
    matched: set[str] = set()
    for row in rows[1:]:
        if _is_points_row(row) or _is_hidden_row(row) or id_column >= len(row):
            continue
        grade = by_id.get(row[id_column].strip())
        if grade is None:
            continue
        row += [""] * (len(header) - len(row))
        row[target] = _points(scaled(grade, maximum))
        matched.add(grade.student)
    unmatched = [grade.student for grade in grades if grade.student not in matched]
    return Filled(write_table(table), len(matched), unmatched)


def _column(header: list[str], wanted: str | None) -> int:
    """The assignment's column: the one named (title, "title (id)" or id), or the only one there is."""
    assignments = {index: match for index, cell in enumerate(header)
                   if (match := _ASSIGNMENT.fullmatch(cell)) and not match["title"].endswith(_TOTALS)}
    if wanted is not None:
        found = [index for index, match in assignments.items() if wanted in (match["title"], match.group(0), match["id"])]
        if len(found) == 1:
            return found[0]
        key = "no_assignment" if not found else "several_named"
    elif len(assignments) == 1:
        return next(iter(assignments))
    else:
        key = "which_assignment" if assignments else "no_assignments"
    raise LmsError("gradebook", key, wanted=wanted or "",
                   columns=", ".join(f'"{match.group(0)}"' for match in assignments.values()))


def _is_points_row(row: list[str]) -> bool:
    return bool(row) and row[0].strip() == POINTS_POSSIBLE


def _is_hidden_row(row: list[str]) -> bool:
    return bool(row) and not row[0].strip() and any(cell.startswith(HIDDEN) for cell in row)


def _points(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


FORMAT = LmsFormat(
    name="canvas", title="Canvas",
    shape="<name>_[LATE_]<user id>_<file id>_<file name>",
    identify=identify, fill=fill,
)
