"""Find the submissions of a class: notebooks, folders of them and .zip archives, each with a
student id.

The id rule: a notebook inside a folder under the path given gets the name of its top folder
(`class/alice/lab.ipynb` -> `alice`, as LMS downloads come); a notebook given directly, or lying
at the top of a folder given, gets its file name without `.ipynb` (`class/bob.ipynb` -> `bob`).
A notebook is known by its path relative to the folder or archive given, or as typed when given
directly.
`--id-pattern` replaces the rule with a regular expression searched in the path relative to the
folder or archive; its group `id` (or its first group, or the whole match) is the id.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.messages import CatalogueError

NOTEBOOK_SUFFIX = ".ipynb"
SKIPPED_DIRS = {".ipynb_checkpoints", "__MACOSX"}
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_ARCHIVE_BYTES = 2 * 1024 * 1024 * 1024


class SubmissionError(CatalogueError):
    """A path given cannot be read as submissions (missing, unsafe archive...)."""

    section = "submissions"


@dataclass(frozen=True)
class Submission:
    id: str  # the student's id
    file: str  # the path a person knows it by: relative to the folder or archive given
    path: Path  # where the notebook is on disk now
    duplicate: bool = False  # the student has more than one notebook in the class


def find_submissions(paths: list[str | Path], *, unpack_dir: Path, id_pattern: str | None = None) -> list[Submission]:
    found: list[tuple[str, str, Path]] = []
    pattern = re.compile(id_pattern) if id_pattern else None
    for given in map(Path, paths):
        if not given.exists():
            raise SubmissionError(given, "missing")
        if given.is_dir():
            found += [_identify(notebook.relative_to(given), notebook, pattern) for notebook in _notebooks(given)]
            for archive in sorted(given.rglob("*.zip")):
                found += _archive(archive, PurePosixPath(*archive.relative_to(given).parts), unpack_dir, pattern)
        elif given.suffix.lower() == ".zip":
            found += _archive(given, PurePosixPath(given.name), unpack_dir, pattern)
        else:
            found.append(_identify(given, given, pattern, strip=len(given.parts) - 1))  # known as typed
    counts: dict[str, int] = {}
    for student, _, _ in found:
        counts[student] = counts.get(student, 0) + 1
    return [Submission(student, file, path, counts[student] > 1) for student, file, path in sorted(found)]


def _archive(archive: Path, shown: PurePosixPath, unpack_dir: Path, pattern) -> list[tuple[str, str, Path]]:
    """The notebooks of an archive, known by the archive's path followed by their own."""
    folder = _unpack(archive, unpack_dir)
    return [_identify(shown / notebook.relative_to(folder), notebook, pattern, strip=len(shown.parts))
            for notebook in _notebooks(folder)]


def _notebooks(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob(f"*{NOTEBOOK_SUFFIX}")
                  if path.is_file() and not SKIPPED_DIRS & set(path.relative_to(folder).parts))


def _identify(relative, path: Path, pattern: re.Pattern | None, strip: int = 0) -> tuple[str, str, Path]:
    relative = PurePosixPath(*relative.parts)
    if pattern is not None:
        match = pattern.search(str(relative))
        if match:
            groups = match.groupdict()
            student = groups.get("id") or (match.group(1) if match.groups() else match.group(0))
            return student, str(relative), path
    inner = relative.parts[strip:]
    student = inner[0] if len(inner) > 1 else PurePosixPath(inner[-1]).stem
    return student, str(relative), path


def _unpack(archive: Path, unpack_dir: Path) -> Path:
    """Extract the notebooks of an archive, refusing any member that would land outside."""
    target = unpack_dir / f"{archive.stem}-{hashlib.sha256(str(archive.resolve()).encode()).hexdigest()[:8]}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.infolist() if not m.is_dir() and m.filename.endswith(NOTEBOOK_SUFFIX)]
            if sum(m.file_size for m in members) > MAX_ARCHIVE_BYTES:
                raise SubmissionError(archive, "too_big")
            for member in members:
                name = PurePosixPath(member.filename.replace("\\", "/"))
                if name.is_absolute() or ".." in name.parts or _is_link(member):
                    raise SubmissionError(archive, "unsafe_member", member=member.filename)
                if member.file_size > MAX_MEMBER_BYTES or SKIPPED_DIRS & set(name.parts):
                    continue
                destination = target.joinpath(*name.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(zipped.read(member))
    except zipfile.BadZipFile:
        raise SubmissionError(archive, "bad_zip") from None
    return target


def _is_link(member: zipfile.ZipInfo) -> bool:
    return (member.external_attr >> 16) & 0o170000 == 0o120000
