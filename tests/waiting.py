"""Waiting on what another process writes (its files may exist before they hold anything), and
how long a `grade` command may take at most: bounds on "did it finish", never on speed.

No test here depends on the machine being idle. A bound is derived from the limits the command
grades under, so a loaded machine (slower kernels, slower starts) stays within it; only a hang, or
a limit the grader failed to apply, goes past it.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from grader.cli import build_parser, limits_from
from grader.kernel.sandbox import Limits
from grader.kernel.warm import start_seconds

T = TypeVar("T")

KERNELS_PER_NOTEBOOK = 4  # its run, the retry under Keras 2, the replay and the replay's second attempt


def kernel_bound(limits: Limits) -> float:
    """The longest one kernel may take under `limits`, however loaded the machine: a warm parent's
    start as long as the grader waits for it, the kernel's own start (its connection, then the
    probe's install, each within the same wait), and its run to the notebook's time limit."""
    return 3 * start_seconds(limits) + limits.notebook_seconds


def grading_bound(args: Sequence[str | Path] = (), notebooks: int | None = None) -> float:
    """The longest `grade ARGS` may take: its notebooks (by default, those in the paths it is given)
    graded one after the other whatever its -j, each using every kernel it may need to the end of
    `kernel_bound`."""
    command = _parsed([str(arg) for arg in args])
    limits = limits_from(command) if command is not None else Limits()
    count = notebooks if notebooks is not None else _notebooks_in(command.paths if command is not None else [])
    return max(count, 1) * KERNELS_PER_NOTEBOOK * kernel_bound(limits)


def _parsed(args: list[str]) -> argparse.Namespace | None:
    """`grade ARGS` as its command line reads it; None for a command it refuses (it grades nothing)."""
    parser = build_parser()
    parser.exit_on_error = False
    try:
        return parser.parse_known_args(args)[0]
    except argparse.ArgumentError:
        return None


def _notebooks_in(paths: Sequence[str]) -> int:
    """How many notebooks the paths hold: files, folders and the .zip archives in them."""
    found = [path for given in map(Path, paths)
             for path in (given.rglob("*") if given.is_dir() else [given])]
    return sum(_zipped_notebooks(path) if path.suffix == ".zip" else path.suffix == ".ipynb" for path in found)


def _zipped_notebooks(path: Path) -> int:
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(name.endswith(".ipynb") for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return 1


def wait_for(read: Callable[[], T | None], timeout: float, what: str,
             process: subprocess.Popen | None = None) -> T:
    """Poll `read` until it returns something other than None; fail with `what` after `timeout`
    seconds, or as soon as `process`, the one that should make it happen, has ended."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value is not None:
            return value
        if process is not None and process.poll() is not None:
            value = read()  # what it wrote just before it ended
            if value is not None:
                return value
            raise AssertionError(f"{what}: the process ended (exit {process.returncode}) without it")
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
