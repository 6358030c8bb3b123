"""Back to the LMS: `grade export` fills the LMS's own grade file, `grade release` writes each
student's final report (as a folder, or as the zip Moodle's feedback-file upload takes).

Both read the final scores, overrides and comments from the gradebook (grader/review.py) and stop
while the review queue has open items, unless forced. They only read OUT; what they write goes
to -o, all of it or nothing (a temporary file renamed into place).
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.gradebook import Gradebook
from grader.lms import Filled, Grade, Identity, LmsError, LmsFormat
from grader.lms.store import LmsEntry, read_identities
from grader.messages import text
from grader.report_html import default_report_path, render_html, write_html
from grader.review import FinalRow, final_rows, review_queue
from grader.safe_write import MODE, TEMPORARY_PREFIX, ensure_folder, write_text

GRADEBOOK = "gradebook.sqlite"
FAILED = ("unreadable", "error")  # no grading took place: the feedback says why instead of each step
FEEDBACK_CHARS = 4000  # the feedback comment an LMS gets, at most; the report has everything
LINE_CHARS = 300  # one line of it (a step's verdict, a comment), at most
LMS_FILE_BYTES = 64 * 1024 * 1024  # a worksheet or gradebook export larger than this is refused


class QueueOpen(Exception):
    """The review queue has open items; `count` of them."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


class NotReadAs(Exception):
    """OUT's class was not read with the LMS asked for."""


@dataclass(frozen=True)
class Exported:
    filled: Filled
    several: list[tuple[FinalRow, int]] = field(default_factory=list)  # (the row exported, of how many)
    unmatched: list[tuple[FinalRow, LmsEntry]] = field(default_factory=list)


def open_gradebook(out: Path) -> Gradebook | None:
    """OUT's gradebook, or None when OUT holds none (never made by opening it)."""
    path = out / GRADEBOOK
    return Gradebook(path) if path.is_file() else None


def check_queue(book: Gradebook, force: bool) -> None:
    open_items = len(review_queue(book))
    if open_items and not force:
        raise QueueOpen(open_items)


def export_grades(book: Gradebook, lms: LmsFormat, into: Path, output: Path, assignment: str | None) -> Exported:
    """Fill INTO (the LMS's worksheet or gradebook export) with the class's final grades and write
    it to OUTPUT. Raises NotReadAs, LmsError, OSError, UnicodeDecodeError; nothing is written then."""
    entries = _entries(book, lms)
    best, several = _best_per_student(final_rows(book), entries)
    grades = [_grade(final, entries[final.row.file]) for final in best]
    source = _read_lms_file(into)
    filled = lms.fill(source, grades, assignment)
    write_text(output, filled.text)
    by_student = {final.row.student: final for final in best}
    unmatched = [(by_student[student], entries[by_student[student].row.file]) for student in filled.unmatched]
    return Exported(filled, several, unmatched)


def release_reports(book: Gradebook, output: Path, lms: LmsFormat | None) -> int:
    """Each submission's final report (its overrides and comments in it): in the folder OUTPUT, or,
    with an LMS that takes one, in the zip OUTPUT whose folders that LMS matches on. How many."""
    finals = final_rows(book)
    if lms is None:
        return _release_folder(finals, output)
    entries = _entries(book, lms)
    return _release_zip(finals, entries, lms, output)


def feedback_text(final: FinalRow, lang: str | None = None) -> str:
    """The final score, each step's one-line verdict (with an instructor's change and reason), and
    the instructor's comments: plain text in the notebook's language, at most FEEDBACK_CHARS."""
    result = final.row.result
    lang = lang or result.lang
    lines = [text("lms.feedback_score", lang, score=final.final_score, max_score=result.max_score)]
    if result.status in FAILED:
        lines.append(text("report.verdict_unreadable", lang, reason=" ".join(result.notes)))
    else:
        changed = {override.step: override for override in final.overrides}
        for number, step in enumerate(result.steps, start=1):
            override = changed.get(step.id)
            verdict = text("lms.feedback_changed", lang, reason=override.reason) if override else \
                ("" if step.passed else f" — {step.reason}" if step.reason else "")
            lines.append(text("lms.feedback_step", lang, number=number, title=step.title,
                              points=final.step_points.get(step.id, step.score), max_points=step.max_score,
                              verdict=verdict))
    lines += [text("lms.feedback_comment", lang, comment=comment.text) for comment in final.comments]
    return _bounded([" ".join(line.split())[:LINE_CHARS] for line in lines], lang)


def _bounded(lines: list[str], lang: str) -> str:
    cut = text("lms.feedback_cut", lang)
    kept: list[str] = []
    for line in lines:
        if sum(len(kept_line) + 1 for kept_line in kept) + len(line) + len(cut) > FEEDBACK_CHARS:
            kept.append(cut)
            break
        kept.append(line)
    return "\n".join(kept)


def _entries(book: Gradebook, lms: LmsFormat) -> dict[str, LmsEntry]:
    entries = {file: entry for file, entry in read_identities(book).items() if entry.lms == lms.name}
    if not entries:
        raise NotReadAs(lms.name)
    return entries


def _best_per_student(finals: list[FinalRow], entries: dict[str, LmsEntry]) -> tuple[list[FinalRow], list[tuple[FinalRow, int]]]:
    """One row a student, read with this LMS: the highest final score when a student has several."""
    by_student: dict[str, list[FinalRow]] = defaultdict(list)
    for final in finals:
        if final.row.file in entries:
            by_student[final.row.student].append(final)
    best = [max(rows, key=lambda final: (final.final_score, final.row.file)) for rows in by_student.values()]
    several = [(chosen, len(by_student[chosen.row.student])) for chosen in best if len(by_student[chosen.row.student]) > 1]
    return best, several


def _grade(final: FinalRow, entry: LmsEntry) -> Grade:
    return Grade(final.row.student, entry.identity.name, final.final_score, final.row.result.max_score,
                 feedback_text(final))


def _read_lms_file(path: Path) -> str:
    with open(path, "rb") as handle:
        data = handle.read(LMS_FILE_BYTES + 1)
    if len(data) > LMS_FILE_BYTES:
        raise LmsError(path, "too_big")
    return data.decode("utf-8")  # a byte-order mark stays, as U+FEFF, and is written back


def _release_folder(finals: list[FinalRow], output: Path) -> int:
    from grader.batch import output_names  # the names the class run gave each submission's outputs
    from grader.submissions import Submission

    output.mkdir(parents=True, exist_ok=True)
    folder = ensure_folder(output)
    names = output_names([Submission(final.row.student, final.row.file, Path(final.row.file)) for final in finals])
    for final in finals:
        write_html(final.row.result, folder / f"{names[final.row.file]}.html", review=final)
    return len(finals)


def _release_zip(finals: list[FinalRow], entries: dict[str, LmsEntry], lms: LmsFormat, output: Path) -> int:
    """The zip, written beside OUTPUT and renamed over it once whole."""
    if lms.feedback_folder is None:
        raise NotImplementedError(lms.name)
    members = _zip_members(finals, entries, lms)
    descriptor, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=output.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, final in members.items():
                    archive.writestr(name, render_html(final.row.result, final))
            os.fchmod(handle.fileno(), MODE)
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return len(members)


def _zip_members(finals: list[FinalRow], entries: dict[str, LmsEntry], lms: LmsFormat) -> dict[str, FinalRow]:
    """Each report's path in the zip: the student's folder, and the notebook's name as a report."""
    members: dict[str, FinalRow] = {}
    for final in finals:
        entry = entries.get(final.row.file)
        if entry is None:
            continue
        folder = lms.feedback_folder(Identity(final.row.student, entry.identity.name))
        report = default_report_path(PurePosixPath(final.row.file).name).name
        name, number = f"{folder}/{report}", 2
        while name in members:
            name, number = f"{folder}/{Path(report).stem.removesuffix('.report')}-{number}.report.html", number + 1
        members[name] = final
    return members
