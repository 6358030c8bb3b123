"""Where a fresh kernel comes from: the choice between a warm fork and a cold start, made here only.

A warm kernel is forked by this process's warm parent for the Keras and limits asked for
(grader/kernel/warm.py); a cold one starts afresh in a jail of its own. Both do the same work and
give the same results; warm is faster. A warm parent still starting is waited for, however loaded
the machine (grader/kernel/warm.py, `start_seconds`); when none can be had (it died, or is stuck),
or it cannot fork, the work is done in a cold kernel instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from grader.kernel.execute import KernelSession
from grader.kernel.sandbox import Limits
from grader.kernel.warm import WarmParent, WarmUnavailable, start_warm_parent, warm_parent
from grader.keras_runtime import KERAS3, KerasRuntime
from grader.spec import Policy

T = TypeVar("T")


@dataclass(frozen=True)
class KernelOptions:
    """What a fresh kernel is made with."""

    runtime: KerasRuntime
    limits: Limits
    warm: bool = False
    model_variable: str = "model"
    policy: Policy = Policy()
    files: tuple[tuple[Path, str], ...] = ()  # (host file, name in the kernel's folder): data the notebook reads
    deadline: float | None = None  # time.monotonic() by which the notebook's code must have run, if sooner than its own time


async def in_fresh_kernel(work: Callable[[KernelSession], Awaitable[T]], options: KernelOptions,
                          on_cold_fallback: Callable[[WarmUnavailable], None] = lambda why: None) -> T:
    """`work` done in a fresh kernel (`work` enters it with `async with`). `on_cold_fallback` is
    called, with why, when warm kernels were asked for and a cold one had to do."""
    parent = _warm_parent(options, on_cold_fallback) if options.warm else None
    try:
        return await work(_session(options, parent))
    except WarmUnavailable as why:
        if parent is None:
            raise
        on_cold_fallback(why)
        return await work(_session(options, None))


def start_warming(limits: Limits, runtime: KerasRuntime = KERAS3) -> None:
    """Start this process's warm parent without waiting for it (most answers are Keras 3)."""
    start_warm_parent(runtime, limits)


def _warm_parent(options: KernelOptions, on_cold_fallback: Callable[[WarmUnavailable], None]) -> WarmParent | None:
    try:
        return warm_parent(options.runtime, options.limits)
    except WarmUnavailable as why:
        on_cold_fallback(why)
        return None


def _session(options: KernelOptions, parent: WarmParent | None) -> KernelSession:
    return KernelSession(runtime=options.runtime, limits=options.limits, model_variable=options.model_variable,
                         files=list(options.files), warm=parent, policy=options.policy, deadline=options.deadline)
