"""What a grader must never leave behind: jails (processes, cgroups, folders) of a grader that is gone."""

from __future__ import annotations

import os
import time
from pathlib import Path

from grader.kernel import warm
from grader.kernel.sandbox import TOKEN_VARIABLE, WORK_PREFIX, _alive, _cgroup_roots, _owner_pid


def jail_token(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            entries = environ.read().split(b"\0")
    except OSError:
        return None
    mark = f"{TOKEN_VARIABLE}=".encode()
    return next((entry[len(mark):].decode() for entry in entries if entry.startswith(mark)), None)


def jail_owner(pid: int) -> int | None:
    """The grading process a process's jail belongs to, from the token in its environment."""
    token = jail_token(pid)
    return _owner_pid(WORK_PREFIX + token) if token else None


def leftovers(owners: set[int] | None = None, keep: frozenset[str] = frozenset()) -> list[str]:
    """Jail processes, folders and cgroups whose grader is gone (or, with `owners`, of those
    graders), but the jails whose tokens are in `keep` (a live process's warm parents)."""
    def orphan(owner: int | None, name: str) -> bool:
        if owner is None or any(token in name for token in keep):
            return False
        return owner in owners if owners is not None else not _alive(owner)

    found = [f"process {name}" for name in os.listdir("/proc")
             if name.isdigit() and orphan(jail_owner(int(name)), jail_token(int(name)) or "")]
    found += [str(path) for path in Path("/tmp").glob(f"{WORK_PREFIX}*")  # a live grader keeps its seccomp file
              if orphan(_owner_pid(path.name), path.name) and (owners is None or path.is_dir())]
    for root in _cgroup_roots():
        found += [str(path) for path in root.glob(f"{WORK_PREFIX}*") if orphan(_owner_pid(path.name), path.name)]
    return found


def warm_jails() -> frozenset[str]:
    """The tokens of this process's warm parents' jails, which live on between notebooks."""
    return frozenset(parent.jail.token for parent in warm._parents.values())


def assert_no_jail_left(owners: set[int] | None = None, timeout: float = 10.0, keep: frozenset[str] = frozenset()) -> None:
    """Within `timeout` (a killed grader's jails die by signal, not at once), nothing is left."""
    deadline = time.monotonic() + timeout
    while (left := leftovers(owners, keep)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], f"left behind: {left[:5]}"
