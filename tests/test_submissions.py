"""Finding a class's submissions (ids, archives, the bound on one student's share) and naming their
outputs; the gradebook's bookkeeping."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from grader.batch import output_names
from grader.gradebook import Entry, Gradebook, sha256
from grader.report_csv import write_grades_csv
from grader.results import ClassRow, GradeResult, StepResult
from grader.submissions import MOST_NOTEBOOKS, SubmissionError, find_submissions


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")
    return path


def ids(submissions) -> dict[str, str]:
    return {s.file: s.id for s in submissions}


def test_id_rule_folders_files_and_checkpoints(tmp_path):
    touch(tmp_path / "alice" / "lab.ipynb")
    touch(tmp_path / "alice" / ".ipynb_checkpoints" / "lab-checkpoint.ipynb")
    touch(tmp_path / "bob.ipynb")
    touch(tmp_path / "carol" / "week3" / "lab.ipynb")
    found = find_submissions([tmp_path], unpack_dir=tmp_path / ".unpacked")
    assert ids(found) == {"alice/lab.ipynb": "alice", "bob.ipynb": "bob", "carol/week3/lab.ipynb": "carol"}
    given = tmp_path / "bob.ipynb"
    assert ids(find_submissions([given], unpack_dir=tmp_path / "u")) == {str(given): "bob"}


def test_two_notebooks_of_one_student_are_both_kept_and_flagged(tmp_path):
    touch(tmp_path / "alice" / "lab.ipynb")
    touch(tmp_path / "alice" / "lab-final.ipynb")
    found = find_submissions([tmp_path], unpack_dir=tmp_path / ".u")
    assert [(s.id, s.duplicate) for s in found] == [("alice", True), ("alice", True)]
    assert sorted(output_names(found).values()) == ["alice", "alice-lab"]


def test_id_pattern(tmp_path):
    touch(tmp_path / "Alice Smith_12345_assignsubmission_file_" / "lab.ipynb")
    found = find_submissions([tmp_path], unpack_dir=tmp_path / ".u", id_pattern=r"_(?P<id>\d+)_")
    assert [s.id for s in found] == ["12345"]


def test_zip_archive(tmp_path):
    with zipfile.ZipFile(tmp_path / "class.zip", "w") as archive:
        archive.writestr("dave/lab.ipynb", "{}")
        archive.writestr("__MACOSX/dave/._lab.ipynb", "x")
        archive.writestr("erin.ipynb", "{}")
        archive.writestr("notes.txt", "ignored")
    found = find_submissions([tmp_path / "class.zip"], unpack_dir=tmp_path / ".u")
    assert ids(found) == {"class.zip/dave/lab.ipynb": "dave", "class.zip/erin.ipynb": "erin"}
    assert all(s.path.is_relative_to(tmp_path / ".u") for s in found)


@pytest.mark.parametrize("member", ["../evil.ipynb", "/etc/evil.ipynb", "a/../../evil.ipynb"])
def test_unsafe_zip_members_are_refused(tmp_path, member):
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        archive.writestr(member, "{}")
    with pytest.raises(SubmissionError, match="unsafe member path"):
        find_submissions([tmp_path / "bad.zip"], unpack_dir=tmp_path / ".u")
    assert not (tmp_path / "evil.ipynb").exists()


def test_not_a_zip_and_missing_paths(tmp_path):
    (tmp_path / "fake.zip").write_text("no")
    with pytest.raises(SubmissionError, match="not a valid zip archive"):
        find_submissions([tmp_path / "fake.zip"], unpack_dir=tmp_path / ".u")
    with pytest.raises(SubmissionError, match="no such file or folder"):
        find_submissions([tmp_path / "absent"], unpack_dir=tmp_path / ".u")


def test_output_names_are_safe_file_names(tmp_path):
    touch(tmp_path / "<b onclick=x>evil" / "lab.ipynb")
    touch(tmp_path / "张三" / "lab.ipynb")
    names = output_names(find_submissions([tmp_path], unpack_dir=tmp_path / ".u"))
    assert sorted(names.values()) == ["b_onclick_x_evil", "张三"]


def result(score: int) -> GradeResult:
    return GradeResult(notebook="lab.ipynb", exercise="lstm_network", exercise_title="", score=score, max_score=100,
                       keras=None, status="graded", seconds=1.5,
                       steps=[StepResult("step1", "", score, 100, score == 100, [], "notebook")])


def test_gradebook_records_and_knows_what_is_current(tmp_path):
    book = Gradebook(tmp_path / "gradebook.sqlite")
    entry = Entry("a/lab.ipynb", "a", False, sha256(b"v1"), "spec1", "0.1.0", result(80))
    book.record(entry)
    assert book.is_current("a/lab.ipynb", sha256(b"v1"), "spec1")
    assert not book.is_current("a/lab.ipynb", sha256(b"v2"), "spec1")
    assert not book.is_current("a/lab.ipynb", sha256(b"v1"), "spec2")
    book.record(Entry("a/lab.ipynb", "a", False, sha256(b"v2"), "spec1", "0.1.0", result(100)))
    assert [row.result for row in book.results()] == [result(100)]  # read back whole
    assert book.integrity() == "ok"
    book.close()


def test_grades_csv_opens_in_excel(tmp_path):
    write_grades_csv([ClassRow("张三/lab.ipynb", "张三", True, result(80))], tmp_path / "grades.csv")
    raw = (tmp_path / "grades.csv").read_bytes()
    assert raw.decode("utf-8-sig").splitlines() == ["id,file,score,max_score,status,step1,duplicate,grader_score",
                                                    "张三,张三/lab.ipynb,80,100,graded,80,yes,80"]
    assert raw.startswith(b"\xef\xbb\xbf")


def test_notebooks_given_directly_keep_their_paths_apart(tmp_path):
    first, second = touch(tmp_path / "a" / "lab.ipynb"), touch(tmp_path / "b" / "lab.ipynb")
    found = find_submissions([first, second], unpack_dir=tmp_path / ".u")
    assert [(s.file, s.id, s.duplicate) for s in found] == [(str(first), "lab", True), (str(second), "lab", True)]


def zip_of(path: Path, members: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def files_in(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_an_archive_in_a_students_folder_is_that_students_whatever_it_names(tmp_path):
    """A zip a student uploaded cannot hand in rows under a classmate's id; a class's archive lying
    at the top of the class folder is read as the class's."""
    folder = tmp_path / "class"
    zip_of(folder / "dave" / "work.zip", {"alice/lab.ipynb": "{}", "lab.ipynb": "{}"})
    touch(folder / "alice" / "lab.ipynb")
    zip_of(folder / "lms.zip", {"carol/lab.ipynb": "{}", "erin.ipynb": "{}"})
    zip_of(tmp_path / "given.zip", {"frank/lab.ipynb": "{}"})
    found = find_submissions([tmp_path / "given.zip", folder], unpack_dir=folder / ".unpacked")
    # given.zip is unpacked inside the class folder before it is searched: what it unpacked is not found again
    assert ids(found) == {"alice/lab.ipynb": "alice", "dave/work.zip/alice/lab.ipynb": "dave",
                          "dave/work.zip/lab.ipynb": "dave", "lms.zip/carol/lab.ipynb": "carol",
                          "lms.zip/erin.ipynb": "erin", "given.zip/frank/lab.ipynb": "frank"}


def test_one_student_contributes_at_most_most_notebooks(tmp_path):
    folder = tmp_path / "class"
    for n in range(MOST_NOTEBOOKS):
        touch(folder / "carol" / f"{n}.ipynb")  # at the bound: every one kept
    for n in range(6):
        touch(folder / "dave" / f"{n}.ipynb")
    zip_of(folder / "dave" / "more.zip", {f"more/{n}.ipynb": "{}" for n in range(5)})  # 11 in all
    for n in range(MOST_NOTEBOOKS + 1):
        touch(folder / "gina" / f"{n}.zip")  # a broken archive is a row of its own: it counts as one
    # An archive at the top of a class folder may be one student's upload: bounded as a whole,
    # however it spreads its notebooks; within the bound it is read as a class's.
    zip_of(folder / "erin.zip", {f"{n}.ipynb": "{}" for n in range(MOST_NOTEBOOKS + 1)})
    zip_of(folder / "hank.zip", {f"h{n}/lab.ipynb": "{}" for n in range(MOST_NOTEBOOKS + 1)})
    zip_of(folder / "lms.zip", {"frank/lab.ipynb": "{}", "ivy/lab.ipynb": "{}"})
    for n in range(MOST_NOTEBOOKS + 2):
        touch(folder / f"flat{n}.ipynb")  # the top of the class folder: each a student of its own
    unpack = tmp_path / "u"
    rows = {s.file: (s.id, s.problem and s.problem.reason("en", shown=s.file))
            for s in find_submissions([folder], unpack_dir=unpack)}
    too_many = "holds 11 notebooks, more than the 10 one student may hand in; none of them is graded"
    assert rows == {**{name: (name.removesuffix(".zip"), f"{name}: {too_many}")
                       for name in ["dave", "gina", "erin.zip", "hank.zip"]},
                    "lms.zip/frank/lab.ipynb": ("frank", None), "lms.zip/ivy/lab.ipynb": ("ivy", None),
                    **{f"carol/{n}.ipynb": ("carol", None) for n in range(MOST_NOTEBOOKS)},
                    **{f"flat{n}.ipynb": (f"flat{n}", None) for n in range(MOST_NOTEBOOKS + 2)}}
    assert [name.split("/", 1)[1] for name in files_in(unpack)] == ["frank/lab.ipynb", "ivy/lab.ipynb"]


def test_a_class_archive_given_bounds_each_top_folder(tmp_path):
    members = {**{f"mallory/{n}.ipynb": "{}" for n in range(MOST_NOTEBOOKS + 1)}, "alice/lab.ipynb": "{}",
               **{f"top{n}.ipynb": "{}" for n in range(MOST_NOTEBOOKS + 2)}}
    unpack = tmp_path / "u"
    found = find_submissions([zip_of(tmp_path / "class.zip", members)], unpack_dir=unpack)
    rows = {s.file: (s.id, s.problem and s.problem.reason("en", shown=s.file)) for s in found}
    assert rows == {"class.zip/mallory": ("mallory", "class.zip/mallory: holds 11 notebooks, more than the 10 one "
                                                     "student may hand in; none of them is graded"),
                    "class.zip/alice/lab.ipynb": ("alice", None),
                    **{f"class.zip/top{n}.ipynb": (f"top{n}", None) for n in range(MOST_NOTEBOOKS + 2)}}
    assert len(files_in(unpack)) == 1 + MOST_NOTEBOOKS + 2 and not any("mallory" in name for name in files_in(unpack))


def test_a_data_folder_holding_a_classmates_notebook_is_no_ones(tmp_path):
    touch(tmp_path / "class" / "group" / "alice_1.ipynb")
    touch(tmp_path / "class" / "group" / "bob_2.ipynb")
    found = find_submissions([tmp_path / "class"], unpack_dir=tmp_path / "u", id_pattern=r"_(?P<id>\d+)")
    assert {s.id: s.folder for s in found} == {"1": None, "2": None}
    flat, alone = touch(tmp_path / "flat" / "a.ipynb"), touch(tmp_path / "alone" / "c.ipynb")
    touch(tmp_path / "flat" / "b.ipynb")  # not given, but beside
    found = find_submissions([flat, alone], unpack_dir=tmp_path / "u")
    assert {s.id: s.folder for s in found} == {"a": None, "c": tmp_path / "alone"}
