"""Read a notebook file into nbformat v4, or say in one line why it cannot be graded."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import nbformat
from nbformat import NotebookNode


class UnreadableNotebook(Exception):
    """The file is missing, empty, not JSON or not a notebook; the message says which."""


def read_notebook(path: str | Path) -> NotebookNode:
    path = Path(path)
    if not path.exists():
        raise UnreadableNotebook(f"{path}: no such file")
    if not path.is_file():
        raise UnreadableNotebook(f"{path}: not a file")
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise UnreadableNotebook(f"{path}: cannot be read as UTF-8 text ({error.__class__.__name__})") from None
    if not raw.strip():
        raise UnreadableNotebook(f"{path}: the file is empty")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise UnreadableNotebook(f"{path}: not valid JSON (line {error.lineno}, column {error.colno})") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise UnreadableNotebook(f"{path}: JSON, but not a Jupyter notebook")
    try:
        with warnings.catch_warnings():  # nbformat warns of small schema slips Jupyter accepts too
            warnings.simplefilter("ignore")
            nb = nbformat.convert(nbformat.reads(raw, as_version=nbformat.NO_CONVERT), 4)
    except Exception as error:  # nbformat raises many kinds for malformed input
        raise UnreadableNotebook(f"{path}: not a valid notebook ({error.__class__.__name__})") from None
    if not all(_is_cell(cell) for cell in nb.get("cells", [])):
        raise UnreadableNotebook(f"{path}: not a valid notebook (a cell has no type or source)")
    return nb


def _is_cell(cell) -> bool:
    return isinstance(cell, dict) and cell.get("cell_type") in ("code", "markdown", "raw") \
        and isinstance(cell.get("source"), str)


def notebook_texts(nb: NotebookNode) -> list[str]:
    """All the text a person wrote in the notebook: markdown and code."""
    return [cell.source for cell in nb.cells]
