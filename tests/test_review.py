"""Overrides, comments and the review queue: kept beside the grader's results, through real class runs."""

from __future__ import annotations

import csv
import json
import multiprocessing
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

from grader import cli
from grader.gradebook import Entry, Gradebook, sha256
from grader.messages import text
from grader.report_html import render_html
from grader.review import (KINDS, QueueItem, ReviewError, add_comment, add_override, clear_override, final_rows,
                           mark_reviewed, override_history, review_queue)
from tests.class_corpus import NO_SEQUENCES
from tests.notebooks import KERAS2, KERAS3, write_notebook
from tests.waiting import grading_bound

ROOT = Path(__file__).resolve().parent.parent
FAST = ["-j", "2", "--timeout", "30", "--lang", "en"]
CLASS = {"alice/lab.ipynb": KERAS3, "bob/lab.ipynb": NO_SEQUENCES, "carol/lab.ipynb": KERAS2,
         "dave/a.ipynb": KERAS3, "dave/b.ipynb": NO_SEQUENCES}
KERAS2_NOTE = text("note.keras2", "en")
REVIEW_TABLES = ("overrides", "comments", "reviewed")


def grade(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=grading_bound(args))


def make_class(folder: Path) -> Path:
    for name, sources in CLASS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        write_notebook((folder / name).parent, sources, name=Path(name).name)
    (folder / "empty.ipynb").write_text("")
    return folder


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Path, Path]:
    """(class folder, OUT) of one real class run; tests change copies of them."""
    root = tmp_path_factory.mktemp("review")
    (root / "class").mkdir()
    folder, out = make_class(root / "class"), root / "out"
    done = grade(str(folder), "-o", str(out), *FAST)
    assert done.returncode == 1, done.stderr  # empty.ipynb cannot be graded
    return folder, out


@pytest.fixture
def copy(graded, tmp_path) -> tuple[Path, Path]:
    folder, out = graded
    return shutil.copytree(folder, tmp_path / "class"), shutil.copytree(out, tmp_path / "out")


def book_of(out: Path) -> Gradebook:
    return Gradebook(out / "gradebook.sqlite")


def csv_rows(out: Path) -> dict[str, dict]:
    lines = (out / "grades.csv").read_text(encoding="utf-8-sig").splitlines()
    return {row["file"]: row for row in csv.DictReader(lines)}


def tables(out: Path) -> list[tuple]:
    """Every row of every table, the schema included: what 'nothing written' compares."""
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        names = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return [*db.execute("SELECT * FROM sqlite_master ORDER BY name"),
                *((name, *row) for name in names if name != "sqlite_sequence"
                  for row in db.execute(f"SELECT * FROM {name} ORDER BY rowid"))]


def outputs(out: Path) -> dict[str, bytes]:
    return {str(path.relative_to(out)): path.read_bytes() for path in sorted(out.rglob("*"))
            if path.is_file() and path.suffix in (".csv", ".html", ".json")}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exit:  # argparse's usage errors
        code = exit.code
    said = capsys.readouterr()
    return code, said.out, said.err


def touch_notebook(path: Path) -> None:
    """The same answer, other bytes: a markdown cell more."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("I checked my work again."))
    nbformat.write(nb, path)


# --- the queue of a real class -------------------------------------------------------------------

def test_the_queue_of_a_real_class(copy, capsys):
    _, out = copy
    book = book_of(out)
    # carol wrote the course's own Keras 2 answer: graded under tf-keras with a note, nothing to review.
    assert KERAS2_NOTE in next(row.result for row in book.results() if row.student == "carol").notes
    assert review_queue(book) == [
        QueueItem("dave", "dave/a.ipynb", "duplicate", "dave has 2 notebooks: dave/a.ipynb, dave/b.ipynb"),
        QueueItem("dave", "dave/b.ipynb", "duplicate", "dave has 2 notebooks: dave/a.ipynb, dave/b.ipynb"),
        QueueItem("empty", "empty.ipynb", "unreadable", "empty.ipynb: the file is empty"),
    ]
    code, shown, err = run_cli(capsys, "queue", str(out))
    assert (code, err) == (0, "")
    assert shown.splitlines() == [
        "dave\tduplicate\tdave/a.ipynb\tdave has 2 notebooks: dave/a.ipynb, dave/b.ipynb",
        "dave\tduplicate\tdave/b.ipynb\tdave has 2 notebooks: dave/a.ipynb, dave/b.ipynb",
        "empty\tunreadable\tempty.ipynb\tempty.ipynb: the file is empty"]
    mark_reviewed(book, "dave/a.ipynb", "ta")  # one notebook of the two
    mark_reviewed(book, "empty", "ta", kind="unreadable")
    assert [(item.student, item.file) for item in review_queue(book)] == [("dave", "dave/b.ipynb")]
    mark_reviewed(book, "dave/b.ipynb", "ta")
    code, shown, err = run_cli(capsys, "queue", str(out))  # an empty queue: no row, a line for the person
    assert (code, shown, err) == (0, "", f"grade queue: nothing in {out} waits for a review\n")


# --- overrides through the command line, kept by a regrade -----------------------------------------

def test_an_override_shows_everywhere_and_survives_a_forced_regrade(copy, capsys):
    folder, out = copy
    grader_json = json.loads((out / "results" / "bob.json").read_text())
    code, said, err = run_cli(capsys, "override", str(out), "bob", "1", "20",
                              "--reason", "return_sequences is set in step 2", "--by", "Prof. 王")
    assert (code, err, said) == (0, "", "bob step1: 0 → 20 points, by Prof. 王\n")
    code, said, err = run_cli(capsys, "comment", str(out), "bob", "<b>Well</b> structured", "--by", "ta")
    assert (code, err) == (0, "")

    def shown_everywhere() -> None:
        row = csv_rows(out)["bob/lab.ipynb"]
        assert (row["score"], row["grader_score"], row["step1"], row["step2"]) == ("100", "80", "20", "20")
        assert csv_rows(out)["alice/lab.ipynb"]["score"] == csv_rows(out)["alice/lab.ipynb"]["grader_score"] == "100"
        data = json.loads((out / "results" / "bob.json").read_text())
        review = data.pop("review")
        assert {key: value for key, value in data.items() if key != "seconds"} == \
            {key: value for key, value in grader_json.items() if key != "seconds"}  # the grader's result, unchanged
        assert (review["grader_score"], review["final_score"], review["step_points"]["step1"]) == (80, 100, 20)
        assert [(o["step"], o["points"], o["old_points"], o["by"], o["stale"]) for o in review["overrides"]] == \
            [("step1", 20, 0, "Prof. 王", False)]
        assert [comment["text"] for comment in review["comments"]] == ["<b>Well</b> structured"]
        page = (out / "reports" / "bob.html").read_text()
        assert '<strong id="score">100</strong>' in page
        assert "changed by your instructor: return_sequences is set in step 2 (0 → 20 / 20 points)" in page
        assert "&lt;b&gt;Well&lt;/b&gt; structured" in page and "<b>Well" not in page
        assert "review" not in json.loads((out / "results" / "alice.json").read_text())
        assert "(grader: 80)" in (out / "index.html").read_text()  # the dashboard's final score, beside the grader's

    shown_everywhere()
    before = {row.file: row.result.seconds for row in book_of(out).results()}
    done = grade(str(folder), "-o", str(out), "--force", *FAST)
    assert done.returncode == 1 and "skipped 0 unchanged" in done.stdout, done.stdout + done.stderr
    assert {row.file: row.result.seconds for row in book_of(out).results()} != before  # really graded again
    shown_everywhere()
    assert [(o.student, o.step, o.points) for o in override_history(book_of(out))] == [("bob", "step1", 20)]


def test_a_changed_notebook_makes_its_override_stale_and_reopens_its_review(copy, capsys):
    folder, out = copy
    book = book_of(out)
    add_override(book, "bob", "step1", 20, "accepted", "ta")
    mark_reviewed(book, "dave/a.ipynb", "ta")
    assert "dave/a.ipynb" not in {item.file for item in review_queue(book)}
    assert grade(str(folder), "-o", str(out), "--force", *FAST).returncode == 1  # the same notebooks again
    assert "dave/a.ipynb" not in {item.file for item in review_queue(book)}
    touch_notebook(folder / "bob" / "lab.ipynb")
    touch_notebook(folder / "dave" / "a.ipynb")
    done = grade(str(folder), "-o", str(out), *FAST)
    assert "skipped 4 unchanged" in done.stdout, done.stdout + done.stderr
    bob = next(final for final in final_rows(book) if final.row.student == "bob")
    assert (bob.grader_score, bob.final_score, [(o.step, o.points, o.stale) for o in bob.overrides]) == \
        (80, 100, [("step1", 20, True)])
    assert csv_rows(out)["bob/lab.ipynb"]["score"] == "100"
    assert json.loads((out / "results" / "bob.json").read_text())["review"]["overrides"][0]["stale"] is True
    queue = [(item.file, item.kind) for item in review_queue(book)]
    assert ("bob/lab.ipynb", "stale_override") in queue and ("dave/a.ipynb", "duplicate") in queue
    why = next(item.why for item in review_queue(book) if item.kind == "stale_override")
    assert why == "the notebook changed after these overrides: step1 (0 → 20, ta)"
    code, _, err = run_cli(capsys, "reviewed", str(out), "bob", "--kind", "stale_override")
    assert (code, err) == (0, "")
    assert ("bob", "stale_override") not in [(item.student, item.kind) for item in review_queue(book)]
    assert next(final for final in final_rows(book) if final.row.student == "bob").overrides[0].stale  # still stale


# --- the gradebook's history ---------------------------------------------------------------------

def test_overrides_are_a_history_and_the_last_one_counts(copy):
    _, out = copy
    book = book_of(out)
    first = add_override(book, "bob", "1", 10, "half of it", "ta")
    second = add_override(book, "bob", "step1", 15, "on second thought", "prof")
    third = add_override(book, "bob", "2", 0, "copied", "prof")
    cleared = clear_override(book, "bob", "step2", "not copied after all", "prof")
    assert [(o.step, o.points, o.old_points, o.by) for o in (first, second, third, cleared)] == \
        [("step1", 10, 0, "ta"), ("step1", 15, 10, "prof"), ("step2", 0, 20, "prof"), ("step2", None, 0, "prof")]
    assert [(o.step, o.points, o.old_points, o.reason) for o in override_history(book, "bob")] == \
        [("step1", 10, 0, "half of it"), ("step1", 15, 10, "on second thought"), ("step2", 0, 20, "copied"),
         ("step2", None, 0, "not copied after all")]
    bob = next(final for final in final_rows(book) if final.row.student == "bob")
    assert (bob.grader_score, bob.final_score) == (80, 95)
    assert bob.step_points == {"step1": 15, "step2": 20, "step3": 20, "step4": 20, "step5": 20}
    assert [(o.step, o.points, o.stale) for o in bob.overrides] == [("step1", 15, False)]
    assert bob.row.result.steps[0].score == 0  # the grader's result is untouched
    empty = add_override(book, "empty", "5", 20, "sent me the notebook by mail", "prof")  # an unreadable row too
    assert (empty.old_points, next(f for f in final_rows(book) if f.row.student == "empty").final_score) == (0, 20)
    add_comment(book, "bob", "kept", "prof")
    mark_reviewed(book, "dave/a.ipynb", "prof")
    with sqlite3.connect(out / "gradebook.sqlite") as db:  # each table holds a row to change
        for statement in ("UPDATE overrides SET points = 20", "DELETE FROM overrides", "DELETE FROM comments",
                          "UPDATE reviewed SET kind = 'x'"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(statement)


def test_comments_go_to_every_notebook_of_the_student(copy):
    _, out = copy
    book = book_of(out)
    add_comment(book, "dave/b.ipynb", "Hand in one notebook next time.", "ta")
    finals = {final.row.file: final for final in final_rows(book)}
    assert [c.text for c in finals["dave/a.ipynb"].comments] == [c.text for c in finals["dave/b.ipynb"].comments] == \
        ["Hand in one notebook next time."]
    assert finals["alice/lab.ipynb"].comments == []


def test_the_report_says_it_in_the_students_language(copy):
    _, out = copy
    book = book_of(out)
    add_override(book, "bob", "1", 20, "第二步设置了 return_sequences", "老师")
    bob = next(final for final in final_rows(book) if final.row.student == "bob")
    page = render_html(replace(bob.row.result, lang="zh"), bob)
    assert "老师修改：第二步设置了 return_sequences（0 → 20 / 20 分）" in page
    assert "老师复查后的得分：100 / 100（评分工具给出的是 80 分）。" in page


def test_each_kind_of_doubt_goes_to_the_queue(copy):
    _, out = copy
    book = book_of(out)
    alice = next(row for row in book.results() if row.student == "alice").result
    rnn_cell = text("note.rnn_cell", "en", cell="LSTMCell", kind="LSTM")  # a step's note
    doubtful = {
        "t": replace(alice, status="tampered", notes=["Cell 3 did not run as the notebook holds it"]),
        "n": replace(alice, status="needs_review", notes=["The notebook's own run and a clean replay disagree"]),
        "e": replace(alice, status="error", notes=["grade: internal error: boom"]),
        "k": replace(alice, status="kernel_died", notes=[text("note.kernel_died", "en", signal="SIGKILL")]),
        "m": replace(alice, status="memory_limit", notes=[]),
        "g": replace(alice, notes=[text("note.machine_gap", "zh", modules="seaborn")]),
        "r": replace(alice, steps=[replace(alice.steps[0], notes=[rnn_cell]), *alice.steps[1:]]),
        "u": replace(alice, notes=[text("note.replay_unavailable", "en", status="timeout")]),
        "c": replace(alice, notes=[text("note.carried_error", "en", step=1, title="x")]),  # no doubt
    }
    for student, result in doubtful.items():
        book.record(Entry(f"{student}.ipynb", student, False, sha256(student.encode()), "spec", "test", result))
    found = {(item.student, item.kind) for item in review_queue(book) if item.student in doubtful}
    assert found == {("t", "tampered"), ("n", "needs_review"), ("e", "error"), ("k", "limit"), ("m", "limit"),
                     ("g", "limit"), ("r", "lenient_policy"), ("u", "needs_review")}
    whys = {item.student: item.why for item in review_queue(book) if item.student in doubtful}
    assert (whys["m"], whys["e"]) == ("memory_limit", "grade: internal error: boom")
    assert whys["k"] == f"kernel_died: {text('note.kernel_died', 'en', signal='SIGKILL')}"
    assert whys["n"] == "The notebook's own run and a clean replay disagree"
    assert set(KINDS) >= {kind for _, kind in found}


def test_a_regrade_recording_a_new_notebook_marks_the_override_stale(copy):
    _, out = copy
    book = book_of(out)
    add_override(book, "alice", "5", 0, "the summary was copied", "prof")
    row = next(row for row in book.results() if row.student == "alice")
    book.record(Entry(row.file, row.student, False, sha256(b"another notebook"), "spec", "test", row.result))
    alice = next(final for final in final_rows(book) if final.row.student == "alice")
    assert (alice.final_score, [(o.points, o.stale) for o in alice.overrides]) == (80, [(0, True)])
    assert ("alice", "stale_override") in [(item.student, item.kind) for item in review_queue(book)]


# --- two reviewers at once -----------------------------------------------------------------------

ROUNDS = 15


def _override_many(out: str, who: str, start, points: int) -> None:
    book = Gradebook(Path(out) / "gradebook.sqlite")
    start.wait()
    for number in range(ROUNDS):
        add_override(book, "alice", "step3", points, f"{who} round {number}", who)


def test_two_reviewers_at_once_lose_nothing(copy):
    _, out = copy
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    reviewers = [context.Process(target=_override_many, args=(str(out), who, start, points))
                 for who, points in (("ann", 5), ("ben", 15))]
    for reviewer in reviewers:
        reviewer.start()
    for reviewer in reviewers:
        reviewer.join(timeout=300)
    assert [reviewer.exitcode for reviewer in reviewers] == [0, 0]
    history = override_history(book_of(out), "alice")
    made = [f"{who} round {number}" for who in ("ann", "ben") for number in range(ROUNDS)]
    assert sorted(o.reason for o in history) == sorted(made)
    # Each change read the points in force inside its own transaction: the chain is unbroken.
    assert [o.old_points for o in history] == [20, *(o.points for o in history[:-1])]
    final = next(final for final in final_rows(book_of(out)) if final.row.student == "alice")
    assert final.step_points["step3"] == history[-1].points


def test_a_change_killed_at_any_moment_loses_nothing_already_kept(copy):
    """`grade override` and `grade comment` killed with SIGKILL at moments spread over their run
    (in the transaction, while the outputs are written): the gradebook stays whole, every change
    that finished is kept, a killed one is all there or not at all, and the next change writes
    whole outputs again."""
    _, out = copy
    done_before = len(override_history(book_of(out), "alice"))
    started = time.monotonic()
    finished = grade_in_process(out, "override", "alice", "step3", "7", "--reason", "timed")
    full_run = time.monotonic() - started
    assert finished.returncode == 0, finished.stderr
    kept = [o.reason for o in override_history(book_of(out), "alice")]
    for number in range(8):
        command = [sys.executable, "-m", "grader", "override", str(out), "alice", "step3", str(number),
                   "--reason", f"killed {number}"] if number % 2 else \
            [sys.executable, "-m", "grader", "comment", str(out), "alice", f"killed {number}"]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(full_run * number / 8)  # from at once to near its end
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        with sqlite3.connect(out / "gradebook.sqlite") as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        history = [o.reason for o in override_history(book_of(out), "alice")]
        assert history[:len(kept)] == kept  # nothing kept before is lost
        assert set(history[len(kept):]) <= {f"killed {number}"}
        kept = history
    assert len(kept) >= done_before + 1
    assert grade_in_process(out, "comment", "alice", "after the kills").returncode == 0
    rows = csv_rows(out)
    assert set(rows) == {final.row.file for final in final_rows(book_of(out))}  # the CSV reads back whole
    assert int(rows["alice/lab.ipynb"]["step3"]) == final_points(out, "alice", "step3")


def grade_in_process(out: Path, *argv: str) -> subprocess.CompletedProcess:
    command, *rest = argv
    return subprocess.run([sys.executable, "-m", "grader", command, str(out), *rest], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def final_points(out: Path, student: str, step: str) -> int:
    return next(final for final in final_rows(book_of(out)) if final.row.student == student).step_points[step]


# --- bad input: one line, exit 2, nothing written ------------------------------------------------

BAD = {
    "unknown student": (["override", "{out}", "nobody", "1", "5", "--reason", "r"], "nobody: no such student or file"),
    "unknown step number": (["override", "{out}", "bob", "6", "5", "--reason", "r"], "bob has no step '6'"),
    "unknown step id": (["override", "{out}", "bob", "step9", "5", "--reason", "r"], "bob has no step 'step9'"),
    "points above the maximum": (["override", "{out}", "bob", "1", "21", "--reason", "r"],
                                 "step1 of bob is worth 0 to 20 points, not 21"),
    "negative points": (["override", "{out}", "bob", "1", "-1", "--reason", "r"], "worth 0 to 20 points, not -1"),
    "points not a number": (["override", "{out}", "bob", "1", "ten", "--reason", "r"], "POINTS 'ten'"),
    "empty reason": (["override", "{out}", "bob", "1", "5", "--reason", ""], "the reason is empty"),
    "blank reason": (["override", "{out}", "bob", "1", "5", "--reason", "   "], "the reason is empty"),
    "no reason": (["override", "{out}", "bob", "1", "5"], "required: --reason"),
    "nothing to clear": (["override", "{out}", "bob", "1", "--clear", "--reason", "r"], "has no override to clear"),
    "clear with points": (["override", "{out}", "bob", "1", "5", "--clear", "--reason", "r"],
                          "--clear takes no POINTS"),
    "a student with two notebooks": (["override", "{out}", "dave", "1", "5", "--reason", "r"],
                                     "dave has 2 notebooks (dave/a.ipynb, dave/b.ipynb): name one by its file"),
    "empty comment": (["comment", "{out}", "bob", " "], "the comment is empty"),
    "comment of nobody": (["comment", "{out}", "nobody", "hello"], "nobody: no such student"),
    "unknown kind": (["reviewed", "{out}", "carol", "--kind", "bogus"], "invalid choice: 'bogus'"),
    "nothing open": (["reviewed", "{out}", "alice"], "alice has no open item in the review queue"),
    "nothing open of that kind": (["reviewed", "{out}", "carol", "--kind", "tampered"], "no open tampered item"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_and_writes_nothing(copy, capsys, case):
    _, out = copy
    argv, problem = BAD[case]
    before_tables, before_files = tables(out), outputs(out)
    code, said, err = run_cli(capsys, *(part.format(out=out) for part in argv))
    assert (code, said) == (2, "")
    assert len(err.splitlines()) == 1 and problem in err, err
    assert err.startswith(f"grade {argv[0]}: ")
    assert tables(out) == before_tables and outputs(out) == before_files


def test_a_folder_without_a_gradebook_is_refused_and_left_empty(tmp_path, capsys):
    for argv in (["queue", str(tmp_path)], ["override", str(tmp_path), "bob", "1", "5", "--reason", "r"],
                 ["comment", str(tmp_path), "bob", "hi"], ["reviewed", str(tmp_path), "bob"]):
        code, said, err = run_cli(capsys, *argv)
        assert (code, said) == (2, "")
        assert err == (f"grade {argv[0]}: {tmp_path}: no gradebook there (gradebook.sqlite); "
                       "grade the class into it first\n")
    assert list(tmp_path.iterdir()) == []


def test_the_review_functions_refuse_what_the_command_refuses(copy):
    _, out = copy
    book = book_of(out)
    before = tables(out)
    for attempt in (lambda: add_override(book, "bob", "1", True, "r", "ta"),
                    lambda: add_override(book, "bob", "1", 5, "r", ""),
                    lambda: add_comment(book, "bob", "x" * 20_001, "ta"),
                    lambda: mark_reviewed(book, "carol", "ta", kind="nonsense")):
        with pytest.raises(ReviewError):
            attempt()
    assert tables(out) == before
