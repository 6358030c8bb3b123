"""Every file the grader writes goes through here: never through a symlink, never half-written.

The data goes to a new temporary file beside the target (created with O_EXCL, so it cannot be a
link someone planted), which is then renamed over the target. A rename replaces a symlink itself
and never follows it, so a link planted where a report goes leaves its target untouched; a reader
sees the old file or the new one, never a part.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

TEMPORARY_PREFIX = ".lstm-grader-tmp-"  # a killed run may leave these; the next run removes them
MODE = 0o644


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    return write_bytes(path, text.encode(encoding))


def write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), MODE)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def remove_stale_temporaries(*folders: Path) -> None:
    """The temporary files a killed run left in `folders`."""
    for folder in folders:
        if folder.is_dir() and not folder.is_symlink():
            for leftover in folder.glob(f"{TEMPORARY_PREFIX}*"):
                leftover.unlink(missing_ok=True)


def ensure_folder(path: Path) -> Path:
    """`path` as a folder of ours to write in: made if missing, refused if it is a symlink."""
    path.mkdir(exist_ok=True)
    if path.is_symlink():
        raise OSError(errno.ELOOP, "a symbolic link; not written through", str(path))
    return path
