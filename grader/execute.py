"""Run notebook code in a fresh kernel with nbclient, and read the model after every run.

The probe travels in the `user_expressions` of a separate, silent execute request, so no cell
of the student's can see, reorder or pre-empt it. What comes back is JSON text, parsed here as
data; nothing from the kernel is ever unpickled or evaluated.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from grader.snapshot import Snapshot, parse_snapshot

TRACEBACK_LIMIT = 4000
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_OWN_FRAME = ("Cell In", "Input In", "File <ipython-input")  # IPython's names for a cell's frames
_IPYTHON_CELL_FILE = re.compile(r"\(\d+\.py, line (\d+)\)")  # "(1415344262.py, line 8)" names a temp file
_PROBE_MODULE = "grader.kernel_probe"


class KernelDied(Exception):
    """The kernel process ended while running a cell."""


class KernelHung(Exception):
    """The kernel stopped answering, even to the probe, after a cell timed out."""


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
        return cls(ename=str(content.get("ename", "")), evalue=evalue, traceback=traceback)


@dataclass
class CellRun:
    """One execution of some code: the notebook's cell, or a step's code re-run."""

    cell_index: int
    source: str
    outputs: list[dict] = field(default_factory=list)
    error: ErrorInfo | None = None
    timed_out: bool = False
    snapshot: Snapshot | None = None

    @property
    def output_text(self) -> str:
        return outputs_text(self.outputs)


@dataclass(frozen=True)
class KerasRuntime:
    module: str
    version: str

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


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


def outputs_text(outputs: list[dict]) -> str:
    parts = []
    for output in outputs:
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return strip_ansi("".join(parts))


def kernel_env(keras_major: int) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TF_USE_LEGACY_KERAS", None)
    if keras_major == 2:
        env["TF_USE_LEGACY_KERAS"] = "1"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


class KernelSession:
    """A fresh kernel for one notebook; use as `async with KernelSession(...) as session`."""

    def __init__(self, *, keras_major: int, cell_timeout: float, model_variable: str) -> None:
        self.keras_major = keras_major
        self.model_variable = model_variable
        self.runtime: KerasRuntime | None = None
        self._workdir = tempfile.TemporaryDirectory(prefix="lstm-grader-")
        self._client = NotebookClient(
            nbformat.v4.new_notebook(), timeout=cell_timeout, kernel_name="python3",
            allow_errors=True, interrupt_on_timeout=True, shutdown_kernel="immediate",
            error_on_timeout={"ename": "TimeoutError",
                              "evalue": f"the cell ran longer than {cell_timeout:g} s", "traceback": []},
            record_timing=False, on_cell_executed=self._keep_reply)
        self._last_reply: dict | None = None
        self._context = None

    async def __aenter__(self) -> KernelSession:
        # The kernel's own stderr (TensorFlow's start-up logs) is noise to a person and never
        # decides a grade: what a cell prints reaches us through the protocol instead.
        self._context = self._client.async_setup_kernel(
            env=kernel_env(self.keras_major), cwd=self._workdir.name,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await self._context.__aenter__()
        info = await self._probe(f"__import__({_PROBE_MODULE!r}, fromlist=['_']).install()")
        self.runtime = KerasRuntime(module=info["keras_module"], version=info["keras_version"])
        return self

    async def __aexit__(self, *exc_info) -> None:
        try:
            await self._context.__aexit__(*exc_info)
        finally:
            self._workdir.cleanup()

    async def run(self, source: str, cell_index: int) -> CellRun:
        """Execute `source` as a cell, then take a snapshot of the model."""
        cell = nbformat.v4.new_code_cell(source)
        self._client.nb.cells = [cell]
        self._last_reply = None
        try:
            await self._client.async_execute_cell(cell, 0)
        except DeadKernelError as error:
            raise KernelDied(str(error)) from None
        run = CellRun(cell_index=cell_index, source=source, outputs=[dict(o) for o in cell.outputs])
        content = (self._last_reply or {}).get("content", {})
        if content.get("status") == "error":
            run.error = ErrorInfo.from_content(content)
            run.timed_out = content.get("ename") == "TimeoutError" and not content.get("traceback")
        run.snapshot = await self.snapshot()
        return run

    async def snapshot(self) -> Snapshot:
        name = self.model_variable
        return parse_snapshot(await self._probe(
            f"__import__({_PROBE_MODULE!r}, fromlist=['_']).snapshot({name!r})"))

    async def install_reference(self, layers: list[dict]) -> Snapshot:
        """Bind the model variable to a reference model made of `layers`."""
        payload = json.dumps(layers)
        return parse_snapshot(await self._probe(
            f"__import__({_PROBE_MODULE!r}, fromlist=['_'])"
            f".install_reference({self.model_variable!r}, {payload!r})"))

    async def _keep_reply(self, cell, cell_index, execute_reply) -> None:
        self._last_reply = execute_reply

    async def _probe(self, expression: str) -> dict:
        kc = self._client.kc
        msg_id = kc.execute("", silent=True, store_history=False,
                            user_expressions={"probe": expression})
        try:
            reply = await self._client.async_wait_for_reply(msg_id)
        except DeadKernelError as error:
            raise KernelDied(str(error)) from None
        if reply is None:
            raise KernelHung("the kernel did not answer the probe")
        result = reply["content"].get("user_expressions", {}).get("probe", {})
        if result.get("status") != "ok":
            return {"probe_error": f"{result.get('ename', 'Error')}: {result.get('evalue', '')}"}
        return _parse_json_text(result["data"].get("text/plain", ""))


def _parse_json_text(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:  # IPython may print a str result as its repr; literal_eval only reads literals
            value = json.loads(ast.literal_eval(text))
        except (ValueError, SyntaxError, TypeError, json.JSONDecodeError):
            return {"probe_error": "the probe's answer was not JSON"}
    return value if isinstance(value, dict) else {"probe_error": "the probe's answer was not an object"}
