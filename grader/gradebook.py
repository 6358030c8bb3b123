"""The gradebook: one SQLite file, one transaction per graded submission.

SQLite's journal (WAL, synchronous=FULL) makes each commit atomic and durable: a run killed at
any moment, even with SIGKILL, leaves every committed submission intact and nothing half-written.
Only the main process writes; workers hand their results back.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from grader.results import ClassRow, GradeResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    file TEXT PRIMARY KEY,          -- the path a person knows the notebook by
    student TEXT NOT NULL,
    duplicate INTEGER NOT NULL,     -- 1 when the student has more than one notebook
    content_hash TEXT NOT NULL,     -- sha256 of the notebook's bytes
    spec_hash TEXT NOT NULL,        -- sha256 of the exercise spec it was graded against
    grader_version TEXT NOT NULL,
    status TEXT NOT NULL,
    score INTEGER NOT NULL,
    max_score INTEGER NOT NULL,
    seconds REAL NOT NULL,          -- grading time of this submission
    graded_at REAL NOT NULL,        -- unix time
    result TEXT NOT NULL            -- the full result, as JSON
)
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Entry:
    file: str
    student: str
    duplicate: bool
    content_hash: str
    spec_hash: str
    grader_version: str
    result: GradeResult


class Gradebook:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)  # transactions are explicit
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def is_current(self, file: str, content_hash: str, spec_hash: str) -> bool:
        """Was this very notebook already graded against this very spec?"""
        row = self._db.execute("SELECT 1 FROM submissions WHERE file = ? AND content_hash = ? AND spec_hash = ?",
                               (file, content_hash, spec_hash)).fetchone()
        return row is not None

    def record(self, entry: Entry) -> None:
        result = entry.result
        with self._db:  # BEGIN ... COMMIT: all of it or nothing
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (entry.file, entry.student, int(entry.duplicate), entry.content_hash, entry.spec_hash,
                 entry.grader_version, result.status, result.score, result.max_score,
                 result.seconds, time.time(), json.dumps(result.to_dict(), ensure_ascii=False)))

    def results(self, files: list[str] | None = None) -> list[ClassRow]:
        """The submissions, all or those in `files`, by student."""
        rows = self._db.execute("SELECT file, student, duplicate, result FROM submissions ORDER BY student, file")
        wanted = set(files) if files is not None else None
        return [ClassRow(file, student, bool(duplicate), GradeResult.from_dict(json.loads(result)))
                for file, student, duplicate, result in rows if wanted is None or file in wanted]

    def integrity(self) -> str:
        return self._db.execute("PRAGMA integrity_check").fetchone()[0]
