"""Answers the notebook's text does not hold cannot score.

A layer earns its step only when the settings the exercise asks for (its units, an activation's
name) are written in the notebook's own code: as a literal, or inside a string the code reads. A
model built by code the notebook does not hold (a helper file it runs, a hook it installs that
reads its answers from elsewhere) then scores nothing, whatever the kernel reports. Comments and
Markdown do not count: they run nothing. Computed values (`hidden // 3`) count when some literal
of the notebook holds the same number, which an honest notebook's other layers usually do.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass

from nbformat import NotebookNode

from grader.spec import StepSpec
from grader.steps import code_cells, readable_cells

_DIGITS = re.compile(r"\d+")
_WORDS = re.compile(r"[A-Za-z_]\w*")
_COMMENT = re.compile(r"#[^\n]*")


@dataclass(frozen=True)
class Written:
    """The numbers and words a notebook's code holds."""

    numbers: frozenset[float]
    words: frozenset[str]


def written_notebook(nb: NotebookNode) -> Written:
    """What the notebook's code cells hold: the cells within the analysis's bound token by token,
    the rest (a cell past it) read plainly, comments and all, in linear time."""
    readable = dict(readable_cells(nb))
    return written_in(readable.values(), [source for index, source in code_cells(nb) if index not in readable])


def written_in(sources: Iterable[str], plain: Iterable[str] = ()) -> Written:
    numbers: set[float] = set()
    words: set[str] = set()
    for source in sources:
        _read(source, numbers, words)
    for source in plain:
        _read_plainly(source, numbers, words)
    return Written(frozenset(numbers), frozenset(words))


def _read(source: str, numbers: set[float], words: set[str]) -> None:
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.NUMBER:
                numbers.add(_number(token.string))
            elif token.type == tokenize.STRING:
                numbers.update(int(digits) for digits in _DIGITS.findall(token.string))
                words.update(_WORDS.findall(token.string))
            elif token.type == tokenize.NAME:
                words.add(token.string)
    except (tokenize.TokenError, SyntaxError, ValueError):  # IPython syntax, an unclosed string: read it plainly
        _read_plainly(_COMMENT.sub("", source), numbers, words)


def _read_plainly(source: str, numbers: set[float], words: set[str]) -> None:
    numbers.update(int(digits) for digits in _DIGITS.findall(source))
    words.update(_WORDS.findall(source))


def _number(literal: str) -> float:
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return -1.0
    if isinstance(value, complex):
        return -1.0
    return int(value) if float(value).is_integer() else float(value)


def unwritten(step: StepSpec, written: Written) -> list[str]:
    """The settings of the step's layers that the notebook's code does not hold, as shown to the student."""
    missing: list[str] = []
    for layer in step.layers:
        for _, value in layer.settings:
            if not _holds(written, value):
                missing.append(repr(value))
    return list(dict.fromkeys(missing))


def _holds(written: Written, value: object) -> bool:
    if isinstance(value, bool):
        return True  # True and False: every notebook can write them, they tell nothing
    if isinstance(value, (int, float)):
        return value in written.numbers
    if isinstance(value, str):
        return value in written.words
    if isinstance(value, (tuple, list)):  # a kernel size (3, 3): each of its numbers
        return all(_holds(written, item) for item in value)
    return True
