"""What a grading run is asked to do: one frozen object for one notebook, one for a class, and the
one place for their defaults (the limits' own defaults are in `Limits`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from grader.kernel import Limits
from grader.keras_runtime import AUTO, KERAS_CHOICES
from grader.spec import DEFAULT_EXERCISE

LANGUAGE_CHOICES = (AUTO, "zh", "en")
SHOWN_BEFORE_READING = "en"  # what "auto" means for a message said before any notebook is read


EXIT_BAD_INPUT = 2  # a command given what it cannot use: one line, nothing written


class OneLineParser(argparse.ArgumentParser):
    """The argument parser of the instructor's commands (override, export, review, ...): an error
    is one line, exit EXIT_BAD_INPUT."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message}\n")


def shown_language(lang: str) -> str:
    """The language of a message about a notebook not (yet) read: `lang`, or English for auto."""
    return SHOWN_BEFORE_READING if lang == AUTO else lang


@dataclass(frozen=True)
class GradeOptions:
    """How to grade a notebook. Plain data: it travels to batch workers and Dask."""

    exercise: str | Path = DEFAULT_EXERCISE  # an exercise id under exercises/, or a spec.toml
    keras: str = AUTO  # one of KERAS_CHOICES
    limits: Limits = Limits()
    lang: str = AUTO  # the feedback's language; auto: the notebook's
    warm: bool = False  # fork kernels from this process's warm parents instead of starting each afresh
    replay: bool = True  # False skips the clean replay: for measuring what it costs, never for grading

    def __post_init__(self) -> None:
        if self.keras not in KERAS_CHOICES:
            raise ValueError(f"keras={self.keras!r}: one of {', '.join(KERAS_CHOICES)}")
        if self.lang not in LANGUAGE_CHOICES:
            raise ValueError(f"lang={self.lang!r}: one of {', '.join(LANGUAGE_CHOICES)}")

    @property
    def shown_lang(self) -> str:
        return shown_language(self.lang)


@dataclass(frozen=True)
class BatchOptions:
    """How to grade a class, beyond how to grade each notebook."""

    grading: GradeOptions = GradeOptions(warm=True)
    jobs: int | None = None  # parallel workers; None: one per CPU
    force: bool = False  # regrade what the gradebook already has
    id_pattern: str | None = None  # a regular expression on a submission's path; group 'id' is the student
    lms: str | None = None  # read the class as this LMS writes its download (grader/lms): its ids, names, late marks
    scheduler: str | None = None  # a Dask scheduler's address, or local:N
