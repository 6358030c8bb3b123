"""Run notebook code in a fresh kernel with nbclient, and read the model after every run.

The probe travels in the `user_expressions` of a separate, silent execute request, so no cell
of the student's can see, reorder or pre-empt it. What comes back is JSON text, parsed here as
data; nothing from the kernel is ever unpickled or evaluated.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path
from queue import Empty
from typing import TypeVar

import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from grader.keras_runtime import KerasRuntime
from grader.kernel.probe import REPLY_BYTES, ProbeChannel, probe_expression, reply_size
from grader.kernel.sandbox import Jail, Limits, close_jail, describe_jail, jail_command, jail_environment, \
    launcher_environment, open_jail, process_limit_events
from grader.kernel.usage import measure
from grader.kernel.warm import ForkProvisioner, WarmParent, start_seconds
from grader.layer_kinds import probed_attributes
from grader.runs import CellRun, ErrorInfo
from grader.snapshot import Snapshot, parse_snapshot
from grader.spec import Policy

_PROBE_MODULE = "grader.kernel.probe"
_MEMORY_ERRORS = ("MemoryError", "_ArrayMemoryError", "ResourceExhaustedError")
# How often the kernel's working folder is measured while it runs code: at about 5,000 files a
# second, what one interval adds is a quarter of the default bound on entries.
FOLDER_POLL_SECONDS = 0.5
T = TypeVar("T")


class LimitReached(Exception):
    """A limit ended the notebook: `status` names it; `run` is the cell that hit it, if any."""

    def __init__(self, status: str, run: CellRun | None = None, detail: str = "") -> None:
        super().__init__(status)
        self.status, self.run, self.detail = status, run, detail


def limit_hit(error: ErrorInfo) -> str | None:
    """The status of the limit a cell's error shows, if it shows one."""
    if error.ename == "TimeoutError" and not error.traceback:
        return "timeout"  # nbclient's own reply for a cell past its time
    if error.ename in _MEMORY_ERRORS or "Unable to allocate" in error.evalue:
        return "memory_limit"
    if "[Errno 27]" in error.evalue:  # EFBIG: a file grew past RLIMIT_FSIZE
        return "file_size_limit"
    if "[Errno 11]" in error.evalue or "can't start new thread" in error.evalue:  # EAGAIN on fork
        return "process_limit"
    return None


def _start_failed(error: str) -> LimitReached:
    """A kernel whose start (importing Keras, before any of the notebook's code) failed: under the
    memory limit, or for a reason the error names."""
    memory = any(sign in error for sign in (*_MEMORY_ERRORS, "Unable to allocate", "failed to map segment",
                                            "bad_alloc", "Cannot allocate memory", "out of memory"))
    if memory:
        return LimitReached("memory_limit", detail="start")
    return LimitReached("kernel_died", detail=error.splitlines()[0][:200] if error else "")


class _OutputLimitedClient(NotebookClient):
    """nbclient keeping at most `output_bytes` of a notebook's output; past it, the cell is
    interrupted and the rest is dropped."""

    def __init__(self, *args, output_bytes: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.output_bytes = output_bytes
        self.output_seen = 0
        self.output_exceeded = False

    def output(self, outs, msg, display_id, cell_index):
        self.output_seen += len(json.dumps(msg.get("content", {})))
        if self.output_seen <= self.output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if not self.output_exceeded:
            self.output_exceeded = True
            asyncio.ensure_future(self.km.interrupt_kernel())
        return None


class QuickReadyClient(AsyncKernelClient):
    """jupyter_client's client, but ready as soon as the kernel answers: its wait_for_ready ends by
    waiting for 0.2 s of silence on IOPub, a fifth of a warm kernel's whole life. Cells filter
    IOPub by their own message ids, so what is still in flight there does not matter."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or 60)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                # IOPub is connected once it delivers anything (ipykernel welcomes subscribers, and
                # each request publishes the kernel's status): ask again soon rather than wait long.
                try:
                    await self.iopub_channel.get_msg(timeout=0.03)
                    self._handle_kernel_info_reply(reply)
                    return
                except Empty:
                    pass
            if not await self.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the kernel did not become ready")


class _JailedKernelManager(AsyncKernelManager):
    """Starts the kernel inside its jail, over Unix sockets in its working folder. Interrupts travel
    as messages: no signal from the grader's side needs to reach into the jail."""

    def __init__(self, jail: Jail, workdir: str, env: dict[str, str], **kwargs) -> None:
        super().__init__(transport="ipc", ip=os.path.join(workdir, "kernel"),
                         connection_file=os.path.join(workdir, "connection.json"),
                         client_class="grader.kernel.execute.QuickReadyClient", **kwargs)
        self.jail, self.jail_env = jail, env
        self.kernel_spec.interrupt_mode = "message"

    def write_connection_file(self, **kwargs) -> None:
        super().write_connection_file(**kwargs)
        self.jail.own(self.connection_file)  # written 0600 by the grader, read by the jail's user

    def format_kernel_cmd(self, extra_arguments=None):
        return jail_command(self.jail, super().format_kernel_cmd(extra_arguments), self.jail_env)


class KernelSession:
    """A fresh, sandboxed kernel for one notebook: `async with KernelSession(...) as session`."""

    def __init__(self, *, runtime: KerasRuntime, limits: Limits, model_variable: str,
                 files: list[tuple[Path, str]] = (), warm: WarmParent | None = None,
                 policy: Policy = Policy(), deadline: float | None = None) -> None:
        self.runtime = runtime
        self.limits = limits
        self.model_variable = model_variable
        self.policy = policy
        self.keras_version: str | None = None  # as the kernel reports it, e.g. "3.15.1"
        self.isolation: dict = {}
        self._files = files
        self._warm = warm
        # A warm kernel lives in a fresh folder of its parent's jail; a cold one in a jail of its own.
        self._jail = warm.jail if warm is not None else open_jail(limits)
        self._workdir = str(warm.new_folder()) if warm is not None else self._jail.workdir
        env = jail_environment(self._jail, runtime.environment)
        self._client = _OutputLimitedClient(
            nbformat.v4.new_notebook(), km=_JailedKernelManager(self._jail, self._workdir, env, kernel_name="python3"),
            timeout=limits.cell_seconds, allow_errors=True, interrupt_on_timeout=True,
            error_on_timeout={"ename": "TimeoutError", "evalue": "", "traceback": []},
            record_timing=False, on_cell_executed=self._keep_reply, output_bytes=limits.output_bytes,
            startup_timeout=int(start_seconds(limits)))
        if warm is not None:
            self._fork_from(warm)
        self._last_reply: dict | None = None
        self._grading_deadline = deadline  # the end of the notebook's whole grading (grader/grade.py)
        self._deadline = self._notebook_deadline()
        self._forks_refused = process_limit_events(self._jail.cgroups)  # a warm jail's count goes on
        self._probe_channel = ProbeChannel()
        self._probe_seen = 0
        self._last_snapshot: tuple[dict, Snapshot] | None = None

    def _fork_from(self, warm: WarmParent) -> None:
        """Have the kernel forked by a warm parent instead of started afresh."""
        km = self._client.km
        km.kernel_id = str(uuid.uuid4())
        provisioner = ForkProvisioner(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km)
        provisioner.warm, provisioner.folder = warm, Path(self._workdir)
        km.provisioner = provisioner

    async def __aenter__(self) -> KernelSession:
        for source, name in self._files:
            target = os.path.join(self._workdir, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(source, target)
            self._jail.own(target)
        try:
            # The kernel's own stderr (TensorFlow's start-up logs) is noise and never decides a
            # grade: what a cell prints reaches us through the protocol instead.
            await self._client.async_start_new_kernel(
                env=launcher_environment(), cwd=self._workdir,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                await self._client.async_start_new_kernel_client()
            except RuntimeError:  # the kernel never answered: it could not start
                raise LimitReached("kernel_died", detail="did not start") from None
            self.isolation = describe_jail(self._jail)
            # Before any student code runs, so a plain import is safe here and only here.
            info = await self._probe(f"__import__({_PROBE_MODULE!r}, fromlist=['_']).Probe.install()",
                                     starting=True)
            if not isinstance(info.get("keras_version"), str):
                raise _start_failed(str(info.get("probe_error", "")))
            self._deadline = self._notebook_deadline()  # the notebook's time starts now
            self.keras_version = info["keras_version"]
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    def _notebook_deadline(self) -> float:
        """When the notebook's time is up: its own time from now, or sooner the end of its grading."""
        own = time.monotonic() + self.limits.notebook_seconds
        return own if self._grading_deadline is None else min(own, self._grading_deadline)

    async def close(self) -> None:
        """Stop the kernel, kill whatever it started, and remove its working folder (a cold
        kernel's whole jail; a warm kernel's folder, its parent having reset the jail)."""
        km = self._client.km
        try:
            if self._client.kc is not None:
                self._client.kc.stop_channels()
            if km.has_kernel:
                await self._kill_now(km.provisioner)
                await km.shutdown_kernel(now=True)
        except Exception:  # the kernel may be half-started or already gone: the jail ends it
            pass
        finally:
            if self._warm is None:
                close_jail(self._jail)
            else:
                shutil.rmtree(self._workdir, ignore_errors=True)

    @staticmethod
    async def _kill_now(provisioner) -> None:
        """Kill the kernel and see it gone within milliseconds; jupyter_client alone polls every 100 ms.
        Once it is gone, the provisioner lets go of it, so that shutting down sends the dead kernel
        no interrupt (whose socket would then linger 100 ms)."""
        await provisioner.kill()
        for _ in range(200):
            if await provisioner.poll() is not None:
                await provisioner.wait()
                return
            await asyncio.sleep(0.005)

    async def run(self, source: str, cell_index: int) -> CellRun:
        """Execute `source` as a cell, then take a snapshot of the model. Raises LimitReached."""
        cell = nbformat.v4.new_code_cell(source)
        self._client.nb.cells = [cell]
        self._last_reply = None
        binding = self._set_time_limit()
        try:
            await self._watching_folder(self._client.async_execute_cell(cell, 0))
        except DeadKernelError:
            raise LimitReached(self._death_status(), CellRun(cell_index, source, [dict(o) for o in cell.outputs]),
                               self._death_signal()) from None
        except LimitReached as limit:  # the folder's: the cell that filled it is kept, as far as it ran
            raise LimitReached(limit.status, CellRun(cell_index, source, [dict(o) for o in cell.outputs]),
                               limit.detail) from None
        run = CellRun(cell_index=cell_index, source=source, outputs=[dict(o) for o in cell.outputs])
        content = (self._last_reply or {}).get("content", {})
        if content.get("status") == "error":
            run.error = ErrorInfo.from_content(content)
        status = "output_limit" if self._client.output_exceeded else (limit_hit(run.error) if run.error else None)
        if status == "timeout" and self._hit_process_limit():
            status = "process_limit"  # a fork bomb slowed the cell past its time: the cause is the bomb
        if status:
            raise LimitReached(status, run, binding if status == "timeout" else "")
        if past := await self._folder_past_limit():  # what the cell wrote since the last measure
            await self._kill_now(self._client.km.provisioner)
            raise LimitReached("disk_limit", run, past)
        run.snapshot = await self.snapshot()
        return run

    async def _watching_folder(self, request: Awaitable[T]) -> T:
        """Await `request` (a cell, or a probe, which may run the notebook's code), measuring the
        kernel's working folder every FOLDER_POLL_SECONDS meanwhile. Past either bound, the kernel is
        killed at once, so the folder grows by at most what one interval adds, and LimitReached
        says which bound ("disk" or "files")."""
        task = asyncio.ensure_future(request)
        try:
            while not (await asyncio.wait({task}, timeout=FOLDER_POLL_SECONDS))[0]:
                if past := await self._folder_past_limit():
                    await self._kill_now(self._client.km.provisioner)
                    raise LimitReached("disk_limit", detail=past)
        finally:
            if not task.done():  # the limit, or the grading's own end, leaves the request unanswered
                task.cancel()
                await asyncio.wait({task})  # at once: nbclient turns the cancellation into DeadKernelError
                if not task.cancelled():
                    task.exception()  # retrieved: the kernel's death is the limit's doing
        return task.result()

    async def _folder_past_limit(self) -> str | None:
        """Which bound of the kernel's working folder is passed, if any. A warm kernel can write in
        all of its jail's `kernels` folder, which holds one kernel's folder at a time: that is measured."""
        limits = self.limits
        usage = await asyncio.to_thread(measure, self._jail.writable, limits.folder_bytes, limits.folder_entries)
        return usage.past(limits.folder_bytes, limits.folder_entries)

    def _set_time_limit(self) -> str:
        """Give the next request what is left of the notebook's time, at most a cell's time.
        Returns which of the two limits binds: "cell" or "notebook"."""
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise LimitReached("timeout", detail="notebook")
        self._client.timeout = max(1, int(min(self.limits.cell_seconds, left)))
        return "cell" if self.limits.cell_seconds <= left else "notebook"

    def _death_signal(self) -> str:
        process = getattr(self._client.km.provisioner, "process", None)
        code = process.poll() if process is not None else None
        if code is not None and code > 128 and self._warm is None:
            code = 128 - code  # bwrap exits with 128 + the signal that killed the kernel
        try:
            return signal.Signals(-code).name if code is not None and code < 0 else ""
        except ValueError:
            return ""

    def _death_status(self) -> str:
        if self._hit_process_limit():
            return "process_limit"
        return "cpu_limit" if self._death_signal() == "SIGXCPU" else "kernel_died"

    def _hit_process_limit(self) -> bool:
        """Did the jail's pids cgroup refuse a fork during this session? A fork bomb ends in an
        error, a timeout or a dead kernel depending on the machine's load; this does not."""
        return process_limit_events(self._jail.cgroups) > self._forks_refused

    async def snapshot(self) -> Snapshot:
        """The model after the last cell. An answer equal to the one before is the same Snapshot,
        so ten thousand cells that change nothing hold one."""
        name, find, attributes = self.model_variable, self.policy.find_model, json.dumps(probed_attributes())
        data = await self._probe(probe_expression(f"snapshot({name!r}, {find!r}, {attributes!r})"))
        if self._last_snapshot is not None and self._last_snapshot[0] == data:
            return self._last_snapshot[1]
        snapshot = self._parse(data)
        self._last_snapshot = (data, snapshot)
        return snapshot

    async def install_reference(self, layers: list[dict]) -> Snapshot:
        """Bind the model variable to a reference model made of `layers` (and the exercise's given
        names the notebook lacks to the real Keras objects)."""
        payload, given = json.dumps(layers), json.dumps(list(self.policy.given_names))
        attributes = json.dumps(probed_attributes())
        return self._parse(await self._probe(probe_expression(
            f"install_reference({self.model_variable!r}, {payload!r}, {given!r}, {attributes!r})")))

    def _parse(self, data: dict) -> Snapshot:
        return parse_snapshot(data, self.policy.pass_through)

    async def _keep_reply(self, cell, cell_index, execute_reply) -> None:
        self._last_reply = execute_reply

    async def _probe(self, expression: str, *, starting: bool = False) -> dict:
        """Ask the probe. Its replies count against a budget of their own (Limits.probe_bytes), never
        against the notebook's output; a reply past REPLY_BYTES, or one not signed for this very
        request with this session's key, is a probe_error. While the kernel is `starting` (the
        probe's install imports Keras), no limit of the notebook's applies."""
        request, nonce = self._probe_channel.request(expression)  # the first request carries the key
        if starting:
            # a kernel's start, before any of the notebook's code: not the notebook's time, and as
            # long as a loaded machine makes it take
            self._client.timeout, binding = int(start_seconds(self.limits)), "cell"
        else:
            binding = self._set_time_limit()
        kc = self._client.kc
        msg_id = kc.execute("", silent=True, store_history=False, user_expressions={"probe": request})
        try:
            waiting = self._client.async_wait_for_reply(msg_id)
            reply = await (waiting if starting else self._watching_folder(waiting))
        except DeadKernelError:
            raise LimitReached(self._death_status(), detail=self._death_signal()) from None
        if reply is None:  # the kernel stopped answering, even to the probe
            raise LimitReached("process_limit" if self._hit_process_limit() else "timeout", detail=binding)
        size = reply_size(reply.get("content"), REPLY_BYTES)
        self._probe_seen += size
        if self._probe_seen > self.limits.probe_bytes:
            raise LimitReached("output_limit", detail="probe")
        if size > REPLY_BYTES:
            return {"probe_error": "the probe's answer was too large"}
        return self._probe_channel.open(reply.get("content"), nonce)

