"""The jail a student's kernel runs in: bubblewrap (Debian's `bubblewrap`, the sandbox Flatpak uses).

Every kernel, cold or warm, runs inside a jail made by `jail_command`:
- its own user, PID, mount, network, IPC, UTS and cgroup namespaces (`bwrap --unshare-all`), with
  nested user namespaces disabled and no capabilities;
- as root, the jail runs as the unprivileged `lstm-grader-kernel` user (`setpriv`), which owns
  nothing on the host; as an ordinary user, as that user (who is the only one the kernel can be);
- a new root holding, read-only, only `/usr`, the Python installation and its packages, the two
  grader modules a kernel needs (KERNEL_SIDE_MODULES), and the few files of `/etc` that libraries read; its working
  folder, writable; a private `/tmp` and `/dev/shm` of bounded size; a minimal `/dev`; a `/proc`
  of its own PID namespace (whose `/proc/sys` is read-only to it); no `/sys`;
- the environment is replaced, not filtered (`--clearenv`), so `/proc/self/environ` holds no secret;
- a seccomp filter (grader/kernel/seccomp.py) refuses the system calls a notebook has no use for;
- rlimits through `prlimit`; as root, a memory and a pids cgroup per jail, joined before bwrap starts;
- `--die-with-parent`: the jail dies with the process that started it.
The kernel talks to the grader over Unix sockets in its working folder, bound at the same path.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from grader.kernel.seccomp import filter_path

MiB = 1024 * 1024
GiB = 1024 * MiB

KERNEL_USER = "lstm-grader-kernel"  # the host user a jail runs as when the grader is root
TOKEN_VARIABLE = "LSTM_GRADER_SANDBOX"
JAIL_PYTHONPATH = "/opt/lstm-grader"  # where the kernel-side grader modules appear in a jail
KERNEL_SIDE_MODULES = ("__init__.py", "kernel/__init__.py", "kernel/probe.py", "kernel/warm_server.py")
CGROUP_ROOT = Path("/sys/fs/cgroup")
WORK_PREFIX = "lstm-grader-"  # host folders of jails: lstm-grader-<grader pid>-<hex>-*
SECCOMP_FD = 9
KERNELS_FOLDER = "kernels"  # in a warm jail's working folder: the only place its kernels may write
_ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts")


@dataclass(frozen=True)
class Limits:
    """Every limit on a student's notebook, with its default. The one place for these numbers."""

    memory_bytes: int = 4 * GiB  # address space of each kernel process
    cpu_seconds: int = 300  # CPU time of each kernel process
    file_size_bytes: int = 64 * MiB  # largest file the kernel may write
    processes: int = 256  # processes and threads of one jail
    output_bytes: int = 2 * MiB  # output the grader keeps of one notebook
    probe_bytes: int = 64 * MiB  # the probe's replies about one notebook's model: our bookkeeping, not its output
    cell_seconds: float = 60.0  # wall time of one cell
    notebook_seconds: float = 600.0  # wall time of the whole notebook, re-runs included
    tmpfs_bytes: int = 256 * MiB  # size of the jail's private /tmp, and of its /dev/shm
    # The kernel's working folder, measured by the grader (grader/kernel/usage.py): room for the data
    # files copied in (100 MiB at most), a saved model or checkpoints of every epoch, CSVs and plots,
    # many times over; and far more entries than a SavedModel, checkpoints and logs ever make.
    folder_bytes: int = GiB  # all it may hold
    folder_entries: int = 20_000  # files, folders and links in it
    network: bool = False  # True lets the kernel reach the network

    def describe(self, status: str) -> str:
        """The limit behind a status, in words and numbers, e.g. 'memory (4 GiB)'."""
        return {
            "memory_limit": _size(self.memory_bytes), "cpu_limit": f"{self.cpu_seconds} s",
            "file_size_limit": _size(self.file_size_bytes), "process_limit": str(self.processes),
            "output_limit": _size(self.output_bytes), "probe": _size(self.probe_bytes),
            "disk_limit": _size(self.folder_bytes), "files": str(self.folder_entries),
        }.get(status, "")

    def cgroup_memory_bytes(self) -> int:
        """The jail's whole memory: one kernel's, both tmpfs, and room for a warm parent."""
        return self.memory_bytes + 2 * self.tmpfs_bytes + GiB


@dataclass(frozen=True)
class Jail:
    """One jail around a kernel or a warm parent, and what the grader made for it on the host."""

    token: str
    workdir: str  # host folder, writable inside at the same path
    limits: Limits
    cgroups: tuple[str, ...]  # memory and pids cgroups (root only); joined before bwrap starts
    uid: int | None  # host user the jail runs as; None: the grader's own
    shared: bool = False  # a warm parent's: kernels write only in their own folders under `kernels`

    @property
    def writable(self) -> str:
        """The one host folder the jail may write to: its working folder, or a warm jail's kernels."""
        return os.path.join(self.workdir, KERNELS_FOLDER) if self.shared else self.workdir

    def own(self, path: str | Path) -> None:
        """Give a file or folder the grader made for the jail to the jail's user."""
        if self.uid is not None:
            os.chown(path, self.uid, _kernel_gid())


class JailUnavailable(Exception):
    """This machine cannot make a jail: bubblewrap missing, or no kernel user as root."""


def _size(size: int) -> str:
    if size % GiB == 0:
        return f"{size // GiB} GiB"
    return f"{size // MiB} MiB" if size % MiB == 0 else f"{size // 1024} KiB"


def open_jail(limits: Limits, shared: bool = False) -> Jail:
    """Make the host side of a new jail: its working folder, and its cgroups when root. A `shared`
    jail (a warm parent's, whose kernels follow one another) sees its working folder read-only
    and writes only under its `kernels` folder, which is emptied after each kernel."""
    check_jail_tools()
    token = f"{os.getpid()}-{secrets.token_hex(6)}"  # whose jail it is, and which
    workdir = tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{token}-")
    uid = _kernel_uid() if os.geteuid() == 0 else None
    jail = Jail(token=token, workdir=workdir, limits=limits, cgroups=_make_cgroups(token, limits), uid=uid,
                shared=shared)
    if shared:
        os.chmod(workdir, 0o755)  # read-only inside (the bind says so); the jail's user passes through
        os.mkdir(jail.writable)
    jail.own(jail.writable)
    return jail


def check_jail_tools() -> None:
    """Raise JailUnavailable, with what to do, when this machine cannot make a jail."""
    if shutil.which("bwrap", path=launcher_environment()["PATH"]) is None:
        raise JailUnavailable("bubblewrap (bwrap) is not installed: run `make install` as root")
    if os.geteuid() == 0:
        _kernel_uid()


def _kernel_uid() -> int:
    try:
        return pwd.getpwnam(KERNEL_USER).pw_uid
    except KeyError:
        raise JailUnavailable(f"the user {KERNEL_USER} does not exist: run `make install` as root") from None


def _kernel_gid() -> int:
    return grp.getgrnam(KERNEL_USER).gr_gid


def jail_command(jail: Jail, command: list[str], env: dict[str, str]) -> list[str]:
    """The command that runs `command` inside `jail` with exactly the environment `env`."""
    return [*_shell(jail), *_switch_user(jail), *_rlimits(jail.limits), *_bwrap(jail, env), *_own_nproc(jail.limits),
            *command]


def _shell(jail: Jail) -> list[str]:
    """sh joins the jail's cgroups (as root, before anything else starts) and opens the seccomp
    program on descriptor SECCOMP_FD for bwrap, then execs the rest of the chain."""
    joins = "".join(f"echo $$ > {shlex.quote(str(Path(group, 'cgroup.procs')))} && " for group in jail.cgroups)
    program = filter_path()
    seccomp = f" {SECCOMP_FD}< {shlex.quote(program)}" if program else ""
    return ["/bin/sh", "-c", f'{joins}exec "$@"{seccomp}', "sh"]


def _switch_user(jail: Jail) -> list[str]:
    if jail.uid is None:
        return []
    return ["setpriv", f"--reuid={jail.uid}", f"--regid={_kernel_gid()}", "--clear-groups", "--"]


def _rlimits(limits: Limits) -> list[str]:
    return ["prlimit", f"--as={limits.memory_bytes}", f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 5}",
            f"--fsize={limits.file_size_bytes}", "--core=0", "--"]


def _own_nproc(limits: Limits) -> list[str]:
    """Without root, the process limit is set inside the jail, after bwrap made its user namespace:
    Linux counts RLIMIT_NPROC per user namespace (since 5.14), so the jail's processes count
    against its own bound, and a fork bomb in one jail takes nothing from a classmate's jail run by
    the same user. As root, the jail's pids cgroup bounds it instead."""
    return [] if os.geteuid() == 0 else ["prlimit", f"--nproc={limits.processes}", "--"]


def _bwrap(jail: Jail, env: dict[str, str]) -> list[str]:
    limits = jail.limits
    args = ["bwrap", "--unshare-all", "--unshare-user", *(["--share-net"] if limits.network else []), "--disable-userns",
            "--die-with-parent", "--uid", "1000", "--gid", "1000", "--hostname", "jail",
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(limits.tmpfs_bytes), "--tmpfs", "/tmp",
            "--size", str(limits.tmpfs_bytes), "--tmpfs", "/dev/shm"]
    for source, target in _read_only_paths():
        args += ["--ro-bind", source, target] if not os.path.islink(source) else ["--symlink", os.readlink(source), target]
    package = Path(__file__).resolve().parent.parent
    for name in KERNEL_SIDE_MODULES:
        args += ["--ro-bind", str(package / name), f"{JAIL_PYTHONPATH}/grader/{name}"]
    if jail.shared:
        args += ["--ro-bind", jail.workdir, jail.workdir]
    args += ["--bind", jail.writable, jail.writable, "--chdir", jail.workdir,
             # nothing else is writable: not the new root bwrap made (the grader's modules live there,
             # and it has no size of its own), nor /dev; /tmp and /dev/shm are mounts of their own
             "--remount-ro", "/", "--remount-ro", "/dev", "--clearenv"]
    for name, value in env.items():
        args += ["--setenv", name, value]
    if filter_path():
        args += ["--seccomp", str(SECCOMP_FD)]
    return [*args, "--"]


def _read_only_paths() -> list[tuple[str, str]]:
    """The system and the Python installation, and nothing else of the host: (host path, jail path).
    A venv reached through a symbolic link appears at both its paths, as the kernel's command names it."""
    paths = ["/usr", *(p for p in ("/bin", "/sbin", "/lib", "/lib32", "/lib64") if os.path.lexists(p))]
    paths += [p for p in _ETC_FILES if os.path.exists(p)]
    pairs = [(path, path) for path in paths]
    for prefix in dict.fromkeys([sys.base_prefix, sys.prefix]):
        real = os.path.realpath(prefix)
        if not real.startswith("/usr/"):
            pairs += [(real, target) for target in dict.fromkeys([real, os.path.abspath(prefix)])]
    return pairs


def jail_environment(jail: Jail, extra: dict[str, str]) -> dict[str, str]:
    """The whole environment inside a jail: nothing of the grader's but the locale and CPU quirks."""
    keep = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update({
        "PATH": f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin",
        "HOME": jail.workdir, "TMPDIR": "/tmp", "USER": "student", "PYTHONPATH": JAIL_PYTHONPATH,
        "PYTHONNOUSERSITE": "1", "MPLBACKEND": "Agg", "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONWARNINGS": "ignore", TOKEN_VARIABLE: jail.token,
    })
    env.update(extra)
    return env


def launcher_environment() -> dict[str, str]:
    """The environment of the launcher chain (sh, setpriv, prlimit, bwrap) outside the jail."""
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


# --- cgroups (root only) -------------------------------------------------------------------

def _make_cgroups(token: str, limits: Limits) -> tuple[str, ...]:
    """A memory and a pids cgroup for one jail, v1 or v2, when this process may make them."""
    if os.geteuid() != 0:
        return ()
    wanted = {"pids": ("pids.max", str(limits.processes)),
              "memory": _memory_limit_file(limits)}
    made = []
    for controller, (name, value) in wanted.items():
        root = _controller_root(controller)
        if root is None:
            continue
        path = root / f"{WORK_PREFIX}{token}"
        try:
            path.mkdir(exist_ok=True)
            (path / name).write_text(value)
            made.append(str(path))
        except OSError:
            remove_cgroup(str(path))
    return tuple(dict.fromkeys(made))


def _memory_limit_file(limits: Limits) -> tuple[str, str]:
    v2 = (CGROUP_ROOT / "cgroup.controllers").exists()
    return ("memory.max" if v2 else "memory.limit_in_bytes", str(limits.cgroup_memory_bytes()))


def _controller_root(controller: str) -> Path | None:
    if (CGROUP_ROOT / controller / "cgroup.procs").exists():  # v1: one hierarchy per controller
        return CGROUP_ROOT / controller
    controllers = CGROUP_ROOT / "cgroup.controllers"
    if controllers.exists() and controller in controllers.read_text().split():
        return CGROUP_ROOT
    return None


def _cgroup_roots() -> list[Path]:
    return [root for root in (_controller_root("pids"), _controller_root("memory")) if root is not None]


def cgroup_pids(cgroups: tuple[str, ...]) -> set[int]:
    pids: set[int] = set()
    for group in cgroups:
        try:
            pids.update(int(pid) for pid in Path(group, "cgroup.procs").read_text().split())
        except OSError:
            pass
    return pids


def process_limit_events(cgroups: tuple[str, ...]) -> int:
    """How often the jail's pids cgroup refused a fork (0 without one)."""
    for group in cgroups:
        try:
            for line in Path(group, "pids.events").read_text().splitlines():
                name, _, count = line.partition(" ")
                if name == "max":
                    return int(count)
        except (OSError, ValueError):
            continue
    return 0


def remove_cgroup(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass


# --- ending a jail -------------------------------------------------------------------------

def close_jail(jail: Jail, timeout: float = 5.0) -> None:
    """Kill whatever is left of the jail, remove its cgroups and its working folder."""
    reap(jail.token, jail.cgroups, timeout)
    for group in jail.cgroups:
        remove_cgroup(group)
    shutil.rmtree(jail.workdir, ignore_errors=True)


def reap(token: str, cgroups: tuple[str, ...] = (), timeout: float = 5.0, keep: frozenset[int] = frozenset()) -> int:
    """Kill every process of a jail: those in its cgroups and those that carry its token, but `keep`.
    Repeats until none is left, so a fork bomb cannot outrun it. Returns how many it killed."""
    killed = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = (cgroup_pids(cgroups) | {pid for pid in _pids() if _carries(pid, token)}) - keep
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


def remove_leftovers() -> None:
    """What a killed grader left behind: the jails of graders that are gone, and their cgroups."""
    for leftover in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}*"):
        owner = _owner_pid(leftover.name)
        if owner is not None and not _alive(owner):
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
    for root in _cgroup_roots():
        for group in root.glob(f"{WORK_PREFIX}*"):
            owner = _owner_pid(group.name)
            if owner is not None and not _alive(owner):
                reap("", (str(group),), timeout=2)
                remove_cgroup(str(group))


def _owner_pid(name: str) -> int | None:
    digits = re.match(r"\d+", name[len(WORK_PREFIX):])  # lstm-grader-<pid>-... or lstm-grader-<pid>.bpf
    return int(digits.group()) if digits else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) != os.getpid()]


def _carries(pid: int, token: str) -> bool:
    if not token:
        return False
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            return f"{TOKEN_VARIABLE}={token}".encode() in environ.read().split(b"\0")
    except OSError:
        return False



def describe_jail(jail: Jail) -> dict:
    """What the jail is, for the record: its user, its cgroups, whether the network is cut."""
    return {"user": KERNEL_USER if jail.uid is not None else "grader", "cgroups": list(jail.cgroups),
            "network_isolated": not jail.limits.network}
