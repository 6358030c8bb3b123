"""The command's contract for files it cannot grade: one line, exit 2, no traceback."""

from __future__ import annotations

import ast
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


def dispatched_subcommands() -> set[str]:
    """The subcommands main() dispatches, read from its code: `argv[:1] == ["name"]` and `argv[0] in NAMES`."""
    main = next(node for node in ast.parse(Path(cli.__file__).read_text()).body
                if isinstance(node, ast.FunctionDef) and node.name == "main")
    found = set()
    for node in ast.walk(main):
        if isinstance(node, ast.Compare) and isinstance(node.comparators[0], ast.List):
            found |= {item.value for item in node.comparators[0].elts if isinstance(item, ast.Constant)}
        elif isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In) and isinstance(node.comparators[0], ast.Name):
            found |= set(getattr(cli, node.comparators[0].id))
    return found


def test_help_lists_every_subcommand_with_one_line():
    done = subprocess.run([sys.executable, "-m", "grader", "--help"], capture_output=True, text=True, cwd=ROOT, check=True)
    listed = done.stdout.split("subcommands (grade SUBCOMMAND --help for more):\n")[1].splitlines()
    width = max(map(len, cli.SUBCOMMANDS))
    assert listed == [f"  grade {name:<{width}}  {line}" for name, line in cli.SUBCOMMANDS.items()]
    assert set(cli.SUBCOMMANDS) == dispatched_subcommands() and {"new-exercise", "check-spec"} <= set(cli.SUBCOMMANDS)


@pytest.mark.parametrize("lang, status", [("zh", "无法读取"), ("en", "unreadable")])
def test_a_batch_line_says_the_status_in_the_runs_language(tmp_path, lang, status):
    """Off a terminal, each submission's line: its status as the run's language says it (the CSV keeps the word)."""
    (tmp_path / "bad.ipynb").write_text("{oops")
    done = grade("-o", str(tmp_path / "out"), "--lang", lang, str(tmp_path / "bad.ipynb"))
    line = done.stdout.splitlines()[0]
    assert line.startswith("[1/1] ") and f"0/100 {status}" in line, done.stdout
    assert lang == "en" or "unreadable" not in line
    assert "unreadable" in (tmp_path / "out" / "grades.csv").read_text(encoding="utf-8")
