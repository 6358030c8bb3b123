"""Read a notebook file into nbformat v4, or say in one line why it cannot be graded."""

from __future__ import annotations

import ast
import json
import re
import warnings
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from grader.messages import CatalogueError

INPUT_FILES_BYTES = 100 * 1024 * 1024  # at most this much of the student's files is copied


class UnreadableNotebook(CatalogueError):
    """The file is missing, empty, not JSON or not a notebook; `reason(lang)` says which."""

    section = "unreadable"


def read_notebook(path: str | Path) -> NotebookNode:
    path = Path(path)
    if not path.exists():
        raise UnreadableNotebook(path, "missing")
    if not path.is_file():
        raise UnreadableNotebook(path, "not_file")
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise UnreadableNotebook(path, "not_text", error=error.__class__.__name__) from None
    if not raw.strip():
        raise UnreadableNotebook(path, "empty")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise UnreadableNotebook(path, "not_json", line=error.lineno, column=error.colno) from None
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


def notebook_texts(nb: NotebookNode) -> list[str]:
    """All the text a person wrote in the notebook: markdown and code."""
    return [cell.source for cell in nb.cells]


def referenced_files(nb: NotebookNode, folder: Path, limit: int = INPUT_FILES_BYTES) -> list[tuple[Path, str]]:
    """Files beside the notebook that its code names in a string ("data.csv", "data/x.npy"),
    as (source, relative name) pairs to copy into the kernel's working directory."""
    folder = folder.resolve()
    found: dict[str, Path] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for name in _string_literals(cell.source):
            candidate = (folder / name).resolve() if _is_relative_name(name) else None
            if candidate and candidate.is_relative_to(folder) and candidate.is_file():
                found.setdefault(str(candidate.relative_to(folder)), candidate)
    chosen, total = [], 0
    for name, source in sorted(found.items()):
        total += source.stat().st_size
        if total > limit:
            break
        chosen.append((source, name))
    return chosen


def _string_literals(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return re.findall(r"""['"]([^'"\n]{1,200})['"]""", source)
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and 0 < len(node.value) <= 200]


def _is_relative_name(name: str) -> bool:
    return "\n" not in name and "\0" not in name and not name.startswith(("/", "~")) and ".." not in Path(name).parts
