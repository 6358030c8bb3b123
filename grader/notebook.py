"""Read a notebook file into nbformat v4, or say in one line why it cannot be graded."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from grader.messages import text


class UnreadableNotebook(Exception):
    """The file is missing, empty, not JSON or not a notebook; `reason(lang)` says which."""

    def __init__(self, path: Path, key: str, **fields) -> None:
        self.path, self.key, self.fields = path, key, fields
        super().__init__(self.reason("en"))

    def reason(self, lang: str) -> str:
        return f"{self.path}: {text(f'unreadable.{self.key}', lang, **self.fields)}"


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
