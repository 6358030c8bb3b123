"""Find the submissions of a class: notebooks, folders of them and .zip archives, each with a
student id.

The id rule: a notebook inside a folder under the path given gets the name of its top folder
(`class/alice/lab.ipynb` -> `alice`, as LMS downloads come); a notebook given directly, or lying
at the top of a folder given, gets its file name without `.ipynb` (`class/bob.ipynb` -> `bob`).
A notebook is known by its path relative to the folder or archive given, or as typed when given
directly.
`--id-pattern` replaces the rule with a regular expression searched in the path relative to the
folder or archive; its group `id` (or its first group, or the whole match) is the id.

A path that cannot be read costs its own row only: a broken archive inside a class folder, a
member too big or broken, or a file named *.ipynb that is no notebook becomes a submission that
is graded `unreadable`. Archives unpack into a folder that lives as long as the run, streamed
member by member, with every byte written counted against one budget for the whole run.
"""

from __future__ import annotations

import hashlib
import lzma
import re
import shutil
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import IO

from grader.messages import CatalogueError
from grader.notebook import MiB, NOTEBOOK_BYTES, NOTEBOOK_SUFFIX, UnreadableNotebook

SKIPPED_DIRS = {".ipynb_checkpoints", "__MACOSX"}
UNPACK_BYTES = 1024 * MiB  # at most this much is unpacked from all the archives of one run
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
                     unpack_bytes: int = UNPACK_BYTES) -> list[Submission]:
    found: list[Submission] = []
    pattern = re.compile(id_pattern) if id_pattern else None
    budget = _Budget(unpack_bytes)
    for given in map(Path, paths):
        if not given.exists():
            raise SubmissionError(given, "missing")
        if given.is_dir():
            found += [_identify(notebook.relative_to(given), notebook, pattern) for notebook in _notebooks(given)]
            for archive in _archives(given):
                found += _class_archive(archive, given, unpack_dir, pattern, budget)
        elif given.suffix.lower() == ".zip":
            found += _archive(given, PurePosixPath(given.name), unpack_dir, pattern, budget)
        else:  # known as typed; its data files may come from the folder it was given in
            found.append(replace(_identify(given, given, pattern, strip=len(given.parts) - 1), folder=given.parent))
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


def _class_archive(archive: Path, given: Path, unpack_dir: Path, pattern, budget: _Budget) -> list[Submission]:
    """An archive found in a class folder; one that cannot be unpacked is a single unreadable row."""
    shown = PurePosixPath(*archive.relative_to(given).parts)
    try:
        return _archive(archive, shown, unpack_dir, pattern, budget)
    except SubmissionError as error:
        return [replace(_identify(shown, archive, pattern), problem=error)]


def _archive(archive: Path, shown: PurePosixPath, unpack_dir: Path, pattern, budget: _Budget) -> list[Submission]:
    """The notebooks of an archive, known by the archive's path followed by their own."""
    folder, problems = _unpack(archive, unpack_dir, budget)
    strip = len(shown.parts)
    unpacked = [_identify(shown / notebook.relative_to(folder), notebook, pattern, strip=strip)
                for notebook in _notebooks(folder) if notebook.relative_to(folder).as_posix() not in problems]
    failed = [replace(_identify(shown / name, folder / name, pattern, strip=strip), problem=problem)
              for name, problem in problems.items()]
    return unpacked + failed


def _notebooks(folder: Path) -> list[Path]:
    """Every path named *.ipynb: one that is no readable file (a folder, a FIFO) is graded unreadable."""
    return sorted(path for path in folder.rglob(f"*{NOTEBOOK_SUFFIX}")
                  if not SKIPPED_DIRS & set(path.relative_to(folder).parts))


def _archives(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.zip")
                  if path.is_file() and not SKIPPED_DIRS & set(path.relative_to(folder).parts))


def _identify(relative, path: Path, pattern: re.Pattern | None, strip: int = 0) -> Submission:
    """Id and name of a notebook. One at the top of a class folder or archive has no folder of its
    own: the folder is shared with classmates, so none of its files is copied in as data."""
    relative = PurePosixPath(*relative.parts)
    inner = relative.parts[strip:]
    folder = path.parent if len(inner) > 1 else None
    student = inner[0] if len(inner) > 1 else PurePosixPath(inner[-1]).stem
    match = pattern.search(str(relative)) if pattern is not None else None
    if match:
        student = match.groupdict().get("id") or (match.group(1) if match.groups() else match.group(0))
    return Submission(student, str(relative), path, folder=folder)


def _unpack(archive: Path, unpack_dir: Path, budget: _Budget) -> tuple[Path, dict[str, CatalogueError]]:
    """Extract the notebooks of an archive, refusing any member that would land outside. Returns
    the folder and, by relative name, the members that could not be extracted and why."""
    target = unpack_dir / hashlib.sha256(str(archive.resolve()).encode()).hexdigest()[:16]
    _remove(target)
    target.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = _members(zipped, archive)
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
