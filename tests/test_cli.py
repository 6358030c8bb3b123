"""The command's contract for files it cannot grade: one line, exit 2, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader import cli
from grader.kernel import sandbox
from tests.waiting import grading_bound

ROOT = Path(__file__).resolve().parent.parent


def grade(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=grading_bound(args))


@pytest.mark.parametrize("content", [None, b"", b"{oops", b'{"a": 1}'])
def test_unreadable_input_exits_2_with_one_line(tmp_path, content):
    path = tmp_path / "submission.ipynb"
    if content is not None:
        path.write_bytes(content)
    done = grade(str(path), "--json", str(tmp_path / "out.json"))
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith(f"grade: cannot grade {path}: ")
    result = json.loads((tmp_path / "out.json").read_text())
    assert (result["status"], result["score"], result["max_score"]) == ("unreadable", 0, 100)


def test_unknown_option_is_a_usage_error():
    done = grade("x.ipynb", "--keras", "4")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr


def test_a_machine_that_cannot_jail_grades_nothing_and_says_why(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name, path=None: None)  # no bubblewrap
    assert cli.main([str(ROOT / "solutions/lstm_network/idiomatic_keras3.ipynb"), "--no-report"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "cannot jail students' code" in error and "bubblewrap" in error
