"""Warm kernels: a long-lived parent per Keras runtime that has imported ipykernel, TensorFlow and
Keras (and run no TensorFlow op) forks one child per notebook; the child confines itself with the
same sandbox as a cold kernel and becomes a plain IPython kernel on the connection file
jupyter_client wrote. Starting a kernel then costs a fork instead of ~4 s of imports.

jupyter_client and nbclient run unchanged: `ForkProvisioner` replaces only how the kernel process
is started and watched. The server talks JSON lines over a Unix socket; it exits when the process
that owns it is gone, so a killed batch leaves no warm parent behind.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from jupyter_client.provisioning import LocalProvisioner

from grader.sandbox import Limits, SandboxPlan, apply

START_SECONDS = 60.0
_BASE_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1",
             "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "MPLBACKEND": "Agg"}


@dataclass(frozen=True)
class Warm:
    """Where the warm parents of a batch live, and the process they belong to."""

    run_dir: Path
    owner: int


class WarmUnavailable(Exception):
    """No warm parent could be had; the caller falls back to a cold kernel."""


def ensure_server(run_dir: Path, keras_major: int, owner: int) -> Path:
    """The socket of the warm parent for `keras_major` in `run_dir`, started if none runs yet.
    Workers of one batch share it; a lock makes sure only one of them starts it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / f"keras{keras_major}.sock"
    with open(run_dir / f"keras{keras_major}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers(path):
            return path
        if (run_dir / f"keras{keras_major}.failed").exists():
            raise WarmUnavailable("the warm parent failed to start before")
        subprocess.Popen([sys.executable, "-m", "grader.warm", str(path), str(keras_major), str(owner)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if _answers(path):
                return path
            time.sleep(0.1)
        (run_dir / f"keras{keras_major}.failed").touch()
        raise WarmUnavailable("the warm parent did not start")


def request(path: Path, message: dict, timeout: float = 30.0) -> dict:
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(timeout)
        connection.connect(str(path))
        connection.sendall(json.dumps(message).encode() + b"\n")
        return json.loads(connection.makefile().readline())


def _answers(path: Path) -> bool:
    try:
        return request(path, {"op": "ping"}, timeout=2).get("ok") is True
    except (OSError, ValueError):
        return False


class _ForkedProcess:
    """Enough of Popen for jupyter_client to watch a kernel the warm parent forked."""

    stdin = stdout = stderr = None

    def __init__(self, server: Path, pid: int) -> None:
        self.server, self.pid, self.returncode = server, pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                self.returncode = request(self.server, {"op": "wait", "pid": self.pid}).get("status")
            except (OSError, ValueError):  # the parent is gone, and its children with it
                self.returncode = -signal.SIGKILL if not Path(f"/proc/{self.pid}").exists() else None
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("warm kernel", timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class ForkProvisioner(LocalProvisioner):
    """Starts the kernel as a child of the warm parent instead of a new process."""

    server: Path | None = None
    plan: SandboxPlan | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs):
        reply = request(self.server, {"op": "fork", "connection_file": self.parent.connection_file,
                                      "env": kwargs.get("env", {}), "plan": _plan_data(self.plan)})
        if "pid" not in reply:
            raise WarmUnavailable(reply.get("error", "fork failed"))
        self.process = _ForkedProcess(self.server, reply["pid"])
        self.pid = self.pgid = reply["pid"]  # the child leads a session of its own
        self.cwd = kwargs.get("cwd")
        return self.connection_info

    async def wait(self) -> int | None:
        """Like LocalProvisioner.wait, polling every 10 ms instead of 100 ms."""
        while self.process is not None and await self.poll() is None:
            await asyncio.sleep(0.01)
        self.process = None
        return 0


def _plan_data(plan: SandboxPlan) -> dict:
    return asdict(plan)


def stop_servers(run_dir: Path) -> None:
    for path in run_dir.glob("keras*.sock"):
        try:
            request(path, {"op": "stop"}, timeout=5)
        except (OSError, ValueError):
            pass


# --- the warm parent ------------------------------------------------------------------------

def serve(path: Path, keras_major: int, owner: int) -> None:
    os.environ.update(_BASE_ENV)
    os.environ.pop("TF_USE_LEGACY_KERAS", None)
    if keras_major == 2:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
    _warm_up(keras_major)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(64)
    listener.settimeout(1.0)
    statuses: dict[int, int] = {}
    running = [True]
    while running[0] and _alive(owner):
        try:
            connection, _ = listener.accept()
        except socket.timeout:
            _reap(statuses)
            continue
        with connection:
            connection.settimeout(10)
            try:
                message = json.loads(connection.makefile().readline())
                reply = _handle(message, listener, connection, statuses)
                running[0] = message.get("op") != "stop"
            except (OSError, ValueError) as error:
                reply = {"error": str(error)}
            try:
                connection.sendall(json.dumps(reply).encode() + b"\n")
            except OSError:
                pass
    path.unlink(missing_ok=True)


def _warm_up(keras_major: int) -> None:
    """Import everything a kernel and the exercise need, running no TensorFlow op."""
    import ipykernel.kernelapp  # noqa: F401
    import numpy  # noqa: F401
    import tensorflow as tf

    import grader.kernel_probe  # noqa: F401
    if keras_major == 2:
        import tf_keras  # noqa: F401
    else:
        import keras  # noqa: F401
    tf.keras.models, tf.keras.layers  # noqa: B018 (resolve the lazy tf.keras modules now)


def _handle(message: dict, listener: socket.socket, connection: socket.socket, statuses: dict) -> dict:
    if message.get("op") in ("ping", "stop"):
        return {"ok": True}
    if message.get("op") == "wait":
        _reap(statuses)
        pid = int(message["pid"])
        return {"status": statuses.get(pid)} if pid in statuses or not _running(pid) else {"status": None}
    if message.get("op") == "fork":
        pid = os.fork()
        if pid == 0:
            _become_kernel(message, listener, connection)
        return {"pid": pid}
    return {"error": "unknown request"}


def _become_kernel(message: dict, listener: socket.socket, connection: socket.socket) -> None:
    """In the forked child: confine, then run an IPython kernel until it is shut down."""
    try:
        listener.close()
        connection.close()
        os.setsid()
        os.environ.clear()
        os.environ.update(message["env"])
        os.environ["JPY_PARENT_PID"] = str(os.getppid())  # the kernel ends when its parent does
        data = message["plan"]
        plan = SandboxPlan(**{**data, "limits": Limits(**data["limits"])})
        os.chdir(plan.workdir)
        applied = apply(plan)
        Path(plan.report).write_text(json.dumps(applied))
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        app.initialize(["-f", message["connection_file"], "--HistoryManager.enabled=False"])
        app.start()
    finally:
        os._exit(0)


def _reap(statuses: dict[int, int]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        statuses[pid] = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
