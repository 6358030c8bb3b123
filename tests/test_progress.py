"""What `grade` shows while it works: on a terminal (a real pseudo-terminal), a live line saying what
the grading is doing, gone when the summary comes, which is the same as a pipe gets; through a pipe,
nothing more than before. A batch whose warm kernels fail says why, once, in the run's language."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.notebooks import KERAS3, write_notebook
from tests.waiting import grading_bound

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions/lstm_network/idiomatic_keras3.ipynb"
COLUMNS = 100
# What the live line says, in the order a notebook that needs no replay goes through
STAGES = ["Starting a jailed kernel", "Running the cells", "Checking the steps", "Putting the results together"]
CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ERASE_LINE = "\x1b[2K"
SECONDS = re.compile(r"\d+\.\d s$", re.M)  # the summary's time: a run of its own


def environment() -> dict[str, str]:
    """This environment, without what would make rich take a pipe for a terminal or change its width."""
    dropped = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES", "JUPYTER_COLUMNS")
    return {**{name: value for name, value in os.environ.items() if name not in dropped}, "TERM": "xterm-256color"}


def in_a_terminal(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`grade ARGS` with a pseudo-terminal COLUMNS wide as its stdin, stdout and stderr, `env` added to
    its environment: (exit code, all it wrote)."""
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 50, COLUMNS, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "grader", *args], stdin=side, stdout=side, stderr=side,
                               cwd=ROOT, env={**environment(), **(env or {})})
    os.close(side)
    written = bytearray()
    deadline = time.monotonic() + grading_bound(args)
    try:
        while time.monotonic() < deadline:
            if select.select([main], [], [], 1.0)[0]:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # EIO: every writer of the terminal is gone
                    break
                if not chunk:
                    break
                written += chunk
        return process.wait(timeout=max(deadline - time.monotonic(), 1.0)), written.decode()
    finally:
        if process.poll() is None:
            process.kill()
        os.close(main)


def through_a_pipe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**environment(), "COLUMNS": str(COLUMNS)}, timeout=grading_bound(args))


@pytest.fixture(scope="module")
def solution(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("terminal")
    path = folder / SOLUTION.name
    path.write_bytes(SOLUTION.read_bytes())
    return path


@pytest.fixture(scope="module")
def piped(solution) -> subprocess.CompletedProcess:
    return through_a_pipe(str(solution), "--no-report", "--lang", "en")


def test_a_terminal_shows_what_the_grading_does_then_the_summary_a_pipe_gets(solution, piped):
    code, shown = in_a_terminal(str(solution), "--no-report", "--lang", "en")
    assert (code, piped.returncode) == (0, 0), shown[-2000:]
    renders = [CSI.sub("", render) for render in shown.split("\r")]  # the live line is redrawn after each \r
    said = [next(stage for stage in STAGES if stage in render) for render in renders
            if any(stage in render for stage in STAGES)]
    assert list(dict.fromkeys(said)) == STAGES
    counts = [re.search(r"Running the cells (\d+)/(\d+)", render) for render in renders]
    counted = [(int(found[1]), int(found[2])) for found in counts if found]
    assert {total for _, total in counted} == {5}
    assert [done for done, _ in counted] == sorted(done for done, _ in counted)
    # The live line is erased; what follows it is the summary, as a pipe gets it
    summary = CSI.sub("", shown[shown.rindex(ERASE_LINE):]).replace("\r\n", "\n")
    assert SECONDS.sub("", summary).strip() == SECONDS.sub("", piped.stdout).strip()
    assert "Total: 100/100" in summary and not any(stage in summary for stage in STAGES)


def test_a_pipe_gets_no_progress(piped):
    assert piped.returncode == 0
    for written in (piped.stdout, piped.stderr):
        assert "\x1b" not in written and not any(stage in written for stage in STAGES)
    assert piped.stderr == ""
    assert SECONDS.search(piped.stdout) and "Total: 100/100" in piped.stdout


# Forced failure of warm kernels in every process of a run (`grade` and its workers): each warm
# parent is killed as soon as it starts, as the machine's out-of-memory killer would end it.
KILLED_AT_START = '''
import signal

from grader.kernel import warm

_start = warm.WarmParent.__init__


def _killed_at_start(self, *args, **kwargs):
    _start(self, *args, **kwargs)
    self.process.send_signal(signal.SIGKILL)


warm.WarmParent.__init__ = _killed_at_start
'''


WARM_OFF = ("grade: warm kernels are unavailable: the warm parent was killed by signal 9. "
            "Using cold kernels (slower, same results)")


def a_class(folder: Path) -> list[str]:
    """Two correct notebooks, one in Chinese (the course's headings) and one in English, graded by
    two workers whose warm kernels fail (KILLED_AT_START), each worker's its own: `grade`'s arguments."""
    (folder / "forced").mkdir()
    (folder / "forced" / "sitecustomize.py").write_text(KILLED_AT_START)
    (folder / "class").mkdir()
    for number in range(2):
        write_notebook(folder / "class", KERAS3, name=f"s{number}.ipynb", headings=number % 2 == 0)
    return [str(folder / "class"), "-o", str(folder / "out"), "-j", "2", "--timeout", "60", "--run-timeout", "180"]


def test_a_batch_whose_warm_kernels_fail_says_why_once_in_the_runs_language(tmp_path):
    """Each worker falls back to cold kernels; the run's language is English (auto): one line, on
    stderr as before, with the reason, and every notebook graded."""
    args = a_class(tmp_path)
    run = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                         env={**environment(), "PYTHONPATH": str(tmp_path / "forced")}, timeout=grading_bound(args))
    assert run.returncode == 0, run.stderr
    warned = [line for line in run.stderr.splitlines() if "warm" in line or "预热" in line]
    assert warned == [WARM_OFF]
    scores = [re.search(r": (\d+/\d+) ", line)[1] for line in run.stdout.splitlines() if line.startswith("[")]
    assert scores == ["100/100"] * 2


def test_on_a_terminal_the_batch_says_it_on_its_own_line_above_its_bar(tmp_path):
    args = a_class(tmp_path)
    code, shown = in_a_terminal(*args, env={"PYTHONPATH": str(tmp_path / "forced")})
    assert code == 0, shown[-2000:]
    lines = [CSI.sub("", line).strip() for line in re.split(r"[\r\n]+", shown)]
    assert lines.count(WARM_OFF) == 1 and not any("预热" in line for line in lines)
    assert sum("warm" in line for line in lines) == 1
