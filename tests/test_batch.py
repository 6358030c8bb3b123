"""Batch grading of a whole class, through the command an instructor runs."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.gradebook import sha256
from grader.results import GradeResult
from tests.browser import chromium
from tests.class_corpus import KINDS, make_class
from tests.invariants import contradictions
from tests.leftovers import assert_no_jail_left
from tests.notebooks import KERAS3, write_notebook
from tests.waiting import at_least_graded, grading_bound, wait_for

ROOT = Path(__file__).resolve().parent.parent
FAST = ["--timeout", "8", "--run-timeout", "40", "--lang", "en"]


def grade(*args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=grading_bound(args), **options)


def gradebook_rows(path: Path) -> dict[str, tuple]:
    with sqlite3.connect(path) as db:
        return {file: (student, content_hash, graded_at, json.loads(result)) for file, student, content_hash,
                graded_at, result in db.execute("SELECT file, student, content_hash, graded_at, result FROM submissions")}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    expected = make_class(folder)
    out = folder.parent / "out"
    done = grade(str(folder), "-o", str(out), "-j", "2", *FAST)
    return folder, out, expected, done


def test_a_class_of_40_is_graded_in_parallel(graded_class):
    folder, out, expected, done = graded_class
    assert len(expected) == 40
    assert done.returncode == 1, done.stderr  # two files could not be graded
    assert len(re.findall(r"^\[\d+/40\] ", done.stdout, flags=re.M)) == 40  # plain lines off a terminal
    assert "Graded 38, failed to grade 2, skipped 0 unchanged" in done.stdout
    assert "Traceback" not in done.stderr


def test_grades_csv(graded_class):
    _, out, expected, _ = graded_class
    raw = (out / "grades.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads Chinese names right with the BOM
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0].keys() == {"id", "file", "score", "max_score", "status", "step1", "step2", "step3", "step4",
                              "step5", "duplicate", "grader_score"}
    got = {row["id"]: [int(row[f"step{n}"]) for n in range(1, 6)] for row in rows}
    assert got == expected
    statuses = {row["id"]: row["status"] for row in rows}
    assert (statuses["empty"], statuses["broken"], statuses["hang"]) == ("unreadable", "unreadable", "timeout")
    assert {row["file"] for row in rows if row["id"] == "s05"} == {"lms.zip/s05/lab.ipynb"}


def test_gradebook(graded_class):
    folder, out, expected, _ = graded_class
    rows = gradebook_rows(out / "gradebook.sqlite")
    assert len(rows) == 40
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        versions = db.execute("SELECT DISTINCT grader_version, spec_hash FROM submissions").fetchall()
    assert len(versions) == 1
    student, content_hash, _, result = rows["王小明.ipynb"]
    assert (student, result["score"]) == ("王小明", 100)
    assert content_hash == sha256((folder / "王小明.ipynb").read_bytes())


def test_no_result_of_the_class_contradicts_itself(graded_class):
    _, out, _, _ = graded_class
    found = {path.stem: contradictions(GradeResult.from_dict(json.loads(path.read_text())))
             for path in (out / "results").glob("*.json")}
    assert len(found) == 40 and {name: said for name, said in found.items() if said} == {}


def test_student_outputs(graded_class):
    _, out, expected, _ = graded_class
    assert len(list((out / "results").glob("*.json"))) == 40
    assert len(list((out / "reports").glob("*.html"))) == 40
    result = json.loads((out / "results" / "s02.json").read_text())
    assert (result["notebook"], result["score"]) == ("s02/lab.ipynb", 80)
    assert "every LSTM layer followed by another LSTM layer" in (out / "reports" / "s02.html").read_text()


def test_dashboard(graded_class):
    _, out, expected, _ = graded_class
    page = (out / "index.html").read_text()
    no_sequences = sum(1 for number in range(35) if list(KINDS)[number % len(KINDS)] == "no_sequences")
    assert f"return_sequences: expected True, got False — {no_sequences} students" in page
    assert '<strong id="count">40</strong>' in page
    assert "<img src=x" not in page and "&lt;img src=x" in page
    with chromium() as browser:
        tab = browser.new_page()
        problems = []
        tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        tab.on("pageerror", lambda error: problems.append(str(error)))
        tab.goto((out / "index.html").as_uri())
        title = tab.title()
        rows = tab.locator("#students-table tbody tr")
        assert rows.count() == 40
        tab.get_by_role("button", name="Score").click()
        assert tab.locator("#students-table tbody tr >> nth=0 >> td >> nth=2").inner_text() == "0/100"
        tab.get_by_role("button", name="Score").click()
        assert tab.locator("#students-table tbody tr >> nth=0 >> td >> nth=2").inner_text() == "100/100"
        tab.fill("#filter", "lms.zip")
        assert tab.locator("#students-table tbody tr:not([hidden])").count() == 5
        tab.fill("#filter", "onerror")  # the student whose folder name is an HTML injection
        assert tab.locator("#students-table tbody tr:not([hidden])").count() == 1
        assert tab.title() == title and "pwned" not in tab.title()
        tab.locator("#students-table tbody tr:not([hidden]) a").click()
        assert tab.url.endswith(".html") and "/reports/" in tab.url
        assert tab.title() != title and "pwned" not in tab.title()
        assert problems == []


def assert_session_ends(session: int, timeout: float = 10.0) -> None:
    """No process of the killed batch's session (its pool workers, its warm parents) lives on."""
    def members() -> list[int]:
        found = []
        for name in filter(str.isdigit, os.listdir("/proc")):
            try:
                fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == session and fields[0] != "Z":
                found.append(int(name))
        return found

    deadline = time.monotonic() + timeout
    while members() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert members() == []


def test_kill_midway_then_resume(tmp_path):
    folder = tmp_path / "class"
    for number in range(10):
        (folder / f"p{number}").mkdir(parents=True)
        write_notebook(folder / f"p{number}", KERAS3, name="lab.ipynb")
    out = tmp_path / "out"
    args = [str(folder), "-o", str(out), "-j", "2", *FAST]
    command = [sys.executable, "-m", "grader", *args]
    run = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    book = out / "gradebook.sqlite"
    wait_for(at_least_graded(book, 3), grading_bound(args, 3), "three graded submissions", run)
    os.kill(run.pid, signal.SIGKILL)  # the batch process alone: its workers and jails must follow it
    run.wait()
    assert_session_ends(run.pid)
    with sqlite3.connect(book) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    before = gradebook_rows(book)
    assert 3 <= len(before) < 10
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=grading_bound(args))
    assert done.returncode == 0, done.stderr
    assert f"skipped {len(before)} unchanged" in done.stdout
    after = gradebook_rows(book)
    assert len(after) == 10 and all(row[3]["score"] == 100 for row in after.values())
    assert all(after[file][2] == row[2] for file, row in before.items())  # not graded again
    again = subprocess.run([*command, "--force"], cwd=ROOT, capture_output=True, text=True,
                           timeout=grading_bound(args))
    assert "Graded 10, failed to grade 0, skipped 0" in again.stdout
    assert_no_jail_left()  # the killed run's workers, warm parents and kernels died with it


def test_batch_errors_are_one_line(tmp_path):
    missing = grade(str(tmp_path / "nope"), "-o", str(tmp_path / "out"))
    assert (missing.returncode, missing.stderr.count("\n")) == (2, 1)
    assert "no such file or folder" in missing.stderr
    empty = grade(str(tmp_path), "-o", str(tmp_path / "out2"))
    assert (empty.returncode, empty.stderr.strip()) == (2, "grade: no .ipynb notebook found in the paths given")
    no_out = grade(str(tmp_path))
    assert no_out.returncode == 2 and "-o OUT" in no_out.stderr


def test_gradescope(tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    write_notebook(submission, KERAS3[:4] + ["print(model)"], name="hw.ipynb")
    results = tmp_path / "results" / "results.json"
    done = grade("--gradescope", "--submission-dir", str(submission), "--results-path", str(results), "--lang", "en")
    assert done.returncode == 0, done.stderr
    data = json.loads(results.read_text())
    assert data["score"] == 80 and isinstance(data["execution_time"], int)
    assert [test["score"] for test in data["tests"]] == [20, 20, 20, 20, 0]
    assert [test["status"] for test in data["tests"]] == ["passed"] * 4 + ["failed"]
    assert data["tests"][4]["name"] == "5. Print each layer's parameters"
    assert "model.summary() did not run" in data["tests"][4]["output"]
    assert {"name", "score", "max_score", "status", "output"} <= data["tests"][0].keys()
