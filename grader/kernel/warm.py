"""Warm kernels: a warm parent per Keras runtime and grading process, in a jail of its own
(grader/kernel/warm_server.py inside, this module outside), forks one kernel per notebook. Starting a
kernel then costs a fork instead of ~4 s of imports.

Each grading process (the single `grade`, or one batch worker) owns its warm parents and talks to
them over pipes that no kernel can reach. A parent serves one kernel at a time and is reset after
each (the kernel's leftovers killed, its /tmp and /dev/shm emptied), so a kernel never meets
another student's. The jail dies with the process that started it (`--die-with-parent`).

jupyter_client and nbclient run unchanged: `ForkProvisioner` replaces only how the kernel process
is started and watched.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import secrets
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from jupyter_client.provisioning import LocalProvisioner

from grader.keras_runtime import KerasRuntime
from grader.messages import escape_controls, text
from grader.kernel.sandbox import Limits, close_jail, jail_command, jail_environment, launcher_environment, open_jail

REQUEST_SECONDS = 10.0
POLL_SECONDS = 1.0  # how often a wait looks whether the parent still lives
REPLY_LIMIT = 4096


def start_seconds(limits: Limits) -> float:
    """How long a warm parent's start is waited for while it lives: as long as one notebook may run,
    and no less than its CPU time limit. The start is a few seconds of CPU that a loaded machine
    spreads over minutes, and a cold kernel started instead would do the same imports under the
    same load: only a parent that is stuck is given up."""
    return max(limits.notebook_seconds, float(limits.cpu_seconds))


class WarmUnavailable(Exception):
    """No warm parent could be had; the caller falls back to a cold kernel. Why: `reason(lang)`,
    from grader/messages.toml's [warm] section (str(): its key)."""

    def __init__(self, why: str, **fields: object) -> None:
        super().__init__(why)
        self.why, self.fields = why, fields

    def reason(self, lang: str) -> str:
        return text(f"warm.{self.why}", lang, **self.fields)


class WarmParent:
    """One warm parent in its jail, and the pipes to it."""

    def __init__(self, runtime: KerasRuntime, limits: Limits) -> None:
        self.jail = open_jail(limits, shared=True)
        env = jail_environment(self.jail, runtime.environment)
        command = [sys.executable, "-m", "grader.kernel.warm_server", str(runtime.major), self.jail.writable]
        self.process = subprocess.Popen(jail_command(self.jail, command, env), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        env=launcher_environment())
        self.ready = False

    def wait_ready(self) -> None:
        """Wait for the parent's start, as long as a loaded machine makes it take (`start_seconds`)."""
        if not self.ready:
            self.ready = self._read_reply(start_seconds(self.jail.limits)).get("ok") is True
            if not self.ready:
                raise WarmUnavailable("did_not_start")

    def new_folder(self) -> Path:
        """A fresh folder for the next kernel, inside the parent's jail."""
        folder = Path(self.jail.writable, secrets.token_hex(6))
        folder.mkdir()
        self.jail.own(folder)
        return folder

    def request(self, message: dict, timeout: float = REQUEST_SECONDS) -> dict:
        self.wait_ready()
        try:
            self.process.stdin.write(json.dumps(message).encode() + b"\n")
            self.process.stdin.flush()
        except OSError:
            raise WarmUnavailable("gone") from None
        return self._read_reply(timeout)

    def _read_reply(self, timeout: float) -> dict:
        """One reply line, within `timeout`: a parent that a kernel froze or killed, or that died,
        is given up (at once when it dies)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, min(left, POLL_SECONDS)))
            if ready or left <= POLL_SECONDS or not self.alive():
                break
        line = self.process.stdout.readline(REPLY_LIMIT) if ready else b""
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            why = self._no_reply(bool(ready), line, timeout)
            self.close()
            raise why
        return reply

    def _no_reply(self, ready: bool, line: bytes, timeout: float) -> WarmUnavailable:
        """Why no reply came: the parent ended, answered something unreadable, or stayed silent."""
        if ready and line:
            return WarmUnavailable("garbled")
        try:  # its pipe is seen closed a moment before the process can be waited for
            ended = self.process.wait(timeout=POLL_SECONDS) if ready else self.process.poll()
        except subprocess.TimeoutExpired:
            ended = None
        if ended is None:
            return WarmUnavailable("silent", seconds=f"{timeout:g}")
        return WarmUnavailable("killed" if ended < 0 else "ended", status=abs(ended))

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()  # bwrap's death ends the jail's PID namespace, and all in it
            self.process.wait()
        close_jail(self.jail)


_parents: dict[tuple[KerasRuntime, Limits], WarmParent] = {}
_failed: set[tuple[KerasRuntime, Limits]] = set()


def warm_parent(runtime: KerasRuntime, limits: Limits) -> WarmParent:
    """This process's warm parent for a Keras runtime and limits, started on first use."""
    key = (runtime, limits)
    parent = _parents.get(key)
    if parent is not None and not parent.alive():
        parent.close()
        parent = None
    if parent is None:
        if key in _failed:
            raise WarmUnavailable("failed_before")
        _close_other_limits(runtime, limits)
        parent = _parents[key] = WarmParent(runtime, limits)
    try:
        parent.wait_ready()
    except WarmUnavailable:
        _failed.add(key)
        del _parents[key]
        raise
    return parent


def _close_other_limits(runtime: KerasRuntime, limits: Limits) -> None:
    """One parent per Keras runtime: a parent made for other limits is closed (a parent holds
    some 300 MB, and a class is graded under one set of limits)."""
    for key in [key for key in _parents if key[0] == runtime and key[1] != limits]:
        _parents.pop(key).close()


def start_warm_parent(runtime: KerasRuntime, limits: Limits) -> None:
    """Start a warm parent without waiting for it (from the process's main thread: the jail dies
    with the thread that starts it)."""
    if (runtime, limits) not in _parents:
        _parents[runtime, limits] = WarmParent(runtime, limits)


@atexit.register
def stop_warm_parents() -> None:
    while _parents:
        _parents.popitem()[1].close()


class _ForkedProcess:
    """Enough of Popen for jupyter_client to watch a kernel a warm parent forked."""

    stdin = stdout = stderr = None

    def __init__(self, parent: WarmParent, pid: int) -> None:
        self.parent, self.pid, self.returncode = parent, pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                self.returncode = self.parent.request({"op": "wait", "pid": self.pid}).get("status")
            except WarmUnavailable:  # the parent is gone, and its kernel with it
                self.returncode = -signal.SIGKILL
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("warm kernel", timeout)
            time.sleep(0.01)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        try:
            self.parent.request({"op": "signal", "pid": self.pid, "signal": int(signum)})
        except WarmUnavailable:
            pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class ForkProvisioner(LocalProvisioner):
    """Starts the kernel as a child of a warm parent instead of a new process."""

    warm: WarmParent | None = None
    folder: Path | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs):
        reply = self.warm.request({"op": "fork", "folder": self.folder.name})
        if not isinstance(reply.get("pid"), int):
            raise WarmUnavailable("fork_failed", error=escape_controls(reply.get("error", "?"))[:200])
        self.process = _ForkedProcess(self.warm, reply["pid"])
        self.pid = self.pgid = None  # a pid inside the jail's namespace: only the parent may signal it
        self.cwd = kwargs.get("cwd")
        return self.connection_info

    async def send_signal(self, signum: int) -> None:
        if self.process is not None:
            self.process.send_signal(signum)

    async def kill(self, restart: bool = False) -> None:
        if self.process is not None:
            self.process.kill()

    async def terminate(self, restart: bool = False) -> None:
        if self.process is not None:
            self.process.terminate()

    async def wait(self) -> int | None:
        """Like LocalProvisioner.wait, polling every 10 ms instead of 100 ms."""
        while self.process is not None and await self.poll() is None:
            await asyncio.sleep(0.01)
        self.process = None
        return 0

    async def cleanup(self, restart: bool = False) -> None:
        """The kernel is gone: kill what it left in the jail and empty the jail's /tmp."""
        try:
            self.warm.request({"op": "reset"}, timeout=30)
        except WarmUnavailable:
            pass
        await super().cleanup(restart)
