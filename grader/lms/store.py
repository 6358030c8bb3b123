"""What an LMS said of each submission, kept in the gradebook beside the grader's own rows.

A table of its own, `lms_submissions`, keyed like `submissions` by the notebook's file: the
`submissions` table keeps its meaning (the grader's result, the student's id), and a gradebook made
before this table existed gains it, empty, the first time a class is read with --lms: nothing in
it is rewritten. The table is written in one transaction when a class run has found its
submissions, before any is graded, so a run killed at any moment leaves it whole.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from grader.gradebook import Gradebook
from grader.lms import Identity
from grader.submissions import Submission

BUSY_SECONDS = 60.0  # how long a write waits for another writer of the gradebook
SCHEMA = """
CREATE TABLE IF NOT EXISTS lms_submissions (
    file TEXT PRIMARY KEY,          -- the submissions row it describes
    lms TEXT NOT NULL,              -- the format the download was read as: moodle, canvas
    student TEXT NOT NULL,          -- the LMS's id of the student: what its gradebook matches on
    name TEXT NOT NULL,             -- the name the LMS wrote beside it
    late INTEGER NOT NULL           -- 1: the LMS marked the submission late
)
"""


@dataclass(frozen=True)
class LmsEntry:
    file: str
    lms: str
    identity: Identity


def record_identities(book: Gradebook, lms: str, found: list[Submission], identities: dict[str, Identity]) -> None:
    """Each submission's LMS identity; a submission the gradebook already holds (skipped later as
    unchanged) takes its LMS id as its student id, so a class first graded without --lms is matched."""
    with _connect(book) as db:
        db.execute("BEGIN IMMEDIATE")
        db.execute(SCHEMA)
        db.executemany("INSERT OR REPLACE INTO lms_submissions VALUES (?, ?, ?, ?, ?)",
                       [(file, lms, identity.student, identity.name, int(identity.late))
                        for file, identity in identities.items()])
        db.executemany("UPDATE submissions SET student = ?, duplicate = ? WHERE file = ?",
                       [(submission.id, int(submission.duplicate), submission.file) for submission in found])


def read_identities(book: Gradebook) -> dict[str, LmsEntry]:
    """By file; empty for a class never read with --lms (or a gradebook from before this table)."""
    db = sqlite3.connect(book.path, timeout=BUSY_SECONDS)
    try:
        exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'lms_submissions'").fetchone()
        rows = db.execute("SELECT file, lms, student, name, late FROM lms_submissions").fetchall() if exists else []
    finally:
        db.close()
    return {file: LmsEntry(file, lms, Identity(student, name, bool(late))) for file, lms, student, name, late in rows}


class _connect:
    """A connection whose `with` block is one transaction: committed at its end, rolled back on error."""

    def __init__(self, book: Gradebook) -> None:
        self.db = sqlite3.connect(book.path, isolation_level=None, timeout=BUSY_SECONDS)
        self.db.execute("PRAGMA synchronous=FULL")

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, kind, error, trace) -> None:
        try:
            self.db.execute("ROLLBACK" if kind is not None else "COMMIT")
        finally:
            self.db.close()
