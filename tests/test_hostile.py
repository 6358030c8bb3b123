"""A hostile corpus: notebooks that attack the grader or the machine. Each must end with the
exact status, within its limit, keeping what was graded before, and leave nothing behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from grader import grade as grade_module
from grader.kernel import execute as execute_module
from grader.kernel.execute import FOLDER_POLL_SECONDS, KernelSession
from grader.kernel.sandbox import GiB, MiB, Limits
from grader.kernel.usage import Usage, measure
from grader.kernel.warm import warm_parent
from grader.keras_runtime import KERAS3 as KERAS3_RUNTIME
from grader.messages import text
from grader.options import GradeOptions
from tests.leftovers import assert_no_jail_left, warm_jails
from tests.notebooks import IMPORTS, KERAS3, write_notebook

DENSE = "model.add(Dense(100))\nmodel.add(Dense(10))"
FAST = replace(Limits(), cell_seconds=20, notebook_seconds=90)
# A test that times a limit compares with the next limit up: had the limit not ended the notebook,
# that one would have, and the grading would have taken at least as long. Here the next limit is far
# above what a limit's grading (its run and the replay's two kernels) takes on a loaded machine.
TIMED = replace(Limits(), cell_seconds=120, notebook_seconds=300)


@pytest.fixture(autouse=True)
def nothing_left_behind():
    yield
    assert_no_jail_left({os.getpid()}, timeout=0, keep=warm_jails())


def attack(tmp_path, step4: str = DENSE, *, step5: str = "model.summary()", step1_extra: str = "",
           limits: Limits = FAST, **options):
    """Grade the Keras 3 answer with step 4 (and maybe 5) replaced; return result and seconds, from
    when the warm parent is ready (its start is the machine's time, not the notebook's)."""
    sources = [KERAS3[0] + step1_extra, KERAS3[1], KERAS3[2], step4, step5]
    options.setdefault("warm", True)  # warm kernels, as in a batch: test_warm shows cold ones are equal
    if options["warm"]:
        warm_parent(KERAS3_RUNTIME, limits)
    started = time.monotonic()
    result = grade_module.grade_notebook(write_notebook(tmp_path, sources), GradeOptions(lang="en", limits=limits, **options))
    return result, time.monotonic() - started


def scores(result) -> list[int]:
    return [step.score for step in result.steps]


KEPT = [20, 20, 20, 0, 0]  # steps 1-3 were graded before step 4's incident


def test_infinite_loop_ends_at_the_cell_limit(tmp_path):
    limits = replace(TIMED, cell_seconds=3)
    result, seconds = attack(tmp_path, "while True:\n    pass", limits=limits)
    assert (result.status, scores(result)) == ("timeout", KEPT)
    assert "time limit (3 s)" in result.notes[0]
    assert seconds < min(limits.notebook_seconds, limits.cpu_seconds)


def test_loop_that_swallows_keyboard_interrupt_is_killed(tmp_path):
    hang = "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass"
    limits = replace(TIMED, cell_seconds=3)
    result, seconds = attack(tmp_path, hang, limits=limits)
    assert (result.status, scores(result)) == ("timeout", KEPT)
    assert seconds < limits.notebook_seconds


def test_whole_notebook_time_limit(tmp_path):
    slow = "import time\ntime.sleep(4)\n" + DENSE
    limits = replace(TIMED, notebook_seconds=14)
    result, seconds = attack(tmp_path, slow, step5=f"import time\ntime.sleep({limits.cell_seconds * 2:g})",
                             limits=limits)
    assert result.status == "timeout"
    assert scores(result)[:3] == [20, 20, 20]
    assert "(14 s)" in result.notes[0]
    assert seconds < limits.cell_seconds


@pytest.mark.parametrize("bomb", ["x = bytearray(64 * 2**30)", "import numpy as np\nx = np.ones(8 * 2**30)"])
def test_memory_bomb_of_64_gib_ends_at_the_memory_limit_in_seconds(tmp_path, bomb):
    result, seconds = attack(tmp_path, bomb, limits=TIMED)
    assert (result.status, scores(result)) == ("memory_limit", KEPT)
    assert "memory limit (4 GiB)" in result.notes[0]
    assert seconds < TIMED.cell_seconds


@pytest.fixture
def cpu_hog():
    """Both cores busy, as on a loaded machine."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    yield
    for hog in hogs:
        hog.kill()
        hog.wait()


def test_fork_bomb_ends_at_the_process_limit(tmp_path, cpu_hog):
    result, _ = attack(tmp_path, "import os\nwhile True:\n    os.fork()", limits=replace(FAST, processes=64))
    assert (result.status, scores(result)) == ("process_limit", KEPT)


def test_huge_output_is_cut_at_the_output_limit(tmp_path):
    result, seconds = attack(tmp_path, "print('x' * (20 * 2**20))\n" + DENSE, limits=TIMED)
    assert (result.status, scores(result)) == ("output_limit", KEPT)
    assert "(2 MiB)" in result.notes[0]
    assert seconds < TIMED.cell_seconds


def test_endless_printing_is_cut_at_the_output_limit(tmp_path):
    result, seconds = attack(tmp_path, "while True:\n    print('spam ' * 1000)", limits=TIMED)
    assert (result.status, scores(result)) == ("output_limit", KEPT)
    assert seconds < TIMED.cell_seconds


def test_big_file_ends_at_the_file_size_limit(tmp_path):
    result, seconds = attack(tmp_path, "open('big.bin', 'wb').write(b'0' * (100 * 2**20))\n" + DENSE, limits=TIMED)
    assert (result.status, scores(result)) == ("file_size_limit", KEPT)
    assert "(64 MiB)" in result.notes[0]
    assert seconds < TIMED.cell_seconds


def test_cpu_time_limit(tmp_path):
    # Each of its three kernels (the run, the replay twice) spends its 10 s of CPU, at a share of a
    # core that the load decides: the next limit up, the cell's, is given room for a tenth of one.
    limits = replace(TIMED, cpu_seconds=10, cell_seconds=TIMED.notebook_seconds)
    result, seconds = attack(tmp_path, "while True:\n    pass", limits=limits)
    assert (result.status, scores(result)) == ("cpu_limit", KEPT)
    assert seconds < limits.cell_seconds


def test_writing_outside_the_working_directory_is_refused(tmp_path):
    assert os.geteuid() == 0, "the read-only system of the sandbox needs the grader to run as root"
    targets = [tmp_path / "escape.txt", Path("/tmp") / f"escape-{os.getpid()}.txt", Path.home() / "escape.txt"]
    code = (f"for path in {[str(t) for t in targets]!r}:\n    try:\n        open(path, 'w').write('x')\n"
            "    except OSError as error:\n        print('refused', error.errno)\nopen('mine.txt', 'w').write('ok')\n")
    result, _ = attack(tmp_path, code + DENSE)
    assert (result.status, result.score) == ("graded", 100)
    assert not any(target.exists() for target in targets)


def test_environment_secrets_do_not_reach_the_kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sekrit-value-123")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_sekrit")
    result, _ = attack(tmp_path, step5="import os\nprint(sorted(os.environ.items()))\nmodel.summary()")
    assert result.score == 100
    assert "TF_NUM_INTRAOP_THREADS" in result.summary_text  # the printout is there
    assert "sekrit" not in result.summary_text and "AWS_SECRET_ACCESS_KEY" not in result.summary_text


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(20)
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(_accept(server)), daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    server.close()


def _accept(server):
    try:
        return server.accept()[1]
    except OSError:
        return None


CONNECT = ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
           "    print('NETWORK: connected')\nexcept OSError as error:\n    print('NETWORK:', error)\nmodel.summary()")


def test_no_network_by_default(tmp_path, listener):
    port, accepted = listener
    result, _ = attack(tmp_path, step5=CONNECT.format(port=port))
    assert result.score == 100
    assert "NETWORK: [Errno 111] Connection refused" in result.summary_text  # the jail's own loopback
    assert [peer for peer in accepted if peer] == []


def test_allow_network_lets_the_kernel_connect(tmp_path, listener):
    port, accepted = listener
    result, _ = attack(tmp_path, step5=CONNECT.format(port=port), limits=replace(FAST, network=True))
    assert "NETWORK: connected" in result.summary_text


def test_os_exit_is_a_dead_kernel(tmp_path):
    result, seconds = attack(tmp_path, "import os\nos._exit(1)", limits=TIMED)
    assert (result.status, scores(result)) == ("kernel_died", KEPT)
    assert seconds < TIMED.cell_seconds  # not waited on until the cell's time


def test_segfault_through_ctypes_is_a_dead_kernel(tmp_path):
    result, _ = attack(tmp_path, "import ctypes\nctypes.string_at(0)", warm=None)  # cold: bwrap's exit code
    assert (result.status, scores(result)) == ("kernel_died", KEPT)
    assert "SIGSEGV" in result.notes[0]


def test_sys_exit_is_just_an_error(tmp_path):
    result, _ = attack(tmp_path, "import sys\nsys.exit(1)")
    assert (result.status, scores(result)) == ("graded", [20, 20, 20, 0, 20])
    assert result.errors[0].ename == "SystemExit"


def test_input_does_not_wait_for_stdin(tmp_path):
    result, seconds = attack(tmp_path, "name = input('your name? ')\n" + DENSE, limits=TIMED)
    assert (result.status, scores(result)) == ("graded", [20, 20, 20, 0, 20])
    assert result.errors[0].ename == "StdinNotImplementedError"
    assert seconds < TIMED.cell_seconds


def test_matplotlib_windows_do_not_block(tmp_path):
    plot = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nplt.figure()\n" + DENSE
    result, seconds = attack(tmp_path, plot, limits=TIMED)
    assert (result.status, result.score) == ("graded", 100)
    assert seconds < TIMED.cell_seconds


def test_deleting_the_model_keeps_what_was_graded(tmp_path):
    result, _ = attack(tmp_path, DENSE + "\ndel model")
    assert (result.status, scores(result)) == ("graded", [20, 20, 20, 0, 20])
    assert len(result.layers) == 3  # the last model the notebook had


def test_shadowing_the_names_a_probe_might_use(tmp_path):
    shadow = ("\n__import__ = None\njson = None\nget_ipython = None\nProbe = None\nsnapshot = None\n"
              "JsonText = None\nlen = None\nisinstance = None\nvars = None\nid = None\ntype = None")
    result, _ = attack(tmp_path, step1_extra=shadow)
    assert (result.status, result.score) == ("graded", 100)


def test_fake_summary_text_does_not_pass(tmp_path):
    fake = 'print("Model: \\"sequential\\"\\nTotal params: 583,110\\nTrainable params: 583,110")'
    result, _ = attack(tmp_path, step5=fake)
    assert scores(result) == [20, 20, 20, 20, 0]


def test_patched_summary_that_prints_a_fake_does_not_pass(tmp_path):
    patch = ("keras.Model.summary = lambda self, *args, **kwargs: print('Total params: 583,110')\n"
             "model.summary()")
    result, _ = attack(tmp_path, step5=patch)
    assert scores(result) == [20, 20, 20, 20, 0]


def test_patched_units_property_does_not_hide_a_wrong_layer(tmp_path):
    first = (IMPORTS + "LSTM.units = property(lambda self: 50)\n"
             "model.add(keras.Input(shape=(None, 1)))\nmodel.add(LSTM(64, return_sequences=True))")
    sources = [first, *KERAS3[1:]]
    result = grade_module.grade_notebook(write_notebook(tmp_path, sources), GradeOptions(lang="en", limits=FAST))
    assert result.steps[0].score == 0
    assert {c.name: c.actual for c in result.steps[0].checks if not c.passed}["units"] == 64


def test_the_probes_replies_never_count_against_the_notebooks_output(tmp_path):
    """A right answer followed by 300 cells that print nothing: the probe answers after each, and
    300 of its replies far outgrow a 32 KiB output limit, which is the notebook's only."""
    sources = [*KERAS3, *["pass"] * 300]
    limits = replace(TIMED, output_bytes=32 * 1024)
    result = grade_module.grade_notebook(write_notebook(tmp_path, sources),
                                         GradeOptions(lang="en", limits=limits, warm=True))
    assert (result.status, result.score, result.notes) == ("graded", 100, [])


def test_the_probes_replies_have_a_budget_of_their_own(tmp_path):
    """Cells that each change the model make each reply new: past the probe's own budget the
    notebook stops, with a note that names the grader's record, not the notebook's printing."""
    growing = ["model.add(Dense(7))", "model.pop()"] * 150
    limits = replace(TIMED, probe_bytes=256 * 1024)
    result = grade_module.grade_notebook(write_notebook(tmp_path, [*KERAS3, *growing]),
                                         GradeOptions(lang="en", limits=limits, warm=True))
    assert (result.status, result.notes[0]) == ("output_limit", text("note.limit_probe", "en", limit="256 KiB"))


# --- the working folder's totals: measured by the grader while the notebook runs (grader/kernel/usage.py)

FLOOD = "flood-"  # the name of every file an attack below writes


@pytest.fixture
def folders_at_close(monkeypatch):
    """What each kernel's working folder held when its session closed, as (folder, [(name, lstat)]):
    a kernel a limit ended was killed at once, so this is all it ever wrote there."""
    seen: list[tuple[str, list[tuple[str, os.stat_result]]]] = []
    close = KernelSession.close

    async def recording_close(session):
        folder = session._jail.writable
        seen.append((folder, [(name, os.lstat(os.path.join(top, name)))
                              for top, folders, files in os.walk(folder) for name in folders + files]))
        await close(session)

    monkeypatch.setattr(KernelSession, "close", recording_close)
    return seen


@pytest.fixture
def watchdog(monkeypatch):
    """The grader's measures of the kernel's folder, (start, end, the bound found passed), and its
    kills of kernels, (start, end): on the wall clock, which the files' modification times use."""
    log = SimpleNamespace(scans=[], kills=[])
    real_measure, real_kill = execute_module.measure, KernelSession._kill_now

    def recording_measure(folder: str, max_bytes: int, max_entries: int) -> Usage:
        start = time.time()
        usage = real_measure(folder, max_bytes, max_entries)
        log.scans.append((start, time.time(), usage.past(max_bytes, max_entries)))
        return usage

    async def recording_kill(provisioner) -> None:
        start = time.time()
        await real_kill(provisioner)
        log.kills.append((start, time.time()))

    monkeypatch.setattr(execute_module, "measure", recording_measure)
    monkeypatch.setattr(KernelSession, "_kill_now", staticmethod(recording_kill))
    return log


# The kernel's file clock is coarse, and on a loaded machine a woken thread may wait for a core.
SLACK_SECONDS = 0.2


def assert_bound_held(entries: list[tuple[str, os.stat_result]], bound: int, amount, watchdog) -> None:
    """The folder passed `bound` (its total `amount`) by no more than the notebook wrote in the last
    moments before its kernel died: one interval between measures, plus the two measures around
    it and the kill, as long as the grader took for them in this run. The folder was within the
    bound when the last measure that found it so began, and nothing was written once the kill
    returned. A file being written when the bound was passed counts whole."""
    found = next(index for index, scan in enumerate(watchdog.scans) if scan[2])
    assert found > 0
    (clean_start, clean_end, _), (found_start, found_end, _) = watchdog.scans[found - 1:found + 1]
    kill_start, kill_end = next(kill for kill in watchdog.kills if kill[0] >= found_end)
    window = (clean_end - clean_start) + FOLDER_POLL_SECONDS + (found_end - found_start) + (kill_end - kill_start)
    flood = [(info.st_mtime_ns / 1e9, amount(info)) for name, info in entries if name.startswith(FLOOD)]
    last = max(written for written, _ in flood)
    late = sum(size for written, size in flood if written >= last - window - SLACK_SECONDS)
    total = sum(amount(info) for _, info in entries)
    assert last <= kill_end + SLACK_SECONDS
    assert bound < total <= bound + late + max(size for _, size in flood), (total, bound, late, window)


def assert_folders_gone(seen) -> None:
    """A cold kernel's folder is gone; a warm kernel's jail keeps its empty `kernels` folder."""
    assert all(not os.path.exists(folder) or os.listdir(folder) == [] for folder, _ in seen)


def test_a_hundred_thousand_empty_files_end_at_the_files_limit(tmp_path, folders_at_close, watchdog):
    flood = f"for index in range(100_000):\n    open(f'{FLOOD}{{index}}', 'w').close()\n" + DENSE
    result, _ = attack(tmp_path, flood, limits=TIMED)
    assert (result.status, scores(result)) == ("disk_limit", KEPT)
    assert result.notes[0] == text("note.limit_files", "en", limit="20000")
    assert_bound_held(folders_at_close[0][1], TIMED.folder_entries, lambda info: 1, watchdog)
    assert_folders_gone(folders_at_close)


def test_many_files_of_60_mib_end_at_the_disk_limit(tmp_path, folders_at_close, watchdog):
    limits = replace(TIMED, folder_bytes=256 * MiB)  # each file is within the file size limit (64 MiB)
    flood = f"for index in range(100):\n    open(f'{FLOOD}{{index}}', 'wb').write(bytes(60 * 2**20))\n" + DENSE
    result, _ = attack(tmp_path, flood, limits=limits)
    assert (result.status, scores(result)) == ("disk_limit", KEPT)
    assert result.notes[0] == text("note.limit_disk_limit", "en", limit="256 MiB")
    assert_bound_held(folders_at_close[0][1], limits.folder_bytes,
                      lambda info: max(info.st_size, info.st_blocks * 512), watchdog)
    assert_folders_gone(folders_at_close)


def test_an_honest_notebook_that_writes_a_few_files_scores_full_marks(tmp_path, folders_at_close):
    writes = "import os\nos.makedirs('out', exist_ok=True)\nnp.savetxt('out/data.csv', np.ones((1000, 3)))\n"
    result, _ = attack(tmp_path, writes + DENSE, step5="model.save('model.keras')\nmodel.summary()")
    assert (result.status, result.score, result.notes) == ("graded", 100, [])
    assert {"data.csv", "model.keras"} <= {name for name, _ in folders_at_close[0][1]}
    assert_folders_gone(folders_at_close)


def test_the_folder_scan_stops_past_its_bound_and_counts_what_each_entry_takes(tmp_path):
    for index in range(500):
        (tmp_path / f"f{index}").touch()
    assert measure(str(tmp_path), GiB, 10_000) == Usage(0, 500)
    assert measure(str(tmp_path), GiB, 100) == Usage(0, 101)  # stopped at the first entry past the bound
    (tmp_path / "system").symlink_to("/usr")  # one entry, never followed
    with open(tmp_path / "sparse", "wb") as sparse:
        sparse.truncate(2 * MiB)  # takes no block, counts its length
    usage = measure(str(tmp_path), GiB, 10_000)
    assert (usage.entries, usage.bytes > 2 * MiB, usage.past(MiB, 10_000)) == (502, True, "disk")


def test_a_kernel_that_cannot_start_within_the_memory_limit_is_that_limit(tmp_path):
    """1 GiB of address space does not hold TensorFlow: the kernel's start fails before any of the
    notebook's code, which is said as the memory limit, never as an internal error."""
    result, _ = attack(tmp_path, limits=replace(FAST, memory_bytes=2**30), warm=False)
    assert (result.status, result.score, result.keras) == ("memory_limit", 0, None)
    assert result.notes[0] == text("note.limit_start", "en", limit="1 GiB")
