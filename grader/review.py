"""Overrides, comments and the review queue: an instructor's decisions, kept in the gradebook as
data beside the grader's results, never as an edit of a GradeResult.

Three append-only tables (triggers refuse UPDATE and DELETE): `overrides` (every change of a
step's points, a --clear included, with who, when, the old and new points, the reason and the
SHA-256 of the notebook it was made on), `comments`, and `reviewed` (a queue item marked done, for
the notebook as it was then). Each change is one BEGIN IMMEDIATE transaction that reads what it
needs inside it, so two reviewers at once both land in the history. `Gradebook.record` never
touches these tables, so a regrade (--force included) keeps them; an override whose notebook has
changed since stays in force, marked stale, and goes to the queue.

The queue is computed from the results, never stored: an item is open until a `reviewed` row names
its notebook, its kind and the notebook's current content hash (so a later regrade of a changed
notebook opens it again).
"""

from __future__ import annotations

import fcntl
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from grader.gradebook import Gradebook
from grader.messages import LANGUAGES, _catalogue
from grader.results import STATUSES, STORED_CHARS, ClassRow, GradeResult

KINDS = ("tampered", "needs_review", "error", "unreadable", "limit", "duplicate", "stale_override",
         "lenient_policy")
STATUS_KINDS = {"tampered": "tampered", "needs_review": "needs_review", "error": "error", "unreadable": "unreadable"}
LIMIT_STATUSES = tuple(status for status in STATUSES if status not in ("graded", *STATUS_KINDS))
# Notes (keys of [note] in messages.toml) that send a notebook to the queue, by kind. Lenient
# policies are those that gave points a strict reading would not: code only Keras 2 runs (TF1 style,
# keras2_only; a size written as a float, keras2_float; not the course's own Keras 2 keywords,
# note.keras2, which is the course's answer), Q12 other backend (backend), Q8 RNN(cell) as its layer (rnn_cell), Q1/Q9 extra
# layers passed through (passed_through), Q2/Q3 another model found (found_model, found_summary),
# and the final model judged as a whole (whole_model). A replay that could not confirm the verdicts
# (replay_missed, replay_unavailable) is needs_review whatever the status; a module the grading
# machine lacks (machine_gap) is the machine's limit.
LENIENT_NOTES = ("keras2_only", "keras2_float", "backend", "rnn_cell", "passed_through", "found_model",
                 "found_summary", "whole_model")
NOTE_KINDS = {**dict.fromkeys(LENIENT_NOTES, "lenient_policy"), "needs_review": "needs_review",
              "replay_missed": "needs_review", "replay_unavailable": "needs_review", "machine_gap": "limit"}
WHY_CHARS = 300  # a queue item's why is one line of at most this many characters
TEXT_CHARS = STORED_CHARS  # the longest reason or comment kept
BUSY_SECONDS = 60.0  # how long a change waits for another writer of the gradebook
FILES_PER_QUERY = 500

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS overrides (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        file TEXT NOT NULL,             -- the submission (gradebook key) the override is for
        student TEXT NOT NULL,
        step TEXT NOT NULL,             -- the step's id
        points INTEGER,                 -- NULL: a --clear, the grader's points count again
        old_points INTEGER NOT NULL,    -- the step's points in force just before this change
        content_hash TEXT NOT NULL,     -- the notebook's SHA-256 when the change was made
        reason TEXT NOT NULL,
        by_user TEXT NOT NULL,
        made_at REAL NOT NULL           -- unix time
    )""",
    """CREATE TABLE IF NOT EXISTS comments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        student TEXT NOT NULL,
        text TEXT NOT NULL,
        by_user TEXT NOT NULL,
        made_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS reviewed (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        file TEXT NOT NULL,
        student TEXT NOT NULL,
        kind TEXT NOT NULL,
        content_hash TEXT NOT NULL,     -- the notebook reviewed; a changed notebook opens the item again
        by_user TEXT NOT NULL,
        made_at REAL NOT NULL
    )""",
    *(f"""CREATE TRIGGER IF NOT EXISTS {table}_no_{action} BEFORE {action.upper()} ON {table}
          BEGIN SELECT RAISE(ABORT, 'the review history is append-only'); END"""
      for table in ("overrides", "comments", "reviewed") for action in ("update", "delete")),
)


class ReviewError(ValueError):
    """Bad input to a review command: one line naming the problem. Nothing was written."""


@dataclass(frozen=True)
class Override:
    """One entry of the audit history; points None is a --clear entry."""

    student: str
    step: str
    points: int | None
    old_points: int
    reason: str
    by: str
    at: float
    stale: bool  # made on another version of the notebook than the one graded now


@dataclass(frozen=True)
class Comment:
    student: str
    text: str
    by: str
    at: float


@dataclass(frozen=True)
class QueueItem:
    student: str
    file: str
    kind: str  # one of KINDS
    why: str  # one line


@dataclass(frozen=True)
class FinalRow:
    row: ClassRow
    grader_score: int
    final_score: int
    overrides: list[Override]  # the ones in force, in step order
    comments: list[Comment]
    step_points: dict[str, int]  # final points per step id

    @property
    def reviewed_by_instructor(self) -> bool:
        """Has an instructor changed or commented on it: do its outputs show a review?"""
        return bool(self.overrides or self.comments)

    def to_dict(self) -> dict:
        """The `review` object of the student's JSON file."""
        return {"grader_score": self.grader_score, "final_score": self.final_score,
                "step_points": self.step_points,
                "overrides": [_override_dict(override) for override in self.overrides],
                "comments": [{"text": c.text, "by": c.by, "at": c.at} for c in self.comments]}


@dataclass(frozen=True)
class _Submission:
    row: ClassRow
    content_hash: str


@dataclass
class _History:
    """The review tables as read in one transaction."""

    overrides: dict[str, list[tuple]] = field(default_factory=dict)  # file -> rows, oldest first
    comments: dict[str, list[Comment]] = field(default_factory=dict)  # student -> comments
    reviewed: set[tuple[str, str, str]] = field(default_factory=set)  # (file, kind, content_hash)


# --- reading -------------------------------------------------------------------------------------

def final_rows(book: Gradebook, files: list[str] | None = None) -> list[FinalRow]:
    """Every submission (or those in `files`) with its overrides in force, comments and final score."""
    with _reading(book) as db:
        submissions = _submissions(db, files)
        history = _history(db)
    return [_final(submission, history) for submission in submissions]


def review_queue(book: Gradebook) -> list[QueueItem]:
    """The open items: what the grader was unsure of and nobody has marked reviewed since."""
    with _reading(book) as db:
        submissions = _submissions(db)
        history = _history(db)
    return [item for submission in submissions for item in _open_items(submission, submissions, history)]


def override_history(book: Gradebook, student: str | None = None) -> list[Override]:
    """Every override and --clear ever made (of `student` only, if given), oldest first."""
    with _reading(book) as db:
        hashes = dict(db.execute("SELECT file, content_hash FROM submissions"))
        history = _history(db)
    rows = sorted((row for rows in history.overrides.values() for row in rows), key=lambda row: row[0])
    return [_override(row, hashes.get(row[1], "")) for row in rows if student in (None, row[2], row[1])]


# --- changes -------------------------------------------------------------------------------------

def add_override(book: Gradebook, student: str, step: str, points: int, reason: str, by: str) -> Override:
    """STUDENT's STEP (its number or id) gets POINTS, out of the step's maximum, for REASON."""
    reason, by = _text(reason, "reason"), _text(by, "--by")
    with _changing(book) as db:
        submission = _one_submission(db, student)
        step_id, max_points = _step(submission, step)
        if isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= max_points:
            raise ReviewError(f"{step_id} of {submission.row.student} is worth 0 to {max_points} points, not {points}")
        old = _points_in_force(db, submission, step_id)
        return _insert_override(db, submission, step_id, points, old, reason, by)


def clear_override(book: Gradebook, student: str, step: str, reason: str, by: str) -> Override:
    """Remove the override in force on STUDENT's STEP: the grader's points count again."""
    reason, by = _text(reason, "reason"), _text(by, "--by")
    with _changing(book) as db:
        submission = _one_submission(db, student)
        step_id, _ = _step(submission, step)
        if _override_in_force(db, submission.row.file, step_id) is None:
            raise ReviewError(f"{step_id} of {submission.row.student} has no override to clear")
        old = _points_in_force(db, submission, step_id)
        return _insert_override(db, submission, step_id, None, old, reason, by)


def add_comment(book: Gradebook, student: str, text: str, by: str) -> Comment:
    """A comment for STUDENT (an id, or a submission's file), shown in each of their reports."""
    text, by = _text(text, "comment"), _text(by, "--by")
    with _changing(book) as db:
        owner = _student_of(db, student)
        comment = Comment(owner, text, by, time.time())
        db.execute("INSERT INTO comments (student, text, by_user, made_at) VALUES (?, ?, ?, ?)",
                   (comment.student, comment.text, comment.by, comment.at))
    return comment


def mark_reviewed(book: Gradebook, student: str, by: str, kind: str | None = None) -> None:
    """Close STUDENT's open queue items (only those of KIND, if given)."""
    by = _text(by, "--by")
    if kind is not None and kind not in KINDS:
        raise ReviewError(f"--kind {kind!r}: one of {', '.join(KINDS)}")
    with _changing(book) as db:
        owner = _student_of(db, student)
        theirs = _submissions(db, student=owner)
        mine = [sub for sub in theirs if student in (owner, sub.row.file)]
        history = _history(db)
        items = [(sub, item) for sub in mine for item in _open_items(sub, theirs, history)
                 if kind in (None, item.kind)]
        if not items:
            raise ReviewError(f"{owner} has no open {kind + ' ' if kind else ''}item in the review queue")
        now = time.time()
        db.executemany("INSERT INTO reviewed (file, student, kind, content_hash, by_user, made_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       [(sub.row.file, owner, item.kind, sub.content_hash, by, now) for sub, item in items])


# --- the database --------------------------------------------------------------------------------

def _connect(book: Gradebook) -> sqlite3.Connection:
    db = sqlite3.connect(book.path, isolation_level=None, timeout=BUSY_SECONDS)  # transactions are explicit
    db.execute("PRAGMA synchronous=FULL")
    return db


@contextmanager
def _reading(book: Gradebook) -> Iterator[sqlite3.Connection]:
    """One consistent snapshot of the gradebook."""
    db = _connect(book)
    try:
        db.execute("BEGIN")
        yield db
        db.execute("COMMIT")
    finally:
        db.close()


@contextmanager
def _changing(book: Gradebook) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken before anything is read: all of it, or nothing (a ReviewError
    rolls back, the review tables' creation included)."""
    db = _connect(book)
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                db.execute(statement)
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        db.close()


def _submissions(db: sqlite3.Connection, files: list[str] | None = None,
                 student: str | None = None) -> list[_Submission]:
    """The submissions by student and file: all, those in `files`, or those STUDENT names (an id or a file)."""
    query = "SELECT file, student, duplicate, content_hash, result FROM submissions"
    if student is not None:
        rows = db.execute(f"{query} WHERE student = ? OR file = ?", (student, student)).fetchall()
    elif files is None:
        rows = db.execute(query).fetchall()
    else:  # a few files at a time: SQLite bounds the parameters of one statement
        unique = sorted(set(files))
        chunks = [unique[start:start + FILES_PER_QUERY] for start in range(0, len(unique), FILES_PER_QUERY)]
        rows = [row for chunk in chunks
                for row in db.execute(f"{query} WHERE file IN ({','.join('?' * len(chunk))})", chunk)]
    return [_Submission(ClassRow(file, owner, bool(duplicate), GradeResult.from_dict(json.loads(result))), content_hash)
            for file, owner, duplicate, content_hash, result in sorted(rows, key=lambda row: (row[1], row[0]))]


def _has_tables(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'overrides'").fetchone() is not None


def _history(db: sqlite3.Connection) -> _History:
    history = _History()
    if not _has_tables(db):
        return history
    for row in db.execute("SELECT id, file, student, step, points, old_points, content_hash, reason, by_user, made_at "
                          "FROM overrides ORDER BY id"):
        history.overrides.setdefault(row[1], []).append(row)
    for student, text, by, at in db.execute("SELECT student, text, by_user, made_at FROM comments ORDER BY id"):
        history.comments.setdefault(student, []).append(Comment(student, text, by, at))
    history.reviewed = set(db.execute("SELECT file, kind, content_hash FROM reviewed"))
    return history


def _one_submission(db: sqlite3.Connection, student: str) -> _Submission:
    """The submission STUDENT names: a file, or a student id with one notebook."""
    found = _submissions(db, student=student)
    exact = [sub for sub in found if sub.row.file == student]
    if exact:
        return exact[0]
    if not found:
        raise ReviewError(f"{student}: no such student or file in the gradebook")
    if len(found) > 1:
        files = ", ".join(sub.row.file for sub in found)
        raise ReviewError(f"{student} has {len(found)} notebooks ({files}): name one by its file")
    return found[0]


def _student_of(db: sqlite3.Connection, student: str) -> str:
    row = db.execute("SELECT student FROM submissions WHERE student = ? OR file = ? LIMIT 1",
                     (student, student)).fetchone()
    if row is None:
        raise ReviewError(f"{student}: no such student or file in the gradebook")
    return row[0]


def _step(submission: _Submission, step: str) -> tuple[str, int]:
    """(step id, its maximum) for STEP given as its number (`1`) or its id (`step1`)."""
    steps = submission.row.result.steps
    given = str(step).strip()
    for number, candidate in enumerate(steps, start=1):
        if given in (candidate.id, str(number)):
            return candidate.id, candidate.max_score
    known = ", ".join(f"{number} ({candidate.id})" for number, candidate in enumerate(steps, start=1))
    raise ReviewError(f"{submission.row.student} has no step {given!r}; the steps are {known}")


def _override_in_force(db: sqlite3.Connection, file: str, step: str) -> int | None:
    last = db.execute("SELECT points FROM overrides WHERE file = ? AND step = ? ORDER BY id DESC LIMIT 1",
                      (file, step)).fetchone()
    return None if last is None else last[0]


def _points_in_force(db: sqlite3.Connection, submission: _Submission, step: str) -> int:
    overridden = _override_in_force(db, submission.row.file, step)
    if overridden is not None:
        return overridden
    return next(candidate.score for candidate in submission.row.result.steps if candidate.id == step)


def _insert_override(db: sqlite3.Connection, submission: _Submission, step: str, points: int | None, old: int,
                     reason: str, by: str) -> Override:
    at = time.time()
    row = submission.row
    db.execute("INSERT INTO overrides (file, student, step, points, old_points, content_hash, reason, by_user, "
               "made_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (row.file, row.student, step, points, old, submission.content_hash, reason, by, at))
    return Override(submission.row.student, step, points, old, reason, by, at, stale=False)


def _text(value: str, what: str) -> str:
    """A reason, comment or name as given, refused when empty or longer than TEXT_CHARS."""
    value = (value or "").strip()
    if not value:
        raise ReviewError(f"the {what} is empty: say why" if what == "reason" else f"the {what} is empty")
    if len(value) > TEXT_CHARS:
        raise ReviewError(f"the {what} is {len(value):,} characters long; at most {TEXT_CHARS:,}")
    return value


# --- deciding ------------------------------------------------------------------------------------

def _override(row: tuple, current_hash: str) -> Override:
    _, _, student, step, points, old_points, content_hash, reason, by, at = row
    return Override(student, step, points, old_points, reason, by, at, stale=content_hash != current_hash)


def _override_dict(override: Override) -> dict:
    return {"step": override.step, "points": override.points, "old_points": override.old_points,
            "reason": override.reason, "by": override.by, "at": override.at, "stale": override.stale}


def _in_force(submission: _Submission, history: _History) -> list[Override]:
    """The last entry of each step, unless it is a --clear; in step order."""
    last: dict[str, tuple] = {}
    for row in history.overrides.get(submission.row.file, []):
        last[row[3]] = row
    order = [step.id for step in submission.row.result.steps]
    return [_override(last[step], submission.content_hash) for step in order
            if step in last and last[step][4] is not None]


def _final(submission: _Submission, history: _History) -> FinalRow:
    result = submission.row.result
    overrides = _in_force(submission, history)
    points = {step.id: step.score for step in result.steps}
    change = sum(override.points - points[override.step] for override in overrides)
    points.update({override.step: override.points for override in overrides})
    return FinalRow(submission.row, result.score, result.score + change, overrides,
                    history.comments.get(submission.row.student, []), points)


def _open_items(submission: _Submission, siblings: list[_Submission], history: _History) -> list[QueueItem]:
    """`siblings`: submissions that include the student's others (for a duplicate's why)."""
    row = submission.row
    return [QueueItem(row.student, row.file, kind, why) for kind, why in _doubts(submission, siblings, history)
            if (row.file, kind, submission.content_hash) not in history.reviewed]


def _doubts(submission: _Submission, siblings: list[_Submission], history: _History) -> list[tuple[str, str]]:
    """(kind, why) for each thing the grader is not sure of in this submission, in KINDS order."""
    row, result = submission.row, submission.row.result
    found: dict[str, list[str]] = {}
    if result.status in STATUS_KINDS:  # the kind names the status: the why is its first note
        found[STATUS_KINDS[result.status]] = result.notes[:1] or [result.status]
    if result.status in LIMIT_STATUSES:
        found["limit"] = [f"{result.status}: {result.notes[0]}" if result.notes else result.status]
    for note in [*result.notes, *(note for step in result.steps for note in step.notes)]:
        kind = _note_kind(note)
        if kind is not None and note not in found.get(kind, []):
            found.setdefault(kind, []).append(note)
    if row.duplicate:
        files = [other.row.file for other in siblings if other.row.student == row.student]
        found["duplicate"] = [f"{row.student} has {len(files)} notebooks: {', '.join(files)}"]
    stale = [override for override in _in_force(submission, history) if override.stale]
    if stale:
        steps = ", ".join(f"{override.step} ({override.old_points} → {override.points}, {override.by})"
                          for override in stale)
        found["stale_override"] = [f"the notebook changed after these overrides: {steps}"]
    return [(kind, _one_line(" | ".join(found[kind]))) for kind in KINDS if kind in found]


def _one_line(value: str) -> str:
    line = " ".join(value.split())
    return line if len(line) <= WHY_CHARS else line[:WHY_CHARS - 1] + "…"


def _note_kind(note: str) -> str | None:
    for pattern, kind in _note_patterns():
        if pattern.fullmatch(note):
            return kind
    return None


@cache
def _note_patterns() -> list[tuple[re.Pattern, str]]:
    """Each queued note's template, in every language, as a pattern its rendered text matches."""
    notes = _catalogue()["note"]
    return [(_template_pattern(notes[lang][key]), kind) for key, kind in NOTE_KINDS.items() for lang in LANGUAGES]


def _template_pattern(template: str) -> re.Pattern:
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile(".+?".join(map(re.escape, parts)), re.DOTALL)


# --- outputs -------------------------------------------------------------------------------------

OUTPUTS_LOCK = ".review.lock"  # in OUT: one writing of the outputs after a change at a time


@contextmanager
def _writing_outputs(out: Path) -> Iterator[None]:
    """Whoever makes the change (a command, a review page, another reviewer's), one at a time per
    OUT, each reading the gradebook once it holds the lock: the outputs written last show the last change."""
    with open(out / OUTPUTS_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def refresh_outputs(book: Gradebook, out: Path, student: str) -> None:
    """After a change: STUDENT's report and JSON, then grades.csv and the dashboard, from the gradebook."""
    with _writing_outputs(out):
        _refresh_outputs(book, out, student)


def _refresh_outputs(book: Gradebook, out: Path, student: str) -> None:
    # Imported here: grader.batch imports this module to write the outputs of a class run.
    from grader.batch import output_names, write_class_outputs, write_student_outputs
    from grader.lms.store import read_identities
    from grader.options import AUTO
    from grader.submissions import Submission

    finals = final_rows(book)
    names = output_names([Submission(final.row.student, final.row.file, Path(final.row.file)) for final in finals])
    owners = {final.row.student for final in finals if student in (final.row.student, final.row.file)}
    for final in finals:
        if final.row.student in owners:  # a comment shows in each of the student's reports
            write_student_outputs(final.row.result, out, names[final.row.file], final)
    write_class_outputs([final.row for final in finals], out, names, AUTO,
                        {final.row.file: final for final in finals}, len(review_queue(book)), read_identities(book))
