"""Waiting on what another process writes: its files may exist before they hold anything."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_for(read: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll `read` until it returns something other than None; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.2)


def scheduler_address(scheduler_file: Path) -> str | None:
    """The address in dask's scheduler file, or None while the file is missing or half written."""
    try:
        return json.loads(scheduler_file.read_text())["address"]
    except (OSError, ValueError, KeyError):
        return None


def graded_count(book: Path) -> int:
    """How many rows the gradebook holds now; 0 while it is missing or its table not yet made."""
    if not book.exists():
        return 0
    try:
        with sqlite3.connect(book) as db:
            return db.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
    except sqlite3.Error:
        return 0


def at_least_graded(book: Path, count: int) -> Callable[[], int | None]:
    """A `wait_for` reader: the row count once the gradebook holds `count` rows."""
    def read() -> int | None:
        now = graded_count(book)
        return now if now >= count else None
    return read
