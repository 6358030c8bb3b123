"""Batch input handling: whatever the class folder holds, one bad file costs its own row only, and
nothing the grader writes can be turned against the instructor (issue 10, "Batch input handling").

Most tests use the functions directly or run `grade` on inputs that never start a kernel; a few
run real notebooks (the class graded beside the bad files, a report next to a link, a notebook
reading a classmate's report, a class beside a 20,000-notebook zip). Issue 17 added "A classmate's
report as a data file" and the bound on what one student's folder or archive contributes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_notebook

from grader import notebook as notebook_module
from grader.batch import UNPACK_FOLDER, OutputBusy, one_run_at_a_time, write_class_outputs, write_student_outputs
from grader.dashboard import write_dashboard
from grader.grade import unreadable_result
from grader.gradescope import run_gradescope
from grader.messages import escape_controls
from grader.notebook import (JSON_DEPTH, NOTEBOOK_BYTES, MiB, UnreadableNotebook, holds_one_notebook, read_notebook,
                             referenced_files)
from grader.report_csv import write_grades_csv
from grader.report_html import write_html
from grader.results import STORED_CHARS, STORED_ITEMS, TRUNCATED, ClassRow, GradeResult, StepResult
from grader.safe_write import TEMPORARY_PREFIX, write_text
from grader.submissions import MOST_NOTEBOOKS, SubmissionError, _Budget, _copy, find_submissions, unpacking
from tests.notebooks import KERAS3, make_notebook, write_notebook
from tests.waiting import grading_bound

ROOT = Path(__file__).resolve().parent.parent
ESC = "\x1b[31m"
FAST = ["--timeout", "20", "--run-timeout", "60", "--lang", "en", "-j", "1", "--cold"]


def grade(*args: str, notebooks: int | None = None) -> subprocess.CompletedProcess:
    """`grade ARGS`, given as long as `notebooks` (by default, every notebook in ARGS) may take."""
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=grading_bound(args, notebooks))


def csv_rows(path: Path) -> dict[str, dict]:
    return {row["file"]: row for row in csv.DictReader(path.read_bytes().decode("utf-8-sig").splitlines())}


def notes_by_file(out: Path) -> dict[str, list[str]]:
    results = [json.loads(path.read_text()) for path in (out / "results").glob("*.json")]
    return {result["notebook"]: result["notes"] for result in results}


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def zip_bomb(path: Path, names: list[str], size: int) -> Path:
    """A zip whose members are each `size` zero bytes, all sharing one deflated stream (made once)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = deflate.compress(b"\0" * size) + deflate.flush()
    crc = zlib.crc32(b"\0" * size)
    local, central = bytearray(), bytearray()
    for name in map(str.encode, names):
        # flags, method (deflate), time, date, CRC, compressed and real size, name and extra length
        common = struct.pack("<4H3L2H", 0, 8, 0, 0x21, crc, len(data), size, len(name), 0)
        central += b"PK\x01\x02" + struct.pack("<2H", 20, 20) + common + struct.pack("<3H2L", 0, 0, 0, 0, len(local))
        central += name
        local += b"PK\x03\x04" + struct.pack("<H", 20) + common + name + data
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(names), len(names), len(central), len(local), 0)
    path.write_bytes(bytes(local + central + end))
    return path


def sparse(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        handle.truncate(size)


def deep_notebook(depth: int) -> bytes:
    """A valid notebook whose JSON nests `depth` levels: the document, its metadata, then lists."""
    lists = depth - 2
    return ('{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {"deep": %s}}'
            % ("[" * lists + "]" * lists)).encode()


# 1. A file that cannot be read says why, before any parsing that could blow up.

@pytest.mark.parametrize(("make", "reason"), [
    (lambda path: path.write_bytes(b"[" * 100_000), f"JSON nested more than {JSON_DEPTH} levels deep; not read"),
    (lambda path: path.write_bytes(deep_notebook(JSON_DEPTH + 1)),
     f"JSON nested more than {JSON_DEPTH} levels deep; not read"),
    (lambda path: path.write_bytes(b'{"cells": \xff\xfe}'), "cannot be read as UTF-8 text (UnicodeDecodeError)"),
    (lambda path: path.write_text('{"cells": [}'), "not valid JSON (line 1, column 12)"),
    (lambda path: path.mkdir(), "not a file"),
    (lambda path: os.mkfifo(path), "not a file"),
    (lambda path: sparse(path, NOTEBOOK_BYTES + 1), "larger than 16 MiB; not read"),
])
def test_unreadable_notebooks_say_why(tmp_path, make, reason):
    path = tmp_path / "x.ipynb"
    make(path)
    with pytest.raises(UnreadableNotebook) as raised:
        read_notebook(path)
    assert raised.value.reason("en") == f"{path}: {reason}"


def test_nesting_up_to_the_bound_is_read_and_brackets_in_strings_do_not_count(tmp_path):
    path = tmp_path / "ok.ipynb"
    path.write_bytes(deep_notebook(JSON_DEPTH))
    assert json.dumps(read_notebook(path).metadata["deep"]) == "[" * (JSON_DEPTH - 2) + "]" * (JSON_DEPTH - 2)
    nb = make_notebook(["text = '" + "[" * 5000 + "'"])
    path.write_text(json.dumps(nb))
    assert read_notebook(path).cells[-1].source.count("[") == 5000



def test_bad_files_cost_their_own_row_and_the_class_is_graded(tmp_path):
    """One real notebook among every kind of bad input: it is graded; each bad one is a row."""
    folder = tmp_path / "class"
    folder.mkdir()
    # A flat class folder: alice's code names bob's notebook and a data file; neither may reach her kernel.
    write_notebook(folder, ["import os\nassert not os.path.exists('bob.ipynb') and not os.path.exists('data.csv')",
                            *KERAS3], name="alice.ipynb", marked=False, headings=False)
    (folder / "bob.ipynb").write_text("{not json")
    (folder / "data.csv").write_text("1,2\n")
    (folder / "deep.ipynb").write_bytes(b"[" * 100_000)
    (folder / "latin1.ipynb").write_bytes('{"cells": "é"}'.encode("latin-1"))
    (folder / "folder.ipynb").mkdir()
    sparse(folder / "huge.ipynb", NOTEBOOK_BYTES + 1)
    (folder / "fake.zip").write_bytes(b"PK\x03\x04 not really a zip")
    zip_of(folder / "lms.zip", {"carol/lab.ipynb": b"{}", "dave/lab.ipynb": b"\0" * (NOTEBOOK_BYTES + 1)})
    (folder / f"{ESC}eve").mkdir()
    (folder / f"{ESC}eve" / "lab.ipynb").write_text("")
    out = tmp_path / "out"
    done = grade(folder, "-o", out, *FAST)
    assert done.returncode == 1, done.stderr  # some could not be graded; none stopped the others
    assert "Graded 1, failed to grade 9, skipped 0 unchanged" in done.stdout
    assert "\x1b" not in done.stdout + done.stderr
    assert f"] {escape_controls(ESC)}eve/lab.ipynb: 0/100 unreadable" in done.stdout
    rows = csv_rows(out / "grades.csv")
    assert {file: (row["score"], row["status"]) for file, row in rows.items()} == {
        "alice.ipynb": ("100", "graded"),
        **{file: ("0", "unreadable") for file in ["bob.ipynb", "deep.ipynb", "latin1.ipynb", "folder.ipynb",
                                                  "huge.ipynb", "fake.zip", "lms.zip/carol/lab.ipynb",
                                                  "lms.zip/dave/lab.ipynb", "\\x1b[31meve/lab.ipynb"]}}
    alice = json.loads((out / "results" / "alice.json").read_text())
    assert alice["errors"] == []  # neither bob.ipynb nor data.csv was copied into her kernel
    assert {file: notes for file, notes in notes_by_file(out).items() if file != "alice.ipynb"} == {
        "bob.ipynb": ["bob.ipynb: not valid JSON (line 1, column 2)"],
        "deep.ipynb": [f"deep.ipynb: JSON nested more than {JSON_DEPTH} levels deep; not read"],
        "latin1.ipynb": ["latin1.ipynb: cannot be read as UTF-8 text (UnicodeDecodeError)"],
        "folder.ipynb": ["folder.ipynb: not a file"],
        "huge.ipynb": ["huge.ipynb: larger than 16 MiB; not read"],
        "fake.zip": ["fake.zip: not a valid zip archive (BadZipFile: File is not a zip file)"],
        "lms.zip/carol/lab.ipynb": ["lms.zip/carol/lab.ipynb: JSON, but not a Jupyter notebook"],
        "lms.zip/dave/lab.ipynb": ["lms.zip/dave/lab.ipynb: larger than 16 MiB; not read"],
        f"{ESC}eve/lab.ipynb": [f"{ESC}eve/lab.ipynb: the file is empty"],
    }
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        assert db.execute("SELECT count(*), sum(status = 'unreadable') FROM submissions").fetchone() == (10, 9)
    assert not (out / UNPACK_FOLDER).exists()


# 2. Archives: streamed, counted, within one budget for the run, and removed at the end.

def test_the_unpack_budget_is_shared_by_all_archives_of_a_run(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    member = b" " * MiB
    zip_of(folder / "a.zip", {f"s{n}/lab.ipynb": member for n in range(3)})
    zip_of(folder / "b.zip", {f"t{n}/lab.ipynb": member for n in range(3)})
    unpack = tmp_path / "unpacked"
    found = find_submissions([folder], unpack_dir=unpack, unpack_bytes=4 * MiB)
    assert [(s.file, s.problem and s.problem.reason("en", shown=s.file)) for s in found] == [
        ("b.zip", "b.zip: the archives of this run unpack to more than 4 MiB in all; not unpacked"),
        ("a.zip/s0/lab.ipynb", None), ("a.zip/s1/lab.ipynb", None), ("a.zip/s2/lab.ipynb", None)]
    written = sum(path.stat().st_size for path in unpack.rglob("*") if path.is_file())
    assert written == 3 * MiB
    with pytest.raises(SubmissionError, match="more than 4 MiB in all"):  # the same archive given directly
        find_submissions([folder / "a.zip", folder / "b.zip"], unpack_dir=tmp_path / "u2", unpack_bytes=4 * MiB)
    assert sum(path.stat().st_size for path in (tmp_path / "u2").rglob("*") if path.is_file()) == 3 * MiB


def test_extraction_counts_the_bytes_really_written(tmp_path):
    budget = _Budget(total=2 * MiB)
    with (tmp_path / "a").open("wb") as sink:
        assert _copy(io.BytesIO(b"x" * MiB), sink, budget, tmp_path / "a.zip")
    with (tmp_path / "b").open("wb") as sink, pytest.raises(SubmissionError, match="more than 2 MiB in all"):
        _copy(io.BytesIO(b"x" * (3 * MiB // 2)), sink, budget, tmp_path / "a.zip")
    assert (budget.spent, (tmp_path / "b").stat().st_size) == (2 * MiB, MiB)  # stopped at the budget
    with (tmp_path / "c").open("wb") as sink:  # past the size of a notebook: stopped, not written on
        assert not _copy(io.BytesIO(b"x" * (NOTEBOOK_BYTES + 1)), sink, _Budget(total=64 * MiB), tmp_path / "a.zip")
    assert (tmp_path / "c").stat().st_size == NOTEBOOK_BYTES


def test_a_member_that_lies_about_its_size_is_refused(tmp_path):
    """The directory says 1000 bytes, the data inflates to 15 MiB: at most 1000 bytes are written."""
    data = bytearray(zip_of(tmp_path / "liar.zip", {"eve/lab.ipynb": b"\0" * (15 * MiB)}).read_bytes())
    data[22:26] = (1000).to_bytes(4, "little")  # the local header's uncompressed size
    central = data.find(b"PK\x01\x02")
    data[central + 24:central + 28] = (1000).to_bytes(4, "little")
    (tmp_path / "liar.zip").write_bytes(bytes(data))
    found = find_submissions([tmp_path / "liar.zip"], unpack_dir=tmp_path / "u")
    assert [(s.file, s.problem.reason("en", shown=s.file)) for s in found] == [
        ("liar.zip/eve/lab.ipynb", "liar.zip/eve/lab.ipynb: cannot be unpacked from its archive "
                                   "(BadZipFile: Bad CRC-32 for file 'eve/lab.ipynb')")]
    assert [path for path in (tmp_path / "u").rglob("*") if path.is_file()] == []


def test_a_zip_bomb_under_the_member_cap_stays_small_in_memory_and_on_disk(tmp_path):
    """A bomb of members just under the cap, 1 GiB and more in all: bounded memory, nothing left.
    An archive at the top of a class folder may be one student's upload, so the bomb's 70 notebooks
    are refused by their count before a byte of them is unpacked; the run's budget, which only
    many students' archives can reach now, is the test above's."""
    folder = tmp_path / "class"
    folder.mkdir()
    zip_bomb(folder / "a.zip", [f"a{n}/lab.ipynb" for n in range(10)], NOTEBOOK_BYTES - MiB)
    zip_bomb(folder / "bomb.zip", [f"b{n}/lab.ipynb" for n in range(70)], NOTEBOOK_BYTES - MiB)  # 1050 MiB in all
    out = tmp_path / "out"
    measure = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
               "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024);"
               "print(done.stdout)")
    args = [str(folder), "-o", str(out), "--lang", "en"]
    done = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "grader", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=grading_bound(args))
    status, peak_mib = map(int, done.stdout.splitlines()[0].split())
    assert status == 1 and "Graded 0, failed to grade 11, skipped 0 unchanged" in done.stdout, done.stdout
    assert peak_mib < 300
    assert notes_by_file(out)["bomb.zip"] == [
        "bomb.zip: holds 70 notebooks, more than the 10 one student may hand in; none of them is graded"]
    assert not (out / UNPACK_FOLDER).exists()


def test_what_was_unpacked_is_removed_when_the_run_fails(tmp_path):
    zip_of(tmp_path / "class.zip", {"alice/lab.ipynb": b"{}"})
    out = tmp_path / "out"
    done = grade(tmp_path / "class.zip", tmp_path / "missing", "-o", out)
    assert done.returncode == 2
    assert done.stderr == f"grade: cannot grade {tmp_path / 'missing'}: no such file or folder\n"
    assert not (out / UNPACK_FOLDER).exists()
    with pytest.raises(RuntimeError), unpacking(tmp_path / "u") as folder:
        (folder / "x.ipynb").write_text("{}")
        raise RuntimeError
    assert not (tmp_path / "u").exists()


# 3. One run at a time per OUT.

def test_a_second_run_on_the_same_out_stops_and_touches_nothing(tmp_path):
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "broken.ipynb").write_text("{")
    out = tmp_path / "out"
    assert grade(tmp_path / "class", "-o", out).returncode == 1
    (out / UNPACK_FOLDER).mkdir()
    (out / UNPACK_FOLDER / "in-flight.ipynb").write_text("{}")  # what the first run is working on
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    with one_run_at_a_time(out):
        done = grade(tmp_path / "class", "-o", out, "--force")
        with pytest.raises(OutputBusy):
            with one_run_at_a_time(out):
                pass
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"grade: another run is grading into {out}; run again when it has finished\n"
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before
    assert grade(tmp_path / "class", "-o", out, "--force").returncode == 1  # the lock went with its holder


# 4. Never write through a symlink.

def planted(folder: Path, name: str) -> tuple[Path, Path]:
    """A link named `name` in `folder` to a victim file outside it."""
    folder.mkdir(parents=True, exist_ok=True)
    victim = folder.parent / f"victim-of-{name}"
    victim.write_text("precious")
    (folder / name).symlink_to(victim)
    return folder / name, victim


def a_result() -> GradeResult:
    return unreadable_result("x.ipynb", "x.ipynb: the file is empty")


@pytest.mark.parametrize("writer", ["report", "csv", "dashboard", "student_json", "student_report", "gradescope"])
def test_no_writer_follows_a_planted_link(tmp_path, writer):
    row = [ClassRow("x.ipynb", "x", False, a_result())]
    folder = tmp_path / "out"
    name, write = {
        "report": ("x.report.html", lambda: write_html(a_result(), folder / "x.report.html")),
        "csv": ("grades.csv", lambda: write_grades_csv(row, folder / "grades.csv")),
        "dashboard": ("index.html", lambda: write_dashboard(row, folder / "index.html", {"x.ipynb": "x"}, "en")),
        "student_json": ("results/x.json", lambda: write_student_outputs(a_result(), folder, "x")),
        "student_report": ("reports/x.html", lambda: write_student_outputs(a_result(), folder, "x")),
        "gradescope": ("results.json",
                       lambda: run_gradescope(submission_dir=tmp_path, results_path=folder / "results.json")),
    }[writer]
    link, victim = planted((folder / name).parent, Path(name).name)
    write()
    assert victim.read_text() == "precious"
    assert not link.is_symlink() and link.read_text() != "precious"
    assert [path.name for path in link.parent.iterdir() if path.name.startswith(TEMPORARY_PREFIX)] == []


def test_output_folders_that_are_links_are_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "results").symlink_to(elsewhere)
    with pytest.raises(OSError, match="a symbolic link; not written through"):
        write_student_outputs(a_result(), tmp_path / "out", "x")
    assert list(elsewhere.iterdir()) == []


def test_json_of_an_unreadable_notebook_replaces_a_planted_link(tmp_path):
    (tmp_path / "my.ipynb").write_text("")
    link, victim = planted(tmp_path / "sub", "my.json")
    done = grade(tmp_path / "my.ipynb", "--json", link)
    assert done.returncode == 2 and victim.read_text() == "precious"
    assert json.loads(link.read_text())["status"] == "unreadable" and not link.is_symlink()


def test_single_notebook_report_replaces_a_planted_link(tmp_path):
    notebook = write_notebook(tmp_path, KERAS3, name="my.ipynb")
    link, victim = planted(tmp_path, "my.report.html")
    done = grade(notebook, "--lang", "en", "--timeout", "20", "--run-timeout", "60")
    assert done.returncode == 0, done.stderr
    assert victim.read_text() == "precious"
    assert not link.is_symlink() and "100/100" in link.read_text()


# 5 and 6. grades.csv holds no formula and no control character; the terminal shows them escaped.

def test_csv_cells_cannot_be_formulas_or_control_characters(tmp_path):
    ids = ["=HYPERLINK(\"http://x\")", "+1", "-1", "@SUM(A1)", "\tx", "\rx", f"{ESC}red", "王小明", "a=b"]
    rows = [ClassRow(f"{student}.ipynb", student, False, a_result()) for student in ids]
    write_grades_csv(rows, tmp_path / "grades.csv")
    read = list(csv.reader(io.StringIO((tmp_path / "grades.csv").read_bytes().decode("utf-8-sig"), newline="")))
    assert [(row[0], row[1]) for row in read[1:]] == [
        ("'=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\").ipynb"), ("'+1", "'+1.ipynb"), ("'-1", "'-1.ipynb"),
        ("'@SUM(A1)", "'@SUM(A1).ipynb"), ("\\tx", "\\tx.ipynb"), ("\\rx", "\\rx.ipynb"),
        ("\\x1b[31mred", "\\x1b[31mred.ipynb"), ("王小明", "王小明.ipynb"), ("a=b", "a=b.ipynb")]


def test_control_characters_are_shown_escaped():
    assert escape_controls(f"a{ESC}b\u202ec\x00\x7f\x9b 张三\\") == "a\\x1b[31mb\\u202ec\\x00\\x7f\\x9b 张三\\"


def test_a_bad_archive_given_directly_is_named_escaped(tmp_path):
    archive = tmp_path / f"{ESC}\x1b[2J.zip"
    archive.write_text("no")
    done = grade(archive, "-o", tmp_path / "out")
    assert done.returncode == 2 and "\x1b" not in done.stderr
    assert done.stderr == (f"grade: cannot grade {tmp_path}/\\x1b[31m\\x1b[2J.zip: "
                           "not a valid zip archive (BadZipFile: File is not a zip file)\n")


# 7. Data files: the student's own folder only, never a notebook, never what the grader wrote.

def test_data_files_come_from_the_students_own_folder_and_are_never_notebooks(tmp_path):
    for path in ["flat/alice.ipynb", "flat/bob.ipynb", "flat/data.csv", "own/carol/lab.ipynb",
                 "own/carol/other.IPYNB", "own/carol/data.csv", "own/dave/lab.ipynb"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("{}")
    found = {s.file: s for s in find_submissions([tmp_path / "flat", tmp_path / "own"], unpack_dir=tmp_path / "u")}
    assert {file: s.folder for file, s in found.items()} == {
        "alice.ipynb": None, "bob.ipynb": None,  # the class's folder is not theirs
        "carol/lab.ipynb": tmp_path / "own" / "carol", "dave/lab.ipynb": tmp_path / "own" / "dave"}
    nb = make_notebook(["open('data.csv'); open('other.IPYNB'); open('../dave/lab.ipynb'); open('bob.ipynb')"])
    carol = tmp_path / "own" / "carol"
    assert referenced_files(nb, carol, owned=True) == [(carol / "data.csv", "data.csv")]  # the batch knows it is hers
    assert referenced_files(nb, carol) == []  # graded on its own: other.IPYNB may be anyone's
    assert referenced_files(nb, tmp_path / "flat") == []  # a flat class folder: data.csv may be a classmate's


def test_a_folder_is_a_students_alone_only_with_no_other_notebook_in_it_or_below(tmp_path, monkeypatch):
    def folder(*paths: str, archive: dict[str, bytes] | None = None) -> Path:
        place = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
        for path in ["lab.ipynb", *paths]:
            (place / path).parent.mkdir(parents=True, exist_ok=True)
            (place / path).write_text("{}")
        if archive is not None:
            zip_of(place / "upload.zip", archive)
        return place

    assert holds_one_notebook(folder("data.csv", "data/x.npy", ".ipynb_checkpoints/lab-checkpoint.ipynb"))
    assert holds_one_notebook(folder(archive={"images/a.png": b"png"}))  # a zip of data is data
    assert not holds_one_notebook(folder("bob.ipynb"))  # a flat class folder
    assert not holds_one_notebook(folder("bob/work/lab.ipynb"))  # a classmate's folder below
    assert not holds_one_notebook(folder(archive={"lab.ipynb": b"{}"}))  # a classmate's upload, zipped
    monkeypatch.setattr(notebook_module, "FOLDER_ENTRIES", 5)
    assert not holds_one_notebook(folder(*[f"data/{n}.csv" for n in range(5)]))  # too big to search: shared


def test_what_the_grader_wrote_or_a_notebook_is_never_a_data_file(tmp_path):
    """A folder that is the student's alone, beside everything the grader writes: only data reaches the kernel."""
    own, elsewhere = tmp_path / "own", tmp_path / "elsewhere"
    own.mkdir(), elsewhere.mkdir()
    write_notebook(own, KERAS3, name="lab.ipynb")
    result = a_result()
    (own / "data.csv").write_text("1,2\n")
    zip_of(own / "images.zip", {"a.png": b"png"})
    write_html(result, own / "lab.report.html")  # `grade lab.ipynb`'s report
    write_html(result, own / "renamed.txt")  # the same, under any name
    write_text(own / "result.json", result.to_json() + "\n")  # `--json result.json`
    write_dashboard([ClassRow("x.ipynb", "x", False, result)], own / "board.html", {"x.ipynb": "x"}, "en")
    batch_out = own / "out"  # a class graded into a folder below: all of OUT
    batch_out.mkdir()
    (batch_out / ".grade.lock").touch()
    (batch_out / "grades.csv").write_text("id,file,score\n")
    sqlite3.connect(batch_out / "gradebook.sqlite").close()
    zip_of(own / "data.bin", {"alice/lab.ipynb": b"{}"})  # a zip of a notebook, named as data
    (own / "inner.csv").symlink_to("lab.report.html")  # an innocent name for the report
    (elsewhere / "secret.csv").write_text("s")
    (own / "outer.csv").symlink_to(elsewhere / "secret.csv")
    names = ["data.csv", "images.zip", "lab.report.html", "renamed.txt", "result.json", "board.html", "out/grades.csv",
             "out/gradebook.sqlite", "data.bin", "inner.csv", "outer.csv", "lab.ipynb", str(elsewhere / "secret.csv"),
             "../elsewhere/secret.csv"]
    nb = make_notebook([f"open({name!r})" for name in names])
    expected = [(own / "data.csv", "data.csv"), (own / "images.zip", "images.zip")]
    assert referenced_files(nb, own) == expected
    assert referenced_files(nb, own, owned=True) == expected


STOLEN = '''import html, json, os, re
NAMES = {names!r}

def stolen():
    """A classmate's code, from the first of NAMES that is her report, her --json result or her notebook."""
    for name in NAMES:
        try:
            text = open(name, encoding="utf-8", errors="replace").read()
        except OSError:
            continue
        codes = [html.unescape(code) for code in re.findall(r'<pre class="wrap"><code>(.*?)</code></pre>', text, re.S)]
        try:
            data = json.loads(text)
        except ValueError:
            data = {{}}
        codes = codes or ["".join(cell["source"]) for cell in data.get("cells", []) if cell["cell_type"] == "code"]
        codes = codes or [step["code"] for step in data.get("steps", [])]
        if codes:
            return codes
    return []

NAMESPACE = {{}}

def build(step):
    code = stolen()
    if len(code) > step:
        exec(code[step], NAMESPACE)
    return NAMESPACE.get("model")

model = build(0)'''


def thief(folder: Path, names: list[str], name: str) -> Path:
    """A notebook with no model of its own: each step runs the code of that step it finds in the
    first of `names` it can read, in a way the replay keeps (100/100 when it finds her report); its
    last cell fails naming every one of `names` that reached its kernel."""
    found = "found = [name for name in NAMES if os.path.exists(name)]\nif found:\n    raise LookupError(found)"
    steps = [STOLEN.format(names=names), *[f"model = build({n})" for n in range(1, 5)]]
    return write_notebook(folder, [*steps, found], name=name)


def test_a_classmates_report_result_or_notebook_never_reaches_the_kernel(tmp_path):
    """The flat-folder loop, `for f in subs/*.ipynb; do grade "$f"; done`: alice is graded first, her
    report and --json result beside her notebook; then notebooks that read them, by name, through
    `..`, an absolute path or an innocently named link, score 0 with none of them in their kernel;
    a file of the thief's own, in a folder of her own, is the only one that reaches hers."""
    subs = tmp_path / "subs"
    subs.mkdir()
    done = grade(write_notebook(subs, KERAS3, name="alice.ipynb"), "--json", subs / "alice.json", "--lang", "en")
    assert done.returncode == 0, done.stderr
    theirs = {path.name: path.read_bytes() for path in subs.iterdir()}
    assert sorted(theirs) == ["alice.ipynb", "alice.json", "alice.report.html"]
    assert json.loads(theirs["alice.json"])["score"] == 100
    (subs / "notes.txt").symlink_to("alice.report.html")
    flat = thief(subs, ["alice.report.html", "alice.json", "alice.ipynb", "notes.txt"], "mallory.ipynb")
    own = subs / "trudy"  # a folder of her own, inside the class's
    own.mkdir()
    (own / "mine.csv").write_text("1,2\n")
    (own / "graded.json").write_bytes(theirs["alice.json"])  # a result of ours under another name
    (own / "notes.txt").symlink_to("../alice.report.html")
    nested = thief(own, ["../alice.report.html", str(subs / "alice.report.html"), "notes.txt", "graded.json",
                         "mine.csv"], "lab.ipynb")
    for notebook, reached in [(flat, []), (nested, ["mine.csv"])]:
        done = grade(notebook, "--json", tmp_path / f"{notebook.stem}.json", "--lang", "en")
        result = json.loads((tmp_path / f"{notebook.stem}.json").read_text())
        assert (done.returncode, result["score"], result["status"]) == (1, 0, "graded"), done.stderr
        assert [(error["ename"], error["evalue"]) for error in result["errors"]] == \
            [("LookupError", str(reached))] * bool(reached)
    assert {name: (subs / name).read_bytes() for name in theirs} == theirs  # alice's files as they were


def test_one_student_hands_in_at_most_ten_notebooks(tmp_path):
    """A 20,000-notebook zip in a student's folder and another at the top of the class folder are
    one unreadable row each, nothing of them unpacked; a student at the bound keeps every row; the
    honest classmate is graded."""
    folder = tmp_path / "class"
    (folder / "alice").mkdir(parents=True)
    write_notebook(folder / "alice", KERAS3, name="lab.ipynb")
    (folder / "mallory").mkdir()
    empty = nbformat.writes(new_notebook()).encode()
    zip_of(folder / "mallory" / "mallory.zip", {f"n{n:05}.ipynb": empty for n in range(20_000)})
    assert (folder / "mallory" / "mallory.zip").stat().st_size < 4 * MiB
    shutil.copy(folder / "mallory" / "mallory.zip", folder / "trudy.zip")
    (folder / "carol").mkdir()
    for n in range(MOST_NOTEBOOKS):
        (folder / "carol" / f"{n}.ipynb").write_text("{}")
    out = tmp_path / "out"
    done = grade(folder, "-o", out, *FAST, notebooks=1)  # alice's is the only one a kernel runs
    assert done.returncode == 1, done.stderr
    assert "Graded 1, failed to grade 12, skipped 0 unchanged" in done.stdout
    rows = csv_rows(out / "grades.csv")
    assert {file: (row["id"], row["score"], row["status"]) for file, row in rows.items()} == {
        "alice/lab.ipynb": ("alice", "100", "graded"), "mallory": ("mallory", "0", "unreadable"),
        "trudy.zip": ("trudy", "0", "unreadable"),
        **{f"carol/{n}.ipynb": ("carol", "0", "unreadable") for n in range(MOST_NOTEBOOKS)}}
    notes = notes_by_file(out)
    assert (notes["mallory"], notes["trudy.zip"]) == (
        ["mallory: holds 20000 notebooks, more than the 10 one student may hand in; none of them is graded"],
        ["trudy.zip: holds 20000 notebooks, more than the 10 one student may hand in; none of them is graded"])
    assert sum(line.endswith(("] mallory: 0/100 unreadable (0.0 s)", "] trudy.zip: 0/100 unreadable (0.0 s)"))
               for line in done.stdout.splitlines()) == 2
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        assert db.execute("SELECT count(*) FROM submissions").fetchone() == (13,)
    assert (out / "index.html").stat().st_size < MiB


# 8. What a result stores is capped.

def test_a_200_mb_code_cell_does_not_make_a_200_mb_result(tmp_path):
    code = "x = 1\n" * (200 * 1024 * 1024 // 6)
    step = StepResult("step1", "First", 0, 20, False, [], "notebook", code=code, notes=["n"] * 1000)
    assert step.code == code[:STORED_CHARS] + "\n" + TRUNCATED
    assert step.notes == ["n"] * STORED_ITEMS + [TRUNCATED]
    result = a_result()
    result.steps[0] = step
    big = "e" * (10 * MiB)  # raw dicts, as results come back from the workers and the gradebook
    errors = [{"cell": n, "step": None, "ename": "ValueError", "evalue": big, "traceback": big} for n in range(1000)]
    data = {**result.to_dict(), "errors": errors, "summary_text": "s" * (50 * MiB)}
    write_student_outputs(GradeResult.from_dict(data), tmp_path, "x")  # as the batch reads them back
    stored = json.loads((tmp_path / "results" / "x.json").read_text())
    assert len(stored["errors"]) == STORED_ITEMS and stored["notes"][-1] == TRUNCATED
    assert stored["summary_text"].endswith(TRUNCATED) and len(stored["summary_text"]) < STORED_CHARS + 20
    assert (tmp_path / "results" / "x.json").stat().st_size < 10 * MiB
    assert (tmp_path / "reports" / "x.html").stat().st_size < 10 * MiB
    assert GradeResult.from_dict(stored).to_dict() == stored  # capping again changes nothing


# 9. Leftovers of a killed run are removed at the next start.

def test_leftovers_of_a_killed_run_are_removed_at_the_next_start(tmp_path):
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "broken.ipynb").write_text("{")
    out = tmp_path / "out"
    for leftover in [UNPACK_FOLDER + "/0123456789abcdef/s1/lab.ipynb", f"{TEMPORARY_PREFIX}grades",
                     f"results/{TEMPORARY_PREFIX}x", f"reports/{TEMPORARY_PREFIX}y"]:
        (out / leftover).parent.mkdir(parents=True, exist_ok=True)
        (out / leftover).write_text("left by a killed run")
    done = grade(tmp_path / "class", "-o", out)
    assert done.returncode == 1, done.stderr
    assert sorted(str(path.relative_to(out)) for path in out.rglob("*")) == [
        ".grade.lock", "gradebook.sqlite", "grades.csv", "index.html", "index.zh.html", "reports",
        "reports/broken.html", "results", "results/broken.json"]


def test_class_outputs_leave_no_temporary_files(tmp_path):
    write_class_outputs([ClassRow("x.ipynb", "x", False, a_result())], tmp_path, {"x.ipynb": "x"}, "en")
    # The dashboard in the class's language, and beside it in the other one.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["grades.csv", "index.html", "index.zh.html"]
