"""Warm kernels: forked from a parent that imported TensorFlow once, yet graded exactly like cold ones."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from grader import grade as grade_module
from grader.kernel import warm as warm_module
from grader.kernel.sandbox import Limits
from grader.keras_runtime import KERAS3 as KERAS3_RUNTIME
from grader.keras_runtime import KerasRuntime
from grader.options import GradeOptions
from tests.leftovers import assert_no_jail_left, jail_token, warm_jails
from tests.notebooks import IMPORTS, KERAS2, KERAS3, replace, write_notebook
from tests.waiting import wait_for

FIXTURES = {
    "correct3": KERAS3,
    "correct2": KERAS2,
    "no_sequences": replace(KERAS3, 1, KERAS3[0].replace(", return_sequences=True", "")),
    "no_input": replace(KERAS3, 1, IMPORTS + "model.add(LSTM(50, return_sequences=True))"),
    "syntax": replace(KERAS3, 2, "model.add(LSTM(100, return_sequences=True)"),
    "fake_summary": replace(KERAS3, 5, "print('Total params: 583,110')"),
    "os_exit": replace(KERAS3, 4, "import os\nos._exit(1)"),
    "memory_bomb": replace(KERAS3, 4, "x = bytearray(64 * 2**30)"),
}


@pytest.fixture(scope="module")
def warm():
    yield GradeOptions(lang="en", warm=True)
    warm_module.stop_warm_parents()


def comparable(result) -> dict:
    data = result.to_dict()
    data.pop("seconds")
    return data


@pytest.mark.parametrize("name", FIXTURES)
def test_warm_and_cold_kernels_give_equal_results(tmp_path, warm, name):
    path = write_notebook(tmp_path, FIXTURES[name], name=f"{name}.ipynb")
    cold_result = grade_module.grade_notebook(path, GradeOptions(lang="en"))
    warm_result = grade_module.grade_notebook(path, warm)
    assert comparable(warm_result) == comparable(cold_result)
    assert any(parent.alive() for parent in warm_module._parents.values())  # it really was forked


def test_no_warm_parent_falls_back_to_cold_and_says_so_once(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(warm_module, "_parents", {})
    monkeypatch.setattr(warm_module, "_failed", {(KerasRuntime(3), Limits())})  # as if the warm parent had failed to start
    path = write_notebook(tmp_path, KERAS3)
    grade_module._said.clear()
    results = [grade_module.grade_notebook(path, GradeOptions(lang="en", warm=True)) for _ in range(2)]
    assert [result.score for result in results] == [100, 100]
    assert capsys.readouterr().err.count("warm kernels are unavailable") == 1


def stalled(parent: warm_module.WarmParent) -> list[int]:
    """Stop the warm parent inside its jail, as a loaded machine leaves a process without CPU."""
    def inside() -> list[int] | None:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit() and jail_token(int(name)) == parent.jail.token]
        return pids or None

    pids = wait_for(inside, warm_module.start_seconds(parent.jail.limits), "the warm parent's process", parent.process)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    return pids


def test_a_warm_parent_still_starting_is_waited_for():
    """Held still mid-start, as a loaded machine holds it, across several of the wait's looks at it,
    then let go: the wait goes on while the parent lives, and the parent is used."""
    parent = warm_module.WarmParent(KERAS3_RUNTIME, Limits())
    pids = stalled(parent)
    resume = threading.Timer(3 * warm_module.POLL_SECONDS, lambda: [os.kill(pid, signal.SIGCONT) for pid in pids])
    try:
        resume.start()
        parent.wait_ready()
        assert parent.ready and parent.alive()
        assert parent.request({"op": "ping"}) == {"ok": True}
    finally:
        resume.cancel()
        parent.close()


def test_a_warm_parent_stuck_past_its_start_limit_is_given_up():
    """The wait has a cap, from the limits (`start_seconds`): a parent stuck that long is closed."""
    limits = Limits(cpu_seconds=3, notebook_seconds=3.0)
    parent = warm_module.WarmParent(KERAS3_RUNTIME, limits)
    stalled(parent)
    started = time.monotonic()
    with pytest.raises(warm_module.WarmUnavailable):
        parent.wait_ready()
    assert time.monotonic() - started >= warm_module.start_seconds(limits)
    assert not parent.alive()
    assert_no_jail_left({os.getpid()}, keep=warm_jails())


def test_a_warm_parent_that_dies_while_starting_is_given_up_at_once():
    """Not waited for until its cap, the next limit up: a dead parent is noticed at once."""
    limits = Limits()
    parent = warm_module.WarmParent(KERAS3_RUNTIME, limits)
    parent.process.kill()
    started = time.monotonic()
    with pytest.raises(warm_module.WarmUnavailable):
        parent.wait_ready()
    assert time.monotonic() - started < warm_module.start_seconds(limits)
    assert_no_jail_left({os.getpid()}, keep=warm_jails())
