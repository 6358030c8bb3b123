"""Submissions from Moodle and Canvas, and the way back (issue 19, items 1 and 5).

The downloads, worksheets and gradebook exports under tests/lms/ are in the shapes those LMSs'
own source writes (the module docstrings of grader/lms/moodle.py and canvas.py say where each was
read): a download is a listing of its member names, each with the notebook it holds, zipped here.
Most tests read them without a kernel; one grades a real Moodle class and takes it back.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from grader.gradebook import Entry, Gradebook, sha256
from grader.grade import unreadable_result
from grader.lms import LMS_FORMATS, Grade, LmsError, read_class
from grader.lms.back import FEEDBACK_CHARS, feedback_text
from grader.lms.store import read_identities, record_identities
from grader.report_csv import write_grades_csv
from grader.results import ClassRow, GradeResult, StepResult
from grader.review import Comment, FinalRow, Override
from grader.submissions import find_submissions
from tests.waiting import grading_bound

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "lms"
NOTEBOOKS = {
    "solution": (ROOT / "solutions/lstm_network/idiomatic_keras3.ipynb").read_bytes(),  # 100/100, English
    "template": (ROOT / "exercises/lstm_network/lstm_network.zh.ipynb").read_bytes(),  # 0/100, Chinese
    "broken": b'{"cells": [',  # not JSON: unreadable
    "text": b"<p>online text</p>",
}
MOODLE = LMS_FORMATS["moodle"]
CANVAS = LMS_FORMATS["canvas"]


def download(listing: str, path: Path) -> Path:
    """The zip an LMS would give for FIXTURES/listing: each line `kind<TAB>member name`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for line in (FIXTURES / listing).read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                kind, name = line.split("\t")
                archive.writestr(name, NOTEBOOKS.get(kind, b"data"))
    return path


def read_download(tmp_path: Path, listing: str, lms: str):
    tmp_path.mkdir(parents=True, exist_ok=True)
    archive = download(listing, tmp_path / "download.zip")
    found = find_submissions([archive], unpack_dir=tmp_path / "unpacked")
    return read_class(found, lms, [archive])


def grade(*args, notebooks: int = 0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          timeout=grading_bound([str(arg) for arg in args], notebooks) if notebooks else 120)


def csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def a_result(score: int = 30, lang: str = "en", status: str = "graded") -> GradeResult:
    steps = [StepResult("step1", "Embedding", 20, 20, True, [], "notebook"),
             StepResult("step2", "LSTM layer", 10 if score >= 30 else 0, 20, False, [], "notebook",
                        reason="return_sequences is False; expected True"),
             StepResult("step3", "Dense output", 0, 60, False, [], "notebook", reason="no Dense layer")]
    return GradeResult("lab.ipynb", "lstm_network", "LSTM", score, 100, "3.0", status, steps, lang=lang)


# --- reading the downloads -----------------------------------------------------------------------

def test_a_moodle_download_gives_participant_ids_and_names(tmp_path):
    read = read_download(tmp_path, "moodle_download.txt", "moodle")
    assert [(s.id, s.file, s.duplicate) for s in read.submissions] == [
        ("100001", "download.zip/Zhang San_100001_assignsubmission_file/lstm.ipynb", False),
        ("100002", "download.zip/李四_100002_assignsubmission_file/作业.ipynb", False),
        ("100003", "download.zip/王五_100003_assignsubmission_file/lab.ipynb", False)]
    assert [(i.student, i.name, i.late) for i in read.identities.values()] == [
        ("100001", "Zhang San", False), ("100002", "李四", False), ("100003", "王五", False)]
    assert read.superseded == {}


def test_moodle_blind_marking_older_folders_and_flat_files(tmp_path):
    blind = read_download(tmp_path / "blind", "moodle_download_blind.txt", "moodle")
    assert [(s.id, PurePosixPath(s.file).name, blind.identities[s.file].name) for s in blind.submissions] == [
        ("200001", "lab.ipynb", "Participant"), ("200002", "lab.ipynb", "Participant")]
    assert blind.submissions[1].file == "download.zip/Participant_200002_assignsubmission_file_/sub/lab.ipynb"
    flat = read_download(tmp_path / "flat", "moodle_download_flat.txt", "moodle")
    assert [(s.id, flat.identities[s.file].name) for s in flat.submissions] == [("100001", "Zhang San"), ("100002", "李四")]


def test_a_canvas_download_gives_user_ids_late_marks_and_the_latest_copy(tmp_path):
    read = read_download(tmp_path, "canvas_download.txt", "canvas")
    assert [(s.id, PurePosixPath(s.file).name) for s in read.submissions] == [
        ("23456", "zhangsan_23456_880342_lstm-1.ipynb"), ("23457", "李四_LATE_23457_880120_作业.ipynb"),
        ("23458", "wangwu_23458_880200_lab.ipynb"), ("23460", "zhaoliu_23460_880300_lab.ipynb")]
    assert [(i.name, i.late) for i in read.identities.values()] == [
        ("zhangsan", False), ("李四", True), ("wangwu", False), ("zhaoliu", False)]
    assert read.superseded == {"download.zip/zhangsan_23456_880011_lstm.ipynb":
                               "download.zip/zhangsan_23456_880342_lstm-1.ipynb"}


def test_canvas_anonymous_names_and_a_name_with_digits():
    assert CANVAS.identify("LATE_anon_Ab3xZ_555_lab.ipynb").student == "anon_Ab3xZ"
    assert CANVAS.identify("LATE_anon_Ab3xZ_555_lab.ipynb").late
    named = CANVAS.identify("li_2x_123_456_f-2.ipynb")
    assert (named.student, named.name, named.series, named.version) == ("123", "li_2x", "f.ipynb", (456, 2))
    assert CANVAS.identify("CS-Lab_1_submissions.zip") is None


@pytest.mark.parametrize("listing, lms, expected", [
    ("canvas_download.txt", "moodle", "it looks like a Canvas download: use --lms canvas"),
    ("moodle_download.txt", "canvas", "it looks like a Moodle download: use --lms moodle"),
])
def test_the_other_lms_download_is_refused_naming_it(tmp_path, listing, lms, expected):
    with pytest.raises(LmsError) as refused:
        read_download(tmp_path, listing, lms)
    assert expected in refused.value.reason("en")


def test_a_plain_class_folder_is_not_an_lms_download(tmp_path):
    (tmp_path / "class/alice").mkdir(parents=True)
    (tmp_path / "class/alice/lab.ipynb").write_bytes(NOTEBOOKS["broken"])
    found = find_submissions([tmp_path / "class"], unpack_dir=tmp_path / "unpacked")
    with pytest.raises(LmsError) as refused:
        read_class(found, "moodle", [tmp_path / "class"])
    assert refused.value.reason("en") == ("alice/lab.ipynb: not in Moodle's shape (<full name>_<participant id>"
                                          "_assignsubmission_file/...): give the archive or folder as Moodle wrote it, "
                                          "or leave --lms out")


def test_without_lms_the_ids_are_the_folder_names_as_before(tmp_path):
    archive = download("moodle_download.txt", tmp_path / "download.zip")
    found = find_submissions([archive], unpack_dir=tmp_path / "unpacked")
    assert [s.id for s in found] == ["Zhang San_100001_assignsubmission_file", "李四_100002_assignsubmission_file",
                                     "王五_100003_assignsubmission_file"]


def test_a_wrong_shape_stops_the_run_before_anything_is_written(tmp_path):
    archive = download("canvas_download.txt", tmp_path / "download.zip")
    run = grade(archive, "-o", tmp_path / "out", "--lms", "moodle")
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "use --lms canvas" in run.stderr
    assert not (tmp_path / "out/gradebook.sqlite").exists() and not (tmp_path / "out/grades.csv").exists()


# --- the gradebook -------------------------------------------------------------------------------

def test_an_old_gradebook_gains_the_lms_table_and_loses_nothing(tmp_path):
    book = Gradebook(tmp_path / "gradebook.sqlite")
    old = a_result()
    book.record(Entry("download.zip/Zhang San_100001_assignsubmission_file/lstm.ipynb",
                      "Zhang San_100001_assignsubmission_file", False, sha256(b"x"), "spec", "1", old))
    before = sqlite3.connect(book.path).execute("SELECT file, content_hash, result FROM submissions").fetchall()
    read = read_class(book_submissions(book), "moodle", [Path("download.zip")])
    record_identities(book, "moodle", read.submissions, read.identities)
    db = sqlite3.connect(book.path)
    assert db.execute("SELECT file, content_hash, result FROM submissions").fetchall() == before
    assert db.execute("SELECT student FROM submissions").fetchall() == [("100001",)]
    assert [(e.lms, e.identity.student, e.identity.name, e.identity.late) for e in read_identities(book).values()] == [
        ("moodle", "100001", "Zhang San", False)]
    assert book.integrity() == "ok"


def book_submissions(book: Gradebook):
    from grader.submissions import Submission

    return [Submission(row.student, row.file, Path(row.file)) for row in book.results()]


# --- the way back --------------------------------------------------------------------------------

def final(student: str, score: int, lang: str = "en", *, overrides=(), comments=(), status="graded") -> FinalRow:
    result = a_result(score, lang, status) if status == "graded" else unreadable_result("lab.ipynb", "not JSON", lang=lang)
    points = {step.id: step.score for step in result.steps}
    points.update({o.step: o.points for o in overrides})
    return FinalRow(ClassRow(f"{student}/lab.ipynb", student, False, result), result.score,
                    sum(points.values()) if result.steps else result.score, list(overrides), list(comments), points)


def test_feedback_is_the_score_each_steps_verdict_and_the_comments():
    override = Override("100002", "step3", 30, 0, "a Dense layer by another name", "teacher", 0.0, False)
    text = feedback_text(final("100002", 30, overrides=[override], comments=[Comment("100002", "Good start.", "t", 0.0)]))
    assert text.splitlines() == [
        "Final score: 60/100",
        "Step 1, Embedding: 20/20",
        "Step 2, LSTM layer: 10/20 — return_sequences is False; expected True",
        "Step 3, Dense output: 30/60 (changed by your instructor: a Dense layer by another name)",
        "Your instructor: Good start."]
    assert feedback_text(final("100002", 30, "zh")).splitlines()[0] == "最终得分：30/100"
    assert feedback_text(final("100003", 0, status="unreadable")).splitlines() == [
        "Final score: 0/100", "This notebook could not be graded: not JSON"]
    long = feedback_text(final("1", 30, comments=[Comment("1", "x" * 900, "t", 0.0)] * 20))
    assert len(long) <= FEEDBACK_CHARS and long.endswith("… (the report has it all)")


def grades() -> list[Grade]:
    return [Grade("100001", "Zhang San", 100, 100, "Final score: 100/100\nStep 1 <ok> & done"),
            Grade("100002", "李四", 30, 100, "最终得分：30/100"),
            Grade("100003", "王五", 0, 100, "Final score: 0/100")]


def test_the_moodle_worksheet_is_filled_and_nothing_else_changes(tmp_path):
    source = (FIXTURES / "moodle_worksheet.csv").read_text(encoding="utf-8")
    filled = MOODLE.fill(source, grades(), None)
    assert filled.text.startswith("\ufeff") and filled.filled == 2 and filled.unmatched == ["100003"]
    before, after = csv_rows(FIXTURES / "moodle_worksheet.csv"), list(csv.reader(io.StringIO(filled.text[1:])))
    assert after[0] == before[0]
    assert after[1] == [*before[1][:4], "100.00", *before[1][5:9], "Final score: 100/100<br>Step 1 &lt;ok&gt; &amp; done"]
    assert after[2] == [*before[2][:4], "30.00", *before[2][5:9], "最终得分：30/100"]
    assert after[3] == before[3]  # 赵六 handed nothing in: the grade stays empty


def test_a_blind_worksheet_out_of_ten_takes_the_grade_scaled():
    filled = MOODLE.fill((FIXTURES / "moodle_worksheet_blind.csv").read_text(encoding="utf-8"),
                         [Grade("200001", "Participant", 85, 100, "ok")], None)
    rows = list(csv.reader(io.StringIO(filled.text)))
    assert rows[1][2] == "8.50" and rows[2][2] == ""


def test_a_file_that_is_no_worksheet_is_refused():
    with pytest.raises(LmsError) as refused:
        MOODLE.fill((FIXTURES / "canvas_gradebook.csv").read_text(encoding="utf-8"), grades(), None)
    assert refused.value.reason("en", shown="g.csv").startswith(
        "g.csv: no column Identifier, Grade, Last modified (grade): not Moodle's offline grading worksheet")
    with pytest.raises(LmsError, match="scale"):
        MOODLE.fill("Identifier,Status,Grade,Scale,Last modified (grade)\n", grades(), None)


def canvas_grades() -> list[Grade]:
    return [Grade("23456", "zhangsan", 85, 100, ""), Grade("23457", "李四", 0, 100, ""),
            Grade("23460", "zhaoliu", 100, 100, "")]


def test_the_canvas_gradebook_column_is_filled_and_its_header_rows_kept():
    source = (FIXTURES / "canvas_gradebook.csv").read_bytes().decode()  # as export reads it: CRLF kept
    with pytest.raises(LmsError, match="give --assignment, one of \"Quiz 1 \\(1188\\)\", \"LSTM network \\(1201\\)\""):
        CANVAS.fill(source, canvas_grades(), None)
    for wanted in ("LSTM network", "LSTM network (1201)", "1201"):
        filled = CANVAS.fill(source, canvas_grades(), wanted)
        assert filled.filled == 2 and filled.unmatched == ["23460"]
    assert filled.text.startswith("\ufeff") and "\r\n" in filled.text
    before = list(csv.reader(io.StringIO(source[1:], newline="")))
    after = list(csv.reader(io.StringIO(filled.text[1:], newline="")))
    assert after[:3] == before[:3]  # the header, the Manual Posting and the Points Possible rows
    assert after[3] == [*before[3][:6], "85", *before[3][7:]]
    assert after[4] == [*before[4][:6], "0", *before[4][7:]]
    assert after[5:] == before[5:]  # Wang Wu handed nothing in; the test student
    with pytest.raises(LmsError, match="no assignment column named Lab 9"):
        CANVAS.fill(source, canvas_grades(), "Lab 9")
    with pytest.raises(LmsError, match="not a Canvas gradebook export"):
        CANVAS.fill((FIXTURES / "moodle_worksheet.csv").read_text(encoding="utf-8"), canvas_grades(), "x")


# --- a real class, from the Moodle download to the upload ----------------------------------------

def moodle_import(zip_path: Path, participants: set[str]) -> dict[str, str]:
    """Moodle's feedback/file/importziplib.php is_valid_filename_for_import, line for line: which
    participant each file of the zip goes to, and under which file name."""
    matched: dict[str, str] = {}
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.infolist():
            name = PurePosixPath(member.filename).name
            if member.is_dir() or name.startswith((".", "~")):
                continue
            parts = ("/import/" + member.filename).split("/")
            while parts:
                info = parts.pop(0).split("_", 4)
                if len(info) < 4 or not info[1].isdigit() or info[1] not in participants:
                    continue
                if (info[2], info[3]) not in {("assignsubmission", "file"), ("assignfeedback", "file")}:
                    continue
                matched[member.filename] = info[1]
                break
    return matched


def test_a_moodle_class_from_download_to_upload(tmp_path):
    archive = download("moodle_download.txt", tmp_path / "download.zip")
    out, worksheet, upload = tmp_path / "out", FIXTURES / "moodle_worksheet.csv", tmp_path / "upload.csv"
    run = grade(archive, "-o", out, "--lms", "moodle", "-j", "2", "--timeout", "60", notebooks=3)
    assert run.returncode == 1, run.stderr  # one notebook is unreadable
    results = {json.loads(path.read_text())["notebook"]: json.loads(path.read_text())
               for path in (out / "results").glob("*.json")}
    assert {name: (result["score"], result["status"]) for name, result in results.items()} == {
        "download.zip/Zhang San_100001_assignsubmission_file/lstm.ipynb": (100, "graded"),
        "download.zip/李四_100002_assignsubmission_file/作业.ipynb": (0, "graded"),
        "download.zip/王五_100003_assignsubmission_file/lab.ipynb": (0, "unreadable")}
    assert sorted(path.name for path in (out / "reports").glob("*.html")) == ["100001.html", "100002.html", "100003.html"]
    book = sqlite3.connect(out / "gradebook.sqlite")
    assert book.execute("SELECT student, name, late FROM lms_submissions ORDER BY student").fetchall() == [
        ("100001", "Zhang San", 0), ("100002", "李四", 0), ("100003", "王五", 0)]
    assert book.execute("SELECT student FROM submissions ORDER BY student").fetchall() == [
        ("100001",), ("100002",), ("100003",)]
    class_csv = csv_rows(out / "grades.csv")
    assert class_csv[0][-3:] == ["grader_score", "name", "late"]
    assert sorted((row[0], row[-2], row[-1]) for row in class_csv[1:]) == [
        ("100001", "Zhang San", ""), ("100002", "李四", ""), ("100003", "王五", "")]
    dashboard = (out / "index.html").read_text(encoding="utf-8")  # a person knows a student by name
    assert all(shown in dashboard for shown in ("Zhang San (100001)", "李四 (100002)", "王五 (100003)"))

    stopped = grade("export", out, "--lms", "moodle", "--into", worksheet, "-o", upload)
    assert stopped.returncode == 2 and "items of the review queue are open" in stopped.stderr
    assert stopped.stderr.count("\n") == 1 and not upload.exists()

    assert grade("override", out, "100002", "1", "20", "--reason", "嵌入层的写法也对", "--by", "teacher").returncode == 0
    assert grade("comment", out, "100001", "Well done.", "--by", "teacher").returncode == 0
    exported = grade("export", out, "--lms", "moodle", "--into", worksheet, "-o", upload, "--force")
    assert exported.returncode == 1, exported.stderr  # 王五 has no row in the worksheet
    assert "100003 (王五, download.zip/王五_100003_assignsubmission_file/lab.ipynb): 0 points, but" in exported.stderr
    rows = csv_rows(upload)
    assert rows[0] == csv_rows(worksheet)[0]
    assert [(row[0], row[4]) for row in rows[1:]] == [
        ("Participant 100001", "100.00"), ("Participant 100002", "20.00"), ("Participant 100004", "")]
    assert rows[1][9].split("<br>")[0] == "Final score: 100/100" and rows[1][9].endswith("Your instructor: Well done.")
    lisi = rows[2][9].split("<br>")
    assert lisi[:2] == ["最终得分：20/100", "第 1 步 第一个LSTM层：20/20 分（老师修改了分数：嵌入层的写法也对）"]
    assert len(lisi) == 6 and all(line.startswith(f"第 {n} 步 ") for n, line in enumerate(lisi[1:], 1))
    assert rows[3][9] == ""

    feedback = tmp_path / "feedback.zip"
    released = grade("release", out, "--lms", "moodle", "-o", feedback, "--force")
    assert released.returncode == 0, released.stderr
    assert moodle_import(feedback, {"100001", "100002", "100003", "100004"}) == {
        "Zhang San_100001_assignsubmission_file_/lstm.report.html": "100001",
        "李四_100002_assignsubmission_file_/作业.report.html": "100002",
        "王五_100003_assignsubmission_file_/lab.report.html": "100003"}
    with zipfile.ZipFile(feedback) as zipped:
        report = zipped.read("李四_100002_assignsubmission_file_/作业.report.html").decode()
    assert "嵌入层的写法也对" in report and "20/100" in report

    reports = tmp_path / "reports"
    assert grade("release", out, "-o", reports, "--force").returncode == 0
    assert sorted(path.name for path in reports.iterdir()) == ["100001.html", "100002.html", "100003.html"]
    assert "Well done." in (reports / "100001.html").read_text()


# --- export and release on a gradebook made without a kernel ----------------------------------------

def canvas_class(tmp_path: Path) -> Path:
    """OUT holding the Canvas download's class as graded (each a result of its own score)."""
    read = read_download(tmp_path / "download", "canvas_download.txt", "canvas")
    out = tmp_path / "out"
    out.mkdir()
    book = Gradebook(out / "gradebook.sqlite")
    scores = {"23456": 85, "23457": 30, "23458": 30, "23460": 100}
    for submission in read.submissions:
        book.record(Entry(submission.file, submission.id, False, sha256(submission.file.encode()), "spec", "1",
                          a_result(scores[submission.id])))
    record_identities(book, "canvas", read.submissions, read.identities)
    book.close()
    return out


def test_grades_csv_names_each_student_and_marks_late_submissions(tmp_path):
    out = canvas_class(tmp_path)
    book = Gradebook(out / "gradebook.sqlite")
    write_grades_csv(book.results(), out / "grades.csv", None, read_identities(book))
    rows = csv_rows(out / "grades.csv")
    assert rows[0][-3:] == ["grader_score", "name", "late"]
    assert sorted((row[0], row[-2], row[-1]) for row in rows[1:]) == [
        ("23456", "zhangsan", ""), ("23457", "李四", "yes"), ("23458", "wangwu", ""), ("23460", "zhaoliu", "")]
    write_grades_csv(book.results(), out / "plain.csv")  # a class not read with --lms: no such columns
    assert csv_rows(out / "plain.csv")[0][-1] == "grader_score"


def test_export_to_canvas_and_what_export_and_release_refuse(tmp_path):
    out, upload = canvas_class(tmp_path), tmp_path / "upload.csv"
    gradebook = FIXTURES / "canvas_gradebook.csv"
    exported = grade("export", out, "--lms", "canvas", "--into", gradebook, "--assignment", "1201", "-o", upload, "--force")
    assert exported.returncode == 1, exported.stderr
    assert exported.stderr.splitlines() == [
        "grade export: 23460 (zhaoliu, download.zip/zhaoliu_23460_880300_lab.ipynb): 100 points, but "
        f"{gradebook} has no row for this student; not exported"]
    rows = csv_rows(upload)
    assert [(row[1], row[6]) for row in rows[3:]] == [("23456", "85"), ("23457", "30"), ("23458", "30"), ("23499", "")]
    assert upload.read_bytes().startswith(b"\xef\xbb\xbf") and b"\r\n" in upload.read_bytes()

    refusals = [
        (["export", out, "--lms", "moodle", "--into", FIXTURES / "moodle_worksheet.csv", "-o", tmp_path / "a.csv"],
         f"grade export: {out} was not graded with --lms moodle: grade it again with --lms moodle"
         " (unchanged notebooks are not run again)"),
        (["export", out, "--lms", "canvas", "--into", FIXTURES / "moodle_worksheet.csv", "-o", tmp_path / "a.csv"],
         f"grade export: {FIXTURES / 'moodle_worksheet.csv'}: no column Student, ID, SIS Login ID, Section: "
         "not a Canvas gradebook export"),
        (["export", out, "--lms", "canvas", "--into", gradebook, "-o", tmp_path / "a.csv"],
         f"grade export: {gradebook}: the gradebook holds several assignments: give --assignment, one of "
         '"Quiz 1 (1188)", "LSTM network (1201)"'),
        (["release", out, "--lms", "canvas", "-o", tmp_path / "a.zip"],
         "grade release: Canvas takes no feedback zip; write the reports to a folder: grade release OUT -o DIR"),
        (["export", tmp_path, "--lms", "canvas", "--into", gradebook, "-o", tmp_path / "a.csv"],
         f"grade export: {tmp_path} holds no gradebook: grade a class into it first (grade PATH... -o {tmp_path})"),
    ]
    for args, said in refusals:
        refused = grade(*args)
        assert (refused.returncode, refused.stderr) == (2, said + "\n")
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "a.zip").exists()


def test_one_canvas_student_hands_in_at_most_ten_notebooks(tmp_path):
    """Canvas puts every file at the top of its zip, where the bound of one student's folder does not
    reach: read as the LMS's, a student's eleven notebooks are one unreadable row."""
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for number in range(11):
            zipped.writestr(f"zhangsan_23456_{880000 + number}_copy{number}.ipynb", NOTEBOOKS["broken"])
        zipped.writestr("lisi_23457_880100_lab.ipynb", NOTEBOOKS["broken"])
    read = read_class(find_submissions([archive], unpack_dir=tmp_path / "unpacked"), "canvas", [archive])
    assert [(s.id, s.problem.reason("en") if s.problem else None) for s in read.submissions] == [
        ("23456", "download.zip/zhangsan_23456_880000_copy0.ipynb: holds 11 notebooks, more than the 10 one student "
                  "may hand in; none of them is graded"),
        ("23457", None)]
