"""Build real student notebooks for the tests: the reference answers with one step changed."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

IMPORTS = """import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense, Activation, Dropout, LSTM
model=Sequential()
"""

# The course's answer (Keras 2 API), one source per step.
KERAS2 = [
    IMPORTS + "model.add(LSTM(input_dim=1,units=50,return_sequences=True))",
    "model.add(LSTM(input_dim=50,units=100,return_sequences=True))",
    "model.add(LSTM(300, return_sequences=False))",
    "model.add(Dense(100))\nmodel.add(Dense(10))",
    "model.summary()",
]

# An idiomatic Keras 3 answer.
KERAS3 = [
    IMPORTS + "model.add(keras.Input(shape=(None, 1)))\nmodel.add(LSTM(50, return_sequences=True))",
    "model.add(LSTM(100, return_sequences=True))",
    "model.add(LSTM(300))",
    "model.add(Dense(100))\nmodel.add(Dense(10))",
    "model.summary()",
]

HEADINGS = ["## 1.向网络中添加第一个LSTM层", "## 2.向网络中添加第二个LSTM层", "## 3.向网络中添加最后一个LSTM层",
            "## 4.向网络中添加两个全连接层", "## 5.输出该模型各层的参数情况"]


def replace(sources: list[str], step: int, source: str) -> list[str]:
    """The answer with step `step` (1-based) replaced by `source`."""
    changed = list(sources)
    changed[step - 1] = source
    return changed


def make_notebook(sources: list[str], *, marked: bool = True, headings: bool = True) -> nbformat.NotebookNode:
    """One code cell per source; `marked` adds our step metadata, `headings` the course's markdown."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for number, source in enumerate(sources, start=1):
        if headings and number <= len(HEADINGS):
            nb.cells.append(new_markdown_cell(HEADINGS[number - 1]))
        metadata = {"lstm_grader": {"step": number}} if marked else {}
        nb.cells.append(new_code_cell(source, metadata=metadata))
    return nb


def write_notebook(folder: Path, sources: list[str], name: str = "student.ipynb", **options) -> Path:
    path = Path(folder) / name
    nbformat.write(make_notebook(sources, **options), path)
    return path
