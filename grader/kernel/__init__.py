"""The student's kernel, behind this one entry point: outside this package, import from `grader.kernel`.

- `launch`: where a fresh kernel comes from, warm fork or cold start (the choice is made there only);
- `execute`: the session with one kernel: run code, read the model, enforce the limits (`usage`
  measures its working folder);
- `sandbox` and `seccomp`: the jail around every kernel, and the limits (`Limits`);
- `warm`: this process's warm parents; `warm_server` and `probe` run inside the jail.

Only the names below are the package's interface. They are imported on first use (PEP 562)
because a jail holds this file too, with `probe` and `warm_server` beside it and nothing else of
the grader: importing the package there must import nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

_EXPORTS = {
    "KernelOptions": "launch", "in_fresh_kernel": "launch", "start_warming": "launch",
    "KernelSession": "execute", "LimitReached": "execute",
    "Limits": "sandbox", "MiB": "sandbox", "JailUnavailable": "sandbox", "check_jail_tools": "sandbox",
    "remove_leftovers": "sandbox",
    "COMMON_LIBRARIES": "probe", "live_probe": "probe",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from grader.kernel.execute import KernelSession, LimitReached
    from grader.kernel.launch import KernelOptions, in_fresh_kernel, start_warming
    from grader.kernel.probe import COMMON_LIBRARIES, live_probe
    from grader.kernel.sandbox import JailUnavailable, Limits, MiB, check_jail_tools, remove_leftovers


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'grader.kernel' has no attribute {name!r}")
    return getattr(import_module(f"grader.kernel.{_EXPORTS[name]}"), name)
