"""How much a kernel's working folder holds, measured from the grader's side while the notebook runs.

The folder is a host folder (the kernel's sockets and connection file live there), so no mount
of a bounded size can hold it: the grader measures it instead (grader/kernel/execute.py), with a
scan that stops as soon as the folder is past either bound. Measuring a folder a notebook filled
with a million files costs no more than measuring one just past the bound; one with three files
costs a few microseconds.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    """What a scan counted: bytes, and entries (files, folders, links, sockets) below the folder."""

    bytes: int
    entries: int

    def past(self, max_bytes: int, max_entries: int) -> str | None:
        """Which bound the folder is past: "files", "disk", or None."""
        if self.entries > max_entries:
            return "files"
        return "disk" if self.bytes > max_bytes else None


def measure(folder: str, max_bytes: int, max_entries: int) -> Usage:
    """What `folder` holds, never following a link. Each entry counts the larger of its length and
    the blocks it takes (a sparse file and a preallocated one both count in full). The scan stops
    once either count is past its bound, so the counts are then only as large as the bound plus one.
    A folder the grader cannot list counts as past the entries' bound: only a notebook that hides
    it (takes away its own read permission, or nests folders deeper than a path can name) makes one."""
    size = entries = 0
    pending = [folder]
    while pending:
        try:
            with os.scandir(pending.pop()) as listing:
                for entry in listing:
                    entries += 1
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:  # removed since it was listed
                        continue
                    size += max(info.st_size, info.st_blocks * 512)
                    if entries > max_entries or size > max_bytes:
                        return Usage(size, entries)
                    if stat.S_ISDIR(info.st_mode):
                        pending.append(entry.path)
        except (FileNotFoundError, NotADirectoryError):  # removed, or replaced, since it was listed
            continue
        except OSError:
            return Usage(size, max_entries + 1)
    return Usage(size, entries)
