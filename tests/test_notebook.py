"""Reading notebooks: every unreadable file gets one clear line."""

from __future__ import annotations

import json

import nbformat
import pytest

from grader.notebook import UnreadableNotebook, read_notebook
from tests.notebooks import KERAS3, make_notebook


@pytest.mark.parametrize("content, reason", [
    (b"", "the file is empty"),
    (b"  \n", "the file is empty"),
    (b"{not json", "not valid JSON (line 1, column 2)"),
    (b"[1, 2]", "JSON, but not a Jupyter notebook"),
    (b'{"cells": "nope", "nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "not a valid notebook"),
    (b'{"cells": [{"cell_type": "code"}], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}',
     "not a valid notebook"),
    (b"\xff\xfe\x00binary", "cannot be read as UTF-8 text"),
])
def test_unreadable_files(tmp_path, content, reason):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    with pytest.raises(UnreadableNotebook) as error:
        read_notebook(path)
    assert reason in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(UnreadableNotebook, match="no such file"):
        read_notebook(tmp_path / "absent.ipynb")
    with pytest.raises(UnreadableNotebook, match="not a file"):
        read_notebook(tmp_path)


def test_v3_notebook_is_upgraded(tmp_path):
    path = tmp_path / "old.ipynb"
    path.write_text(nbformat.writes(nbformat.convert(make_notebook(KERAS3), 3), version=3))
    assert json.loads(path.read_text())["nbformat"] == 3
    nb = read_notebook(path)
    assert nb.nbformat == 4
    assert [cell.source for cell in nb.cells if cell.cell_type == "code"] == KERAS3
