"""Warm kernels: forked from a parent that imported TensorFlow once, yet graded exactly like cold ones."""

from __future__ import annotations

import pytest

from grader import grade as grade_module
from grader.kernel import warm as warm_module
from grader.kernel.sandbox import Limits
from grader.keras_runtime import KerasRuntime
from grader.options import GradeOptions
from tests.notebooks import IMPORTS, KERAS2, KERAS3, replace, write_notebook

FIXTURES = {
    "correct3": KERAS3,
    "correct2": KERAS2,
    "no_sequences": replace(KERAS3, 1, KERAS3[0].replace(", return_sequences=True", "")),
    "no_input": replace(KERAS3, 1, IMPORTS + "model.add(LSTM(50, return_sequences=True))"),
    "syntax": replace(KERAS3, 2, "model.add(LSTM(100, return_sequences=True)"),
    "fake_summary": replace(KERAS3, 5, "print('Total params: 583,110')"),
    "os_exit": replace(KERAS3, 4, "import os\nos._exit(1)"),
    "memory_bomb": replace(KERAS3, 4, "x = bytearray(64 * 2**30)"),
}


@pytest.fixture(scope="module")
def warm():
    yield GradeOptions(lang="en", warm=True)
    warm_module.stop_warm_parents()


def comparable(result) -> dict:
    data = result.to_dict()
    data.pop("seconds")
    return data


@pytest.mark.parametrize("name", FIXTURES)
def test_warm_and_cold_kernels_give_equal_results(tmp_path, warm, name):
    path = write_notebook(tmp_path, FIXTURES[name], name=f"{name}.ipynb")
    cold_result = grade_module.grade_notebook(path, GradeOptions(lang="en"))
    warm_result = grade_module.grade_notebook(path, warm)
    assert comparable(warm_result) == comparable(cold_result)
    assert any(parent.alive() for parent in warm_module._parents.values())  # it really was forked


def test_no_warm_parent_falls_back_to_cold_and_says_so_once(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(warm_module, "_parents", {})
    monkeypatch.setattr(warm_module, "_failed", {(KerasRuntime(3), Limits())})  # as if the warm parent had failed to start
    path = write_notebook(tmp_path, KERAS3)
    grade_module._said.clear()
    results = [grade_module.grade_notebook(path, GradeOptions(lang="en", warm=True)) for _ in range(2)]
    assert [result.score for result in results] == [100, 100]
    assert capsys.readouterr().err.count("warm kernels are unavailable") == 1
