"""Grading on a real Dask cluster on loopback: the same results as the local pool, and a worker
killed mid-run costs nothing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.leftovers import assert_no_jail_left
from tests.class_corpus import KINDS
from tests.notebooks import KERAS3, write_notebook
from tests.waiting import at_least_graded, scheduler_address, wait_for

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FAST = ["--timeout", "20", "--run-timeout", "60", "--lang", "en"]


def make_small_class(folder: Path, size: int) -> None:
    kinds = list(KINDS)
    for number in range(size):
        (folder / f"c{number:02d}").mkdir(parents=True)
        write_notebook(folder / f"c{number:02d}", KINDS[kinds[number % len(kinds)]][0], name="lab.ipynb")
    (folder / "broken.ipynb").write_text("{")


def results(out: Path) -> dict[str, dict]:
    found = {}
    for path in (out / "results").glob("*.json"):
        data = json.loads(path.read_text())
        data.pop("seconds")
        found[data["notebook"]] = data
    return found


def grade(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


def test_local_dask_cluster_gives_the_same_results_as_the_local_pool(tmp_path):
    make_small_class(tmp_path / "class", 19)
    local = grade(str(tmp_path / "class"), "-o", str(tmp_path / "local"), "-j", "2", *FAST)
    cluster = grade(str(tmp_path / "class"), "-o", str(tmp_path / "cluster"), "--scheduler", "local:2", *FAST)
    assert (local.returncode, cluster.returncode) == (1, 1), cluster.stderr  # broken.ipynb
    assert "Graded 19, failed to grade 1" in cluster.stdout
    assert len(results(tmp_path / "cluster")) == 20
    assert results(tmp_path / "cluster") == results(tmp_path / "local")


@pytest.fixture
def dask_cluster(tmp_path):
    """A real scheduler and two real workers, as separate processes on loopback."""
    scheduler_file = tmp_path / "scheduler.json"
    common = ["--no-dashboard"]
    scheduler = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--scheduler-file", str(scheduler_file), *common],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    workers = [subprocess.Popen([str(BIN / "dask"), "worker", "--scheduler-file", str(scheduler_file),
                                 "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1", *common],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
               for _ in range(2)]
    address = wait_for(lambda: scheduler_address(scheduler_file), 60, "the dask scheduler's address")
    yield address, workers
    for process in [*workers, scheduler]:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def test_a_worker_killed_mid_run_loses_nothing(tmp_path, dask_cluster):
    address, workers = dask_cluster
    folder = tmp_path / "class"
    for number in range(12):
        (folder / f"k{number:02d}").mkdir(parents=True)
        write_notebook(folder / f"k{number:02d}", KERAS3, name="lab.ipynb")
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, "-m", "grader", str(folder), "-o", str(out), "--scheduler", address,
                            *FAST], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    book = out / "gradebook.sqlite"
    wait_for(at_least_graded(book, 2), 240, "two graded submissions")
    os.killpg(workers[0].pid, signal.SIGKILL)  # one worker dies, with whatever it was grading
    stdout, stderr = run.communicate(timeout=400)
    assert run.returncode == 0, stderr
    with sqlite3.connect(book) as db:
        rows = db.execute("SELECT file, score FROM submissions").fetchall()
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(rows) == len({file for file, _ in rows}) == 12  # every submission, exactly once
    assert {score for _, score in rows} == {100}
    assert_no_jail_left()  # the killed run's workers, warm parents and kernels died with it



def test_unreachable_scheduler_is_one_line(tmp_path):
    (tmp_path / "class").mkdir()
    write_notebook(tmp_path / "class", KERAS3, name="a.ipynb")
    done = grade(str(tmp_path / "class"), "-o", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9")
    assert done.returncode == 2
    assert done.stderr.startswith("grade: no Dask scheduler answered at tcp://127.0.0.1:9")
    assert done.stderr.count("\n") == 1
