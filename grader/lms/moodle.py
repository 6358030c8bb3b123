"""Moodle's assignment module, as its source writes and reads its files (moodle/moodle, mod/assign).

Download all submissions (classes/downloader.php, get_student_prefix and
load_submissionplugin_filelist; before 4.1, locallib.php download_submissions): each student's files
under `<full name>_<participant id>_assignsubmission_file` (4.1 on) or `..._file_` (3.1 to 4.0), or,
with "download submissions in folders" off, each file renamed `<full name>_<participant id>_assignsubmission_file_<name>`.
The full name has its `_` made spaces; with anonymous submissions (blind marking) it is
"Participant". The participant id is `get_uniqueid_for_user`: the same number the grading worksheet
and the feedback zip match on.

Offline grading worksheet (gradingtable.php when downloading; feedback/offline/importgradeslib.php
reads it back): an "Identifier" column holding "Participant <id>", "Grade", "Last modified (grade)"
(the three the import requires), and one column per feedback plugin's editor field, "Feedback
comments" for comments (stored as HTML). Moodle writes the headers in the downloading user's
language; the English ones are read here.

Upload multiple feedback files in a zip (feedback/file/importziplib.php,
is_valid_filename_for_import): a file is matched to a student by the first folder or file name on its
path that splits on `_` into at least `name`, a participant id, a plugin type and its name: the
folder names of download all, so the zip made here uses them.
"""

from __future__ import annotations

import html
import re

from grader.lms import Filled, Grade, Identity, LmsError, LmsFormat
from grader.lms.table import number, read_table, scaled, write_table

# A name of download all: full name (no `_`), participant id, the plugin, then a file's own name when flat.
_NAME = re.compile(r"(?P<name>[^_/]*)_(?P<id>\d+)_assign(?:submission|feedback)_[a-z]+(?:_(?P<rest>.*))?", re.S)
IDENTIFIER = "Identifier"
GRADE = "Grade"
MODIFIED = "Last modified (grade)"
REQUIRED = (IDENTIFIER, GRADE, MODIFIED)  # importgradeslib.php init(): without them the import fails
MAXIMUM = "Maximum Grade"
SCALE = "Scale"  # instead of MAXIMUM when the assignment is graded on a scale
FEEDBACK = "Feedback comments"  # assignfeedback_comments' editor field
_PARTICIPANT = re.compile(r"\D*?(\d+)")  # "Participant 12345": the id is what follows the word


def identify(name: str) -> Identity | None:
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    return Identity(student=match["id"], name=match["name"].strip())


def feedback_folder(identity: Identity) -> str:
    """The folder download all gives the student, which the feedback zip's import matches on (the
    form Moodle's own importziplib test uses)."""
    name = re.sub(r"[_/\\\x00-\x1f\x7f]+", " ", identity.name).strip() or "Participant"
    return f"{name}_{identity.student}_assignsubmission_file_"


def fill(worksheet: str, grades: list[Grade], assignment: str | None = None) -> Filled:
    """The worksheet with each matched student's Grade and Feedback comments; every other cell,
    column and row as it was. Students of the worksheet with no grade here keep theirs (empty)."""
    table = read_table(worksheet)
    rows = table.rows
    if not rows:
        raise LmsError("worksheet", "empty")
    header = rows[0]
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        raise LmsError("worksheet", "not_worksheet", missing=", ".join(missing), lms="Moodle")
    if SCALE in header:
        raise LmsError("worksheet", "scale", lms="Moodle")
    column = {name: header.index(name) for name in header}
    by_id = {grade.student: grade for grade in grades}
    matched: set[str] = set()
    notes: list[str] = []
    for row in rows[1:]:
        participant = _PARTICIPANT.fullmatch(_cell(row, column[IDENTIFIER]).strip())
        grade = by_id.get(participant.group(1)) if participant else None
        if grade is None:
            continue
        row += [""] * (len(header) - len(row))
        maximum = number(row[column[MAXIMUM]]) if MAXIMUM in column else None
        row[column[GRADE]] = _points(grade, maximum)
        if FEEDBACK in column:
            row[column[FEEDBACK]] = "<br>".join(html.escape(line) for line in grade.feedback.splitlines())
        matched.add(grade.student)
    if FEEDBACK not in column:
        notes.append("no_feedback_column")
    unmatched = [grade.student for grade in grades if grade.student not in matched]
    return Filled(write_table(table), len(matched), unmatched, notes)


def _cell(row: list[str], index: int) -> str:
    return row[index] if index < len(row) else ""


def _points(grade: Grade, maximum: float | None) -> str:
    """The grade on Moodle's scale of points: the assignment's maximum, when the worksheet gives one."""
    return f"{scaled(grade, maximum):.2f}"


FORMAT = LmsFormat(
    name="moodle", title="Moodle",
    shape="<full name>_<participant id>_assignsubmission_file/...",
    identify=identify, fill=fill, feedback_folder=feedback_folder,
)
