"""What a grader must never leave behind: jails (processes, cgroups, folders) of a grader that is gone."""

from __future__ import annotations

import os
import time
from pathlib import Path

from grader.sandbox import TOKEN_VARIABLE, WORK_PREFIX, _alive, _cgroup_roots, _owner_pid


def jail_owner(pid: int) -> int | None:
    """The grading process a process's jail belongs to, from the token in its environment."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            entries = environ.read().split(b"\0")
    except OSError:
        return None
    mark = f"{TOKEN_VARIABLE}=".encode()
    for entry in entries:
        if entry.startswith(mark):
            owner = entry[len(mark):].split(b"-", 1)[0]
            return int(owner) if owner.isdigit() else None
    return None


def leftovers(owners: set[int] | None = None) -> list[str]:
    """Jail processes, folders and cgroups whose grader is gone (or, with `owners`, of those graders)."""
    def orphan(owner: int | None) -> bool:
        return owner is not None and (owner in owners if owners is not None else not _alive(owner))

    found = [f"process {name}" for name in os.listdir("/proc") if name.isdigit() and orphan(jail_owner(int(name)))]
    found += [str(path) for path in Path("/tmp").glob(f"{WORK_PREFIX}*")  # a live grader keeps its seccomp file
              if orphan(_owner_pid(path.name)) and (owners is None or path.is_dir())]
    for root in _cgroup_roots():
        found += [str(path) for path in root.glob(f"{WORK_PREFIX}*") if orphan(_owner_pid(path.name))]
    return found


def assert_no_jail_left(owners: set[int] | None = None, timeout: float = 10.0) -> None:
    """Within `timeout` (a killed grader's jails die by signal, not at once), nothing is left."""
    deadline = time.monotonic() + timeout
    while (left := leftovers(owners)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], f"left behind: {left[:5]}"
