"""The sandbox a student's kernel runs in: resource limits, no network, a read-only system.

The kernel command is prefixed with `python -m grader.sandbox CONFIG --`: this small launcher
confines itself and then execs the kernel, so every limit holds for the kernel and for every
process it starts. It runs as a fresh process, never as a fork of the (threaded) grader.

- rlimits: address space, CPU time, size of a written file, no core files;
- network: a new network namespace with no interface up (as root, or through an unprivileged
  user namespace); the kernel talks to the grader over Unix sockets in its working directory;
- processes: a pids cgroup of its own (as root), else RLIMIT_NPROC above what the user runs now;
- as root: a mount namespace where everything but the working directory is read-only, and no
  capabilities left, so the kernel cannot remount, load modules or escape its cgroup.
What the launcher could apply is written to a small JSON file that the grader reads back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import resource
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

MiB = 1024 * 1024
GiB = 1024 * MiB

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
TOKEN_VARIABLE = "LSTM_GRADER_SANDBOX"
PIDS_CGROUP_ROOTS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup")


@dataclass(frozen=True)
class Limits:
    """Every limit on a student's notebook, with its default. The one place for these numbers."""

    memory_bytes: int = 4 * GiB  # address space of each kernel process
    cpu_seconds: int = 300  # CPU time of each kernel process
    file_size_bytes: int = 64 * MiB  # largest file the kernel may write
    processes: int = 256  # processes and threads of the sandbox user (when run as root)
    output_bytes: int = 2 * MiB  # output the grader keeps of one notebook
    cell_seconds: float = 60.0  # wall time of one cell
    notebook_seconds: float = 600.0  # wall time of the whole notebook, re-runs included
    network: bool = False  # True lets the kernel reach the network

    def describe(self, status: str) -> str:
        """The limit behind a status, in words and numbers, e.g. 'memory (4 GiB)'."""
        return {
            "memory_limit": _size(self.memory_bytes), "cpu_limit": f"{self.cpu_seconds} s",
            "file_size_limit": _size(self.file_size_bytes), "process_limit": str(self.processes),
            "output_limit": _size(self.output_bytes),
        }.get(status, "")


@dataclass(frozen=True)
class SandboxPlan:
    """What the launcher is asked to do for one kernel."""

    workdir: str
    token: str
    limits: Limits
    cgroup: str | None  # a pids cgroup made for this kernel, to join
    report: str  # where the launcher writes what it applied


def _size(size: int) -> str:
    return f"{size // GiB} GiB" if size % GiB == 0 else f"{size // MiB} MiB"


def make_pids_cgroup(token: str, processes: int) -> str | None:
    """A pids cgroup (v1 or v2) capped at `processes`, when this process may make one (root)."""
    for root in PIDS_CGROUP_ROOTS:
        if not os.path.exists(os.path.join(root, "cgroup.procs")):
            continue
        path = os.path.join(root, f"lstm-grader-{token}")
        try:
            os.mkdir(path)
            Path(path, "pids.max").write_text(str(processes))
            return path
        except OSError:
            remove_cgroup(path)
    return None


def remove_stale_cgroups() -> None:
    """Remove the empty cgroups a killed grader left behind (an empty one belongs to no kernel)."""
    for root in PIDS_CGROUP_ROOTS:
        for path in Path(root).glob("lstm-grader-*") if os.path.isdir(root) else ():
            if not _cgroup_pids(str(path)):
                remove_cgroup(str(path))


def remove_cgroup(path: str | None) -> None:
    if path:
        try:
            os.rmdir(path)
        except OSError:
            pass


def launcher_command(plan: SandboxPlan) -> list[str]:
    config = json.dumps({**asdict(plan), "limits": asdict(plan.limits)})
    return [sys.executable, "-m", "grader.sandbox", config, "--"]


def kernel_environment(plan: SandboxPlan, extra: dict[str, str]) -> dict[str, str]:
    """A scrubbed environment: nothing of the grader's but the locale, PATH and CPU quirks."""
    keep = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    grader_root = str(Path(__file__).resolve().parent.parent)
    env.update({
        "HOME": plan.workdir, "TMPDIR": plan.workdir, "PYTHONPATH": grader_root, "PYTHONNOUSERSITE": "1",
        "MPLBACKEND": "Agg", "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
        TOKEN_VARIABLE: plan.token,
    })
    env.update(extra)
    return env


def read_report(plan: SandboxPlan) -> dict:
    try:
        return json.loads(Path(plan.report).read_text())
    except (OSError, ValueError):
        return {}


def reap(token: str, cgroup: str | None, timeout: float = 5.0) -> int:
    """Kill every process of the sandbox: those in its cgroup, and those that carry its token.
    Repeats until none is left, so a fork bomb cannot outrun it. Returns how many it killed."""
    killed = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = set(_cgroup_pids(cgroup)) | {pid for pid in _pids() if _carries(pid, token)}
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        time.sleep(0.02)
    return killed


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) != os.getpid()]


def _cgroup_pids(cgroup: str | None) -> list[int]:
    try:
        return [int(pid) for pid in Path(cgroup, "cgroup.procs").read_text().split()] if cgroup else []
    except OSError:
        return []


def _carries(pid: int, token: str) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            return f"{TOKEN_VARIABLE}={token}".encode() in environ.read().split(b"\0")
    except OSError:
        return False


# --- the launcher, in the kernel's own process -------------------------------------------------

def apply(plan: SandboxPlan) -> dict:
    """Confine this process, then return what could be applied."""
    root = os.geteuid() == 0
    applied = {"network_isolated": plan.limits.network or _isolate_network(),
               "process_limit": _join_cgroup(plan.cgroup) if plan.cgroup else _limit_own_processes(plan.limits),
               "read_only_system": root and _read_only_system(plan.workdir)}
    _set_limits(plan.limits)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with EFBIG instead
    if root:
        applied["capabilities_dropped"] = _drop_capabilities()
    return applied


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _isolate_network() -> bool:
    libc = _libc()
    if libc.unshare(CLONE_NEWNET) == 0:
        return True
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        return False
    try:  # keep our own ids inside the new user namespace
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    except OSError:
        pass
    return True


def _join_cgroup(cgroup: str) -> bool:
    try:
        Path(cgroup, "cgroup.procs").write_text(str(os.getpid()))
        return True
    except OSError:
        return False


def _limit_own_processes(limits: Limits) -> bool:
    """RLIMIT_NPROC counts every task of the user, so allow what it runs now plus the limit."""
    if os.geteuid() == 0:
        return False  # root is exempt from RLIMIT_NPROC
    uid = os.getuid()
    running = 0
    for pid in _pids():
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                running += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            pass
    allowed = running + limits.processes
    resource.setrlimit(resource.RLIMIT_NPROC, (allowed, allowed))
    return True


def _read_only_system(workdir: str) -> bool:
    """In a new mount namespace, every mount read-only but the working directory."""
    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0 or libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    if libc.mount(workdir.encode(), workdir.encode(), None, MS_BIND, None) != 0:
        return False
    mount_points = sorted({line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()},
                          key=len)
    for point in mount_points:
        if point == workdir or point.startswith(("/proc", "/sys", "/dev")):
            continue
        libc.mount(None, point.encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY, None)
    os.chdir(workdir)  # step into the writable mount: the old working directory is read-only now
    return os.statvfs("/").f_flag & os.ST_RDONLY == os.ST_RDONLY


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> bool:
    """Root without capabilities: it cannot remount, change limits or leave its cgroup."""
    libc = _libc()
    for capability in range(64):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 and ctypes.get_errno() == 22:
            break  # EINVAL: past the last capability this kernel knows
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    return libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), (_CapData * 2)()) == 0


def _set_limits(limits: Limits) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_bytes, limits.file_size_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str]) -> None:
    config = json.loads(argv[1])
    command = argv[argv.index("--") + 1:]
    plan = SandboxPlan(**{**config, "limits": Limits(**config["limits"])})
    applied = apply(plan)
    try:
        Path(plan.report).write_text(json.dumps(applied))
    except OSError:
        pass
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv)
