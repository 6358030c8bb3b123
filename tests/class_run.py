"""Grade a class of attack notebooks in one batch, as root or as the tests' ordinary user."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tests.waiting import grading_bound

ROOT = Path(__file__).resolve().parent.parent
TESTER = "lstm-grader-tester"  # made by `make install`


def grade_class_as(user: str | None, make_class: Callable[[Path, Path], Path], *, jobs: int, cell_seconds: int,
                   env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
    """Grade warm, at `-j jobs`, the class `make_class(folder, out)` writes in a fresh folder (it
    returns the class's folder), as `user` (None: as this process, root). Returns the run and each
    notebook's JSON result by its name."""
    folder = Path(tempfile.mkdtemp(prefix="class-run-", dir="/tmp"))
    out = folder / "out"
    class_dir = make_class(folder, out)
    args = [str(class_dir), "-o", str(out), "-j", str(jobs), "--lang", "en", "--timeout", str(cell_seconds)]
    command = [sys.executable, "-m", "grader", *args]
    if user is not None:
        uid = pwd.getpwnam(user).pw_uid
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, uid, -1)
        command = ["runuser", "-u", user, "--", *command]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "HOME": str(folder), **(env or {})}, timeout=grading_bound(args))
    results = {Path(json.loads(path.read_text())["notebook"]).stem: json.loads(path.read_text())
               for path in (out / "results").glob("*.json")}
    shutil.rmtree(folder, ignore_errors=True)
    return run, results
