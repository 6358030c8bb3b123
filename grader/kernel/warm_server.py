"""The warm parent, inside its jail: it imports ipykernel, TensorFlow and Keras once (running no
TensorFlow op) and forks one IPython kernel per notebook, one at a time.

It takes requests as JSON lines on its standard input and answers on its standard output: pipes
that only the grading process that started the jail holds. A forked kernel closes both at once,
and the parent is not dumpable, so no kernel can reopen them through /proc or read the parent's
memory: nothing a kernel can reach can ask for a fork. A request names only a folder for the next
kernel; limits, environment and isolation are the jail's, fixed when the jail was made.
Runs as `python -m grader.kernel.warm_server KERAS_MAJOR JAIL_FOLDER`, with only the standard library,
ipykernel, TensorFlow and Keras to import.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import shutil
import signal
import sys
import time

PR_SET_DUMPABLE = 4
LINE_LIMIT = 4096  # the longest request the grader sends


def main(keras_major: int, root: str) -> None:
    if sys.path[:1] == [os.getcwd()]:  # `-m` put the parent's folder first: no kernel imports from there
        del sys.path[0]
    requests, answers = os.fdopen(os.dup(0), "rb", buffering=0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    _warm_up(keras_major)
    # Every forked kernel shares these objects with the parent: frozen, its garbage collector
    # leaves them alone instead of writing to (and so copying) each page of them.
    gc.freeze()
    _set_dumpable(False)
    children: dict[int, int | None] = {}
    _answer(answers, {"ok": True})
    while line := requests.readline(LINE_LIMIT):
        try:
            reply = _handle(json.loads(line), root, children, (requests.fileno(), answers))
        except (OSError, ValueError, KeyError, TypeError) as error:
            reply = {"error": f"{type(error).__name__}: {error}"}
        _answer(answers, reply)


def _warm_up(keras_major: int) -> None:
    import ipykernel.kernelapp  # noqa: F401
    import numpy  # noqa: F401
    # What a kernel's start imports (the debugger pulls in debugpy): 0.1 s of each kernel's start.
    import IPython.core.completerlib  # noqa: F401
    import IPython.core.debugger  # noqa: F401
    import IPython.core.oinspect  # noqa: F401
    import IPython.extensions.storemagic  # noqa: F401
    import ipykernel.debugger  # noqa: F401
    import ipykernel.ipkernel  # noqa: F401
    import ipykernel.zmqshell  # noqa: F401
    import tornado.platform.asyncio  # noqa: F401
    import tensorflow as tf

    import grader.kernel.probe  # noqa: F401
    if keras_major == 2:
        import tf_keras  # noqa: F401
    else:
        import keras  # noqa: F401
    tf.keras.models, tf.keras.layers  # noqa: B018 (resolve the lazy tf.keras modules now)


def _set_dumpable(dumpable: bool) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, int(dumpable), 0, 0, 0)


def _answer(fd: int, reply: dict) -> None:
    os.write(fd, json.dumps(reply).encode() + b"\n")


def _handle(message: dict, root: str, children: dict[int, int | None], control: tuple[int, int]) -> dict:
    op = message.get("op")
    if op == "ping":
        return {"ok": True}
    if op == "fork":
        return {"pid": _fork(_kernel_folder(root, message["folder"]), children, control)}
    if op == "wait":
        _reap(children)
        return {"status": children.get(int(message["pid"]))}
    if op == "signal":
        pid = int(message["pid"])
        if pid in children and children[pid] is None:
            os.kill(pid, int(message["signal"]))
        return {"ok": True}
    if op == "reset":
        return {"killed": _reset(children, root)}
    return {"error": "unknown request"}


def _kernel_folder(root: str, name: str) -> str:
    if not isinstance(name, str) or not name.isalnum():
        raise ValueError("a kernel's folder is a plain name")
    return os.path.join(root, name)


def _fork(folder: str, children: dict[int, int | None], control: tuple[int, int]) -> int:
    pid = os.fork()
    if pid == 0:
        _become_kernel(folder, control)
    children[pid] = None
    return pid


def _become_kernel(folder: str, control: tuple[int, int]) -> None:
    """In the forked child: drop the parent's pipes, then run an IPython kernel until shut down."""
    try:
        for fd in control:
            os.close(fd)
        os.setsid()
        _set_dumpable(True)  # the kernel's own /proc is its own; the parent stays closed
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(folder)
        # Its home is its own folder, so what it writes there (IPython's startup files, a
        # matplotlib or Keras configuration) is gone with it and never read by the next kernel.
        os.environ["HOME"] = folder
        for name in ("IPYTHONDIR", "MPLCONFIGDIR", "KERAS_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
            os.environ.pop(name, None)
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        app.initialize(["-f", os.path.join(folder, "connection.json"), "--HistoryManager.enabled=False"])
        app.start()
    finally:
        os._exit(0)


def _reap(children: dict[int, int | None]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid in children:
            children[pid] = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _reset(children: dict[int, int | None], root: str) -> int:
    """After a kernel: kill every other process of this PID namespace (whatever the kernel left
    running), and empty /tmp, /dev/shm and the kernels' folder (`root`, the only other place a
    kernel can write), so the next kernel finds the jail as new."""
    killed = 0
    for _ in range(250):
        others = [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) not in (1, os.getpid())]
        if not others:
            break
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        time.sleep(0.01)
        _reap(children)
    _reap(children)
    mounted = _mount_points()
    for shared in ("/tmp", "/dev/shm", root):
        _empty(shared, mounted)
    _remove_ipc_objects()
    return killed


def _empty(folder: str, mounted: set[str]) -> None:
    """Remove everything in `folder` but what the jail holds mounted there (its own folder, a
    venv or checkout under /tmp), and the folders leading to those, emptied of all else."""
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if path in mounted:
            continue
        if any(point.startswith(path + "/") for point in mounted):
            _empty(path, mounted)
        else:
            _remove(path)


def _mount_points() -> set[str]:
    """Where the jail has something mounted (bwrap's binds: under /tmp when the jail's folder, the
    checkout or a venv lie there)."""
    with open("/proc/self/mountinfo") as table:
        return {line.split()[4] for line in table if len(line.split()) > 4}


IPC_RMID = 0


def _remove_ipc_objects() -> None:
    """Remove the System V shared memory, message queues and semaphores a kernel made: they outlive
    their process (memory parked for the next kernel), and the jail's IPC namespace is the parent's."""
    libc = ctypes.CDLL(None, use_errno=True)
    removers = {"shm": lambda ident: libc.shmctl(ident, IPC_RMID, None),
                "msg": lambda ident: libc.msgctl(ident, IPC_RMID, None),
                "sem": lambda ident: libc.semctl(ident, 0, IPC_RMID)}
    for kind, remove in removers.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as table:
                rows = table.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 1 and fields[1].isdigit():
                remove(int(fields[1]))


def _remove(path: str) -> None:
    """Remove a file or a folder that a kernel may have made hard to remove (a folder without
    write or search permission for its owner)."""
    if os.path.isdir(path) and not os.path.islink(path):
        _writable(path)
        for top, folders, _ in os.walk(path):  # top-down: each folder is opened before its walk enters it
            for name in folders:
                _writable(os.path.join(top, name))
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def _writable(folder: str) -> None:
    try:
        os.chmod(folder, 0o700)
    except OSError:
        pass


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
