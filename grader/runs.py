"""What running code in a kernel gives back: each run's outputs, error and model snapshot, as plain
data (no kernel here), and the runner interface the judge re-runs a step's code through.

The judge (grader/grading.py) and the replay see a kernel only as a `Runner`; the kernel session of
grader/kernel/execute.py is one, and the tests' fake runner another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from grader.snapshot import Snapshot

TRACEBACK_LIMIT = 4000
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_OWN_FRAME = ("Cell In", "Input In", "File <ipython-input")  # IPython's names for a cell's frames
_IPYTHON_CELL_FILE = re.compile(r"\(\d+\.py, line (\d+)\)")  # "(1415344262.py, line 8)" names a temp file
_MACHINE_PATH = re.compile(r"(?:/[^\s\"'():]+)?/(?:site-packages|dist-packages|lib/python3\.\d+)/"
                           r"|/tmp/lstm-grader-[^\s\"'():/]+/(?:[0-9a-f]+/)?")
# TensorFlow's C++ and absl log lines ("2024-05-01 12:00:00.123: I tensorflow/...", "W0000 00:00:..."),
# and the header line of a Python warning ("...: UserWarning: ...").
_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] |[IWEF]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages")
_WARNING_LINE = re.compile(r"^\S.*:\d+: \w*Warning: ")


@dataclass
class ErrorInfo:
    ename: str
    evalue: str
    traceback: str

    @classmethod
    def from_content(cls, content: dict) -> ErrorInfo:
        traceback = _useful_traceback([strip_ansi(str(entry)) for entry in content.get("traceback", [])])
        if len(traceback) > TRACEBACK_LIMIT:
            traceback = "…\n" + traceback[-TRACEBACK_LIMIT:]
        evalue = _IPYTHON_CELL_FILE.sub(r"(line \1)", strip_ansi(str(content.get("evalue", ""))))
        traceback, evalue = scrub_paths(traceback), scrub_paths(evalue)
        return cls(ename=str(content.get("ename", "")), evalue=evalue, traceback=traceback)


@dataclass
class CellRun:
    """One execution of some code: the notebook's cell, or a step's code re-run."""

    cell_index: int
    source: str
    outputs: list[dict] = field(default_factory=list)
    error: ErrorInfo | None = None
    snapshot: Snapshot | None = None

    @property
    def output_text(self) -> str:
        return outputs_text(self.outputs)


def _useful_traceback(entries: list[str]) -> str:
    """The student's own frames and the error line; frames inside libraries are left out."""
    if len(entries) < 3:
        return "\n".join(entries)
    frames = entries[1:-1]  # IPython's first entry is a header, its last the error line
    own = [frame for frame in frames if frame.lstrip().startswith(_OWN_FRAME)]
    left_out = len(frames) - len(own)
    marker = ["…"] if left_out else []  # library frames left out
    return "\n".join([*own, *marker, entries[-1]])


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def scrub_paths(text: str) -> str:
    """Paths of the grading machine left out: a library file is named from its package on
    (`keras/src/layers/rnn/lstm.py`), a file in the kernel's folder by its own name."""
    return _MACHINE_PATH.sub("", text)


def printed_text(outputs: list[dict]) -> str:
    """What the code printed, as a student reads it: standard output and results only, without
    the lines TensorFlow's C++ side, absl or Python's warnings write, and without machine paths."""
    parts = []
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            parts.append(output.get("text", ""))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    lines = strip_ansi("".join(parts)).splitlines(keepends=True)
    kept, skip_next = [], False
    for line in lines:
        if skip_next and line.startswith((" ", "\t")):
            skip_next = False
            continue  # the source line Python's warnings quote under the warning
        skip_next = bool(_WARNING_LINE.search(line))
        if not skip_next and not _LOG_LINE.match(line):
            kept.append(line)
    return scrub_paths("".join(kept))


def outputs_text(outputs: list[dict]) -> str:
    parts = []
    for output in outputs:
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return strip_ansi("".join(parts))


class Runner(Protocol):
    """Runs code where the notebook's model lives, and looks at that model."""

    async def run(self, source: str, cell_index: int) -> CellRun: ...

    async def install_reference(self, layers: list[dict]) -> Snapshot: ...
