"""Find the submissions of a class: notebooks, folders of them and .zip archives, each with a
student id.

The id rule: a notebook inside a folder under the path given gets the name of its top folder
(`class/alice/lab.ipynb` -> `alice`, as LMS downloads come); a notebook given directly, or lying
at the top of a folder given, gets its file name without `.ipynb` (`class/bob.ipynb` -> `bob`).
An archive given, or lying at the top of a folder given, is read as a class's (its top folders are
students); one inside a student's folder is that student's upload: every notebook in it is
theirs, whatever folders it names (`class/carol/work.zip/alice/lab.ipynb` -> `carol`).
A notebook is known by its path relative to the folder or archive given, or as typed when given
directly.
`--id-pattern` replaces the rule with a regular expression searched in the path relative to the
folder or archive; its group `id` (or its first group, or the whole match) is the id.

One student's share is bounded: a student's folder (its archives included), an archive lying at
the top of a folder given (it may be one student's upload, `class/dave.zip`), or a top folder of
an archive given, holding more than MOST_NOTEBOOKS notebooks is a single row, graded `unreadable`,
and none of its notebooks is unpacked or graded.

A path that cannot be read costs its own row only: a broken archive inside a class folder, a
member too big or broken, or a file named *.ipynb that is no notebook becomes a submission that
is graded `unreadable`. Archives unpack into a folder that lives as long as the run, streamed
member by member, with every byte written counted against one budget for the whole run.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import re
import shutil
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import IO

from grader.messages import CatalogueError
from grader.notebook import (ARCHIVE_SUFFIX, MiB, NOTEBOOK_BYTES, NOTEBOOK_SUFFIX, SKIPPED_DIRS,
                             UnreadableNotebook, holds_one_notebook)

UNPACK_BYTES = 1024 * MiB  # at most this much is unpacked from all the archives of one run
# An exercise is one notebook; with drafts and copies a student hands in a few. More than this from
# one student's folder or archive is no honest hand-in, and would fill the class's table and mean.
MOST_NOTEBOOKS = 10
_CHUNK = MiB
# What a broken or hostile archive or member raises while it is opened, read or written.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError,
               RuntimeError, ValueError, OSError)


class SubmissionError(CatalogueError):
    """A path given cannot be read as submissions (missing, unsafe archive...)."""

    section = "submissions"


@dataclass(frozen=True)
class Submission:
    id: str  # the student's id
    file: str  # the path a person knows it by: relative to the folder or archive given
    path: Path  # where the notebook is on disk now
    duplicate: bool = False  # the student has more than one notebook in the class
    folder: Path | None = None  # the student's own folder, whose files its code may read; None: it has none
    problem: CatalogueError | None = None  # why it cannot be read at all: it is graded `unreadable`


@dataclass
class _Budget:
    """Bytes unpacked so far in this run, out of `total`."""

    total: int
    spent: int = 0

    def spend(self, size: int, archive: Path, *, declared: bool = False) -> None:
        """Count `size` bytes written from `archive`, or with `declared` only check they would fit."""
        if self.spent + size > self.total:
            raise SubmissionError(archive, "too_big", limit=f"{self.total // MiB} MiB")
        self.spent += 0 if declared else size


def find_submissions(paths: list[str | Path], *, unpack_dir: Path, id_pattern: str | None = None,
                     unpack_bytes: int = UNPACK_BYTES, most: int = MOST_NOTEBOOKS) -> list[Submission]:
    found: list[Submission] = []
    pattern = re.compile(id_pattern) if id_pattern else None
    budget = _Budget(unpack_bytes)
    for given in map(Path, paths):
        if not given.exists():
            raise SubmissionError(given, "missing")
        if given.is_dir():
            found += _class_folder(given, unpack_dir, pattern, budget, most)
        elif given.suffix.lower() == ARCHIVE_SUFFIX:
            found += _archive(given, PurePosixPath(given.name), unpack_dir, pattern, budget, most=most)
        else:  # known as typed; its data files may come from the folder it lies in, when that is its alone
            folder = given.parent if holds_one_notebook(given.parent) else None
            found.append(replace(_identify(given, given, pattern, strip=len(given.parts) - 1), folder=folder))
    found = _own_folders_only(found)
    counts = Counter(submission.id for submission in found)
    return [replace(submission, duplicate=counts[submission.id] > 1)
            for submission in sorted(found, key=lambda submission: (submission.id, submission.file))]


@contextmanager
def unpacking(folder: Path) -> Iterator[Path]:
    """A fresh folder to unpack into, removed when the run ends however it ends; what a killed
    run left there is removed first."""
    _remove(folder)
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        _remove(folder)


def _remove(folder: Path) -> None:
    if folder.is_symlink():
        folder.unlink()
    else:
        shutil.rmtree(folder, ignore_errors=True)


def _class_folder(given: Path, unpack_dir: Path, pattern, budget: _Budget, most: int) -> list[Submission]:
    """The notebooks of a folder given and of the archives in it. A student's folder (its archives
    included) or an archive at the top holding more than `most` notebooks is one unreadable row;
    none of it is unpacked."""
    notebooks, archives = _notebooks(given, unpack_dir), _archives(given, unpack_dir)
    counts = Counter(folder for notebook in notebooks if (folder := _student_folder(given, notebook)))
    for archive in archives:
        counts[_student_folder(given, archive) or archive] += _notebook_count(archive)
    crowded = {place: count for place, count in counts.items() if count > most}
    found = [_too_many(PurePosixPath(*place.relative_to(given).parts), place,
                       PurePosixPath(place.name).stem if place.is_file() else place.name, count, most, pattern)
             for place, count in crowded.items()]
    found += [_identify(notebook.relative_to(given), notebook, pattern)
              for notebook in notebooks if _student_folder(given, notebook) not in crowded]
    for archive in archives:
        if ((folder := _student_folder(given, archive)) or archive) not in crowded:
            found += _class_archive(archive, given, unpack_dir, pattern, budget, folder)
    return found


def _student_folder(given: Path, path: Path) -> Path | None:
    """The top folder under `given` that `path` lies in, its student's; None at the top of `given`."""
    parts = path.relative_to(given).parts
    return given / parts[0] if len(parts) > 1 else None


def _too_many(shown: PurePosixPath, path: Path, student: str, count: int, most: int, pattern) -> Submission:
    problem = SubmissionError(shown, "too_many", count=count, limit=most)
    return replace(_identify(shown, path, pattern, owner=student), folder=None, problem=problem)


def _own_folders_only(found: list[Submission]) -> list[Submission]:
    """Keep a submission's data folder only when every notebook in or below it is the same student's."""
    students: dict[str, set[str]] = {}
    for submission in found:
        for parent in Path(os.path.abspath(submission.path)).parents:
            students.setdefault(str(parent), set()).add(submission.id)
    return [submission if submission.folder is None
            or students.get(os.path.abspath(submission.folder), set()) <= {submission.id}
            else replace(submission, folder=None) for submission in found]


def _class_archive(archive: Path, given: Path, unpack_dir: Path, pattern, budget: _Budget,
                   folder: Path | None) -> list[Submission]:
    """An archive found in a class folder: in a student's `folder`, all that student's; at the top,
    read as a class's. One that cannot be unpacked is a single unreadable row."""
    shown = PurePosixPath(*archive.relative_to(given).parts)
    owner = folder.name if folder is not None else None
    try:
        return _archive(archive, shown, unpack_dir, pattern, budget, owner=owner)
    except SubmissionError as error:
        return [replace(_identify(shown, archive, pattern, owner=owner), problem=error)]


def _archive(archive: Path, shown: PurePosixPath, unpack_dir: Path, pattern, budget: _Budget, *,
             owner: str | None = None, most: int | None = None) -> list[Submission]:
    """The notebooks of an archive, known by the archive's path followed by their own: all `owner`'s,
    or each its top folder's, where (with `most`) a top folder holding more is one unreadable row
    and none of it is unpacked."""
    strip = len(shown.parts)
    tops = Counter(name.parts[0] for name in _member_names(archive) if len(name.parts) > 1) \
        if most is not None else Counter()
    crowded = {top: count for top, count in tops.items() if count > most}
    folder, problems = _unpack(archive, unpack_dir, budget,
                               lambda name: len(name.parts) == 1 or name.parts[0] not in crowded)
    unpacked = [_identify(shown / notebook.relative_to(folder), notebook, pattern, strip=strip, owner=owner)
                for notebook in _notebooks(folder) if notebook.relative_to(folder).as_posix() not in problems]
    failed = [replace(_identify(shown / name, folder / name, pattern, strip=strip, owner=owner), problem=problem)
              for name, problem in problems.items()]
    too_many = [_too_many(shown / top, archive, top, count, most, pattern) for top, count in crowded.items()]
    return unpacked + failed + too_many


def _notebooks(folder: Path, skip: Path | None = None) -> list[Path]:
    """Every path named *.ipynb: one that is no readable file (a folder, a FIFO) is graded unreadable."""
    return sorted(path for path in folder.rglob(f"*{NOTEBOOK_SUFFIX}") if _searched(path, folder, skip))


def _archives(folder: Path, skip: Path) -> list[Path]:
    return sorted(path for path in folder.rglob(f"*{ARCHIVE_SUFFIX}")
                  if path.is_file() and _searched(path, folder, skip))


def _searched(path: Path, folder: Path, skip: Path | None) -> bool:
    """Not in a folder never searched: Jupyter's checkpoints, macOS's copies, where this run unpacks."""
    return not SKIPPED_DIRS & set(path.relative_to(folder).parts) \
        and (skip is None or not Path(os.path.abspath(path)).is_relative_to(os.path.abspath(skip)))


def _identify(relative, path: Path, pattern: re.Pattern | None, strip: int = 0,
              owner: str | None = None) -> Submission:
    """Id and name of a notebook: `owner`'s, or by the id rule. One at the top of a class folder or
    archive has no folder of its own: the folder is shared with classmates, so none of its files is
    copied in as data."""
    relative = PurePosixPath(*relative.parts)
    inner = relative.parts[strip:]
    folder = path.parent if len(inner) > 1 else None
    student = owner if owner is not None else inner[0] if len(inner) > 1 else PurePosixPath(inner[-1]).stem
    match = pattern.search(str(relative)) if pattern is not None else None
    if match:
        student = match.groupdict().get("id") or (match.group(1) if match.groups() else match.group(0))
    return Submission(student, str(relative), path, folder=folder)


def _notebook_count(archive: Path) -> int:
    """How many rows an archive found in a class folder makes: one per notebook it holds, or one
    for itself when it cannot be listed (it is an unreadable row)."""
    try:
        return len(_member_names(archive))
    except SubmissionError:
        return 1


def _member_names(archive: Path) -> list[PurePosixPath]:
    try:
        with zipfile.ZipFile(archive) as zipped:
            return list(_members(zipped, archive))
    except SubmissionError:
        raise
    except _ZIP_ERRORS as error:
        raise SubmissionError(archive, "bad_zip", error=_describe(error)) from None


def _unpack(archive: Path, unpack_dir: Path, budget: _Budget,
            keep: Callable[[PurePosixPath], bool] = lambda name: True) -> tuple[Path, dict[str, CatalogueError]]:
    """Extract the notebooks of an archive that `keep` keeps, refusing any member that would land
    outside. Returns the folder and, by relative name, the members that could not be extracted and why."""
    target = unpack_dir / hashlib.sha256(str(archive.resolve()).encode()).hexdigest()[:16]
    _remove(target)
    target.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = {name: member for name, member in _members(zipped, archive).items() if keep(name)}
            declared = sum(m.file_size for m in members.values() if m.file_size <= NOTEBOOK_BYTES)
            budget.spend(declared, archive, declared=True)
            problems = {name.as_posix(): problem for name, member in members.items()
                        if (problem := _extract(zipped, member, target.joinpath(*name.parts), budget, archive))}
    except SubmissionError:
        _remove(target)
        raise
    except _ZIP_ERRORS as error:
        _remove(target)
        raise SubmissionError(archive, "bad_zip", error=_describe(error)) from None
    return target, problems


def _members(zipped: zipfile.ZipFile, archive: Path) -> dict[PurePosixPath, zipfile.ZipInfo]:
    """The notebook members by their names (the last of a name wins); any unsafe one refuses the archive."""
    members: dict[PurePosixPath, zipfile.ZipInfo] = {}
    for member in zipped.infolist():
        name = PurePosixPath(member.filename.replace("\\", "/"))
        if member.is_dir() or not member.filename.endswith(NOTEBOOK_SUFFIX):
            continue
        if name.is_absolute() or ".." in name.parts or _is_link(member):
            raise SubmissionError(archive, "unsafe_member", member=member.filename)
        if not SKIPPED_DIRS & set(name.parts):
            members[name] = member
    return members


def _extract(zipped: zipfile.ZipFile, member: zipfile.ZipInfo, destination: Path, budget: _Budget,
             archive: Path) -> CatalogueError | None:
    """Stream one member to a new file; None, or why it was not extracted (too big, broken)."""
    too_big = UnreadableNotebook(destination, "too_big", limit=f"{NOTEBOOK_BYTES // MiB} MiB")
    if member.file_size > NOTEBOOK_BYTES:
        return too_big
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        with zipped.open(member) as source, open(destination, "xb") as sink:
            if _copy(source, sink, budget, archive):
                return None
    except _ZIP_ERRORS as error:
        _remove_file(destination)
        return UnreadableNotebook(destination, "cannot_unpack", error=_describe(error))
    _remove_file(destination)
    return too_big


def _copy(source: IO[bytes], sink: IO[bytes], budget: _Budget, archive: Path) -> bool:
    """Copy chunk by chunk, counting the bytes really written (never the size the archive
    declares); False, having stopped, once the member outgrows NOTEBOOK_BYTES."""
    written = 0
    while chunk := source.read(_CHUNK):
        written += len(chunk)
        if written > NOTEBOOK_BYTES:
            return False
        budget.spend(len(chunk), archive)
        sink.write(chunk)
    return True


def _remove_file(path: Path) -> None:
    try:
        path.unlink()
    except OSError:  # never created, or a folder another member made
        pass


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _is_link(member: zipfile.ZipInfo) -> bool:
    return (member.external_attr >> 16) & 0o170000 == 0o120000
