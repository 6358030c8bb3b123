"""The results model: one plain data structure that every report reads and none recomputes.

What a result stores is bounded whatever the notebook holds: each text (code, outputs, errors,
messages) at STORED_CHARS characters, each list (errors, layers, notes, checks) at STORED_ITEMS
items, with a visible TRUNCATED marker where something was cut. Every result is capped as it is
built, so no report, JSON file or gradebook row can grow with a 200 MB cell.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Every status a result can have: graded; a limit that ended the notebook; a dead kernel; a file
# that could not be read; in batch mode, a failure of the grader itself; a notebook whose own run
# and clean replay disagree as no honest notebook does (grader/replay.py).
STATUSES = ("graded", "timeout", "memory_limit", "cpu_limit", "file_size_limit", "process_limit",
            "output_limit", "disk_limit", "kernel_died", "unreadable", "error", "tampered", "needs_review")
STORED_CHARS = 20_000
STORED_ITEMS = 200
TRUNCATED = "… (truncated)"


def cap_text(value: str) -> str:
    """`value`, or its first STORED_CHARS characters and the TRUNCATED marker; capping twice changes nothing."""
    return value if len(value) <= STORED_CHARS else f"{value[:STORED_CHARS]}\n{TRUNCATED}"


def _cap(value: Any) -> Any:
    if isinstance(value, str):
        return cap_text(value)
    if not isinstance(value, list):
        return value
    kept = [_cap(item) for item in value[:STORED_ITEMS]]
    texts = all(isinstance(item, str) for item in value)
    return kept + [TRUNCATED] if len(value) > STORED_ITEMS and texts else kept


class _Capped:
    """A part of a result whose text and list fields are capped when it is made."""

    def __post_init__(self) -> None:
        for name in (item.name for item in fields(self)):
            setattr(self, name, _cap(getattr(self, name)))


@dataclass
class CheckResult(_Capped):
    name: str
    expected: Any
    actual: Any
    passed: bool
    message: str
    explain: str = ""  # for a failed check: why it matters and how to get it right, with the numbers


@dataclass
class StepResult(_Capped):
    id: str
    title: str
    score: int
    max_score: int
    passed: bool
    checks: list[CheckResult]
    judged_on: str  # "notebook", "rerun" (its code on correct earlier steps), "replay", "final_model", "none"
    notes: list[str] = field(default_factory=list)
    hint: str = ""
    code: str = ""
    error: str | None = None  # the first error the step's judged code raised, "Name: message"
    reason: str = ""  # one line on why the step failed, for tables; empty when it passed


@dataclass
class LayerResult(_Capped):
    index: int
    name: str
    type: str
    units: int | None
    return_sequences: bool | None
    output_shape: str | None
    params: int | None  # counted from the weights Keras created
    step: str | None


@dataclass
class LayerView(_Capped):
    type: str
    units: int | None
    return_sequences: bool | None
    output_shape: str | None
    params: int | None
    inputs: int | None = None  # input features: stated by the layer, else what it receives


@dataclass
class NetworkRow(_Capped):
    """One row of the student's network drawn beside the expected one."""

    step: str | None
    expected: LayerView | None  # None: the student's model has a layer the exercise does not
    actual: LayerView | None  # None: the student's model lacks this expected layer
    differs: list[str] = field(default_factory=list)  # the LayerView fields the layer itself gets wrong
    # The row's step passed, judged on correct earlier steps, but this layer of the final network
    # is absent or differs from the course's because of step `carried` (0: of no step in particular).
    carried: int | None = None


@dataclass
class ErrorResult(_Capped):
    cell: int
    step: str | None
    ename: str
    evalue: str
    traceback: str


@dataclass
class GradeResult(_Capped):
    notebook: str
    exercise: str
    exercise_title: str
    score: int
    max_score: int
    keras: str | None  # the Keras version the notebook ran under, e.g. "3.15.1" or "2.21.0"
    status: str
    steps: list[StepResult]
    layers: list[LayerResult] = field(default_factory=list)
    errors: list[ErrorResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lang: str = "en"
    seconds: float = 0.0
    summary_text: str = ""
    expected_summary: str = ""
    network: list[NetworkRow] = field(default_factory=list)

    def __post_init__(self) -> None:
        if any(len(items) > STORED_ITEMS for items in (self.layers, self.errors, self.network)):
            self.notes = [*self.notes, TRUNCATED]
        super().__post_init__()

    @property
    def full_marks(self) -> bool:
        return self.score == self.max_score

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GradeResult:
        """The inverse of to_dict, for results read back from JSON or the gradebook."""
        def view(raw):
            return LayerView(**raw) if raw else None

        steps = [StepResult(**{**step, "checks": [CheckResult(**check) for check in step["checks"]]})
                 for step in data["steps"]]
        network = [NetworkRow(row["step"], view(row["expected"]), view(row["actual"]), row["differs"],
                              row.get("carried")) for row in data.get("network", [])]
        return cls(**{**data, "steps": steps, "network": network,
                      "layers": [LayerResult(**layer) for layer in data.get("layers", [])],
                      "errors": [ErrorResult(**error) for error in data.get("errors", [])]})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


@dataclass(frozen=True)
class ClassRow:
    """One submission of a class, as the gradebook holds it: what the class-level writers read."""

    file: str  # the path a person knows the notebook by
    student: str
    duplicate: bool  # the student has more than one notebook
    result: GradeResult
