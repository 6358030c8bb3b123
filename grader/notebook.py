"""Read a notebook file into nbformat v4, or say in one line why it cannot be graded."""

from __future__ import annotations

import ast
import json
import os
import re
import stat
import warnings
import zipfile
from itertools import accumulate, repeat
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from grader.messages import CatalogueError

MiB = 1024 * 1024
NOTEBOOK_SUFFIX = ".ipynb"
NOTEBOOK_BYTES = 16 * MiB  # a larger notebook is not read: unreadable, "too_big"
JSON_DEPTH = 200  # arrays and objects nested deeper are not parsed: unreadable, "too_deep"
INPUT_FILES_BYTES = 100 * MiB  # at most this much of the student's files is copied

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")  # minus 1: +1 opens, -1 closes


class UnreadableNotebook(CatalogueError):
    """The file is missing, empty, not JSON or not a notebook; `reason(lang)` says which."""

    section = "unreadable"


def read_notebook(path: str | Path) -> NotebookNode:
    return parse_notebook(read_notebook_bytes(path), path)


def read_notebook_bytes(path: str | Path) -> bytes:
    """The bytes of a regular file of at most NOTEBOOK_BYTES, read without blocking on a FIFO."""
    path = Path(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise UnreadableNotebook(path, "missing") from None
    except OSError as error:
        raise UnreadableNotebook(path, "cannot_read", error=error.strerror or type(error).__name__) from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableNotebook(path, "not_file")
        if info.st_size > NOTEBOOK_BYTES:
            raise UnreadableNotebook(path, "too_big", limit=f"{NOTEBOOK_BYTES // MiB} MiB")
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(NOTEBOOK_BYTES + 1)
    except OSError as error:
        raise UnreadableNotebook(path, "cannot_read", error=error.strerror or type(error).__name__) from None
    finally:
        os.close(descriptor)
    if len(data) > NOTEBOOK_BYTES:  # it grew since fstat
        raise UnreadableNotebook(path, "too_big", limit=f"{NOTEBOOK_BYTES // MiB} MiB")
    return data


def json_depth(text: str) -> int:
    """How deep arrays and objects nest in the JSON `text`, found without parsing it (strings skipped)."""
    steps = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)).encode("ascii").translate(_BRACKET_STEPS)
    return max(accumulate(map(int.__sub__, steps, repeat(1))), default=0)


def parse_notebook(raw_bytes: bytes, path: str | Path) -> NotebookNode:
    """A notebook from its bytes, or UnreadableNotebook saying why not; `path` names it in the reason."""
    try:
        raw = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableNotebook(path, "not_text", error=error.__class__.__name__) from None
    if not raw.strip():
        raise UnreadableNotebook(path, "empty")
    if json_depth(raw) > JSON_DEPTH:
        raise UnreadableNotebook(path, "too_deep", limit=JSON_DEPTH)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise UnreadableNotebook(path, "not_json", line=error.lineno, column=error.colno) from None
    except RecursionError:  # cannot happen below JSON_DEPTH; never let it end a batch
        raise UnreadableNotebook(path, "too_deep", limit=JSON_DEPTH) from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise UnreadableNotebook(path, "not_notebook")
    try:
        with warnings.catch_warnings():  # nbformat warns of small schema slips Jupyter accepts too
            warnings.simplefilter("ignore")
            nb = nbformat.convert(nbformat.reads(raw, as_version=nbformat.NO_CONVERT), 4)
    except Exception as error:  # nbformat raises many kinds for malformed input
        raise UnreadableNotebook(path, "invalid", error=error.__class__.__name__) from None
    if not all(_is_cell(cell) for cell in nb.get("cells", [])):
        raise UnreadableNotebook(path, "invalid", error="a cell has no type or source")
    return nb


def _is_cell(cell) -> bool:
    return isinstance(cell, dict) and cell.get("cell_type") in ("code", "markdown", "raw") \
        and isinstance(cell.get("source"), str)


EXERCISE_FIELD = "exercise"  # metadata.lstm_grader.exercise: the id of the exercise a notebook is for


def recorded_exercise(path: str | Path) -> str | None:
    """The exercise the notebook at `path` records in its metadata, or None when it records none or
    cannot be read (grading it then says why). The student can edit it, so it only ever names an
    installed exercise by id: anything else raises SpecError (grader.spec.installed_exercise)."""
    from grader.spec import installed_exercise
    from grader.steps import METADATA_KEY

    try:
        mark = read_notebook(path).metadata.get(METADATA_KEY)
    except UnreadableNotebook:
        return None
    if not isinstance(mark, dict) or EXERCISE_FIELD not in mark:
        return None
    return installed_exercise(mark[EXERCISE_FIELD], f"{path}: metadata.{METADATA_KEY}.{EXERCISE_FIELD}")


def notebook_texts(nb: NotebookNode) -> list[str]:
    """All the text a person wrote in the notebook: markdown and code."""
    return [cell.source for cell in nb.cells]


# What a notebook's data files may not be, and how far we look to tell (referenced_files).
SKIPPED_DIRS = {".ipynb_checkpoints", "__MACOSX"}  # never searched: Jupyter's and macOS's copies
ARCHIVE_SUFFIX = ".zip"
REPORT_SUFFIX = ".report.html"  # `grade NOTEBOOK`'s report, beside the notebook
OUT_LOCK = ".grade.lock"  # in every OUT folder of `grade PATH... -o OUT`
FOLDER_ENTRIES = 100_000  # a folder with more entries is not searched for notebooks: it counts as shared
# Found in the first HEAD_BYTES of what we write: a JSON result (GradeResult.to_json) begins with the
# first, an HTML report or dashboard (grader/templates) holds the second in its <head>.
HEAD_BYTES = 4096
_GRADER_MARKS = (b'{\n  "notebook": ', b":root { --pass: #1a6b35;")


def referenced_files(nb: NotebookNode, folder: Path, limit: int = INPUT_FILES_BYTES, *,
                     owned: bool = False) -> list[tuple[Path, str]]:
    """Files beside the notebook that its code names in a string ("data.csv", "data/x.npy"),
    as (source, relative name) pairs to copy into the kernel's working directory. Only from a
    folder that is the student's alone: `owned` when the caller knows it is (a batch's student
    folder), else only when no other notebook lies in it or below (`holds_one_notebook`): in a
    class folder, every file may be a classmate's. Never a notebook or an archive holding one,
    never a file the grader wrote (`_grader_wrote`)."""
    folder = folder.resolve()
    found: dict[str, Path] = {}
    from grader.steps import readable_cells  # the cells within the analysis's bound, read once each

    for _, source in readable_cells(nb):
        for name in _string_literals(source):
            candidate = (folder / name).resolve() if _is_relative_name(name) else None
            if candidate and candidate.is_relative_to(folder) and candidate.is_file() \
                    and candidate.suffix.lower() != NOTEBOOK_SUFFIX:
                found.setdefault(str(candidate.relative_to(folder)), candidate)
    if not found or not (owned or holds_one_notebook(folder)):
        return []
    chosen, total = [], 0
    for name, source in sorted(found.items()):
        if _grader_wrote(source, folder) or _holds_notebook(source):
            continue
        total += source.stat().st_size
        if total > limit:
            break
        chosen.append((source, name))
    return chosen


def holds_one_notebook(folder: Path) -> bool:
    """Does `folder` hold, at any depth, at most one notebook (the one graded), counting an archive
    that holds notebooks as one? A folder of more than FOLDER_ENTRIES entries counts as holding many."""
    notebooks = entries = 0
    for parent, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if name not in SKIPPED_DIRS]
        entries += len(folders) + len(files)
        notebooks += sum(name.lower().endswith(NOTEBOOK_SUFFIX)
                         or name.lower().endswith(ARCHIVE_SUFFIX) and _holds_notebook(Path(parent, name))
                         for name in files)
        if notebooks > 1 or entries > FOLDER_ENTRIES:
            return False
    return True


def _grader_wrote(path: Path, folder: Path) -> bool:
    """Is `path` (a file in or below `folder`) something the grader wrote: a report by its default
    name, anything in a batch's OUT folder, or a file that begins as our results and reports do?"""
    if path.name.lower().endswith(REPORT_SUFFIX):
        return True
    if any((parent / OUT_LOCK).exists() for parent in (path.parent, *path.parent.parents)
           if parent.is_relative_to(folder)):
        return True
    return any(mark in _head(path) for mark in _GRADER_MARKS)


def _head(path: Path) -> bytes:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        return os.read(descriptor, HEAD_BYTES)
    except OSError:
        return b""
    finally:
        os.close(descriptor)


def _holds_notebook(path: Path) -> bool:
    """Is `path` a zip archive with a notebook inside? One that cannot be listed counts as one."""
    try:
        if not path.is_file() or not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            return any(name.lower().endswith(NOTEBOOK_SUFFIX) for name in archive.namelist())
    except Exception:  # zipfile raises many kinds for a broken archive
        return True


def _string_literals(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return re.findall(r"""['"]([^'"\n]{1,200})['"]""", source)
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and 0 < len(node.value) <= 200]


def _is_relative_name(name: str) -> bool:
    return "\n" not in name and "\0" not in name and not name.startswith(("/", "~")) and ".." not in Path(name).parts
